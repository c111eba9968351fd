// Scenario 5: `helm upgrade` with changed values while meshed traffic flows.
// The upgrade scales destination to two replicas, adds a pod label and
// changes the mesh-wide default inbound policy to `all-authenticated`. The
// new values must be live: every control-plane pod is replaced and carries
// the label, destination runs two Ready replicas, and the new destination
// pushes the new default to the already-running server proxy (an unmeshed
// caller that got 200 before now gets 403). The meshed client, sending one
// request every 200 ms from before the upgrade to after the rollout, must see
// no failed request. (s2 upgrades logLevel; this one changes replicas, pod
// metadata and behaviour the data plane depends on.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { notRunning, waitFor } from './lib/env.mjs';
import { podSummary, readyPods as waitReadyPods, echoPod } from './lib/pods.mjs';
import { cleanUp, nodeEnv, webService } from './lib/scenario-setup.mjs';
import { trafficLoop } from './lib/traffic.mjs';
import { controlPlaneReady } from './lib/node-pods.mjs';
import { WEFT_NS, chartPaths, installWeft } from './lib/weft-install.mjs';

const NS = 'weft-e2e-s5-upgrade';
const ROLLOUT_LABEL = ['weft-e2e-rollout', 's5'];
const CONTROL_PLANE = 'app.kubernetes.io/component in (identity,destination,injector)';
const skipAll = notRunning;
let skip = skipAll;
let env;
let installed = [];
let traffic;

before(() => {
  if (!skip) env = nodeEnv();
});

after(async () => {
  traffic?.stop();
  if (env) await cleanUp(env, [NS], installed);
});

const readyPods = (ns, selector, n, what, timeoutMs) => waitReadyPods(env.kube, ns, selector, n, what, timeoutMs);

/** The HTTP status an unmeshed caller (the host, through the Service's cluster IP and kube-proxy) gets. */
function unmeshedStatus(clusterIP) {
  const r = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', `http://${clusterIP}/unmeshed`], { encoding: 'utf8' });
  return Number(r.stdout) || 0;
}

