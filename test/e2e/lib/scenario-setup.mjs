// The frame most scenarios share: the environment they need before their tests, weft installed with a meshed
// namespace, the echo app's `web` Service, a meshed request waited for through a pod's network namespace, and the
// clean-up after their tests.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { loadEnv, waitFor } from './env.mjs';
import { deleteNamespaces } from './pods.mjs';
import { controlPlaneReady, meshedNamespace } from './node-pods.mjs';
import { installWeft, uninstallWeft } from './weft-install.mjs';

/** The environment, which must have a kubelet node. */
export function nodeEnv() {
  const env = loadEnv();
  assert.ok(env.state.node, `no node in this environment: ${env.state.nodeSkipReason}`);
  return env;
}

/** The environment, which must have the real node with weft's images. */
export function realNodeEnv() {
  const env = loadEnv();
  assert.ok(env.state.realNode?.weftImages, 'no real node with weft images: run `npm run test:e2e`');
  return env;
}

/** weft installed and its control plane ready, `ns` meshed with the ServiceAccount `account`; resolves weft's releases. */
export async function meshedWeft(env, ns, account) {
  const { releases } = await installWeft(env);
  await controlPlaneReady(env);
  await meshedNamespace(env, ns);
  await env.kube.create(`/api/v1/namespaces/${ns}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: account } });
  return releases;
}

/** The `web` Service: port 80 to the echo app's 8080 on the pods labelled app=web. */
export function webService(env, ns) {
  return env.kube.create(`/api/v1/namespaces/${ns}/services`, {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' },
    spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  });
}

/**
 * Waits until `curl url` run through `netCmd` (the command prefix that enters a pod's network namespace) gets the
 * echo app's JSON for `path`; resolves that JSON. The last curl is in the error when it never does.
 */
export async function echoThrough(netCmd, url, path, what = 'a meshed request from client to web') {
  let last = '';
  return waitFor(what, () => {
    const r = spawnSync(netCmd[0], [...netCmd.slice(1), 'curl', '-s', '--max-time', '10', url], { encoding: 'utf8' });
    last = `${r.status} ${r.stdout}${r.stderr}`;
    if (r.status !== 0) return undefined;
    const b = JSON.parse(r.stdout);
    return b.path === path ? b : undefined;
  }, { timeoutMs: 90_000, intervalMs: 1000 }).catch((err) => {
    err.message += `\n  last curl: ${last}`;
    throw err;
  });
}

/**
 * After a scenario: its namespaces deleted, the weft releases it installed uninstalled (weft's namespace with them),
 * then the namespaces those releases lived in (`releaseNamespaces`), and the API client closed.
 */
export async function cleanUp(env, namespaces, releases, releaseNamespaces = []) {
  await deleteNamespaces(env.kube, namespaces);
  await uninstallWeft(env, releases);
  if (releaseNamespaces.length) await deleteNamespaces(env.kube, releaseNamespaces);
  env.kube.close();
}
