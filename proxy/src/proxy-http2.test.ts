import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { addAbortSignal } from 'node:stream';
import { startMesh, CLIENT_ID, SERVER_ID, type Mesh } from './testing/mesh.js';
import { endpoint } from './discovery/discovery.js';

const { NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;

let mesh: Mesh;
let app: http2.Http2Server;
let client: http2.ClientHttp2Session;
const appResets: number[] = [];
let appResetSeen: (() => void) | undefined;
const seenClientIds: Array<string | undefined> = [];

before(async () => {
  // A gRPC-style h2c application: bidirectional streaming echo with trailers.
  app = http2.createServer();
  app.on('stream', (stream, headers) => {
    // Closing our own stream with an error code emits 'error' on it.
    stream.on('error', () => undefined);
    seenClientIds.push(headers['weft-client-id'] as string | undefined);
    const path = headers[':path'];
    if (path === '/echo.Echo/Stream') {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'x-trailer': 'yes' }));
      stream.on('data', (d: Buffer) => stream.write(Buffer.concat([Buffer.from('echo:'), d])));
      stream.on('end', () => stream.end());
    } else if (path === '/hang') {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      stream.write('started');
      stream.on('close', () => {
        appResets.push(stream.rstCode);
        appResetSeen?.();
      });
    } else if (path === '/reset') {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      stream.write('partial', () => stream.close(NGHTTP2_ENHANCE_YOUR_CALM));
    } else if (path === '/reset-after-request') {
      // A plain (non-gRPC) response cut off by the application after the client's request ended.
      stream.resume();
      stream.respond({ ':status': 200, 'content-type': 'text/plain' });
      // Destroyed by an abort signal: Node resets it with CANCEL, the code a proxy must not turn into END_STREAM.
      stream.write('partial', () => addAbortSignal(AbortSignal.abort(), stream));
    } else {
      stream.respond({ ':status': 404 });
      stream.end();
    }
  });
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  const appPort = (app.address() as AddressInfo).port;
  mesh = await startMesh({ appPort });
  mesh.discovery.set('grpc.test.svc:8080', [endpoint('127.0.0.1', appPort, { identity: SERVER_ID, inboundPort: mesh.server.ports.inbound })]);
  mesh.discovery.set('plain-grpc.test.svc:8080', [endpoint('127.0.0.1', appPort)]);
  client = http2.connect(`http://127.0.0.1:${mesh.client.ports.outbound}`);
});

after(async () => {
  client?.destroy();
  await mesh?.close();
  app?.close();
});

function open(path: string): http2.ClientHttp2Stream {
  return client.request({ ':method': 'POST', ':path': path, ':authority': 'grpc.test.svc:8080', 'content-type': 'application/grpc', te: 'trailers' });
}

function nextChunk(stream: http2.ClientHttp2Stream): Promise<string> {
  return new Promise((resolve) => stream.once('data', (d: Buffer) => resolve(d.toString())));
}

test('gRPC-style bidirectional streaming crosses the mesh, with trailers, as HTTP/2 end to end', { timeout: 60_000 }, async () => {
  const stream = open('/echo.Echo/Stream');
  const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
  assert.equal(headers[':status'], 200);
  stream.write('one');
  assert.equal(await nextChunk(stream), 'echo:one');
  // The second message is sent only after the first echo arrived: real streaming, not buffering.
  stream.write('two');
  assert.equal(await nextChunk(stream), 'echo:two');
  const trailers = once(stream, 'trailers');
  stream.end();
  const [t] = (await trailers) as [http2.IncomingHttpHeaders];
  assert.equal(t['grpc-status'], '0');
  assert.equal(t['x-trailer'], 'yes');
  assert.equal(seenClientIds.at(-1), CLIENT_ID);
});

test('a client RST_STREAM (cancel) propagates to the application', { timeout: 60_000 }, async () => {
  const seen = new Promise<void>((r) => (appResetSeen = r));
  const stream = open('/hang');
  await once(stream, 'response');
  assert.equal(await nextChunk(stream), 'started');
  stream.close(NGHTTP2_CANCEL);
  await seen;
  assert.equal(appResets.at(-1), NGHTTP2_CANCEL);
});

test('an application RST_STREAM propagates back to the client with its code', { timeout: 60_000 }, async () => {
  const stream = open('/reset');
  stream.on('error', () => undefined);
  stream.on('data', () => undefined);
  await new Promise((resolve) => stream.once('close', resolve));
  assert.equal(stream.rstCode, NGHTTP2_ENHANCE_YOUR_CALM);
});

for (const authority of ['grpc.test.svc:8080', 'plain-grpc.test.svc:8080']) {
  test(`an application reset after the client's request ended reaches the client as RST_STREAM, not as a complete body (${authority})`, { timeout: 60_000 }, async () => {
    const stream = client.request({ ':method': 'GET', ':path': '/reset-after-request', ':authority': authority }, { endStream: true });
    let body = '';
    stream.on('data', (d: Buffer) => (body += d.toString()));
    stream.on('error', () => undefined);
    // Not events.once: it rejects on the stream's 'error', which a reset may be.
    await new Promise((resolve) => stream.once('close', resolve));
    assert.equal(body, 'partial');
    // Node's client emits 'end' even for RST_STREAM CANCEL; the code tells a reset (8) from END_STREAM (0).
    assert.equal(stream.rstCode, NGHTTP2_CANCEL, 'reset, not ended as if complete');
  });
}

test('an unknown authority gets a gRPC UNAVAILABLE status instead of a hang', { timeout: 60_000 }, async () => {
  const stream = client.request({ ':method': 'POST', ':path': '/x.Y/Z', ':authority': 'nope.test.svc:8080', 'content-type': 'application/grpc', te: 'trailers' });
  stream.end();
  const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
  stream.resume();
  assert.equal(headers['grpc-status'], '14');
  assert.match(decodeURIComponent(String(headers['grpc-message'])), /no service is known/);
});

async function echoOnce(session: http2.ClientHttp2Session, authority: string): Promise<{ echo: string; status: string | undefined }> {
  const stream = session.request({ ':method': 'POST', ':path': '/echo.Echo/Stream', ':authority': authority, 'content-type': 'application/grpc', te: 'trailers' });
  await once(stream, 'response');
  stream.write('ping');
  const echo = await nextChunk(stream);
  const trailers = once(stream, 'trailers');
  stream.end();
  const [t] = (await trailers) as [http2.IncomingHttpHeaders];
  stream.resume();
  return { echo, status: t['grpc-status'] as string | undefined };
}

test('HTTP/2 to an unmeshed endpoint goes as cleartext h2c, without a client identity', { timeout: 60_000 }, async () => {
  assert.deepEqual(await echoOnce(client, 'plain-grpc.test.svc:8080'), { echo: 'echo:ping', status: '0' });
  assert.equal(seenClientIds.at(-1), undefined);
});

test('a plaintext HTTP/2 client of the inbound proxy (unmeshed) reaches the gRPC app', { timeout: 60_000 }, async () => {
  const direct = http2.connect(`http://127.0.0.1:${mesh.server.ports.inbound}`);
  try {
    assert.deepEqual(await echoOnce(direct, 'grpc.test.svc:8080'), { echo: 'echo:ping', status: '0' });
    assert.equal(seenClientIds.at(-1), undefined);
  } finally {
    direct.destroy();
  }
});
