import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { startMesh, CLIENT_ID, SERVER_ID, type Mesh } from './testing/mesh.js';
import { endpoint } from './discovery/discovery.js';
import type { MeshHttp1 } from './layers/endpoint-client.js';
import type { Duplex } from 'node:stream';
import { ALPN_MUX, MuxSession } from './transport/mux.js';

/**
 * A stand-in peer proxy: mTLS with the server's certificate; records each byte stream (a connection, or a weft.mux
 * stream) with its connection's ALPN, answers HTTP/1 200s. `tlsConnections` counts the mTLS connections, `offered`
 * what each client offered; `protocols` are the peer's, in its order of preference (an earlier release has no
 * weft.mux).
 */
async function fakePeer(
  mesh: Mesh,
  protocols: readonly string[] = ['weft.h2', ALPN_MUX, 'weft.tcp'],
): Promise<{ port: number; conns: { alpn: string | false | null; bytes: () => Buffer; clientId: string | undefined }[]; tlsConnections: () => number; offered: string[][]; close(): void }> {
  const leaf = mesh.pki.leaf(SERVER_ID);
  const conns: { alpn: string | false | null; bytes: () => Buffer; clientId: string | undefined }[] = [];
  let tlsConnections = 0;
  const offered: string[][] = [];
  const serve = (stream: Duplex, alpn: string | false | null, clientId: string | undefined): void => {
    const chunks: Buffer[] = [];
    let answered = 0;
    conns.push({ alpn, bytes: () => Buffer.concat(chunks), clientId });
    stream.on('error', () => undefined);
    stream.on('data', (d: Buffer) => {
      chunks.push(d);
      // One answer per request head seen (the requests here have no body).
      const heads = Buffer.concat(chunks).toString('latin1').split('\r\n\r\n').length - 1;
      for (let i = answered; i < heads; i++) stream.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      answered = heads;
    });
  };
  const server = tls.createServer(
    {
      cert: leaf.cert,
      key: leaf.key,
      ca: mesh.pki.root.cert,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
      allowHalfOpen: true,
      ALPNCallback: ({ protocols: asked }) => {
        offered.push(asked);
        return protocols.find((p) => asked.includes(p));
      },
    },
    (socket) => {
      tlsConnections++;
      const san = socket.getPeerCertificate().subjectaltname ?? '';
      const clientId = /DNS:([^,]+)/.exec(san)?.[1];
      socket.on('error', () => undefined);
      if (socket.alpnProtocol === ALPN_MUX) new MuxSession(socket, 'server', { onStream: (st) => serve(st, ALPN_MUX, clientId) });
      else serve(socket, socket.alpnProtocol, clientId);
    },
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, conns, tlsConnections: () => tlsConnections, offered, close: () => server.close() };
}

