import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { startMesh, metricValue, testConfig, CLIENT_ID, SERVER_ID, type Mesh } from './testing/mesh.js';
import { startProxy, type Proxy } from './proxy.js';
import { StaticIdentity } from './identity/local-identity.js';
import { createLogger } from '@weft/common/log';
import { endpoint } from './discovery/discovery.js';

const OTHER_ID = 'other.test.serviceaccount.identity.weft.cluster.local';
let mesh: Mesh;
let impostor: Proxy | undefined;
let app: http.Server;
const seen: Array<{ version: string; host: string | undefined; clientId: string | undefined; body: string; te: string | undefined }> = [];

before(async () => {
  app = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      seen.push({ version: req.httpVersion, host: req.headers.host, clientId: req.headers['weft-client-id'] as string | undefined, body, te: req.headers['transfer-encoding'] });
      if (req.url === '/chunked') {
        // No content-length: a chunked response, written in pieces.
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('part1-');
        setImmediate(() => res.end('part2'));
        return;
      }
      if (req.url === '/fail') {
        res.writeHead(503).end('down');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain', 'x-app': 'yes', connection: 'keep-alive' });
      res.end(`echo:${body}`);
    });
  });
  app.on('upgrade', (req, socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n');
    socket.on('data', (d: Buffer) => socket.write(`ws:${d.toString()}`));
    socket.on('end', () => socket.end());
  });
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  const appPort = (app.address() as AddressInfo).port;
  mesh = await startMesh({ appPort });
  mesh.discovery.set('web.test.svc:80', [endpoint('127.0.0.1', appPort, { identity: SERVER_ID, inboundPort: mesh.server.ports.inbound, labels: { namespace: 'test', deployment: 'web', pod: 'web-1' } })]);
  mesh.discovery.set('plain.test.svc:80', [endpoint('127.0.0.1', appPort)]);
  // An impostor proxy: it answers to OTHER_ID (SNI) but its certificate is the server's.
  impostor = await startProxy({
    config: testConfig(OTHER_ID, { inboundAppPort: appPort }),
    identity: new StaticIdentity(OTHER_ID, mesh.pki.root.cert, mesh.pki.leaf(SERVER_ID)),
    discovery: mesh.discovery,
    originalDst: null,
    log: createLogger('impostor', 'silent'),
    drainMs: 100,
  });
  mesh.discovery.set('impostor.test.svc:80', [endpoint('127.0.0.1', appPort, { identity: OTHER_ID, inboundPort: impostor.ports.inbound })]);
});

after(async () => {
  await impostor?.shutdown();
  await mesh?.close();
  app?.close();
  app?.closeAllConnections();
});

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  localPort: number;
}

function request(port: number, opts: http.RequestOptions & { body?: string | string[] }, agent?: http.Agent): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, agent: agent ?? false, ...opts }, (res) => {
      const localPort = res.socket.localPort!;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, localPort }));
    });
    req.on('error', reject);
    if (Array.isArray(opts.body)) {
      for (const part of opts.body) req.write(part);
      req.end();
    } else req.end(opts.body);
  });
}

test('HTTP/1.1 crosses the mesh over mTLS and the app sees the client identity, HTTP/1.1 and the original Host', { timeout: 60_000 }, async () => {
  const r = await request(mesh.client.ports.outbound, { path: '/hello', headers: { host: 'web.test.svc' } });
  assert.equal(r.status, 200);
  assert.equal(r.body, 'echo:');
  assert.equal(r.headers['x-app'], 'yes');
  const s = seen.at(-1)!;
  assert.equal(s.version, '1.1');
  assert.equal(s.host, 'web.test.svc');
  assert.equal(s.clientId, CLIENT_ID);
});

test('keep-alive: consecutive requests reuse one client connection', { timeout: 60_000 }, async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const a = await request(mesh.client.ports.outbound, { path: '/a', headers: { host: 'web.test.svc' } }, agent);
  const b = await request(mesh.client.ports.outbound, { path: '/b', headers: { host: 'web.test.svc' } }, agent);
  agent.destroy();
  assert.equal(a.status, 200);
  assert.equal(b.status, 200);
  assert.equal(a.localPort, b.localPort);
});

test('chunked request and response bodies pass through', { timeout: 60_000 }, async () => {
  const r = await request(mesh.client.ports.outbound, { method: 'POST', path: '/echo', headers: { host: 'web.test.svc', 'transfer-encoding': 'chunked' }, body: ['one-', 'two-', 'three'] });
  assert.equal(r.body, 'echo:one-two-three');
  const c = await request(mesh.client.ports.outbound, { path: '/chunked', headers: { host: 'web.test.svc' } });
  assert.equal(c.body, 'part1-part2');
  assert.equal(c.headers['transfer-encoding'], 'chunked');
});

test('Expect: 100-continue gets a 100 before the body is sent', { timeout: 60_000 }, async () => {
  const res = await new Promise<Reply>((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: mesh.client.ports.outbound, method: 'PUT', path: '/upload', agent: false, headers: { host: 'web.test.svc', expect: '100-continue', 'content-length': '4' } },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, localPort: 0 }));
      },
    );
    req.on('error', reject);
    // The body is only written once the proxy says continue; without the 100 this would never complete.
    req.on('continue', () => req.end('data'));
  });
  assert.equal(res.status, 200);
  assert.equal(res.body, 'echo:data');
});

