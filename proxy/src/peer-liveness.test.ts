/**
 * A peer proxy whose node goes away without closing its connections: no FIN, no RST, nothing. Real iptables rules
 * drop every packet to and from the server proxy's inbound port on the loopback, so both kernels see exactly what
 * they see when a node vanishes (root only; skipped with the reason otherwise). Requests in flight must fail with
 * the cause instead of waiting ~15 minutes for the kernel's retransmissions:
 * - HTTP/1 on weft.mux and HTTP/2 between proxies: the client session's PING goes unanswered
 *   (WEFT_PROXY_PEER_PING_INTERVAL);
 * - HTTP/1 on a pooled weft.tcp connection: TCP keepalive on the connection, and on the inbound's side of it, whose
 *   request to the application is then cancelled (WEFT_PROXY_KEEPALIVE); a request written after the peer vanished
 *   ends with the user timeout (WEFT_PROXY_USER_TIMEOUT).
 * The tests shorten each setting; connection-settings.test.ts reads the kernel's values back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { startMesh, SERVER_ID, type Mesh } from './testing/mesh.js';
import type { ConnectionSettings } from './transport/connections.js';
import { endpoint } from './discovery/discovery.js';
import { vanish, vanishUnavailable } from '@weft/common/testing/vanish';

/** The PING interval of the PING tests' proxies, and how long their applications take to answer: ten intervals. */
const PING_MS = 500;
const SLOW_MS = 10 * PING_MS;
/** The keepalive and user-timeout tests' proxies' (WEFT_PROXY_KEEPALIVE, WEFT_PROXY_USER_TIMEOUT; 10 and 20 s by default). */
const KEEPALIVE_MS = 2_000;
const USER_TIMEOUT_MS = 3_000;

const skip = await vanishUnavailable();

