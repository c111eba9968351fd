// Scenario 23: install path C of docs/install.md — an issuer managed outside
// the chart and the anchors distributed by trust-manager:
//   - the trust anchor Secret, a CA Issuer over it and the identity issuer
//     Certificate `weft-identity-issuer` are the operator's (cert-manager
//     issues the issuer), not the chart's;
//   - trust-manager (built from its Go module, lib/trust-manager-build.mjs,
//     run out of cluster like cert-manager) writes the ConfigMap
//     `weft-identity-trust-roots` from a Bundle;
//   - `helm install` with identity.externalCA=true,
//     identity.issuer.scheme=kubernetes.io/tls, destination.tls.certManager=true
//     renders neither the ConfigMap nor the issuer Secret, and the mesh works
//     on them: a client pod calls a server pod by Service name over mTLS.
// The commands are the ones docs/install.md gives for path C.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadEnv, notRunning, waitFor } from '../../lib/env.mjs';
import { freePort } from '../../lib/cluster.mjs';
import { goBin } from '../../lib/build.mjs';
import { signalGroup, tail } from '../../lib/procs.mjs';
import { deleteNamespaces, echoPod, readyPods } from '../../lib/pods.mjs';
import { controlPlaneReady, meshedNamespace, podReady } from '../../lib/node-pods.mjs';
import { ensureTrustManager, trustManagerTool } from '../../lib/trust-manager-build.mjs';
import { WEFT_NS, certificateReady, chartPaths, imageValues, uninstallWeft } from '../../lib/weft-install.mjs';

const NS = 'weft-e2e-s23';
const BUNDLE = '/apis/trust.cert-manager.io/v1alpha1/bundles/weft-identity-trust-roots';
let env;
let dir;
let trustManager;
let trustManagerLog;
const releases = [];

function ossl(args) {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** The Bundle and ClusterBundle CRDs of the module version trust-manager is built from. */
function trustManagerCrds() {
  const { version } = trustManagerTool();
  const modDir = execFileSync(goBin, ['list', '-m', '-f', '{{.Dir}}', 'github.com/cert-manager/trust-manager'], {
    cwd: new URL('../../tools/trust-manager/', import.meta.url).pathname,
    encoding: 'utf8',
    env: { ...process.env, GOFLAGS: '-mod=mod' },
  }).trim();
  assert.ok(modDir.endsWith(`@${version}`), `trust-manager module dir ${modDir} is ${version}`);
  return readdirSync(join(modDir, 'deploy', 'crds')).filter((f) => f.endsWith('.yaml')).map((f) => join(modDir, 'deploy', 'crds', f));
}

before(async () => {
  if (notRunning) return;
  env = loadEnv();
  assert.ok(env.state.realNode?.weftImages, 'no real node with weft images');
  dir = join(env.state.runDir ?? '/tmp', 's23');
  mkdirSync(dir, { recursive: true });
  const { paths, versions } = await ensureTrustManager((l) => process.stdout.write(`# ${l}`));
  for (const crd of trustManagerCrds()) env.kubectl(['apply', '--server-side', '--field-manager=weft-e2e', '-f', crd]);
  await waitFor('CRD bundles.trust.cert-manager.io Established', async () => {
    const c = await env.kube.get('/apis/apiextensions.k8s.io/v1/customresourcedefinitions/bundles.trust.cert-manager.io');
    return c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True');
  }, { timeoutMs: 60_000 });

  // docs/install.md path C: the anchor Secret, the operator's issuer Certificate, the Bundle.
  ossl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '365', '-subj', '/CN=root.identity.weft.cluster.local', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await env.kube.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: WEFT_NS } });
  env.kubectl(['-n', WEFT_NS, 'create', 'secret', 'tls', 'weft-trust-anchor', `--cert=${join(dir, 'ca.crt')}`, `--key=${join(dir, 'ca.key')}`]);
  await env.kube.create(`/apis/cert-manager.io/v1/namespaces/${WEFT_NS}/issuers`, { apiVersion: 'cert-manager.io/v1', kind: 'Issuer', metadata: { name: 'weft-trust-anchor' }, spec: { ca: { secretName: 'weft-trust-anchor' } } });
  await env.kube.create(`/apis/cert-manager.io/v1/namespaces/${WEFT_NS}/certificates`, {
    apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: 'weft-identity-issuer' },
    spec: { secretName: 'weft-identity-issuer', commonName: 'identity.weft.cluster.local', isCA: true, duration: '48h', renewBefore: '25h', privateKey: { algorithm: 'ECDSA', size: 256 }, usages: ['cert sign', 'crl sign', 'server auth', 'client auth'], issuerRef: { name: 'weft-trust-anchor', kind: 'Issuer' } },
  });
  await env.kube.create('/apis/trust.cert-manager.io/v1alpha1/bundles', {
    apiVersion: 'trust.cert-manager.io/v1alpha1', kind: 'Bundle', metadata: { name: 'weft-identity-trust-roots' },
    spec: { sources: [{ secret: { name: 'weft-trust-anchor', key: 'tls.crt' } }], target: { configMap: { key: 'ca-bundle.crt' }, namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': WEFT_NS } } } },
  });

  // trust-manager reads Secrets in its trust namespace (weft here); its webhook server needs a certificate to start.
  ossl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'tls.key', '-out', 'tls.crt', '-days', '1', '-subj', '/CN=trust-manager']);
  trustManagerLog = join(dir, 'trust-manager.log');
  const [webhookPort, readyPort, metricsPort] = [await freePort('127.0.0.1'), await freePort('127.0.0.1'), await freePort('127.0.0.1')];
  const bin = paths['trust-manager'];
  trustManager = spawn('sh', ['-c', `exec "$0" "$@" >>'${trustManagerLog}' 2>&1`, bin, `--kubeconfig=${env.kubeconfig}`, `--trust-namespace=${WEFT_NS}`, '--leader-elect=false',
    `--webhook-certificate-dir=${dir}`, '--webhook-host=127.0.0.1', `--webhook-port=${webhookPort}`, `--readiness-probe-port=${readyPort}`, `--metrics-port=${metricsPort}`], { detached: true, stdio: 'ignore' });
  // The environment's sweep kills it if this run dies before after().
  appendFileSync(join(env.state.runDir, 'pids'), `${trustManager.pid} ${bin}\n`);
  console.log(`# trust-manager ${versions['trust-manager']} running out of cluster (trust namespace ${WEFT_NS})`);

  await certificateReady(env.kube, `/apis/cert-manager.io/v1/namespaces/${WEFT_NS}/certificates/weft-identity-issuer`);
  const anchor = readFileSync(join(dir, 'ca.crt'), 'utf8').trim();
  await waitFor('trust-manager writes weft-identity-trust-roots', async () => {
    assert.equal(trustManager.exitCode, null, `trust-manager exited: ${tail(trustManagerLog)}`);
    const cm = await env.kube.getOrNull(`/api/v1/namespaces/${WEFT_NS}/configmaps/weft-identity-trust-roots`);
    return cm?.data?.['ca-bundle.crt']?.includes(anchor) ? cm : undefined;
  }, { timeoutMs: 120_000, intervalMs: 500 });

  const charts = chartPaths(env);
  env.helm(['install', 'weft-crds', charts.crds, '--wait', '--timeout', '3m']);
  releases.push(['weft-crds', 'default']);
  env.helm(['install', 'weft', charts.controlPlane, '-n', WEFT_NS, ...imageValues(env).flatMap((s) => ['--set', s]),
    '--set', 'identity.externalCA=true', '--set', 'identity.issuer.scheme=kubernetes.io/tls', '--set', 'destination.tls.certManager=true', '--timeout', '3m']);
  releases.push(['weft', WEFT_NS]);
  await controlPlaneReady(env);
});

