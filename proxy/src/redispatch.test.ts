// A request that never reached an application is sent again on another
// endpoint, on every route (docs/proxy.md "Requests that were not delivered").
// Real proxies and sockets: a client proxy, a server proxy (mTLS between
// them) and a real HTTP application. Each authority has two endpoints: the
// live one, and one that refuses — either the server proxy's application port
// is closed (the server proxy answers 503 `weft-proxy-error: app-unreachable`)
// or the peer proxy's own port is closed (the connection is refused). The
// routes are not retryable. The live application answers slowly, so P2C's
// peak-EWMA prefers the endpoint that fails fast: it is picked, as it is in
// a rolling restart.
// A third kind of dead endpoint does not refuse at all: the address of a pod
// that just went away, which a caller that has not yet seen the endpoint's
// removal still picks. Its SYNs get no answer (here: a stopped listener whose
// accept queue is full, so the kernel drops them); the connect is bounded
// (@weft/common/connect-bound) and the request goes to the other endpoint,
// over HTTP/1 and over HTTP/2 (whose sessions had no bound before).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { once } from 'node:events';
import { create } from '@bufbuild/protobuf';
import { destination } from '@weft/api';
import { startMesh, metricValue, SERVER_ID, type Mesh } from './testing/mesh.js';
import { silentPort, type SilentPort } from '@weft/common/testing/silent-port';
import { unusedPort } from '@weft/common/testing/ports';
import { endpoint } from './discovery/discovery.js';
import { MAX_REPLAY_BYTES } from './layers/retry.js';

const DEAD_APP = 'deadapp.test.svc:8080';
const DEAD_PROXY = 'deadproxy.test.svc:8080';
const BIG = 'big.test.svc:8080';
const FORGED = 'forged.test.svc:8080';
const ONLY_DEAD = 'onlydead.test.svc:8080';
const SILENT_H1 = 'silent-h1.test.svc:8080';
const SILENT_H2 = 'silent-h2.test.svc:8080';
const ONLY_SILENT_H1 = 'onlysilent-h1.test.svc:8080';
const ONLY_SILENT_H2 = 'onlysilent-h2.test.svc:8080';
const ttl = { seconds: 600n, nanos: 0 };
/** How long the live application takes to answer: longer than the balancer's default estimate (30 ms), so a fresh, fast-failing endpoint looks cheaper. */
const APP_DELAY_MS = 60;

let app: http.Server;
let appPort: number;
let closedPort: number;
let mesh: Mesh;
let silent: SilentPort;
/** The same application over h2c: HTTP/2 requests reach the application as HTTP/2. */
let app2: http2.Http2Server;
let app2Port: number;
/** Requests the application received, per path. */
const seen = new Map<string, number>();

function answer(req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const path = req.url ?? '/';
    seen.set(path, (seen.get(path) ?? 0) + 1);
    if (path.startsWith('/forge')) {
      // The application claims the proxy's marker: it must not be believed.
      res.writeHead(503, { 'weft-proxy-error': 'app-unreachable', 'content-type': 'text/plain' });
      res.end('app says unreachable\n');
      return;
    }
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`${req.method} ${path} ${Buffer.concat(chunks).length}\n`);
    }, APP_DELAY_MS);
  });
}

before(async () => {
  app = http.createServer(answer);
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  appPort = (app.address() as net.AddressInfo).port;
  app2 = http2.createServer(answer);
  await new Promise<void>((r) => app2.listen(0, '127.0.0.1', r));
  app2Port = (app2.address() as net.AddressInfo).port;
  closedPort = await unusedPort();
  mesh = await startMesh({ appPort });
  const inbound = mesh.server.ports.inbound;
  const live = endpoint('127.0.0.1', appPort, { identity: SERVER_ID, inboundPort: inbound });
  // The same server proxy, asked for an application port nothing listens on.
  const deadApp = endpoint('127.0.0.1', closedPort, { identity: SERVER_ID, inboundPort: inbound });
  // A peer proxy port nothing listens on (a distinct ip:port key for the balancer).
  const deadProxy = endpoint('127.0.0.2', appPort, { identity: SERVER_ID, inboundPort: closedPort });
  mesh.discovery.set(DEAD_APP, [live, deadApp]);
  mesh.discovery.set(BIG, [live, deadApp]);
  mesh.discovery.set(DEAD_PROXY, [live, deadProxy]);
  mesh.discovery.set(FORGED, [live]);
  mesh.discovery.set(ONLY_DEAD, [deadApp]);
  silent = await silentPort();
  const silentPeer = endpoint(silent.host, appPort, { identity: SERVER_ID, inboundPort: silent.port });
  const live2 = endpoint('127.0.0.1', app2Port, { identity: SERVER_ID, inboundPort: inbound });
  const silentPeer2 = endpoint(silent.host, app2Port, { identity: SERVER_ID, inboundPort: silent.port });
  mesh.discovery.set(SILENT_H1, [live, silentPeer]);
  mesh.discovery.set(SILENT_H2, [live2, silentPeer2]);
  mesh.discovery.set(ONLY_SILENT_H1, [silentPeer]);
  mesh.discovery.set(ONLY_SILENT_H2, [silentPeer2]);
  for (const a of [DEAD_APP, DEAD_PROXY, BIG, FORGED, ONLY_DEAD, SILENT_H1, SILENT_H2, ONLY_SILENT_H1, ONLY_SILENT_H2]) {
    mesh.profiles.set(
      a,
      create(destination.DestinationProfileSchema, {
        routes: [{ name: 'plain', matches: [{ path: { kind: { case: 'prefix' as const, value: '/' } } }], isRetryable: false }],
        retryBudget: { retryRatio: 0, minRetriesPerSecond: 0, ttl },
      }),
    );
  }
});