test('WebSocket-style Upgrade passes through the mesh as a raw stream', { timeout: 60_000 }, async () => {
  const socket = net.connect(mesh.client.ports.outbound, '127.0.0.1');
  socket.write('GET /ws HTTP/1.1\r\nHost: web.test.svc\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  let got = '';
  socket.on('data', (d: Buffer) => {
    got += d.toString();
    if (got.includes('\r\n\r\n') && !got.includes('ws:')) socket.write('ping');
  });
  await new Promise<void>((resolve, reject) => {
    socket.on('error', reject);
    const check = (): void => {
      if (got.includes('ws:ping')) resolve();
    };
    socket.on('data', check);
  });
  socket.end();
  assert.match(got, /^HTTP\/1\.1 101/);
});

test('unmeshed endpoints get plaintext HTTP/1.1 without a client identity', { timeout: 60_000 }, async () => {
  const r = await request(mesh.client.ports.outbound, { path: '/plain', headers: { host: 'plain.test.svc' } });
  assert.equal(r.status, 200);
  assert.equal(seen.at(-1)!.clientId, undefined);
});

test('a plaintext client of the inbound proxy (unmeshed) reaches the app without an identity, and cannot spoof one', { timeout: 60_000 }, async () => {
  const r = await request(mesh.server.ports.inbound, { path: '/direct', headers: { host: 'web.test.svc', 'weft-client-id': 'evil' } });
  assert.equal(r.status, 200);
  assert.equal(seen.at(-1)!.clientId, undefined);
});

test('an unknown authority fails fast with 503 and a clear message', { timeout: 60_000 }, async () => {
  const r = await request(mesh.client.ports.outbound, { path: '/', headers: { host: 'nope.test.svc' } });
  assert.equal(r.status, 503);
  assert.match(r.body, /no service is known for authority "nope\.test\.svc:80"/);
});

test('metrics count the traffic with Linkerd labels on both sides', { timeout: 60_000 }, async () => {
  const before = await (await fetch(`http://127.0.0.1:${mesh.client.ports.admin}/metrics`)).text();
  const outLabels = { direction: 'outbound', authority: 'web.test.svc', tls: 'true', server_id: SERVER_ID, dst_deployment: 'web', dst_namespace: 'test', dst_pod: 'web-1' };
  const n0 = metricValue(before, 'request_total', outLabels);
  const inBefore = await (await fetch(`http://127.0.0.1:${mesh.server.ports.admin}/metrics`)).text();
  const inLabels = { direction: 'inbound', authority: 'web.test.svc', tls: 'true', client_id: CLIENT_ID };
  const i0 = metricValue(inBefore, 'request_total', inLabels);
  for (let i = 0; i < 3; i++) await request(mesh.client.ports.outbound, { path: '/m', headers: { host: 'web.test.svc' } });
  await request(mesh.client.ports.outbound, { path: '/fail', headers: { host: 'web.test.svc' } });
  const after = await (await fetch(`http://127.0.0.1:${mesh.client.ports.admin}/metrics`)).text();
  assert.equal(metricValue(after, 'request_total', outLabels) - n0, 4);
  assert.ok(metricValue(after, 'response_total', { ...outLabels, status_code: '503', classification: 'failure' }) >= 1);
  assert.ok(metricValue(after, 'response_latency_ms_count', { ...outLabels, status_code: '200' }) >= 3);
  assert.match(after, /request_total\{[^}]*namespace="test"[^}]*\}/);
  const inAfter = await (await fetch(`http://127.0.0.1:${mesh.server.ports.admin}/metrics`)).text();
  assert.equal(metricValue(inAfter, 'request_total', inLabels) - i0, 4);
  assert.ok(metricValue(inAfter, 'tcp_open_total', { direction: 'inbound', tls: 'true', client_id: CLIENT_ID }) >= 1);
});

test('a peer whose certificate does not carry the identity discovery expects is refused (503), and the app sees nothing', { timeout: 60_000 }, async () => {
  const before = seen.length;
  const r = await request(mesh.client.ports.outbound, { path: '/secret', headers: { host: 'impostor.test.svc' } });
  assert.equal(r.status, 503);
  // The refusal is the identity check itself, not some other failure.
  assert.match(r.body, /other\.test\.serviceaccount\.identity\.weft\.cluster\.local.*not in the cert's altnames/s);
  assert.equal(seen.length, before);
});

test('an unreachable meshed endpoint fails the request with 503 naming the cause', { timeout: 60_000 }, async () => {
  // Port 1 on loopback: nothing listens, the connect is refused.
  mesh.discovery.set('dead.test.svc:80', [endpoint('127.0.0.1', 8080, { identity: OTHER_ID, inboundPort: 1 })]);
  const r = await request(mesh.client.ports.outbound, { path: '/', headers: { host: 'dead.test.svc' } });
  assert.equal(r.status, 503);
  assert.match(r.body, /ECONNREFUSED/);
});
