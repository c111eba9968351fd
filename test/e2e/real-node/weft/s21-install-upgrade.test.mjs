// Scenario 21: `helm upgrade` from the previous released chart to this one on
// the real kubelet, as a user of a chart repository would do it. The 0.1.0
// weft-crds and weft-control-plane charts are taken from git history (the
// last commit whose Chart.yaml says 0.1.0) and packaged with `helm package`;
// they are installed with cert-manager issuing the certificates, a meshed
// client calls a server in a loop, and both charts are upgraded to the
// current ones with `--reuse-values` plus a changed value: 0 failed requests,
// every control-plane pod replaced, the release at revision 2 of the new chart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadEnv, notRunning, waitFor } from '../../lib/env.mjs';
import { deleteNamespaces, echoPod, readyPods } from '../../lib/pods.mjs';
import { controlPlaneReady, meshedNamespace, podReady } from '../../lib/node-pods.mjs';
import { trafficLoop } from '../../lib/traffic.mjs';
import { WEFT_NS, certificateReady, chartPaths, imageValues } from '../../lib/weft-install.mjs';

const NS = 'weft-e2e-s21';
const PREVIOUS = '0.1.0';
let env;
const installed = [];
let previous;

/** `helm package` of the charts as they were at the last commit whose control-plane Chart.yaml says `version`. */
function packagePrevious(version, dir) {
  const git = (args) => execFileSync('git', args, { cwd: env.repoRoot, encoding: 'utf8' });
  const commit = git(['log', '--format=%H', '--', 'charts/weft-control-plane/Chart.yaml']).split('\n').filter(Boolean)
    .find((c) => new RegExp(`^version: ${version.replace(/\./g, '\\.')}$`, 'm').test(git(['show', `${c}:charts/weft-control-plane/Chart.yaml`])));
  assert.ok(commit, `no commit with chart version ${version}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  execFileSync('sh', ['-c', `git archive ${commit} charts/weft-crds charts/weft-control-plane | tar -x -C '${dir}'`], { cwd: env.repoRoot });
  const pack = (name) => {
    const out = env.helm(['package', join(dir, 'charts', name), '--destination', dir]);
    return out.trim().split(' ').pop();
  };
  return { commit, crds: pack('weft-crds'), controlPlane: pack('weft-control-plane') };
}

before(async () => {
  if (notRunning) return;
  env = loadEnv();
  assert.ok(env.state.realNode?.weftImages, 'no real node with weft images: run with --weft');
  previous = packagePrevious(PREVIOUS, join(env.state.runDir ?? '/tmp', 's21-previous'));
  console.log(`# s21: chart ${PREVIOUS} from ${previous.commit.slice(0, 12)}: ${previous.controlPlane}`);
  const { kube } = env;
  // The trust anchor as installWeft makes it: a self-signed cert-manager Certificate.
  await kube.ensure('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: WEFT_NS } });
  await kube.ensure('/apis/cert-manager.io/v1/clusterissuers', { apiVersion: 'cert-manager.io/v1', kind: 'ClusterIssuer', metadata: { name: 'weft-e2e-s21-selfsigned' }, spec: { selfSigned: {} } });
  await kube.ensure(`/apis/cert-manager.io/v1/namespaces/${WEFT_NS}/certificates`, {
    apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: 'weft-trust-anchor' },
    spec: { isCA: true, commonName: 'root.identity.weft.cluster.local', secretName: 'weft-trust-anchor', duration: '87600h', privateKey: { algorithm: 'ECDSA', size: 256 }, issuerRef: { name: 'weft-e2e-s21-selfsigned', kind: 'ClusterIssuer' } },
  });
  await certificateReady(kube, `/apis/cert-manager.io/v1/namespaces/${WEFT_NS}/certificates/weft-trust-anchor`);
  const anchor = Buffer.from((await kube.get(`/api/v1/namespaces/${WEFT_NS}/secrets/weft-trust-anchor`)).data['tls.crt'], 'base64').toString();
  const anchorFile = env.writeFile('s21-anchor.pem', anchor);
  env.helm(['install', 'weft-crds', previous.crds, '--wait', '--timeout', '3m']);
  installed.push(['weft-crds', 'default']);
  env.helm(['install', 'weft', previous.controlPlane, '-n', WEFT_NS, '--set', 'certManager.create=true', '--set-file', `identityTrustAnchorsPEM=${anchorFile}`, ...imageValues(env).flatMap((s) => ['--set', s]), '--timeout', '3m']);
  installed.push(['weft', WEFT_NS]);
  await controlPlaneReady(env);
  await meshedNamespace(env, NS);
  await env.kube.create(`/api/v1/namespaces/${NS}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'client' } });
  await env.kube.create(`/api/v1/namespaces/${NS}/pods`, echoPod(env.echoImage, 'web'));
  await env.kube.create(`/api/v1/namespaces/${NS}/pods`, echoPod(env.echoImage, 'client', 'client'));
  await env.kube.create(`/api/v1/namespaces/${NS}/services`, {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' },
    spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  });
  await podReady(env, NS, 'web');
  await podReady(env, NS, 'client');
});

after(async () => {
  if (!env) return;
  await deleteNamespaces(env.kube, [NS]);
  for (const [release, ns] of [...installed].reverse()) {
    try {
      env.helm(['uninstall', release, '-n', ns, '--wait', '--timeout', '2m']);
    } catch (err) {
      console.log(`# helm uninstall ${release}: ${err.message}`);
    }
  }
  await env.kube.delete('/apis/cert-manager.io/v1/clusterissuers/weft-e2e-s21-selfsigned').catch(() => {});
  await deleteNamespaces(env.kube, [WEFT_NS]);
  env.kube.close();
});

