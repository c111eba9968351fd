// WebSocket through the mesh, with a WebSocket implementation weft does not
// use itself (ws) on both ends: meshed→meshed over mTLS and unmeshed→meshed.
// Upgrades meet the same HTTP handling as any request: a client-sent
// weft-client-id never reaches the application, the port's HTTP policy
// applies, and metrics count the exchange.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import WebSocket, { WebSocketServer } from 'ws';
import { startMesh, metricValue, CLIENT_ID, SERVER_ID, type Mesh } from '../testing/mesh.js';
import { endpoint } from '../discovery/discovery.js';
import { StaticPolicies } from '../policy/policies.js';
import { defaultPolicy } from '../policy/server-policy.js';
import { connectMesh, ALPN_TCP } from '../transport/tls.js';
import { DEFAULT_CONNECTIONS } from '../transport/connections.js';
import { encodeOpaqueHeader } from '../transport/opaque-header.js';
import { upgradeProtocols } from './upgrade.js';

const SPOOFED = 'admin.kube-system.serviceaccount.identity.weft.cluster.local';
const ATTACKER_ID = 'attacker.test.serviceaccount.identity.weft.cluster.local';

let mesh: Mesh;
let app: http.Server;
let appPort: number;
const policies = new StaticPolicies(defaultPolicy('all-unauthenticated', SERVER_ID));
/** The weft-client-id each upgrade request carried when it reached the application ('' when none). */
const seen: string[] = [];

before(async () => {
  app = http.createServer((req, res) => res.end(`plain ${String(req.headers['weft-client-id'] ?? '')}`));
  const wss = new WebSocketServer({ server: app });
  wss.on('connection', (ws, req) => {
    seen.push(String(req.headers['weft-client-id'] ?? ''));
    ws.on('message', (data) => ws.send(`echo:${String(data)}`));
  });
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  appPort = (app.address() as AddressInfo).port;
  mesh = await startMesh({ appPort, serverPolicies: policies });
  mesh.discovery.set('web.test.svc:80', [endpoint('127.0.0.1', appPort, { identity: SERVER_ID, inboundPort: mesh.server.ports.inbound })]);
});

after(async () => {
  await mesh?.close();
  app?.close();
  app?.closeAllConnections();
});

/** Opens a WebSocket through `port` (the client's outbound proxy or the server's inbound), sends one message, returns the echo. */
async function echo(port: number, message: string): Promise<string> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`, { headers: { host: 'web.test.svc', 'weft-client-id': SPOOFED } });
  try {
    await once(ws, 'open');
    ws.send(message);
    const [data] = (await once(ws, 'message')) as [Buffer];
    return String(data);
  } finally {
    ws.terminate();
  }
}

/** The status an upgrade attempt got, when it was not 101. */
async function refusedStatus(port: number): Promise<number> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`, { headers: { host: 'web.test.svc' } });
  ws.on('error', () => undefined);
  const [, res] = (await once(ws, 'unexpected-response')) as [unknown, http.IncomingMessage];
  ws.terminate();
  return res.statusCode ?? 0;
}

test('WebSocket meshed→meshed over mTLS: messages echo and the app sees the verified client identity, not the spoofed one', { timeout: 60_000 }, async () => {
  seen.length = 0;
  assert.equal(await echo(mesh.client.ports.outbound, 'hello'), 'echo:hello');
  assert.deepEqual(seen, [CLIENT_ID]);
});

test('WebSocket unmeshed→meshed: works, the spoofed weft-client-id is dropped, and the upgrade is counted', { timeout: 60_000 }, async () => {
  seen.length = 0;
  assert.equal(await echo(mesh.server.ports.inbound, 'plain'), 'echo:plain');
  assert.deepEqual(seen, ['']);
  const text = await (await fetch(`http://127.0.0.1:${mesh.server.ports.admin}/metrics`)).text();
  assert.ok(metricValue(text, 'response_total', { direction: 'inbound', tls: 'no_identity', status_code: '101' }) >= 1, text);
});

