// Scenario 6: an unmeshed client pod (its namespace has no `weft.io/inject`,
// so the webhook leaves it alone) calls an injected server's Service over
// plain HTTP through kube-proxy. It works, and the server's proxy counts the
// request as inbound with tls="no_identity" and no client_id. Then the
// server's namespace is annotated `config.weft.io/default-inbound-policy:
// all-authenticated`; destination pushes the new default policy to the
// running proxy (no pod restart), and the unmeshed client is refused with 403
// while a meshed client in the server's namespace still gets through by mTLS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { notRunning, waitFor } from './lib/env.mjs';
import { readyPods as waitReadyPods, echoPod } from './lib/pods.mjs';
import { cleanUp, nodeEnv, webService } from './lib/scenario-setup.mjs';
import { controlPlaneReady, podLogs } from './lib/node-pods.mjs';
import { WEFT_NS, installWeft } from './lib/weft-install.mjs';

const MESHED_NS = 'weft-e2e-s6-meshed';
const PLAIN_NS = 'weft-e2e-s6-plain';
const POLICY_ANNOTATION = 'config.weft.io/default-inbound-policy';
const skipAll = notRunning;
let skip = skipAll;
let env;
let installed = [];
/** The injected server pod, its Service URL, and the unmeshed client's netns, from the first test. */
let serverPod;
let webUrl;
let plainNetns;

before(() => {
  if (!skip) env = nodeEnv();
});

after(async () => {
  if (env) await cleanUp(env, [PLAIN_NS, MESHED_NS], installed);
});

const readyPods = (ns, selector, n, what, timeoutMs) => waitReadyPods(env.kube, ns, selector, n, what, timeoutMs);

/** One curl inside a pod's network (lib/pod-exec.mjs prefix): { code, body } (code 0 when the connection failed). */
function curlFrom(podNet, url) {
  const r = spawnSync(podNet[0], [...podNet.slice(1), 'curl', '-s', '--max-time', '10', '-w', '\n%{http_code}', url], { encoding: 'utf8' });
  const out = r.stdout ?? '';
  const nl = out.lastIndexOf('\n');
  return { status: r.status, code: Number(out.slice(nl + 1)) || 0, body: out.slice(0, Math.max(nl, 0)), stderr: r.stderr };
}

/** The server proxy's Prometheus lines of one family. */
function proxyMetrics(podIP, family) {
  const text = spawnSync('curl', ['-sf', '--max-time', '5', `http://${podIP}:4191/metrics`], { encoding: 'utf8' }).stdout ?? '';
  return text.split('\n').filter((l) => l.startsWith(`${family}{`));
}

const sampleValue = (line) => Number(line.slice(line.lastIndexOf(' ') + 1));

test('an unmeshed client pod reaches a meshed server in plaintext: inbound, tls="no_identity", no client_id', { skip: skipAll }, async (t) => {
  if (skip) return t.skip(skip);
  ({ releases: installed } = await installWeft(env));
  await controlPlaneReady(env);

  await env.kube.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: MESHED_NS, annotations: { 'weft.io/inject': 'enabled' } } });
  await env.kube.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: PLAIN_NS } });
  for (const ns of [MESHED_NS, PLAIN_NS]) await waitFor(`default ServiceAccount in ${ns}`, () => env.kube.getOrNull(`/api/v1/namespaces/${ns}/serviceaccounts/default`), { timeoutMs: 60_000 });
  await env.kube.create(`/api/v1/namespaces/${MESHED_NS}/pods`, echoPod(env.echoImage, 'web'));
  await webService(env, MESHED_NS);
  await env.kube.create(`/api/v1/namespaces/${PLAIN_NS}/pods`, echoPod(env.echoImage, 'plain'));

  [serverPod] = await readyPods(MESHED_NS, 'app=web', 1, 'the injected server pod Ready', 180_000);
  const serverContainers = [...(serverPod.spec.initContainers ?? []), ...serverPod.spec.containers].map((c) => c.name);
  assert.ok(serverContainers.some((n) => /proxy/.test(n)), `the server is injected: ${serverContainers.join(', ')}`);
  const [plain] = await readyPods(PLAIN_NS, 'app=plain', 1, 'the unmeshed client pod Ready', 120_000);
  const plainContainers = [...(plain.spec.initContainers ?? []), ...plain.spec.containers].map((c) => c.name);
  assert.deepEqual(plainContainers, ['plain'], 'a pod outside annotated namespaces is not injected');

  plainNetns = await env.podNet(PLAIN_NS, 'plain');
  webUrl = `http://web.${MESHED_NS}.svc.cluster.local/plain`;
  let last;
  const body = await waitFor('a plaintext request from the unmeshed pod to web', () => {
    last = curlFrom(plainNetns, webUrl);
    return last.code === 200 ? JSON.parse(last.body) : undefined;
  }, { timeoutMs: 90_000, intervalMs: 1000 }).catch((err) => {
    err.message += `\n  last curl: ${JSON.stringify(last)}`;
    throw err;
  });
  assert.equal(body.path, '/plain');
  assert.equal(body.pod, 'web', 'kube-proxy routed the Service to the meshed server');
  assert.equal(body.clientId, null, 'no mesh identity for an unmeshed caller');

  const inbound = proxyMetrics(serverPod.status.podIP, 'request_total').filter((l) => l.includes('direction="inbound"'));
  const plaintext = inbound.filter((l) => l.includes('tls="no_identity"'));
  assert.ok(plaintext.length > 0 && plaintext.some((l) => sampleValue(l) >= 1), `the server proxy counts the request as inbound tls="no_identity":\n${inbound.join('\n')}`);
  for (const l of plaintext) assert.doesNotMatch(l, /client_id="[^"]+"/, `no client_id on a plaintext request: ${l}`);
});

