// `weft viz` against real weft proxies (proxy/, started in-process by the
// proxy's own test mesh: real mTLS between them, in-memory discovery) carrying
// real HTTP traffic this test sends, scraped by a real Prometheus, read by
// viz: stat numbers agree with the traffic, edges carry the proxies' mTLS
// identities, tap streams the matching requests from the proxies' tap servers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startRealProxyMesh, CLIENT_ID, SERVER_ID, type RealProxyMesh } from '@weft/viz/testing/real-proxy-mesh';
import { expectedP50Bucket } from '@weft/viz/testing/test-mesh';
import { endpoint } from '@weft/proxy';
import type { StatResult, Edge } from '@weft/viz';

const WEFT = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));
let real: RealProxyMesh;
const latencies: number[] = [];

function weft(args: readonly string[], whileRunning?: () => Promise<void>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { viz } = real;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WEFT, ...args, '--api-addr', viz.apiUrl, ...(args[0] === 'viz' ? ['--tap-addr', viz.tapUrl] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const safety = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(safety);
      resolve({ code, stdout, stderr });
    });
    if (whileRunning) void (async () => { while (child.exitCode === null) await whileRunning(); })();
  });
}

async function sendAll(paths: readonly string[], concurrency = 8): Promise<number[]> {
  const out: number[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < paths.length) {
      const i = next++;
      const started = performance.now();
      out[i] = await real.send(paths[i]!);
      latencies.push(performance.now() - started);
    }
  }));
  return out;
}

before(async () => {
  // The app behind the server proxy answers after 120 ms; /books/fail answers 500.
  real = await startRealProxyMesh({ appDelayMs: 120 });
  // An unmeshed destination (no identity): the client proxy talks plaintext to it.
  real.mesh.discovery.set('legacy.test.svc:80', [endpoint('127.0.0.1', real.appPort, { labels: { namespace: 'test', deployment: 'legacy', pod: 'legacy-pod' } })]);
  for (let i = 0; i < 5; i++) assert.equal(await real.send(`/legacy/${i}`, 'legacy.test.svc:80'), 200);
  const statuses = await sendAll([...Array.from({ length: 95 }, (_, i) => `/books/${i}`), ...Array.from({ length: 5 }, (_, i) => `/books/fail/${i}`)]);
  assert.deepEqual([statuses.filter((s) => s === 200).length, statuses.filter((s) => s === 500).length], [95, 5]);
  await real.prometheus.scrapedAfter(new Date());
});

after(async () => {
  await real?.close();
});

test('weft viz stat deploy agrees with the traffic sent through real proxies', async () => {
  const r = await weft(['viz', 'stat', 'deploy', '-n', 'test', '-t', '5m', '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const rows = (JSON.parse(r.stdout) as StatResult).rows;
  const server = rows.find((x) => x.name === 'server');
  assert.ok(server, r.stdout);
  assert.equal(server.requests, 100);
  assert.ok(Math.abs(server.successRate! - 0.95) <= 0.01, `success ${server.successRate}`);
  // The (100, 200] ms bucket of a 120 ms app (a later one only on a very loaded machine).
  const { above, atMost } = expectedP50Bucket(latencies.slice(0, 100), 120);
  assert.ok(server.latencyMsP50! > above && server.latencyMsP50! <= atMost, `p50 ${server.latencyMsP50} not in the (${above}, ${atMost}] ms bucket`);
  assert.equal(server.meshedPods, 1);
  const from = await weft(['viz', 'stat', 'deploy', '-n', 'test', '--from', 'deploy/client', '-t', '5m', '-o', 'json']);
  assert.deepEqual((JSON.parse(from.stdout) as StatResult).rows.map((x) => [x.name, x.requests]), [['legacy', 5], ['server', 100]]);
});

test('weft viz edges shows the proxies\' mTLS identities, and plaintext to an unmeshed destination', async () => {
  const r = await weft(['viz', 'edges', 'deploy', '-n', 'test', '-t', '5m', '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const edges = (JSON.parse(r.stdout) as { edges: Edge[] }).edges;
  assert.deepEqual(edges.map((e) => [e.src.name, e.dst.name, e.clientId, e.serverId, e.mtls, e.requests]), [
    ['client', 'legacy', '', '', false, 5],
    ['client', 'server', CLIENT_ID, SERVER_ID, true, 100],
  ]);
  const table = await weft(['viz', 'edges', 'deploy', '-n', 'test', '-t', '5m']);
  assert.match(table.stdout, /^client\s+legacy\s+test\s+test\s+no mTLS/m);
});

test('weft viz tap streams matching requests from the real proxies\' tap servers', async (t) => {
  const started = Date.now();
  const r = await weft(['viz', 'tap', 'deploy/server', '-n', 'test', '--path', '/books/tap', '--max', '2'], async () => {
    await sendAll(['/books/tap/1', '/books/other'], 2);
  });
  t.diagnostic(`tap returned 2 requests after ${Date.now() - started} ms (including CLI start)`);
  assert.equal(r.code, 0, r.stderr);
  const reqs = r.stdout.split('\n').filter((l) => l.startsWith('req '));
  assert.equal(reqs.length, 2, r.stdout);
  for (const l of reqs) {
    assert.match(l, /proxy=in .*tls=true :method=GET :authority=books\.test\.svc:80 :path=\/books\/tap\/1/);
    assert.ok(l.includes(`client_id=${CLIENT_ID}`), l);
  }
  assert.equal(r.stdout.split('\n').filter((l) => /^end .*response-length=\d+B/.test(l)).length, 2);
});

test('weft identity shows the certificate a real proxy presents', async () => {
  const r = await weft(['identity', 'server-pod', '-n', 'test', '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual((JSON.parse(r.stdout) as { certificate: { dnsNames: string[] } }).certificate.dnsNames, [SERVER_ID]);
});

test('weft check --local passes for the real proxies and names each one', async () => {
  const r = await weft(['check', '--local']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /√ test\/server-pod serves its metrics/);
  assert.match(r.stdout, /√ test\/client-pod presents its identity/);
  assert.match(r.stdout, /Status check results are √/);
});