after(async () => {
  silent?.close();
  await mesh?.close();
  await new Promise<void>((r) => (app2 ? app2.close(() => r()) : r()));
  await new Promise<void>((r) => (app ? app.close(() => r()) : r()));
});

interface Reply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

function send(authority: string, method: string, path: string, body?: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: mesh.client.ports.outbound,
        method,
        path,
        headers: { host: authority, ...(body ? { 'content-length': String(body.length) } : {}) },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The same over HTTP/2 (prior knowledge), one session per request. */
async function send2(authority: string, method: string, path: string, body: Buffer): Promise<Reply> {
  const session = http2.connect(`http://127.0.0.1:${mesh.client.ports.outbound}`);
  session.on('error', () => undefined);
  try {
    const stream = session.request({ ':method': method, ':path': path, ':authority': authority, 'content-length': String(body.length) });
    stream.end(body);
    const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    return { status: Number(headers[':status']), body: Buffer.concat(chunks).toString(), headers: headers as http.IncomingHttpHeaders };
  } finally {
    session.close();
  }
}

async function metrics(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${mesh.client.ports.admin}/metrics`)).text();
}

const retries = (text: string, authority: string): number =>
  metricValue(text, 'retry_total', { direction: 'outbound', authority, rt_route: 'plain' });
const requests = (text: string, authority: string, target: string): number =>
  metricValue(text, 'request_total', { direction: 'outbound', authority, target_addr: target });
const responses = (text: string, authority: string, target: string, status: string): number =>
  metricValue(text, 'response_total', { direction: 'outbound', authority, target_addr: target, status_code: status });

test(
  'application port closed behind a live peer proxy: every GET and POST on a non-retryable route succeeds on the other endpoint',
  { timeout: 60_000 },
  async () => {
    const before = await metrics();
    for (let i = 0; i < 6; i++) {
      const get = await send(DEAD_APP, 'GET', `/get/${i}`);
      assert.equal(get.status, 200, get.body);
      assert.equal(get.body, `GET /get/${i} 0\n`);
      const post = await send(DEAD_APP, 'POST', `/post/${i}`, Buffer.alloc(1000, 7));
      assert.equal(post.status, 200, post.body);
      assert.equal(post.body, `POST /post/${i} 1000\n`);
      // Delivered exactly once each.
      assert.equal(seen.get(`/get/${i}`), 1);
      assert.equal(seen.get(`/post/${i}`), 1);
    }
    const after = await metrics();
    const deadTarget = `127.0.0.1:${closedPort}`;
    // The dropped 503s end no response body, so they count as requests to the dead endpoint, not as responses.
    const notDelivered = requests(after, DEAD_APP, deadTarget) - requests(before, DEAD_APP, deadTarget);
    assert.ok(notDelivered >= 1, 'the endpoint whose application is gone was picked');
    assert.equal(
      retries(after, DEAD_APP) - retries(before, DEAD_APP),
      notDelivered,
      'each not-delivered attempt was sent again, counted in retry_total',
    );
    assert.equal(
      responses(after, DEAD_APP, `127.0.0.1:${appPort}`, '200') - responses(before, DEAD_APP, `127.0.0.1:${appPort}`, '200'),
      12,
    );
  },
);

test(
  'peer proxy port closed (connection refused): a POST on a non-retryable route succeeds on the other endpoint',
  { timeout: 60_000 },
  async () => {
    const before = await metrics();
    for (let i = 0; i < 4; i++) {
      const post = await send(DEAD_PROXY, 'POST', `/refused/${i}`, Buffer.from('hello'));
      assert.equal(post.status, 200, post.body);
      assert.equal(post.body, `POST /refused/${i} 5\n`);
      assert.equal(seen.get(`/refused/${i}`), 1);
    }
    const after = await metrics();
    assert.ok(retries(after, DEAD_PROXY) - retries(before, DEAD_PROXY) >= 1, 'the refused endpoint was picked, and the request sent again');
  },
);

test('a 503 whose weft-proxy-error the application set itself is not retried on a non-retryable route', { timeout: 60_000 }, async () => {
  const before = await metrics();
  const r = await send(FORGED, 'GET', '/forge/1');
  assert.equal(r.status, 503);
  assert.equal(r.body, 'app says unreachable\n');
  assert.equal(r.headers['weft-proxy-error'], undefined, "the application's weft-* header does not cross the proxies");
  assert.equal(seen.get('/forge/1'), 1, 'the application saw the request once');
  assert.equal(retries(await metrics(), FORGED) - retries(before, FORGED), 0);
});

test('a body too big to replay is not sent again: the not-delivered 503 reaches the client', { timeout: 60_000 }, async () => {
  // One request first: after it, the fast-failing endpoint is the cheaper one, so the next pick is it.
  const warm = await send(BIG, 'GET', '/big-warm');
  assert.equal(warm.status, 200, warm.body);
  const r = await send(BIG, 'POST', '/big', Buffer.alloc(MAX_REPLAY_BYTES + 1024, 1));
  assert.equal(r.status, 503, r.body);
  assert.equal(seen.get('/big'), undefined, 'the application never saw it');
});

test(
  'with no other endpoint, a request that is not delivered is sent at most twice more, then the 503 reaches the client',
  { timeout: 60_000 },
  async () => {
    const before = await metrics();
    const r = await send(ONLY_DEAD, 'GET', '/only-dead');
    assert.equal(r.status, 503, r.body);
    assert.match(r.body, /unreachable|refused|ECONNREFUSED/i);
    const after = await metrics();
    const deadTarget = `127.0.0.1:${closedPort}`;
    assert.equal(requests(after, ONLY_DEAD, deadTarget) - requests(before, ONLY_DEAD, deadTarget), 3, 'the first attempt and 2 more');
    assert.equal(retries(after, ONLY_DEAD) - retries(before, ONLY_DEAD), 2);
  },
);

test(
  'peer proxy address silent (connects unanswered, as a pod address that just went away): HTTP/1 and HTTP/2 POSTs on a non-retryable route succeed on the other endpoint',
  { timeout: 60_000 },
  async () => {
    const before = await metrics();
    for (let i = 0; i < 3; i++) {
      const h1 = await send(SILENT_H1, 'POST', `/silent-h1/${i}`, Buffer.from('hello'));
      assert.equal(h1.status, 200, h1.body);
      assert.equal(h1.body, `POST /silent-h1/${i} 5\n`);
      assert.equal(seen.get(`/silent-h1/${i}`), 1);
      const h2 = await send2(SILENT_H2, 'POST', `/silent-h2/${i}`, Buffer.from('hi'));
      assert.equal(h2.status, 200, h2.body);
      assert.equal(h2.body, `POST /silent-h2/${i} 2\n`);
      assert.equal(seen.get(`/silent-h2/${i}`), 1);
    }
    const after = await metrics();
    for (const a of [SILENT_H1, SILENT_H2]) {
      assert.ok(retries(after, a) - retries(before, a) >= 1, `${a}: the silent endpoint was picked, and the request sent again`);
    }
  },
);

test(
  'with only a silent endpoint, each attempt gives up on the connect (3 attempts), and the 503 says the address did not answer',
  { timeout: 60_000 },
  async () => {
    const target = `${silent.host}:${silent.port}`;
    const unanswered = new RegExp(`no answer from ${target.replace(/\./g, '\\.')} \\(\\S+\\) within 1000 ms`);
    const h1 = await send(ONLY_SILENT_H1, 'GET', '/only-silent-h1');
    assert.equal(h1.status, 503, h1.body);
    assert.match(h1.body, unanswered);
    const h2 = await send2(ONLY_SILENT_H2, 'POST', '/only-silent-h2', Buffer.from('x'));
    assert.equal(h2.status, 503, h2.body);
    assert.match(h2.body, unanswered);
    const m = await metrics();
    for (const a of [ONLY_SILENT_H1, ONLY_SILENT_H2]) assert.equal(retries(m, a), 2, `${a}: the first attempt and 2 more`);
    assert.equal(seen.get('/only-silent-h1'), undefined);
    assert.equal(seen.get('/only-silent-h2'), undefined);
  },
);
