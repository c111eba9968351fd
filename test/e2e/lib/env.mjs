// What a scenario (or another component's real-apiserver test) gets from a
// running environment: `WEFT_E2E_KUBECONFIG` (admin kubeconfig) and, from
// run.mjs, `WEFT_E2E_STATE` (env.json: versions, node, ranges, binaries).
// Without them the scenarios skip and say how to run them.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kube, readKubeconfig, writeKubeconfig } from './kube.mjs';

export { waitFor, sleep } from './procs.mjs';

const repoRoot = new URL('../../../', import.meta.url).pathname;

export const notRunning = process.env.WEFT_E2E_KUBECONFIG ? undefined : 'no e2e environment: run `npm run test:e2e` (sets WEFT_E2E_KUBECONFIG)';

export function loadEnv() {
  const kubeconfig = process.env.WEFT_E2E_KUBECONFIG;
  const state = process.env.WEFT_E2E_STATE ? JSON.parse(readFileSync(process.env.WEFT_E2E_STATE, 'utf8')) : {};
  const kube = Kube.fromKubeconfig(kubeconfig);
  const bin = (name) => join(repoRoot, '.bin', name);
  const run = (file, args, input) => execFileSync(file, args, { encoding: 'utf8', input, cwd: repoRoot, env: { ...process.env, KUBECONFIG: kubeconfig }, stdio: ['pipe', 'pipe', 'pipe'] });
  return {
    kubeconfig,
    state,
    kube,
    repoRoot,
    kubectl: (args, input) => run(bin('kubectl'), args, input),
    helm: (args) => run(bin('helm'), args),
    /**
     * Writes a kubeconfig that authenticates as ServiceAccount `ns/name` with a
     * token from the real TokenRequest API (what a weft component run as a
     * host process uses, so missing RBAC in its chart fails its scenario).
     */
    async serviceAccountKubeconfig(ns, name, path, expirationSeconds = 7200) {
      const t = await kube.create(`/api/v1/namespaces/${ns}/serviceaccounts/${name}/token`, {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { expirationSeconds },
      });
      const admin = readKubeconfig(kubeconfig);
      return writeKubeconfig(path ?? join(state.runDir ?? '/tmp', `${ns}.${name}.kubeconfig`), `${ns}-${name}`, { server: admin.server, ca: admin.ca, token: t.status.token });
    },
    /** The network namespace the node agent made for a pod (`ip netns exec <it> …`). */
    podNetns(podName) {
      const found = existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith('weft-e2e-p') && n.endsWith(`-${podName}`)) : [];
      if (found.length !== 1) throw new Error(`no single netns for pod ${podName}: [${found.join(', ')}]`);
      return found[0];
    },
    writeFile(name, text) {
      const p = join(state.runDir ?? '/tmp', name);
      writeFileSync(p, text);
      return p;
    },
  };
}
