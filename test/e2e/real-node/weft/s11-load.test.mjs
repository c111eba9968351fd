// Scenario 11: meshed traffic under load on the real node.
// (a) 60 s of HTTP load from a meshed client to a meshed server: both proxies
//     stay within their memory limit (the chart's default proxy memory limit,
//     enforced by the kubelet as the container's cgroup v1 memory limit): their
//     peak usage (memory.max_usage_in_bytes) stays under memory.limit_in_bytes,
//     the kernel OOM-killed nothing in them, and neither restarted.
// (b) A server pod deleted under load is replaced (Deployment) with 0 failed
//     requests from the meshed client: destination drops the leaving endpoint,
//     and the requests caught in that race (the app already gone: connection
//     refused or reset behind the server's proxy) are retried on the other
//     endpoint, because the Service's ServiceProfile marks its route
//     retryable, as a user would. Without that route weft does not retry: a
//     run without the profile saw 6 of 11845 requests answered 503 by the
//     dying pod's proxy ("endpoint …:8080 failed: connect ECONNREFUSED").
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { notRunning, waitFor } from '../../lib/env.mjs';
import { echoPod, readyPods } from '../../lib/pods.mjs';
import { containerCgroupDir, containerPid, podReady, readCgroup } from '../../lib/node-pods.mjs';
import { cleanUp, meshedWeft, realNodeEnv, webService } from '../../lib/scenario-setup.mjs';

const NS = 'weft-e2e-s11';
const loadMain = new URL('../../lib/load.mjs', import.meta.url).pathname;
const URL_WEB = `http://web.${NS}.svc.cluster.local/load`;
let env;
let installed = [];

before(async () => {
  if (notRunning) return;
  env = realNodeEnv();
  installed = await meshedWeft(env, NS, 'client');
  const web = echoPod(env.echoImage, 'web');
  web.spec.containers[0].readinessProbe = { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 1 };
  await env.kube.create(`/apis/apps/v1/namespaces/${NS}/deployments`, {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' },
    spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: web.spec } },
  });
  await webService(env, NS);
  // GETs to web are retryable (5xx and connection failures, within the default retry budget).
  await env.kube.create(`/apis/weft.io/v1alpha1/namespaces/${NS}/serviceprofiles`, {
    apiVersion: 'weft.io/v1alpha1', kind: 'ServiceProfile', metadata: { name: `web.${NS}.svc.cluster.local` },
    spec: { routes: [{ name: 'GET /', matches: [{ method: 'GET', path: { prefix: '/' } }], isRetryable: true }] },
  });
  await env.kube.create(`/api/v1/namespaces/${NS}/pods`, echoPod(env.echoImage, 'client', 'client'));
  await readyPods(env.kube, NS, 'app=web', 2, 'two meshed web pods Ready', 240_000);
  await podReady(env, NS, 'client');
});

after(async () => {
  if (env) await cleanUp(env, [NS], installed);
});

/** Starts lib/load.mjs in the client pod's network; `result()` resolves its JSON line, `stop()` ends it early. */
async function startLoad(seconds, concurrency) {
  const net = await env.podNet(NS, 'client', 'client');
  const child = spawn(net[0], [...net.slice(1), process.execPath, loadMain, URL_WEB, String(seconds), String(concurrency)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const done = new Promise((resolve, reject) => {
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop();
      try {
        resolve(JSON.parse(line));
      } catch {
        reject(new Error(`load.mjs exited ${code} without a result: ${out} ${err}`));
      }
    });
  });
  return {
    result: () => done,
    // SIGTERM reaches load.mjs itself: nsenter and sh exec into it.
    stop: () => child.kill('SIGTERM'),
  };
}

/** The proxy container's memory cgroup on the host, with its restart count. */
async function proxyMemory(podName) {
  const p = await env.kube.get(`/api/v1/namespaces/${NS}/pods/${podName}`);
  const st = [...(p.status.initContainerStatuses ?? []), ...p.status.containerStatuses].find((c) => c.name === 'weft-proxy');
  const dir = containerCgroupDir(containerPid(env, st.containerID), 'memory');
  const oomKills = Number(readCgroup(dir, 'memory.oom_control').match(/oom_kill (\d+)/)?.[1] ?? 0);
  return { dir, restarts: st.restartCount, limit: Number(readCgroup(dir, 'memory.limit_in_bytes')), max: Number(readCgroup(dir, 'memory.max_usage_in_bytes')), usage: Number(readCgroup(dir, 'memory.usage_in_bytes')), oomKills };
}