test(`helm upgrade from chart ${PREVIOUS} to the current chart with --reuse-values: 0 failed meshed requests`, { skip: notRunning }, async () => {
  const before = new Set((await env.kube.get(`/api/v1/namespaces/${WEFT_NS}/pods`)).items.map((p) => p.metadata.uid));
  const net = await env.podNet(NS, 'client');
  const loop = trafficLoop(net, 'http://web/upgrade', env.writeFile('s21-statuses.txt', ''));
  try {
    await waitFor('the loop running', () => (loop.statuses().length >= 10 ? true : undefined), { timeoutMs: 60_000 });
    const charts = chartPaths(env);
    env.helm(['upgrade', 'weft-crds', charts.crds, '--wait', '--timeout', '3m']);
    env.helm(['upgrade', 'weft', charts.controlPlane, '-n', WEFT_NS, '--reuse-values', '--set', 'logLevel=debug', '--wait', '--timeout', '4m']);
    const status = JSON.parse(env.helm(['list', '-n', WEFT_NS, '-o', 'json'])).find((r) => r.name === 'weft');
    assert.equal(status.revision, '2');
    assert.match(status.chart, /^weft-control-plane-/);
    assert.notEqual(status.chart, `weft-control-plane-${PREVIOUS}`, 'the release runs the current chart');
    await waitFor('every control-plane pod replaced and Ready', async () => {
      const pods = (await env.kube.get(`/api/v1/namespaces/${WEFT_NS}/pods`)).items.filter((p) => !p.metadata.deletionTimestamp);
      return pods.length >= 3 && pods.every((p) => !before.has(p.metadata.uid) && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) ? true : undefined;
    }, { timeoutMs: 240_000 });
    await readyPods(env.kube, WEFT_NS, 'app.kubernetes.io/name=weft-injector', 1, 'injector Ready', 60_000);
    const seen = loop.statuses().length;
    await waitFor('requests after the upgrade', () => (loop.statuses().length >= seen + 10 ? true : undefined), { timeoutMs: 60_000 });
    console.log(`# s21: ${status.chart} at revision ${status.revision}`);
  } finally {
    const statuses = loop.stop();
    const failed = statuses.filter((s) => s !== '200');
    console.log(`# s21: ${statuses.length} meshed requests across helm upgrade ${PREVIOUS} → current, ${failed.length} failed`);
    assert.equal(failed.length, 0, `failed requests: ${failed.join(',')}`);
  }
  // A pod created after the upgrade is injected by the new injector and meshed.
  await env.kube.create(`/api/v1/namespaces/${NS}/pods`, echoPod(env.echoImage, 'after', 'client'));
  await podReady(env, NS, 'after');
  const after = await env.podNet(NS, 'after');
  const body = JSON.parse(execFileSync(after[0], [...after.slice(1), 'curl', '-s', '--max-time', '10', 'http://web/after'], { encoding: 'utf8' }));
  assert.equal(body.clientId, `client.${NS}.serviceaccount.identity.${WEFT_NS}.cluster.local`);
});
