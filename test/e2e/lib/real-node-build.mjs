// Builds (or finds cached) what the real node needs beyond the environment's
// binaries: the kubelet, from the same k8s.io/kubernetes wrapper module as the
// control plane (tools/kubernetes/go.mod lists it as a tool), and the OCI
// registry (CNCF distribution, tools/registry/go.mod). Same cache layout as
// lib/build.mjs; `npm run test:e2e` does not build these.
import { readFileSync } from 'node:fs';
import { ensureBinaries, kubernetesTool } from './build.mjs';

const toolsDir = new URL('../tools/', import.meta.url).pathname;

function registryTool() {
  const module = 'github.com/distribution/distribution/v3';
  const m = readFileSync(`${toolsDir}registry/go.mod`, 'utf8').match(/^\s*github\.com\/distribution\/distribution\/v3\s+(v\S+)/m);
  if (!m) throw new Error('e2e build: distribution is not required in tools/registry/go.mod');
  const version = m[1];
  return {
    name: 'registry',
    dir: 'registry',
    version,
    ldflags: () => [`-X ${module}/version.version=${version}`, `-X ${module}/version.revision=module-${version}`],
    binaries: { registry: `${module}/cmd/registry` },
  };
}

function kubeletTool() {
  // Same name, version and pins as the control plane's binaries: the same cache directory.
  return { ...kubernetesTool(), binaries: { kubelet: 'k8s.io/kubernetes/cmd/kubelet' } };
}

export function realNodeSpecs() {
  return [kubeletTool(), registryTool()];
}

/** { paths: {kubelet, registry}, versions: {kubernetes, registry} } */
export function ensureRealNodeBinaries(log) {
  return ensureBinaries(log, [], realNodeSpecs());
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const started = Date.now();
  const r = await ensureRealNodeBinaries();
  console.log(JSON.stringify({ ...r, seconds: Math.round((Date.now() - started) / 1000) }, null, 2));
}
