/**
 * The proxy's connection settings (transport/connections.ts: WEFT_PROXY_CONNECT_TIMEOUT, _KEEPALIVE, _USER_TIMEOUT;
 * the PING interval is proven in peer-liveness.test.ts) reach every connection they are for, with real proxies and
 * sockets on loopback:
 * - the connect bound, on every kind of connection to an endpoint: plaintext HTTP/1 and h2c to an unmeshed address,
 *   HTTP/1 (weft.mux) and HTTP/2 to a peer proxy's address; none of them answers (a silent port);
 * - keepalive and the user timeout, read back from the kernel (the addon's getsockopt) on both ends of the mesh's
 *   mTLS connections; keepalive alone on a plaintext connection to an application, and neither on the pod's own
 *   connections to the outbound port.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { once } from 'node:events';
import { silentPort, type SilentPort } from '@weft/common/testing/silent-port';
import { startMesh, SERVER_ID, type Mesh } from './testing/mesh.js';
import { endpoint } from './discovery/discovery.js';
import { nativeAddonProblem } from './native/addon.js';
import { tcpTimers } from './native/tcp-user-timeout.js';

/** Unlike every default (1 s, 10 s, 20 s), so a socket that got a default would show it. */
const SETTINGS = { connectMs: 250, keepAliveMs: 7_000, userTimeoutMs: 4_321 };

let silent: SilentPort;
let app: http.Server;
let appPort: number;
/** Requests to `/hold` the application holds, and who waits for how many. */
const held: http.ServerResponse[] = [];
let holding: { count: number; then: () => void } | undefined;
let mesh: Mesh;

before(async () => {
  silent = await silentPort();
  app = http.createServer((req, res) => {
    req.resume();
    if (req.url === '/hold') {
      held.push(res);
      if (holding && held.length >= holding.count) holding.then();
    } else res.end('ok\n');
  });
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  appPort = (app.address() as net.AddressInfo).port;
  mesh = await startMesh({ appPort, clientConfig: { meshHttp1: 'http1' }, connections: SETTINGS });
  const meshed = { identity: SERVER_ID, inboundPort: mesh.server.ports.inbound };
  mesh.discovery.set('silent-plain.test.svc:80', [endpoint(silent.host, silent.port)]);
  mesh.discovery.set('silent-peer.test.svc:80', [endpoint(silent.host, 80, { identity: SERVER_ID, inboundPort: silent.port })]);
  mesh.discovery.set('plain.test.svc:80', [endpoint('127.0.0.1', appPort)]);
  mesh.discovery.set('meshed.test.svc:80', [endpoint('127.0.0.1', appPort, meshed)]);
});

after(async () => {
  for (const res of held) res.end();
  await mesh?.close();
  app?.closeAllConnections();
  app?.close();
  silent?.close();
});

function get(authority: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: mesh.client.ports.outbound, path, agent: false, headers: { host: authority } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

async function get2(authority: string, path: string): Promise<{ status: number; body: string }> {
  const client = http2.connect(`http://127.0.0.1:${mesh.client.ports.outbound}`);
  try {
    const stream = client.request({ ':method': 'GET', ':path': path, ':authority': authority });
    const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
    let body = '';
    stream.setEncoding('utf8');
    for await (const chunk of stream) body += chunk as string;
    return { status: Number(headers[':status']), body };
  } finally {
    client.close();
  }
}

test('WEFT_PROXY_CONNECT_TIMEOUT bounds the connects to unmeshed addresses and to peer proxies, over HTTP/1 and HTTP/2', { timeout: 30_000 }, async () => {
  const at = `${silent.host}:${silent.port}`.replace(/\./g, '\\.');
  const plain = new RegExp(`no answer from ${at} within 250 ms \\(TCP connect\\)`);
  const peer = new RegExp(`no answer from ${at} \\(${SERVER_ID.replace(/\./g, '\\.')}\\) within 250 ms \\(TCP connect\\)`);
  for (const [name, r, expected] of [
    ['HTTP/1, unmeshed', await get('silent-plain.test.svc', '/'), plain],
    ['h2c, unmeshed', await get2('silent-plain.test.svc', '/'), plain],
    ['HTTP/1 to a peer proxy (weft.tcp)', await get('silent-peer.test.svc', '/'), peer],
    ['HTTP/2 to a peer proxy', await get2('silent-peer.test.svc', '/'), peer],
  ] as const) {
    assert.equal(r.status, 503, `${name}: ${r.body}`);
    assert.match(r.body, expected, name);
  }
});

/** This process's TCP sockets (the proxies run in it) with `port` at one end. */
function socketsOn(port: number, end: 'local' | 'remote'): net.Socket[] {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  return handles.filter((h): h is net.Socket => h instanceof net.Socket && (end === 'local' ? h.localPort : h.remotePort) === port);
}

test('keepalive and the user timeout are what the settings say on both ends of a mesh connection; plaintext to an application gets keepalive only', { timeout: 30_000 }, async (t) => {
  const skip = nativeAddonProblem()?.message;
  if (skip) return t.skip(skip);
  // Requests held by the application keep every socket on their way busy: an idle pooled connection is unref'd
  // within a second or two, and then is not among the process's active handles.
  const both = new Promise<void>((then) => (holding = { count: 2, then }));
  const pending = [get('plain.test.svc', '/hold'), get('meshed.test.svc', '/hold')];
  await both;
  const inbound = mesh.server.ports.inbound;
  const ends = { 'client proxy → peer': socketsOn(inbound, 'remote'), 'peer ← client proxy': socketsOn(inbound, 'local') };
  for (const [name, sockets] of Object.entries(ends)) {
    assert.ok(sockets.length >= 1, `${name}: a connection`);
    for (const s of sockets) assert.deepEqual({ ...tcpTimers(s) }, { userTimeoutMs: 4_321, keepAlive: 1, keepIdleS: 7, keepIntvlS: 1, keepCnt: 10 }, name);
  }
  // The pooled connections to the application: from the client proxy (plain.test.svc) and from the peer's inbound.
  const toApp = socketsOn(appPort, 'remote');
  assert.ok(toApp.length >= 2, 'the client proxy\'s and the peer\'s connections to the application');
  for (const s of toApp) assert.deepEqual({ ...tcpTimers(s) }, { userTimeoutMs: 0, keepAlive: 1, keepIdleS: 7, keepIntvlS: 1, keepCnt: 10 });
  // The pod's own connections to the outbound port: loopback within the pod, nothing to probe.
  const fromPod = socketsOn(mesh.client.ports.outbound, 'local');
  assert.ok(fromPod.length >= 1);
  for (const s of fromPod) assert.equal(tcpTimers(s)?.keepAlive, 0);
  for (const res of held.splice(0)) res.end('held\n');
  for (const r of await Promise.all(pending)) assert.deepEqual(r, { status: 200, body: 'held\n' });
});