test('helm upgrade (destination replicas, pod label, default inbound policy) is live and fails no meshed request', { skip: skipAll }, async (t) => {
  if (skip) return t.skip(skip);
  ({ releases: installed } = await installWeft(env));
  await controlPlaneReady(env);
  await env.kube.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, annotations: { 'weft.io/inject': 'enabled' } } });
  await waitFor('default ServiceAccount', () => env.kube.getOrNull(`/api/v1/namespaces/${NS}/serviceaccounts/default`), { timeoutMs: 60_000 });
  await env.kube.create(`/api/v1/namespaces/${NS}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'client' } });
  const svc = await webService(env, NS);
  await env.kube.create(`/api/v1/namespaces/${NS}/pods`, echoPod(env.echoImage, 'web'));
  await env.kube.create(`/api/v1/namespaces/${NS}/pods`, echoPod(env.echoImage, 'client', 'client'));
  await readyPods(NS, 'app=web', 1, 'the injected server pod Ready', 180_000);
  await readyPods(NS, 'app=client', 1, 'the injected client pod Ready', 180_000);
  const clientNet = await env.podNet(NS, 'client');
  const url = `http://web.${NS}.svc.cluster.local/upgrade`;
  const clientId = `client.${NS}.serviceaccount.identity.${WEFT_NS}.cluster.local`;
  let last = '';
  await waitFor('a meshed request from client to web', () => {
    const r = spawnSync(clientNet[0], [...clientNet.slice(1), 'curl', '-s', '--max-time', '10', url], { encoding: 'utf8' });
    last = `${r.status} ${r.stdout}${r.stderr}`;
    return r.status === 0 && r.stdout.startsWith('{') && JSON.parse(r.stdout).clientId === clientId;
  }, { timeoutMs: 90_000, intervalMs: 1000 }).catch((err) => {
    err.message += `\n  last curl: ${last}`;
    throw err;
  });
  // Under the chart's default (all-unauthenticated) an unmeshed caller gets through: the 403 later is the upgrade's doing.
  const unmeshedBefore = await waitFor('an unmeshed request to web', () => unmeshedStatus(svc.spec.clusterIP) || undefined, { timeoutMs: 60_000, intervalMs: 1000 });
  assert.equal(unmeshedBefore, 200, 'before the upgrade an unmeshed caller is allowed');

  const deploymentsBefore = (await env.kube.get(`/apis/apps/v1/namespaces/${WEFT_NS}/deployments?labelSelector=${encodeURIComponent(CONTROL_PLANE)}`)).items;
  assert.equal(deploymentsBefore.length, 3);
  const oldPods = new Set((await env.kube.get(`/api/v1/namespaces/${WEFT_NS}/pods`)).items.map((p) => p.metadata.uid));

  traffic = trafficLoop(clientNet, url, env.writeFile('s5-statuses.txt', ''));
  await waitFor('meshed requests flowing before the upgrade', () => traffic.statuses().filter((s) => s === '200').length >= 3, { timeoutMs: 30_000 });
  env.helm([
    'upgrade', 'weft', chartPaths(env).controlPlane, '-n', WEFT_NS, '--reuse-values',
    '--set', 'destination.replicas=2',
    '--set', `podLabels.${ROLLOUT_LABEL[0]}=${ROLLOUT_LABEL[1]}`,
    '--set', 'destination.defaultInboundPolicy=all-authenticated',
    '--timeout', '3m',
  ]);
  const history = JSON.parse(env.helm(['history', 'weft', '-n', WEFT_NS, '-o', 'json']));
  assert.equal(history.at(-1).status, 'deployed', `the upgrade is the deployed revision: ${JSON.stringify(history.map((h) => [h.revision, h.status]))}`);
  assert.equal(history.at(-1).revision, 2);

  await waitFor('control plane rolled out', async () => {
    const list = await env.kube.get(`/apis/apps/v1/namespaces/${WEFT_NS}/deployments?labelSelector=${encodeURIComponent(CONTROL_PLANE)}`);
    return list.items.every((d) => d.status.observedGeneration >= d.metadata.generation && d.status.updatedReplicas === d.spec.replicas && d.status.availableReplicas === d.spec.replicas && (d.status.replicas ?? 0) === d.spec.replicas);
  }, { timeoutMs: 240_000, intervalMs: 1000 });

  // The changed values are live: two destination replicas, every control-plane pod new and labelled.
  const destination = await env.kube.get(`/apis/apps/v1/namespaces/${WEFT_NS}/deployments/weft-destination`);
  assert.equal(destination.spec.replicas, 2);
  assert.ok(destination.spec.template.spec.containers.flatMap((c) => c.env ?? []).some((e) => e.name === 'WEFT_DESTINATION_DEFAULT_INBOUND_POLICY' && e.value === 'all-authenticated'), 'destination runs with the new default inbound policy');
  const pods = (await env.kube.get(`/api/v1/namespaces/${WEFT_NS}/pods?labelSelector=${encodeURIComponent(CONTROL_PLANE)}`)).items.filter((p) => !p.metadata.deletionTimestamp);
  assert.ok(pods.every((p) => !oldPods.has(p.metadata.uid)), `every control-plane pod was replaced: ${pods.map(podSummary).join('; ')}`);
  assert.ok(pods.every((p) => p.metadata.labels?.[ROLLOUT_LABEL[0]] === ROLLOUT_LABEL[1]), `every control-plane pod carries ${ROLLOUT_LABEL.join('=')}`);
  await readyPods(WEFT_NS, 'app.kubernetes.io/name=weft-destination', 2, 'two destination replicas Ready', 120_000);

  // And the data plane follows the new control plane: the running server proxy gets the new default from destination.
  const unmeshedAfter = await waitFor('an unmeshed caller refused under the new default', () => {
    const code = unmeshedStatus(svc.spec.clusterIP);
    return code === 403 ? code : undefined;
  }, { timeoutMs: 90_000, intervalMs: 1000 }).catch((err) => {
    err.message += `\n  last status: ${unmeshedStatus(svc.spec.clusterIP)}`;
    throw err;
  });
  assert.equal(unmeshedAfter, 403);

  // Keep the meshed traffic going a little after the rollout, then count.
  const count = traffic.statuses().length;
  await waitFor('meshed requests after the rollout', () => traffic.statuses().length >= count + 10, { timeoutMs: 30_000 });
  const statuses = traffic.stop();
  const failed = statuses.filter((s) => s !== '200');
  console.log(`# upgrade: ${statuses.length} meshed requests, ${failed.length} failed`);
  assert.ok(statuses.length >= 20, `enough meshed requests to mean something: ${statuses.length}`);
  assert.deepEqual(failed, [], `${failed.length} of ${statuses.length} meshed requests failed during the upgrade`);
});
