// Installs weft the way an operator would on a cluster with cert-manager:
// a trust anchor (made by cert-manager here), `helm install weft-crds`, then
// `helm install weft-control-plane` with `certManager.create=true` so the
// chart's Issuer/Certificate objects have cert-manager issue and renew the
// identity issuer and the webhook certificate. The charts are the `.tgz`
// files `helm package` made at environment start (run.mjs), and the images
// are the ones `npm run images -- --push` put in the node's registry: what a
// user installs from a chart repository and a registry. Shared by the scenarios.
import { existsSync, readFileSync } from 'node:fs';
import { waitFor } from './procs.mjs';

export const WEFT_NS = 'weft';

/** The environment's state (env.json): from a loadEnv() result, or read from WEFT_E2E_STATE. */
const stateOf = (env) => (typeof env === 'object' && env?.state ? env.state : process.env.WEFT_E2E_STATE ? JSON.parse(readFileSync(process.env.WEFT_E2E_STATE, 'utf8')) : {});

/** The packaged charts (`helm package` output) of this environment: { crds, controlPlane, viz }. */
export function chartPaths(env) {
  const c = stateOf(env).charts;
  if (!c) throw new Error('no packaged charts in this environment (run.mjs packages them unless started with --control-plane-only)');
  return c;
}

/** Why weft cannot be installed here (undefined when it can). */
export function chartsMissing(env) {
  const charts = stateOf(env).charts;
  if (!charts) return 'no packaged charts in this environment (started with --control-plane-only?)';
  const missing = Object.values(charts).filter((c) => !existsSync(c));
  return missing.length ? `packaged charts missing: ${missing.join(', ')}` : undefined;
}

/** `--set` values pointing the charts at the pushed images. */
export function imageValues(env) {
  const w = stateOf(env).realNode?.weftImages;
  if (!w) throw new Error('weft images were not pushed in this environment');
  return [`image.registry=${w.registry}`, `image.tag=${w.tag}`];
}

/**
 * The previous release (test/e2e/previous-release.json) as run.mjs published it:
 * { version, chartVersion, commit, registry, tag, images, charts: { crds, controlPlane, viz } }.
 */
export function previousRelease(env) {
  const p = stateOf(env).previousRelease;
  if (!p) throw new Error('the previous release was not published in this environment (run.mjs printed why: its commit missing from the clone\'s history?)');
  const missing = Object.values(p.charts).filter((c) => !existsSync(c));
  if (missing.length) throw new Error(`previous release charts missing: ${missing.join(', ')}`);
  return p;
}

export async function certificateReady(kube, path, timeoutMs = 120_000) {
  return waitFor(`${path} Ready`, async () => {
    const c = await kube.get(path);
    return c.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') ? c : undefined;
  }, { timeoutMs });
}

/**
 * Creates the trust anchor and installs both charts. Returns { anchorPem,
 * anchorFile, releases } where releases lists [release, namespace] in install order.
 */
export async function installWeft(env, { extraSet = [] } = {}) {
  const { kube } = env;
  const charts = chartPaths(env);
  const releases = [];
  await kube.ensure('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: WEFT_NS } });
  await kube.ensure('/apis/cert-manager.io/v1/clusterissuers', { apiVersion: 'cert-manager.io/v1', kind: 'ClusterIssuer', metadata: { name: 'weft-e2e-selfsigned' }, spec: { selfSigned: {} } });
  await kube.ensure(`/apis/cert-manager.io/v1/namespaces/${WEFT_NS}/certificates`, {
    apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: 'weft-trust-anchor' },
    spec: { isCA: true, commonName: 'root.identity.weft.cluster.local', secretName: 'weft-trust-anchor', duration: '87600h', privateKey: { algorithm: 'ECDSA', size: 256 }, issuerRef: { name: 'weft-e2e-selfsigned', kind: 'ClusterIssuer' } },
  });
  await certificateReady(kube, `/apis/cert-manager.io/v1/namespaces/${WEFT_NS}/certificates/weft-trust-anchor`);
  const anchorSecret = await kube.get(`/api/v1/namespaces/${WEFT_NS}/secrets/weft-trust-anchor`);
  const anchorPem = Buffer.from(anchorSecret.data['tls.crt'], 'base64').toString();
  const anchorFile = env.writeFile('trust-anchor.pem', anchorPem);

  env.helm(['install', 'weft-crds', charts.crds, '--wait', '--timeout', '3m']);
  releases.push(['weft-crds', 'default']);
  env.helm(['install', 'weft', charts.controlPlane, '-n', WEFT_NS, '--set', 'certManager.create=true', '--set-file', `identityTrustAnchorsPEM=${anchorFile}`, ...[...imageValues(env), ...extraSet].flatMap((s) => ['--set', s]), '--timeout', '3m']);
  releases.push(['weft', WEFT_NS]);
  return { anchorPem, anchorFile, releases };
}

/** Uninstalls what installWeft installed and waits for the namespace to go. */
export async function uninstallWeft(env, releases) {
  for (const [release, ns] of [...releases].reverse()) {
    try {
      env.helm(['uninstall', release, '-n', ns, '--wait', '--timeout', '2m']);
    } catch (err) {
      console.log(`# helm uninstall ${release}: ${err.message}`);
    }
  }
  await env.kube.delete(`/api/v1/namespaces/${WEFT_NS}`).catch(() => {});
  await env.kube.delete('/apis/cert-manager.io/v1/clusterissuers/weft-e2e-selfsigned').catch(() => {});
  await waitFor(`namespace ${WEFT_NS} gone`, async () => (await env.kube.getOrNull(`/api/v1/namespaces/${WEFT_NS}`)) === undefined, { timeoutMs: 120_000 }).catch((err) => console.log(`# ${err.message}`));
}
