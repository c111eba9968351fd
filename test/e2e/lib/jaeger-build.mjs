// Builds (or finds cached) Jaeger all-in-one from the module pinned in
// tools/jaeger/go.mod: the real OTLP receiver and trace store the proxy's
// tracing test exports spans to (proxy/src/trace/jaeger.test.ts). Same cache
// layout as lib/build.mjs (keyed by version and a digest of the pins);
// `node test/e2e/lib/jaeger-build.mjs` prints {versions, paths, seconds}.
import { readFileSync } from 'node:fs';
import { ensureBinaries } from './build.mjs';

const toolsDir = new URL('../tools/', import.meta.url).pathname;
const module = 'github.com/jaegertracing/jaeger';

export function jaegerTool() {
  const m = readFileSync(`${toolsDir}jaeger/go.mod`, 'utf8').match(/^\s*github\.com\/jaegertracing\/jaeger\s+(v\S+)/m);
  if (!m) throw new Error('e2e build: jaeger is not required in tools/jaeger/go.mod');
  const version = m[1];
  return {
    name: 'jaeger',
    dir: 'jaeger',
    version,
    ldflags: () => [`-X ${module}/internal/version.latestVersion=${version}`, `-X ${module}/internal/version.commitSHA=module-${version}`],
    binaries: { jaeger: `${module}/cmd/jaeger` },
  };
}

/** { paths: {jaeger}, versions: {jaeger} } */
export function ensureJaeger(log) {
  return ensureBinaries(log, [], [jaegerTool()]);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const started = Date.now();
  const { paths, versions } = await ensureJaeger();
  console.log(JSON.stringify({ versions, paths, seconds: Math.round((Date.now() - started) / 1000) }, null, 2));
}