/** An HTTP/1 application that holds `/hold` for good (telling when it has it, and when it is cancelled) and answers anything else after SLOW_MS. */
async function h1App(): Promise<{ port: number; held: Promise<void>; cancelled: Promise<void>; close(): void }> {
  let heldNow!: () => void;
  let cancelledNow!: () => void;
  const held = new Promise<void>((r) => (heldNow = r));
  const cancelled = new Promise<void>((r) => (cancelledNow = r));
  const server = http.createServer((req, res) => {
    req.resume();
    if (req.url === '/hold') {
      heldNow();
      res.on('close', () => cancelledNow());
    } else setTimeout(() => res.end('slow\n'), SLOW_MS);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const close = (): void => {
    server.closeAllConnections();
    server.close();
  };
  return { port: (server.address() as AddressInfo).port, held, cancelled, close };
}

function get(outbound: number, authority: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: outbound, path, agent: false, headers: { host: authority } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

async function meshTo(appPort: number, authority: string, opts: { meshHttp1?: 'mux' | 'http1'; connections?: Partial<ConnectionSettings> }): Promise<Mesh> {
  const mesh = await startMesh({ appPort, clientConfig: { meshHttp1: opts.meshHttp1 ?? 'mux' }, connections: opts.connections });
  mesh.discovery.set(authority, [endpoint('127.0.0.1', appPort, { identity: SERVER_ID, inboundPort: mesh.server.ports.inbound })]);
  return mesh;
}

test('weft.mux: a request in flight to a peer whose node vanished fails once its PING goes unanswered', { timeout: 60_000, skip }, async (t) => {
  const app = await h1App();
  t.after(() => app.close());
  const mesh = await meshTo(app.port, 'vanish-mux.test.svc:80', { connections: { peerPingMs: PING_MS } });
  t.after(() => mesh.close());
  // The session works, and stays up while the peer answers its PINGs (the application takes ten intervals).
  assert.deepEqual(await get(mesh.client.ports.outbound, 'vanish-mux.test.svc', '/slow'), { status: 200, body: 'slow\n' });
  const pending = get(mesh.client.ports.outbound, 'vanish-mux.test.svc', '/hold');
  await app.held;
  const gone = await vanish(mesh.server.ports.inbound);
  t.after(() => gone.restore());
  const r = await pending;
  assert.equal(r.status, 503);
  assert.ok(r.body.includes(`answered nothing, not even a PING, for ${2 * PING_MS} ms`), r.body);
});

test('HTTP/2 between proxies: a stream in flight to a peer whose node vanished fails once a PING goes unanswered; a live peer keeps its slow streams', { timeout: 60_000, skip }, async (t) => {
  let heldNow!: () => void;
  const held = new Promise<void>((r) => (heldNow = r));
  const app = http2.createServer();
  app.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    const path = String(headers[':path']);
    if (path === '/hold') return heldNow();
    // Answered after ten PING intervals: the session must survive them.
    setTimeout(() => {
      if (stream.destroyed) return;
      stream.respond({ ':status': 200 });
      stream.end('slow\n');
    }, SLOW_MS);
  });
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  t.after(() => app.close());
  const appPort = (app.address() as AddressInfo).port;
  const mesh = await meshTo(appPort, 'vanish-h2.test.svc:80', { connections: { peerPingMs: PING_MS } });
  t.after(() => mesh.close());
  const client = http2.connect(`http://127.0.0.1:${mesh.client.ports.outbound}`);
  client.on('error', () => undefined);
  t.after(() => client.destroy());
  const call = async (path: string): Promise<{ status: number; body: string }> => {
    const stream = client.request({ ':method': 'GET', ':path': path, ':authority': 'vanish-h2.test.svc' });
    const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
    let body = '';
    stream.setEncoding('utf8');
    for await (const chunk of stream) body += chunk as string;
    return { status: Number(headers[':status']), body };
  };
  assert.deepEqual(await call('/slow'), { status: 200, body: 'slow\n' });
  const pending = call('/hold');
  await held;
  const gone = await vanish(mesh.server.ports.inbound);
  t.after(() => gone.restore());
  const r = await pending;
  assert.equal(r.status, 503);
  assert.ok(r.body.includes(`answered nothing, not even an HTTP/2 PING, for ${2 * PING_MS} ms`), r.body);
});

test('pooled weft.tcp: TCP keepalive fails a request in flight to a peer whose node vanished, and the inbound cancels its request to the application', { timeout: 90_000, skip }, async (t) => {
  const app = await h1App();
  t.after(() => app.close());
  const mesh = await meshTo(app.port, 'vanish-tcp.test.svc:80', { meshHttp1: 'http1', connections: { keepAliveMs: KEEPALIVE_MS } });
  t.after(() => mesh.close());
  // The pooled connection has served a request (its TLS handshake and session tickets are acknowledged).
  assert.deepEqual(await get(mesh.client.ports.outbound, 'vanish-tcp.test.svc', '/slow'), { status: 200, body: 'slow\n' });
  const pending = get(mesh.client.ports.outbound, 'vanish-tcp.test.svc', '/hold');
  await app.held;
  // The inbound's kernel acknowledges the request within its delayed-ACK bound (at most 200 ms): from then on,
  // neither end has bytes in flight while the application holds the request, and only keepalive can tell.
  await new Promise((r) => setTimeout(r, 500));
  const gone = await vanish(mesh.server.ports.inbound);
  t.after(() => gone.restore());
  // Idle KEEPALIVE_MS, then ten probes a second apart: both ends give up on their own, ~12 s later.
  const [r] = await Promise.all([pending, app.cancelled]);
  assert.equal(r.status, 503);
  assert.ok(r.body.includes('ETIMEDOUT'), r.body);
});

test('pooled weft.tcp: a request written to a peer whose node had just vanished fails after the user timeout, not the kernel\'s ~15 minutes of retransmissions', { timeout: 90_000, skip }, async (t) => {
  const app = await h1App();
  t.after(() => app.close());
  const mesh = await meshTo(app.port, 'vanish-write.test.svc:80', { meshHttp1: 'http1', connections: { userTimeoutMs: USER_TIMEOUT_MS } });
  t.after(() => mesh.close());
  assert.deepEqual(await get(mesh.client.ports.outbound, 'vanish-write.test.svc', '/slow'), { status: 200, body: 'slow\n' });
  // Gone before the next request: its bytes go out on the pooled connection and are never acknowledged.
  const gone = await vanish(mesh.server.ports.inbound);
  t.after(() => gone.restore());
  const r = await get(mesh.client.ports.outbound, 'vanish-write.test.svc', '/hold');
  assert.equal(r.status, 503);
  assert.ok(r.body.includes('ETIMEDOUT'), r.body);
});