after(async () => {
  if (!env) return;
  await deleteNamespaces(env.kube, [NS]);
  await env.kube.delete(BUNDLE).catch(() => {});
  if (trustManager) signalGroup(trustManager.pid, 'SIGTERM');
  await uninstallWeft(env, releases);
  if (trustManager && trustManager.exitCode === null) signalGroup(trustManager.pid, 'SIGKILL');
  env.kube.close();
});

test('path C: trust-manager owns the trust roots, cert-manager the issuer, and the mesh runs on them (mTLS between two pods)', { skip: notRunning }, async () => {
  // What the release owns, as kind/name (its manifest's objects).
  const owned = env.helm(['get', 'manifest', 'weft', '-n', WEFT_NS]).split(/^---$/m)
    .map((doc) => `${/^kind: (\S+)$/m.exec(doc)?.[1]}/${/^metadata:\n(?: {2}.*\n)*? {2}name: "?([^"\n]+)"?$/m.exec(doc)?.[1]}`);
  assert.ok(!owned.includes('ConfigMap/weft-identity-trust-roots'), `the chart renders no trust-roots ConfigMap: ${owned.join(' ')}`);
  assert.ok(!owned.includes('Secret/weft-identity-issuer'), 'nor the issuer Secret');
  assert.ok(owned.includes('Certificate/weft-destination'), `destination's certificate from cert-manager: ${owned.join(' ')}`);
  assert.ok(owned.includes('Deployment/weft-identity'), `the manifest was read: ${owned.join(' ')}`);
  const cm = await env.kube.get(`/api/v1/namespaces/${WEFT_NS}/configmaps/weft-identity-trust-roots`);
  assert.equal(cm.metadata.labels?.['trust.cert-manager.io/bundle'], 'weft-identity-trust-roots', 'written by trust-manager for the Bundle');
  const bundle = await env.kube.get(BUNDLE);
  assert.ok(bundle.status?.conditions?.some((c) => c.type === 'Synced' && c.status === 'True'), `Bundle synced: ${JSON.stringify(bundle.status)}`);

  await meshedNamespace(env, NS);
  await env.kube.create(`/api/v1/namespaces/${NS}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'client' } });
  await env.kube.create(`/api/v1/namespaces/${NS}/pods`, echoPod(env.echoImage, 'web'));
  await env.kube.create(`/api/v1/namespaces/${NS}/services`, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
  await env.kube.create(`/api/v1/namespaces/${NS}/pods`, echoPod(env.echoImage, 'client', 'client'));
  await readyPods(env.kube, NS, 'app=web', 1, 'web Ready', 180_000);
  const client = await podReady(env, NS, 'client');
  assert.ok(client.spec.initContainers?.some((c) => c.name === 'weft-proxy') || client.spec.containers.some((c) => c.name === 'weft-proxy'), 'the client is meshed');
  const net = await env.podNet(NS, 'client');
  let body;
  await waitFor('client -> web over the mesh', () => {
    const out = execFileSync(net[0], [...net.slice(1), 'curl', '-s', '--max-time', '5', 'http://web/s23'], { encoding: 'utf8' });
    body = JSON.parse(out);
    return body.clientId ? body : undefined;
  }, { timeoutMs: 60_000, intervalMs: 1000 });
  assert.equal(body.clientId, `client.${NS}.serviceaccount.identity.${WEFT_NS}.cluster.local`, 'the server saw the client\'s mesh identity (mTLS with certificates from the cert-manager issuer, verified against the Bundle\'s anchor)');
  console.log(`# path C: trust-roots from trust-manager's Bundle, issuer from cert-manager; web saw ${body.clientId}`);
});