test('default-inbound-policy all-authenticated: the unmeshed client gets 403, a meshed client still succeeds by mTLS', { skip: skipAll }, async (t) => {
  if (skip) return t.skip(skip);
  if (!serverPod || !plainNetns) return t.skip('no server or unmeshed client (previous test failed)');
  // A meshed client, certified before the policy changes so its success below is not a fresh-pod race.
  await env.kube.create(`/api/v1/namespaces/${MESHED_NS}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'client' } });
  await env.kube.create(`/api/v1/namespaces/${MESHED_NS}/pods`, echoPod(env.echoImage, 'client', 'client'));
  const [client] = await readyPods(MESHED_NS, 'app=client', 1, 'the injected client pod Ready', 180_000);
  const clientContainers = [...(client.spec.initContainers ?? []), ...client.spec.containers].map((c) => c.name);
  assert.ok(clientContainers.some((n) => /proxy/.test(n)), `the client is injected: ${clientContainers.join(', ')}`);
  const clientNetns = await env.podNet(MESHED_NS, 'client');
  const clientId = `client.${MESHED_NS}.serviceaccount.identity.${WEFT_NS}.cluster.local`;
  let last;
  await waitFor('a meshed request from client to web', () => {
    last = curlFrom(clientNetns, webUrl);
    return last.code === 200 && JSON.parse(last.body).clientId === clientId;
  }, { timeoutMs: 90_000, intervalMs: 1000 }).catch((err) => {
    // Which way the client's requests went: its proxy's outbound counters say whether they went to the Service's
    // original destination (discovery did not know it), to an endpoint without identity, or not through it at all.
    const outbound = proxyMetrics(client.status.podIP, 'request_total').filter((l) => l.includes('direction="outbound"'));
    err.message += `\n  last curl: ${JSON.stringify(last)}\n  client proxy outbound:\n${outbound.join('\n')}\n${podLogs(env, MESHED_NS, 'client', 40)}`;
    throw err;
  });

  // The policy changes under the running server pod: destination watches the namespace and pushes the new default.
  await env.kube.request('PATCH', `/api/v1/namespaces/${MESHED_NS}`, { metadata: { annotations: { [POLICY_ANNOTATION]: 'all-authenticated' } } }, { contentType: 'application/merge-patch+json' });
  await waitFor('the unmeshed client refused with 403', () => {
    last = curlFrom(plainNetns, webUrl);
    return last.code === 403;
  }, { timeoutMs: 90_000, intervalMs: 1000 }).catch((err) => {
    err.message += `\n  last curl: ${JSON.stringify(last)}`;
    throw err;
  });
  const denied = proxyMetrics(serverPod.status.podIP, 'inbound_http_authz_deny_total');
  assert.ok(denied.some((l) => l.includes('srv_name="all-authenticated"') && l.includes('tls="no_identity"') && sampleValue(l) >= 1), `the server proxy counts the denial under the all-authenticated default:\n${denied.join('\n')}`);

  // Still denied on repetition (not a transient state), and the meshed client still gets through, identified.
  assert.equal(curlFrom(plainNetns, webUrl).code, 403, 'the unmeshed client stays denied');
  const meshed = curlFrom(clientNetns, webUrl);
  assert.equal(meshed.code, 200, `the meshed client still succeeds: ${JSON.stringify(meshed)}`);
  const body = JSON.parse(meshed.body);
  assert.equal(body.pod, 'web');
  assert.equal(body.clientId, clientId, 'the server proxy authenticated the meshed client by its certificate');
  const allowed = proxyMetrics(serverPod.status.podIP, 'inbound_http_authz_allow_total');
  assert.ok(allowed.some((l) => l.includes('authz_name="all-authenticated"') && l.includes('tls="true"') && sampleValue(l) >= 1), `the server proxy counts the mTLS request as allowed by all-authenticated:\n${allowed.join('\n')}`);
});