const mib = (n) => `${(n / 1048576).toFixed(1)} MiB`;

test('under 60 s of load both proxies stay within their cgroup memory limit', { skip: notRunning }, async () => {
  const [server] = (await env.kube.get(`/api/v1/namespaces/${NS}/pods?labelSelector=app%3Dweb`)).items;
  const pods = ['client', server.metadata.name];
  const before = Object.fromEntries(await Promise.all(pods.map(async (p) => [p, await proxyMemory(p)])));
  for (const [p, m] of Object.entries(before)) {
    assert.equal(m.limit, 256 * 1024 * 1024, `${p}: the chart's default proxy memory limit (256Mi) is the cgroup's (${m.dir})`);
  }
  const load = await startLoad(60, 16);
  const r = await load.result();
  assert.ok(r.requests > 100, `load ran: ${JSON.stringify(r)}`);
  for (const p of pods) {
    const m = await proxyMemory(p);
    console.log(`# ${p} proxy: peak ${mib(m.max)} (before the load ${mib(before[p].max)}), now ${mib(m.usage)}, limit ${mib(m.limit)}, OOM kills ${m.oomKills}, restarts ${m.restarts} (${m.dir})`);
    assert.ok(m.max < m.limit, `${p} proxy peak ${mib(m.max)} under its limit ${mib(m.limit)}`);
    assert.equal(m.oomKills, 0, `${p} proxy: no OOM kill`);
    assert.equal(m.restarts, 0, `${p} proxy never restarted`);
  }
  console.log(`# 60 s load: ${r.requests} requests (${Math.round(r.requests / r.seconds)}/s, 16 workers), ${r.failures} failed, by pod ${JSON.stringify(r.byPod)}`);
  assert.equal(r.failures, 0, `failed requests under load: ${r.errors.join('; ')}`);
});

test('a server pod deleted under load is replaced with 0 failed meshed requests', { skip: notRunning }, async () => {
  const before = (await env.kube.get(`/api/v1/namespaces/${NS}/pods?labelSelector=app%3Dweb`)).items.filter((p) => !p.metadata.deletionTimestamp);
  assert.equal(before.length, 2);
  const victim = before[0].metadata.name;
  const load = await startLoad(600, 4);
  let replacement;
  try {
    // Traffic reaches both pods before the deletion.
    await new Promise((r) => setTimeout(r, 5000));
    await env.kube.delete(`/api/v1/namespaces/${NS}/pods/${victim}`);
    await waitFor(`${victim} gone`, async () => (await env.kube.getOrNull(`/api/v1/namespaces/${NS}/pods/${victim}`)) === undefined, { timeoutMs: 120_000, intervalMs: 500 });
    const ready = await readyPods(env.kube, NS, 'app=web', 2, 'two web pods Ready again', 180_000);
    replacement = ready.find((p) => !before.some((b) => b.metadata.uid === p.metadata.uid))?.metadata.name;
    assert.ok(replacement, 'a new pod replaced the deleted one');
    // Let the replacement take traffic for a while.
    await new Promise((r) => setTimeout(r, 10_000));
  } finally {
    load.stop();
  }
  const r = await load.result();
  console.log(`# pod ${victim} deleted under load, replaced by ${replacement}: ${r.requests} requests, ${r.failures} failed, by pod ${JSON.stringify(r.byPod)}`);
  assert.ok(r.byPod[victim] > 0, `the deleted pod served before it went: ${JSON.stringify(r.byPod)}`);
  assert.ok(r.byPod[replacement] > 0, `the replacement took traffic: ${JSON.stringify(r.byPod)}`);
  assert.equal(r.failures, 0, `failed meshed requests while the pod was replaced: ${r.errors.join('; ')}`);
});
