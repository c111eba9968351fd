// Retries through real proxies (client proxy → mTLS → server proxy → app)
// against a real HTTP server: a route failing one request in three is made
// whole by retries, the retry budget caps retries in a full outage, bodies
// are replayed when small and never retried when large, non-idempotent
// methods are not retried unless the route names them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { create } from '@bufbuild/protobuf';
import { destination } from '@weft/api';
import { startMesh, metricValue, SERVER_ID, type Mesh } from '../testing/mesh.js';
import { endpoint } from '../discovery/discovery.js';
import { PassThrough, type Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { MAX_REPLAY_BYTES, ReplayableBody } from './retry.js';

let mesh: Mesh;
let app: http.Server;
let agent: http.Agent;
let served = 0;
const seen = { flaky: 0, down: 0, upload: new Map<string, number>(), order: 0 };

const WEB = 'web.test.svc:80';
const DOWN = 'down.test.svc:80';
const ttl = { seconds: 600n, nanos: 0 };

before(async () => {
  app = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      served++;
      const body = Buffer.concat(chunks);
      if (req.url!.startsWith('/flaky')) {
        // Every third request fails.
        const n = ++seen.flaky;
        res.writeHead(n % 3 === 0 ? 500 : 200).end(n % 3 === 0 ? 'boom' : 'ok');
      } else if (req.url!.startsWith('/down')) {
        seen.down++;
        res.writeHead(503).end('down');
      } else if (req.url!.startsWith('/upload') || req.url!.startsWith('/order')) {
        // The first attempt of each request id fails; later attempts echo the body they received.
        const id = String(req.headers['x-id']);
        const n = (seen.upload.get(id) ?? 0) + 1;
        seen.upload.set(id, n);
        if (n === 1) res.writeHead(502).end('first attempt fails');
        else res.writeHead(200).end(body);
      } else res.writeHead(404).end();
    });
  });
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  const appPort = (app.address() as AddressInfo).port;
  mesh = await startMesh({ appPort });
  const ep = endpoint('127.0.0.1', appPort, { identity: SERVER_ID, inboundPort: mesh.server.ports.inbound });
  mesh.discovery.set(WEB, [ep]);
  mesh.discovery.set(DOWN, [ep]);
  mesh.profiles.set(
    WEB,
    create(destination.DestinationProfileSchema, {
      routes: [
        { name: 'flaky', matches: [{ method: 'GET', path: { kind: { case: 'prefix', value: '/flaky' } } }], isRetryable: true },
        { name: 'upload', matches: [{ path: { kind: { case: 'prefix', value: '/upload' } } }], isRetryable: true },
        { name: 'order', matches: [{ path: { kind: { case: 'prefix', value: '/order' } } }], isRetryable: true },
      ],
      retryBudget: { retryRatio: 0.6, minRetriesPerSecond: 0, ttl },
    }),
  );
  mesh.profiles.set(
    DOWN,
    create(destination.DestinationProfileSchema, {
      routes: [{ name: 'down', matches: [{ path: { kind: { case: 'prefix', value: '/down' } } }], isRetryable: true }],
      retryBudget: { retryRatio: 0.2, minRetriesPerSecond: 0, ttl },
    }),
  );
  agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
});

after(async () => {
  agent?.destroy();
  await mesh?.close();
  app?.close();
});

test('the first attempt gets the body as it streams; a replay exists only once it ended within the bound', async () => {
  const src = new PassThrough();
  const body = new ReplayableBody(src, 10);
  const first: Readable = body.first();
  src.write('abc');
  const [chunk] = (await once(first, 'data')) as [Buffer];
  assert.equal(chunk.toString(), 'abc', 'not held back until the end');
  assert.equal(body.complete, false);
  src.end('de');
  await once(first, 'end');
  assert.equal(body.complete, true);
  assert.equal(await text(body.replay()), 'abcde');
  assert.equal(await text(body.replay()), 'abcde', 'every replay is a fresh copy');

  const big = new PassThrough();
  const over = new ReplayableBody(big, 10);
  const out = over.first();
  big.end('0123456789ab');
  assert.equal(await text(out), '0123456789ab');
  assert.equal(over.complete, false);
});

test("the first attempt's body holds the client's body back while unread, and one the attempt gave up on keeps the copy going", { timeout: 10_000 }, async () => {
  const src = new PassThrough();
  const body = new ReplayableBody(src, 1 << 20);
  const first = body.first();
  // Nobody reads the attempt's body: once it holds its high-water mark, the client's body stops flowing.
  while (src.write(Buffer.alloc(4096))) await new Promise(setImmediate);
  await new Promise(setImmediate);
  assert.equal(src.readableFlowing, false, "the client's body is paused while the attempt's is full");
  // Reading the attempt's body lets the client's flow again.
  first.resume();
  await once(src, 'drain');
  assert.equal(src.readableFlowing, true);
  // The attempt gives up (its connection failed): the rest of the client's body still reaches the copy.
  first.pause();
  while (src.write(Buffer.alloc(4096))) await new Promise(setImmediate);
  first.destroy();
  src.end('end');
  await once(src, 'end');
  assert.equal(body.complete, true, 'the copy got the whole body');
  assert.equal((await text(body.replay())).endsWith('end'), true);

  // The client's body failing fails the attempt's body with the same error.
  const broken = new PassThrough();
  const attempt = new ReplayableBody(broken, 10).first();
  const closed = new Promise((resolve) => attempt.once('close', resolve));
  broken.destroy(new Error('client reset'));
  await closed;
  assert.equal(attempt.errored?.message, 'client reset');
});

