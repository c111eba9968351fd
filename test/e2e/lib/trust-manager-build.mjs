// Builds (or finds cached) trust-manager from the module pinned in
// tools/trust-manager/go.mod: the controller that writes weft's trust-roots
// ConfigMap from a Bundle in the install path with an issuer managed outside
// the chart (docs/install.md path C, scenario s23). Same cache layout as
// lib/build.mjs (keyed by version and a digest of the pins);
// `node test/e2e/lib/trust-manager-build.mjs` prints {versions, paths, seconds}.
import { readFileSync } from 'node:fs';
import { ensureBinaries } from './build.mjs';

const toolsDir = new URL('../tools/', import.meta.url).pathname;
const module = 'github.com/cert-manager/trust-manager';

export function trustManagerTool() {
  const m = readFileSync(`${toolsDir}trust-manager/go.mod`, 'utf8').match(/^\s*github\.com\/cert-manager\/trust-manager\s+(v\S+)/m);
  if (!m) throw new Error('e2e build: trust-manager is not required in tools/trust-manager/go.mod');
  return { name: 'trust-manager', dir: 'trust-manager', version: m[1], ldflags: () => [], binaries: { 'trust-manager': `${module}/cmd/trust-manager` } };
}

/** { paths: {'trust-manager'}, versions: {'trust-manager'} } */
export function ensureTrustManager(log) {
  return ensureBinaries(log, [], [trustManagerTool()]);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const started = Date.now();
  const { paths, versions } = await ensureTrustManager();
  console.log(JSON.stringify({ versions, paths, seconds: Math.round((Date.now() - started) / 1000) }, null, 2));
}
