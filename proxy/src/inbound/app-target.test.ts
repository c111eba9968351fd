// The inbound proxy forwards only to application ports. A meshed attacker
// (a pod with a valid mesh certificate) speaks mTLS to the victim's inbound
// port itself and names, in weft-dst-port or the weft.tcp header, one of the
// victim proxy's own ports: its outbound port (which would call a third
// service with the victim's identity), its admin port or its tap port. Each
// is refused (403 / connection closed), counted in the authz metrics, and a
// legitimate request right after still reaches the application.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { startMesh, metricValue, SERVER_ID, type Mesh } from '../testing/mesh.js';
import { endpoint } from '../discovery/discovery.js';
import { connectMesh, ALPN_H2, ALPN_TCP } from '../transport/tls.js';
import { DEFAULT_CONNECTIONS } from '../transport/connections.js';
import { encodeOpaqueHeader } from '../transport/opaque-header.js';
import { httpAppTarget, tcpAppTarget, ProxyPorts, type AppTargetOptions } from './app-target.js';
import type { ConnMeta, HttpRequest } from '../svc.js';
import { Readable } from 'node:stream';

const ATTACKER_ID = 'attacker.test.serviceaccount.identity.weft.cluster.local';
const SECRET = 'secret.test.svc:80';

let mesh: Mesh;
let app: http.Server;
let appPort: number;
/** A third service the victim may call; the attacker must not reach it through the victim's outbound proxy. */
let secret: http.Server;
const secretHits: string[] = [];

before(async () => {
  app = http.createServer((req, res) => res.end(`app saw ${req.url}`));
  app.listen(0, '127.0.0.1');
  secret = http.createServer((req, res) => {
    secretHits.push(`${req.method} ${req.url}`);
    res.end('secret');
  });
  secret.listen(0, '127.0.0.1');
  await Promise.all([once(app, 'listening'), once(secret, 'listening')]);
  appPort = (app.address() as AddressInfo).port;
  mesh = await startMesh({ appPort });
  mesh.discovery.set(SECRET, [endpoint('127.0.0.1', (secret.address() as AddressInfo).port)]);
});

after(async () => {
  await mesh?.close();
  for (const s of [app, secret]) {
    s?.close();
    s?.closeAllConnections();
  }
});

function attackerCreds() {
  const leaf = mesh.pki.leaf(ATTACKER_ID);
  return { cert: leaf.cert, key: leaf.key, expiresAt: new Date(Date.now() + 3600_000) };
}

/** One HTTP/2 request over the attacker's own mTLS connection to the victim's inbound port. */
async function meshRequest(dstPort: string | undefined, authority: string, path = '/'): Promise<{ status: number; body: string }> {
  const socket = connectMesh({ host: '127.0.0.1', port: mesh.server.ports.inbound, identity: SERVER_ID, alpn: ALPN_H2, creds: attackerCreds(), anchors: mesh.pki.root.cert, connections: DEFAULT_CONNECTIONS });
  const session = http2.connect(`http://${authority}`, { createConnection: () => socket });
  try {
    // As a peer proxy sends an HTTP/1 request across the mesh.
    const headers: http2.OutgoingHttpHeaders = { ':method': 'GET', ':path': path, ':authority': authority, 'weft-orig-proto': 'HTTP/1.1' };
    if (dstPort !== undefined) headers['weft-dst-port'] = dstPort;
    const stream = session.request(headers, { endStream: true });
    const [h] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
    let body = '';
    for await (const chunk of stream) body += String(chunk);
    return { status: Number(h[':status']), body };
  } finally {
    session.destroy();
  }
}

/** Opens a weft.tcp connection naming `port`, writes a request, resolves with what came back before close. */
async function meshTcp(port: number, payload: string): Promise<string> {
  const socket = connectMesh({ host: '127.0.0.1', port: mesh.server.ports.inbound, identity: SERVER_ID, alpn: ALPN_TCP, creds: attackerCreds(), anchors: mesh.pki.root.cert, connections: DEFAULT_CONNECTIONS });
  await once(socket, 'secureConnect');
  socket.write(Buffer.concat([encodeOpaqueHeader(port), Buffer.from(payload)]));
  let got = '';
  socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
  socket.on('error', () => undefined);
  // Refused: the proxy closes the connection. Served: the application answers and ends its side (Connection: close).
  await new Promise((resolve) => {
    socket.once('end', resolve);
    socket.once('close', resolve);
  });
  socket.destroy();
  return got;
}