function get(port: number, path: string, agent: http.Agent, host = 'peer.test.svc'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent, headers: { host } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

/** `app` listening behind a two-proxy mesh as `authority`, and a keep-alive agent for the client proxy's outbound. */
async function behindMesh(t: TestContext, app: http.Server, authority: string, mode: MeshHttp1, maxSockets: number): Promise<{ mesh: Mesh; agent: http.Agent }> {
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  t.after(() => app.close());
  const appPort = (app.address() as AddressInfo).port;
  const mesh = await startMesh({ appPort, clientConfig: { meshHttp1: mode } });
  t.after(() => mesh.close());
  mesh.discovery.set(authority, [endpoint('127.0.0.1', appPort, { identity: SERVER_ID, inboundPort: mesh.server.ports.inbound })]);
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  t.after(() => agent.destroy());
  return { mesh, agent };
}

for (const mode of ['http1', 'http2', 'mux'] as const satisfies readonly MeshHttp1[]) {
  test(`WEFT_PROXY_MESH_HTTP1=${mode}: the wire between proxies`, { timeout: 60_000 }, async (t) => {
    const mesh = await startMesh({ clientConfig: { meshHttp1: mode } });
    t.after(() => mesh.close());
    const peer = await fakePeer(mesh);
    t.after(() => peer.close());
    mesh.discovery.set('peer.test.svc:80', [endpoint('127.0.0.1', 8080, { identity: SERVER_ID, inboundPort: peer.port })]);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    if (mode === 'http1' || mode === 'mux') {
      for (const path of ['/a', '/b', '/c']) assert.deepEqual(await get(mesh.client.ports.outbound, path, agent), { status: 200, body: 'ok' });
      // One pooled connection (mux: one stream of one connection) carried all three: ALPN weft.tcp (weft.mux), the port
      // header (version 1, port 8080), then HTTP/1.1 heads.
      assert.equal(peer.conns.length, 1);
      assert.equal(peer.tlsConnections(), 1);
      const [conn] = peer.conns;
      assert.equal(conn!.alpn, mode === 'mux' ? 'weft.mux' : 'weft.tcp');
      assert.equal(conn!.clientId, CLIENT_ID);
      const bytes = conn!.bytes();
      assert.deepEqual([...bytes.subarray(0, 3)], [1, 8080 >> 8, 8080 & 0xff]);
      const heads = bytes.subarray(3).toString('latin1').split('\r\n\r\n').filter(Boolean);
      assert.deepEqual(heads.map((h) => h.split('\r\n')[0]), ['GET /a HTTP/1.1', 'GET /b HTTP/1.1', 'GET /c HTTP/1.1']);
      for (const h of heads) {
        assert.match(h, /\r\nhost: peer\.test\.svc\r\n|^host: peer\.test\.svc/im);
        assert.doesNotMatch(h, /weft-/i, 'no weft-* header travels: the port is in the connection header');
      }
    } else {
      // Inside the HTTP/2 session: ALPN weft.h2 (this stand-in does not speak HTTP/2, so the request fails).
      const r = await get(mesh.client.ports.outbound, '/a', agent);
      assert.equal(r.status, 503);
      assert.ok(peer.conns.length >= 1);
      assert.equal(peer.conns[0]!.alpn, 'weft.h2');
    }
  });

  test(`WEFT_PROXY_MESH_HTTP1=${mode}: HTTP/1 through two proxies — identity, Host, bodies both ways, 40 concurrent requests`, { timeout: 60_000 }, async (t) => {
    const seen: { version: string; host: string | undefined; clientId: string | undefined; body: string }[] = [];
    const app = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        seen.push({ version: req.httpVersion, host: req.headers.host, clientId: req.headers['weft-client-id'] as string | undefined, body });
        if (req.url === '/chunked') {
          res.writeHead(200, { trailer: 'x-sum' });
          res.write(`${body}-`);
          res.addTrailers({ 'x-sum': String(body.length) });
          setImmediate(() => res.end('end'));
          return;
        }
        res.end(`echo:${body}`);
      });
    });
    const { mesh, agent } = await behindMesh(t, app, 'web.test.svc:80', mode, 40);
    const post = (i: number, path = '/echo') =>
      new Promise<{ status: number; body: string; trailers: NodeJS.Dict<string> }>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: mesh.client.ports.outbound, path, method: 'POST', agent, headers: { host: 'web.test.svc' } }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, trailers: res.trailers }));
        });
        req.on('error', reject);
        // Chunked (no length) for odd i, sized for even.
        if (i % 2 === 0) req.setHeader('content-length', Buffer.byteLength(`body-${i}`));
        req.write(`body-${i}`);
        req.end();
      });
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => post(i)));
    results.forEach((r, i) => assert.deepEqual({ status: r.status, body: r.body }, { status: 200, body: `echo:body-${i}` }));
    assert.equal(seen.length, 40);
    for (const s of seen) assert.deepEqual({ version: s.version, host: s.host, clientId: s.clientId }, { version: '1.1', host: 'web.test.svc', clientId: CLIENT_ID });
    const chunked = await post(1, '/chunked');
    assert.equal(chunked.body, 'body-1-end');
    assert.equal(chunked.trailers['x-sum'], '6');
  });
  test(`WEFT_PROXY_MESH_HTTP1=${mode}: 16 MiB of random bytes through two proxies to a slow reader: every byte in order, the app waits`, { timeout: 120_000 }, async (t) => {
    const MiB = 1024 * 1024;
    // Distinct blocks: a read buffer reused before its bytes were copied out would show as a wrong digest.
    const blocks = Array.from({ length: 256 }, () => randomBytes(64 * 1024));
    const sent = createHash('sha256');
    for (const b of blocks) sent.update(b);
    let appWaited = false;
    const app = http.createServer((req, res) => {
      if (req.url !== '/big') return void res.end('ok');
      res.writeHead(200, { 'content-length': String(16 * MiB) });
      let i = 0;
      const more = (): void => {
        while (i < blocks.length) {
          if (!res.write(blocks[i++])) {
            appWaited = true;
            return void res.once('drain', more);
          }
        }
        res.end();
      };
      more();
    });
    const { mesh, agent } = await behindMesh(t, app, 'big.test.svc:80', mode, 1);
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: mesh.client.ports.outbound, path: '/big', agent, headers: { host: 'big.test.svc' } }, resolve).on('error', reject);
    });
    assert.equal(res.statusCode, 200);
    const got = createHash('sha256');
    let n = 0;
    for await (const c of res) {
      got.update(c as Buffer);
      n += (c as Buffer).length;
      // A pause every MiB or so: the proxies' buffers fill and the app must wait.
      if (n % MiB < (c as Buffer).length) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(n, 16 * MiB);
    assert.equal(got.digest('hex'), sent.digest('hex'));
    assert.ok(appWaited, 'the app had to wait for the slow reader');
    // The connection is whole afterwards: the next request on it succeeds.
    assert.equal((await get(mesh.client.ports.outbound, '/small', agent, 'big.test.svc')).status, 200);
  });
}

