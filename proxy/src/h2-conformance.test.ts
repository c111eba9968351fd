// HTTP/2 conformance with h2spec, the standard tool: its 145 cases against
// Node's own HTTP/2 server (the reference: weft's HTTP/2 is Node's) and
// against the same application behind weft's inbound listener (h2c from an
// unmeshed client), its outbound listener, and the inbound over mesh mTLS.
// weft must fail no case the reference passes. The reference's own failures
// are listed in docs/proxy.md as known.
//
// h2spec cannot present a client certificate, nor weft's SNI and ALPN, so
// over mTLS it speaks TLS (-t) to a bridge that opens mesh mTLS to the
// inbound (client certificate, SNI = the server's identity, ALPN weft.h2) and
// copies bytes both ways untouched: every frame h2spec sends reaches the
// inbound's mTLS HTTP/2 server as sent. Its reference is Node's HTTP/2 server
// over TLS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { startMesh, CLIENT_ID, SERVER_ID, type Mesh } from './testing/mesh.js';
import { endpoint } from './discovery/discovery.js';
import { confirmedFailures, h2spec, runH2spec } from './testing/h2spec.js';
import { connectMesh, ALPN_H2 } from './transport/tls.js';
import { DEFAULT_CONNECTIONS } from './transport/connections.js';
import { PREFACE } from './testing/h2-frames.js';

let app: http2.Http2Server;
let tlsApp: http2.Http2SecureServer;
let bridge: tls.Server;
let mesh: Mesh;

/** Mesh mTLS to the server proxy's inbound, as a peer proxy opens it. */
function meshTlsToInbound(): tls.TLSSocket {
  const id = mesh.pki.identity(CLIENT_ID);
  return connectMesh({ host: '127.0.0.1', port: mesh.server.ports.inbound, identity: SERVER_ID, alpn: ALPN_H2, creds: id.current()!, anchors: mesh.pki.root.cert, connections: DEFAULT_CONNECTIONS });
}

before(async () => {
  h2spec(); // build (or find) the tool first, outside the measured runs
  app = http2.createServer();
  app.on('stream', (stream) => {
    stream.on('error', () => undefined);
    stream.respond({ ':status': 200 });
    stream.end('ok');
  });
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  const appPort = (app.address() as AddressInfo).port;
  mesh = await startMesh({ appPort });
  // h2spec names its target as :authority; the outbound proxy resolves it to the application (unmeshed endpoint).
  mesh.discovery.set(`127.0.0.1:${mesh.client.ports.outbound}`, [endpoint('127.0.0.1', appPort)]);
  const serving = mesh.pki.leaf('localhost');
  tlsApp = http2.createSecureServer({ cert: serving.cert, key: serving.key });
  tlsApp.on('stream', (stream) => {
    stream.on('error', () => undefined);
    stream.respond({ ':status': 200 });
    stream.end('ok');
  });
  bridge = tls.createServer({ cert: serving.cert, key: serving.key, ALPNProtocols: ['h2'] }, (client) => {
    const upstream = meshTlsToInbound();
    const close = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  tlsApp.listen(0, '127.0.0.1');
  bridge.listen(0, '127.0.0.1');
  await Promise.all([once(tlsApp, 'listening'), once(bridge, 'listening')]);
});

after(async () => {
  await mesh?.close();
  app?.close();
  tlsApp?.close();
  bridge?.close();
});

test('h2spec: weft inbound and outbound fail no case that Node’s own HTTP/2 server passes', { timeout: 600_000 }, async () => {
  const reference = await runH2spec('127.0.0.1', (app.address() as AddressInfo).port);
  const inbound = await runH2spec('127.0.0.1', mesh.server.ports.inbound);
  const outbound = await runH2spec('127.0.0.1', mesh.client.ports.outbound);
  const summary = (r: typeof reference) => ({ total: r.total, failed: r.failed.size });
  console.log(JSON.stringify({ h2spec: { direct: summary(reference), inbound: summary(inbound), outbound: summary(outbound), knownFailures: [...reference.failed].sort() } }));
  assert.ok(reference.total >= 140, `h2spec ran ${reference.total} cases`);
  for (const [where, r, port] of [['inbound', inbound, mesh.server.ports.inbound], ['outbound', outbound, mesh.client.ports.outbound]] as const) {
    assert.equal(r.total, reference.total, `${where}: ${r.total} cases`);
    const extra = [...r.failed].filter((c) => !reference.failed.has(c));
    assert.deepEqual(await confirmedFailures(extra, '127.0.0.1', port), [], `${where} fails cases Node's own server passes`);
  }
});

test('h2spec over mesh mTLS: weft inbound fails no case that Node’s own HTTP/2 server over TLS passes', { timeout: 600_000 }, async () => {
  const reference = await runH2spec('127.0.0.1', (tlsApp.address() as AddressInfo).port, 3, true);
  const inbound = await runH2spec('127.0.0.1', (bridge.address() as AddressInfo).port, 3, true);
  const summary = (r: typeof reference) => ({ total: r.total, failed: r.failed.size });
  console.log(JSON.stringify({ h2specTls: { direct: summary(reference), inboundMtls: summary(inbound), knownFailures: [...reference.failed].sort() } }));
  assert.ok(reference.total >= 140, `h2spec ran ${reference.total} cases`);
  assert.equal(inbound.total, reference.total);
  const extra = [...inbound.failed].filter((c) => !reference.failed.has(c));
  assert.deepEqual(await confirmedFailures(extra, '127.0.0.1', (bridge.address() as AddressInfo).port, true), [], "inbound over mTLS fails cases Node's own server passes");
  assert.ok(!inbound.failed.has('http2/3.5/Sends invalid connection preface'), 'an invalid connection preface is answered as HTTP/2 requires');
});

test('an invalid connection preface over mesh mTLS gets GOAWAY PROTOCOL_ERROR or a close, never forwarded', { timeout: 60_000 }, async () => {
  let appStreams = 0;
  const count = (): void => void appStreams++;
  app.on('stream', count);
  try {
    const socket = meshTlsToInbound();
    await once(socket, 'secureConnect');
    const bad = Buffer.from(PREFACE);
    bad.write('INVALID CONNECTION PREFACE\r\n');
    socket.write(bad);
    let got = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
    socket.on('error', () => undefined);
    // The proxy ends its side (mesh sockets allow half-open, so the client's side stays until it ends it).
    await once(socket, 'end');
    socket.destroy();
    // What came back is HTTP/2 frames: the server's SETTINGS and a GOAWAY (type 7) with PROTOCOL_ERROR (1).
    const goaways: number[] = [];
    for (let p = 0; p + 9 <= got.length; p += 9 + got.readUIntBE(p, 3)) if (got[p + 3] === 0x7) goaways.push(got.readUInt32BE(p + 9 + 4));
    assert.deepEqual(goaways, [1], `GOAWAY PROTOCOL_ERROR, got ${got.toString('hex')}`);
    assert.ok(!got.toString('latin1').includes('HTTP/1.1'), 'not answered as HTTP/1');
    assert.equal(appStreams, 0, 'nothing reached the application');
  } finally {
    app.off('stream', count);
  }
});