function send(authority: string, path: string, opts: { method?: string; body?: Buffer; id?: string } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = { host: authority };
    if (opts.id) headers['x-id'] = opts.id;
    const req = http.request({ host: '127.0.0.1', port: mesh.client.ports.outbound, path, method: opts.method ?? 'GET', headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

async function metrics(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${mesh.client.ports.admin}/metrics`);
  return res.text();
}

async function load(n: number, concurrency: number, one: (i: number) => Promise<{ status: number }>): Promise<number[]> {
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) statuses.push((await one(next++)).status);
    }),
  );
  return statuses;
}

test('a retryable route failing 1 request in 3 succeeds for the client ≥ 99 % of the time, and retries are counted', { timeout: 120_000 }, async () => {
  const before = served;
  const n = 300;
  const statuses = await load(n, 6, () => send(WEB, '/flaky'));
  const ok = statuses.filter((s) => s === 200).length;
  assert.ok(ok / statuses.length >= 0.99, `success ${ok}/${statuses.length}`);
  const text = await metrics();
  const retries = metricValue(text, 'retry_total', { direction: 'outbound', rt_route: 'flaky' });
  // Every upstream request beyond the client's own was a counted retry.
  assert.equal(retries, served - before - statuses.length);
  // A third of all upstream requests (originals and retries) fail, so about half as many retries as requests.
  assert.ok(retries >= n / 4, `failed attempts were retried, saw ${retries}`);
  assert.ok(retries <= 0.6 * statuses.length, 'retries stay within the budget ratio');
  assert.equal(metricValue(text, 'route_request_total', { direction: 'outbound', rt_route: 'flaky' }), n);
  assert.equal(metricValue(text, 'route_response_total', { direction: 'outbound', rt_route: 'flaky', classification: 'success' }), ok);
});

test('in a full outage the budget caps retries at its ratio of requests', { timeout: 120_000 }, async () => {
  const n = 100;
  const statuses = await load(n, 4, () => send(DOWN, '/down'));
  // 503 from the backend, or from the balancer once failure accrual ejected the endpoint.
  assert.ok(statuses.every((s) => s === 503), 'the outage shows through');
  const text = await metrics();
  const retries = metricValue(text, 'retry_total', { direction: 'outbound', rt_route: 'down' });
  const exhausted = metricValue(text, 'retry_budget_exhausted_total', { direction: 'outbound', rt_route: 'down' });
  assert.ok(seen.down <= n + retries, 'the backend saw at most each request plus the counted retries');
  assert.ok(retries <= 0.2 * n, `retries ${retries} ≤ 20 % of ${n}`);
  // Each request tries up to MAX_RETRIES retries, so the budget ends (nearly) spent.
  assert.ok(retries >= 0.2 * n - 4, `the budget is used, not refused outright (${retries})`);
  assert.ok(exhausted > 0, 'refused retries are counted');
  assert.equal(metricValue(text, 'route_response_total', { direction: 'outbound', rt_route: 'down', classification: 'failure' }), n);
});

test('a small body is replayed on retry; a body over the replay bound is sent once and not retried', { timeout: 60_000 }, async () => {
  const small = Buffer.from('x'.repeat(1000));
  const r1 = await send(WEB, '/upload', { method: 'PUT', body: small, id: 'small' });
  assert.equal(r1.status, 200);
  assert.equal(r1.body, small.toString(), 'the retry carried the whole body');
  assert.equal(seen.upload.get('small'), 2);

  const large = Buffer.alloc(MAX_REPLAY_BYTES + 1000, 'y');
  const r2 = await send(WEB, '/upload', { method: 'PUT', body: large, id: 'large' });
  assert.equal(r2.status, 502, 'not retried');
  assert.equal(seen.upload.get('large'), 1);
});

test('a non-idempotent method is not retried on a route that does not name it', { timeout: 60_000 }, async () => {
  const r = await send(WEB, '/order', { method: 'POST', body: Buffer.from('{}'), id: 'post' });
  assert.equal(r.status, 502);
  assert.equal(seen.upload.get('post'), 1);
  // Named by the route: opted in.
  mesh.profiles.set(
    WEB,
    create(destination.DestinationProfileSchema, {
      routes: [{ name: 'order', matches: [{ method: 'POST', path: { kind: { case: 'prefix', value: '/order' } } }], isRetryable: true }],
      retryBudget: { retryRatio: 1, minRetriesPerSecond: 10, ttl },
    }),
  );
  const r2 = await send(WEB, '/order', { method: 'POST', body: Buffer.from('{"a":1}'), id: 'post-named' });
  assert.equal(r2.status, 200);
  assert.equal(r2.body, '{"a":1}');
  assert.equal(seen.upload.get('post-named'), 2);
});