test('WEFT_PROXY_MESH_HTTP1=mux to a peer of an earlier release (no weft.mux): requests go over weft.tcp connections, none lost; only the first connection asked for weft.mux', { timeout: 60_000 }, async (t) => {
  const mesh = await startMesh({ clientConfig: { meshHttp1: 'mux' } });
  t.after(() => mesh.close());
  const peer = await fakePeer(mesh, ['weft.h2', 'weft.tcp']);
  t.after(() => peer.close());
  mesh.discovery.set('peer.test.svc:80', [endpoint('127.0.0.1', 8080, { identity: SERVER_ID, inboundPort: peer.port })]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  t.after(() => agent.destroy());
  const paths = Array.from({ length: 24 }, (_, i) => `/r${i}`);
  const answers = await Promise.all(paths.map((p) => get(mesh.client.ports.outbound, p, agent)));
  assert.deepEqual(
    answers,
    paths.map(() => ({ status: 200, body: 'ok' })),
  );
  assert.deepEqual(
    peer.conns.map((c) => c.alpn),
    peer.conns.map(() => 'weft.tcp'),
  );
  assert.equal(peer.offered.filter((o) => o.includes(ALPN_MUX)).length, 1, `offers: ${JSON.stringify(peer.offered)}`);
  // Every request reached the peer once, behind its connection's port header.
  const heads = peer.conns.flatMap((c) => {
    const bytes = c.bytes();
    assert.deepEqual([...bytes.subarray(0, 3)], [1, 8080 >> 8, 8080 & 0xff]);
    return bytes
      .subarray(3)
      .toString('latin1')
      .split('\r\n\r\n')
      .filter(Boolean)
      .map((h) => h.split('\r\n')[0]!.split(' ')[1]!);
  });
  assert.deepEqual(heads.sort(), [...paths].sort());
});