async function denied(proto: 'http' | 'tcp'): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${mesh.server.ports.admin}/metrics`)).text();
  return metricValue(text, `inbound_${proto}_authz_deny_total`, { srv_kind: 'proxy', srv_name: 'refused', tls: 'true' });
}

test('a meshed peer naming the victim outbound port gets 403 and the third service is never called', { timeout: 60_000 }, async () => {
  const before = await denied('http');
  const r = await meshRequest(String(mesh.server.ports.outbound), SECRET, '/steal');
  assert.equal(r.status, 403, r.body);
  assert.match(r.body, /proxy's own port/);
  assert.deepEqual(secretHits, []);
  assert.equal((await denied('http')) - before, 1);
  // The same attacker, naming the application port, is served (the refusal is about the port, not the peer).
  const ok = await meshRequest(String(appPort), 'web.test.svc', '/hello');
  assert.deepEqual(ok, { status: 200, body: 'app saw /hello' });
});

test('a meshed peer naming the victim admin, inbound or tap port gets 403', { timeout: 60_000 }, async () => {
  const tapPort = await mesh.server.tapPort;
  for (const port of [mesh.server.ports.admin, mesh.server.ports.inbound, tapPort]) {
    const r = await meshRequest(String(port), 'web.test.svc', '/metrics');
    assert.equal(r.status, 403, `port ${port}: ${r.body}`);
  }
});

test('a malformed or duplicated weft-dst-port is refused, never given the default port policy', { timeout: 60_000 }, async () => {
  for (const bad of ['0', '70000', 'http', '+80', '1e3', '0x50', `${appPort}, ${mesh.server.ports.outbound}`]) {
    const r = await meshRequest(bad, 'web.test.svc');
    assert.equal(r.status, 403, `weft-dst-port ${JSON.stringify(bad)}: ${r.body}`);
  }
  assert.equal((await meshRequest(String(appPort), 'web.test.svc')).status, 200);
});

test('opaque TCP naming a proxy port is closed before a byte is forwarded, and counted', { timeout: 60_000 }, async () => {
  const before = await denied('tcp');
  // Not HTTP (HTTP inside weft.tcp is parsed, and refused with a 403 like any request above): 0xff begins no request
  // line (control bytes and words might, and would be waited on).
  const got = await meshTcp(mesh.server.ports.admin, '\x00\x01\xff binary protocol');
  assert.equal(got, '');
  assert.equal((await denied('tcp')) - before, 1);
  const ok = await meshTcp(appPort, 'GET /tcp HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(ok, /app saw \/tcp/);
});

// The decision itself, for the address part the in-process mesh cannot show (everything is loopback there).
const options: AppTargetOptions = { appHost: '127.0.0.1', defaultAppPort: undefined, proxyPorts: new ProxyPorts([4140, 4143, 4191, 4190]) };
const meta = (local: string, origDst?: number): ConnMeta => ({
  direction: 'inbound',
  client: { ip: '10.0.0.9', port: 40000 },
  local: { ip: local, port: 4143 },
  origDst: origDst === undefined ? undefined : { ip: local, port: origDst },
  tls: { identity: ATTACKER_ID },
});
const request = (conn: ConnMeta, headers: Record<string, string>): HttpRequest => ({
  method: 'GET', scheme: 'http', authority: 'web', path: '/', headers, body: Readable.from([]), bodyless: true, version: 'HTTP/2',
  signal: new AbortController().signal, conn, startedAt: 0,
});

test('the target is the pod address the connection reached, so loopback-only application ports stay private', () => {
  assert.deepEqual(httpAppTarget(request(meta('10.0.0.5'), { 'weft-dst-port': '8080' }), options), { addr: { ip: '10.0.0.5', port: 8080 } });
  assert.deepEqual(tcpAppTarget(meta('10.0.0.5', 5432), options), { addr: { ip: '10.0.0.5', port: 5432 } });
  // Arrived on loopback (explicit mode): the configured application host.
  assert.deepEqual(httpAppTarget(request(meta('127.0.0.1', 8080), {}), options), { addr: { ip: '127.0.0.1', port: 8080 } });
  for (const port of [4140, 4143, 4191, 4190]) {
    assert.match(String(tcpAppTarget(meta('10.0.0.5', port), options).refused), /proxy's own port/);
  }
  assert.match(String(tcpAppTarget(meta('10.0.0.5'), options).refused), /no application port/);
});
