// Timeouts through real proxies against real HTTP/1 and HTTP/2 (gRPC-style)
// servers: a route timeout answers 504 / DEADLINE_EXCEEDED, cancels the
// upstream request and counts as a failure; a gRPC client's grpc-timeout is
// honoured and reaches the next hop as a (smaller) deadline.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { create } from '@bufbuild/protobuf';
import { destination } from '@weft/api';
import { startMesh, metricValue, SERVER_ID, type Mesh } from '../testing/mesh.js';
import { endpoint } from '../discovery/discovery.js';
import { formatGrpcTimeout, parseGrpcTimeout } from './timeout.js';

const WEB = 'web.test.svc:80';
const GRPC = 'grpc.test.svc:80';
let mesh: Mesh;
let h1app: http.Server;
let h2app: http2.Http2Server;
/** Upstream requests that were cancelled while hanging. */
const cancelled: string[] = [];
const deadlinesSeen: string[] = [];
/** Upstream requests that reached the application (a timeout may fire before the request got there). */
const arrived: string[] = [];

before(async () => {
  // The hanging handlers never answer on their own: only a timeout ends the request.
  h1app = http.createServer((req, res) => {
    if (req.url === '/slow') {
      arrived.push('h1');
      res.once('close', () => cancelled.push('h1'));
    }
    else res.writeHead(200).end('fast');
  });
  h2app = http2.createServer();
  h2app.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    if (headers[':path'] === '/test.Svc/Hang') {
      stream.once('close', () => cancelled.push('h2'));
      return;
    }
    deadlinesSeen.push(String(headers['grpc-timeout']));
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end();
  });
  h1app.listen(0, '127.0.0.1');
  h2app.listen(0, '127.0.0.1');
  await Promise.all([once(h1app, 'listening'), once(h2app, 'listening')]);
  mesh = await startMesh();
  const inboundPort = mesh.server.ports.inbound;
  mesh.discovery.set(WEB, [endpoint('127.0.0.1', (h1app.address() as AddressInfo).port, { identity: SERVER_ID, inboundPort })]);
  mesh.discovery.set(GRPC, [endpoint('127.0.0.1', (h2app.address() as AddressInfo).port, { identity: SERVER_ID, inboundPort })]);
  const timeout = { seconds: 0n, nanos: 100_000_000 };
  mesh.profiles.set(WEB, create(destination.DestinationProfileSchema, { routes: [{ name: 'slow', matches: [{ path: { kind: { case: 'exact', value: '/slow' } } }], timeout }] }));
  mesh.profiles.set(GRPC, create(destination.DestinationProfileSchema, { routes: [{ name: 'hang', matches: [{ path: { kind: { case: 'exact', value: '/test.Svc/Hang' } } }], totalTimeout: timeout }] }));
});

after(async () => {
  await mesh?.close();
  h1app?.closeAllConnections();
  h1app?.close();
  h2app?.close();
});

function get(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: mesh.client.ports.outbound, path, headers: { host: WEB } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      })
      .on('error', reject);
  });
}

async function metrics(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${mesh.client.ports.admin}/metrics`)).text();
}

function grpcCall(path: string, extra: http2.OutgoingHttpHeaders = {}): Promise<{ status: string | undefined; message: string | undefined }> {
  const session = http2.connect(`http://127.0.0.1:${mesh.client.ports.outbound}`);
  return new Promise((resolve, reject) => {
    const s = session.request({ ':method': 'POST', ':path': path, ':authority': GRPC, 'content-type': 'application/grpc', te: 'trailers', ...extra });
    let headers: http2.IncomingHttpHeaders = {};
    s.on('response', (h) => (headers = h));
    s.on('trailers', (t) => (headers = { ...headers, ...t }));
    s.on('error', reject);
    s.resume();
    s.on('end', () => {
      session.close();
      resolve({ status: headers['grpc-status'] as string | undefined, message: headers['grpc-message'] as string | undefined });
    });
    s.end();
  });
}

test('grpc-timeout values parse per the gRPC spec and format as milliseconds', () => {
  assert.equal(parseGrpcTimeout('100m'), 100);
  assert.equal(parseGrpcTimeout('2S'), 2000);
  assert.equal(parseGrpcTimeout('1H'), 3_600_000);
  assert.equal(parseGrpcTimeout('5000u'), 5);
  assert.equal(parseGrpcTimeout('123456789m'), undefined, 'at most 8 digits');
  assert.equal(parseGrpcTimeout('10x'), undefined);
  assert.equal(formatGrpcTimeout(12.2), '13m');
  assert.equal(formatGrpcTimeout(-5), '1m');
});

test('an HTTP route timeout answers 504, cancels the upstream request and counts as a failure', { timeout: 60_000 }, async () => {
  // Warm the mTLS connection between the proxies, so the slow request reaches the application before its timeout.
  assert.equal((await get('/fast')).status, 200);
  const { status, body } = await get('/slow');
  assert.equal(status, 504, body);
  assert.match(body, /timed out/);
  const text = await metrics();
  assert.equal(metricValue(text, 'route_response_total', { direction: 'outbound', rt_route: 'slow', classification: 'failure', error: 'DEADLINE_EXCEEDED' }), 1);
  // A request that reached the application was reset, not left running.
  for (let i = 0; i < 400 && cancelled.length < arrived.length; i++) await new Promise((r) => setTimeout(r, 25));
  assert.deepEqual(cancelled, arrived);
});

test('a gRPC route timeout answers DEADLINE_EXCEEDED and counts as a failure', { timeout: 60_000 }, async () => {
  const r = await grpcCall('/test.Svc/Hang');
  assert.equal(r.status, '4');
  assert.match(decodeURIComponent(r.message ?? ''), /timed out/);
  const text = await metrics();
  assert.equal(metricValue(text, 'route_response_total', { direction: 'outbound', rt_route: 'hang', classification: 'failure' }), 1);
});

test("a gRPC client's grpc-timeout is honoured without any route timeout", { timeout: 60_000 }, async () => {
  mesh.profiles.set(GRPC, create(destination.DestinationProfileSchema, {}));
  const r = await grpcCall('/test.Svc/Hang', { 'grpc-timeout': '50m' });
  assert.equal(r.status, '4');
});

test('the remaining deadline travels to the next hop in grpc-timeout', { timeout: 60_000 }, async () => {
  deadlinesSeen.length = 0;
  const r = await grpcCall('/test.Svc/Echo', { 'grpc-timeout': '20S' });
  assert.equal(r.status, '0');
  assert.equal(deadlinesSeen.length, 1);
  const ms = parseGrpcTimeout(deadlinesSeen[0]);
  assert.ok(ms !== undefined && ms > 0 && ms <= 20_000, `the application saw grpc-timeout ${deadlinesSeen[0]}`);
});