test('an upgrade meets the port policy: a plaintext WebSocket is refused with 403 under all-authenticated, a meshed one is not', { timeout: 60_000 }, async () => {
  policies.set(appPort, defaultPolicy('all-authenticated', SERVER_ID));
  try {
    seen.length = 0;
    assert.equal(await refusedStatus(mesh.server.ports.inbound), 403);
    assert.deepEqual(seen, []);
    assert.equal(await echo(mesh.client.ports.outbound, 'meshed'), 'echo:meshed');
    assert.deepEqual(seen, [CLIENT_ID]);
  } finally {
    policies.clear(appPort);
  }
});

test('HTTP written straight into a weft.tcp stream is parsed: a spoofed weft-client-id becomes the real peer identity', { timeout: 60_000 }, async () => {
  const leaf = mesh.pki.leaf(ATTACKER_ID);
  const socket = connectMesh({ host: '127.0.0.1', port: mesh.server.ports.inbound, identity: SERVER_ID, alpn: ALPN_TCP, creds: { ...leaf, expiresAt: new Date(Date.now() + 3600_000) }, anchors: mesh.pki.root.cert, connections: DEFAULT_CONNECTIONS });
  await once(socket, 'secureConnect');
  socket.write(Buffer.concat([encodeOpaqueHeader(appPort), Buffer.from(`GET /raw HTTP/1.1\r\nHost: web.test.svc\r\nweft-client-id: ${SPOOFED}\r\nConnection: close\r\n\r\n`)]));
  let got = '';
  socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
  await once(socket, 'end'); // Connection: close
  socket.end();
  assert.match(got, /^HTTP\/1\.1 200 /);
  assert.ok(got.endsWith(`plain ${ATTACKER_ID}`), got);
});

test('an h2c upgrade offer is not passed on: the application answers an ordinary request, so no HTTP/2 the proxy never parses reaches it (h2c smuggling)', { timeout: 60_000 }, async () => {
  // An application that switches to h2c whenever asked, and records what it reads after the switch.
  const heads: string[] = [];
  let afterSwitch = '';
  const h2cApp = net.createServer((socket) => {
    let got = '';
    let switched = false;
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      if (switched) {
        afterSwitch += d.toString('latin1');
        return;
      }
      got += d.toString('latin1');
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      heads.push(got.slice(0, end));
      if (/^upgrade:.*h2c/im.test(got.slice(0, end))) {
        switched = true;
        socket.write('HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: h2c\r\n\r\n');
      } else socket.end('HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nplain');
    });
  });
  h2cApp.listen(0, '127.0.0.1');
  await once(h2cApp, 'listening');
  const h2cMesh = await startMesh({ appPort: (h2cApp.address() as AddressInfo).port });
  try {
    const socket = net.connect(h2cMesh.server.ports.inbound, '127.0.0.1');
    await once(socket, 'connect');
    let reply = '';
    socket.on('data', (d: Buffer) => {
      reply += d.toString('latin1');
      // Had the proxy joined the connections, this would reach the application unparsed.
      if (reply.startsWith('HTTP/1.1 101')) {
        socket.write(`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nweft-client-id: ${SPOOFED}`);
        setTimeout(() => socket.destroy(), 200);
      }
    });
    socket.write('GET /offer HTTP/1.1\r\nHost: web.test.svc\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n');
    await once(socket, 'close');
    assert.match(reply, /^HTTP\/1\.1 200 /);
    assert.ok(reply.endsWith('plain'), reply);
    assert.equal(heads.length, 1);
    assert.doesNotMatch(heads[0]!, /h2c|http2-settings/i, 'the application was offered h2c');
    assert.equal(afterSwitch, '');
  } finally {
    await h2cMesh.close();
    h2cApp.close();
  }
});

test('an upgrade offering h2c and WebSocket keeps WebSocket', () => {
  assert.equal(upgradeProtocols('h2c'), '');
  assert.equal(upgradeProtocols('H2C, websocket'), 'websocket');
  assert.equal(upgradeProtocols('websocket'), 'websocket');
});
