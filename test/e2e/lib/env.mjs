// What a scenario (or another component's real-apiserver test) gets from a
// running environment: `WEFT_E2E_KUBECONFIG` (admin kubeconfig) and, from
// run.mjs, `WEFT_E2E_STATE` (env.json: versions, node, ranges, binaries, the
// real node's registry, weft's pushed images and packaged charts).
// Without them the scenarios skip and say how to run them.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kube, readKubeconfig, writeKubeconfig } from './kube.mjs';
import { podContainerPid, podNetPrefix } from './pod-exec.mjs';

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
    /**
     * argv prefix running a host command in pod `ns/name`'s network namespace
     * with its resolv.conf and hosts (lib/pod-exec.mjs): `[...prefix, 'curl', url]`.
     */
    async podNet(ns, name, container) {
      if (!state.realNode) throw new Error('no real node in this environment');
      return podNetPrefix(await podContainerPid(kube, state.realNode.containerdSock, ns, name, container));
    },
    /** The e2e workload image (test/e2e/images/echo.mjs) as pushed to the node's registry. */
    get echoImage() {
      if (!state.realNode?.weftImages) throw new Error('weft images were not pushed in this environment');
      return `${state.realNode.weftImages.registry}/weft-e2e/echo:1`;
    },
    writeFile(name, text) {
      const p = join(state.runDir ?? '/tmp', name);
      writeFileSync(p, text);
      return p;
    },
  };
}
