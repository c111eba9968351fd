// Route timeouts cover the whole exchange, and a route's idle timeout ends a
// stream on which nothing moves: real HTTP/1.1, HTTP/2 and grpc-js servers
// that send headers and some data, then stall, reached through one proxy
// (the client's outbound to an unmeshed application) and two (outbound →
// mTLS → inbound). What the client sees once headers were sent: HTTP/1 the
// connection closed before the end of the chunked body; HTTP/2 RST_STREAM
// CANCEL after the data; gRPC grpc-status 4 (DEADLINE_EXCEEDED) in trailers
// after the messages. The application's request is cancelled, and the route
// metrics count DEADLINE_EXCEEDED.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { destination } from '@weft/api';
import { startMesh, metricValue, SERVER_ID, type Mesh } from './testing/mesh.js';
import { endpoint } from './discovery/discovery.js';

/** Long enough that a loaded machine does not fire it by accident between two chunks 50 ms apart. */
const LIMIT = { seconds: 1n, nanos: 500_000_000 };
const DRIP_CHUNKS = 40;
const DRIP_EVERY_MS = 50;

const HOPS = ['one proxy', 'two proxies'] as const;
type Hops = (typeof HOPS)[number];
const authority = (app: string, hops: Hops): string => `${app}-${hops === 'one proxy' ? 1 : 2}.test.svc:80`;

let mesh: Mesh;
let h1app: http.Server;
let h2app: http2.Http2Server;
let grpcServer: grpc.Server;
/** Application requests that ended because the client side went away, by path. */
const cancelled: string[] = [];

/** A stalled response: headers and one chunk, then nothing; `drip` sends a chunk every 50 ms and ends. */
function plan(path: string): 'stall' | 'drip' | 'nohead' | 'ok' {
  if (path.endsWith('/stall') || path.endsWith('/idle-stall')) return 'stall';
  if (path.endsWith('/idle-drip')) return 'drip';
  if (path.endsWith('/idle-nohead')) return 'nohead';
  return 'ok';
}

function drip(write: (s: string) => void, end: () => void): void {
  let n = 0;
  const t = setInterval(() => {
    write(`d${n}`);
    if (++n === DRIP_CHUNKS) {
      clearInterval(t);
      end();
    }
  }, DRIP_EVERY_MS);
}

const bytes = (b: Buffer): Buffer => b;
const stream = (name: string): grpc.MethodDefinition<Buffer, Buffer> => ({
  path: `/weft.timeout.Test/${name}`,
  requestStream: false,
  responseStream: true,
  requestSerialize: bytes,
  requestDeserialize: bytes,
  responseSerialize: bytes,
  responseDeserialize: bytes,
});
const SERVICE = { Stall: stream('Stall'), IdleStall: stream('IdleStall'), IdleDrip: stream('IdleDrip') } satisfies grpc.ServiceDefinition;

before(async () => {
  h1app = http.createServer((req, res) => {
    const p = plan(req.url!);
    res.once('close', () => {
      if (!res.writableFinished) cancelled.push(`h1 ${req.url}`);
    });
    if (p === 'nohead') return;
    if (p === 'ok') return void res.end('ok');
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('part;');
    if (p === 'drip') drip((s) => res.write(s), () => res.end());
  });
  h2app = http2.createServer();
  h2app.on('stream', (s, headers) => {
    s.on('error', () => undefined);
    const path = String(headers[':path']);
    s.once('close', () => {
      if (s.rstCode !== http2.constants.NGHTTP2_NO_ERROR) cancelled.push(`h2 ${path}`);
    });
    const p = plan(path);
    if (p === 'nohead') return;
    s.respond({ ':status': 200 });
    if (p === 'ok') return void s.end('ok');
    s.write('part;');
    if (p === 'drip') drip((c) => s.write(c), () => s.end());
  });
  grpcServer = new grpc.Server();
  const stallish = (call: grpc.ServerWritableStream<Buffer, Buffer>): void => {
    call.on('cancelled', () => cancelled.push(`grpc ${call.getPath()}`));
    call.write(Buffer.from('first'));
  };
  grpcServer.addService(SERVICE, {
    Stall: stallish,
    IdleStall: stallish,
    IdleDrip: (call: grpc.ServerWritableStream<Buffer, Buffer>) =>
      drip(
        (s) => call.write(Buffer.from(s)),
        () => call.end(),
      ),
  });
  const grpcPort = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  h1app.listen(0, '127.0.0.1');
  h2app.listen(0, '127.0.0.1');
  await Promise.all([once(h1app, 'listening'), once(h2app, 'listening')]);
  mesh = await startMesh();
  const profile = create(destination.DestinationProfileSchema, {
    routes: [
      { name: 'deadline', matches: [{ path: { kind: { case: 'regex', value: '(^/stall$|/Stall$)' } } }], timeout: LIMIT },
      { name: 'idle', matches: [{ path: { kind: { case: 'regex', value: '(^/idle-|/Idle)' } } }], idleTimeout: LIMIT },
    ],
  });
  const ports = { h1: (h1app.address() as AddressInfo).port, h2: (h2app.address() as AddressInfo).port, grpc: grpcPort };
  for (const [app, port] of Object.entries(ports)) {
    const meshed = endpoint('127.0.0.1', port, { identity: SERVER_ID, inboundPort: mesh.server.ports.inbound });
    mesh.discovery.set(authority(app, 'one proxy'), [endpoint('127.0.0.1', port)]);
    mesh.discovery.set(authority(app, 'two proxies'), [meshed]);
    for (const hops of HOPS) mesh.profiles.set(authority(app, hops), profile);
  }
});

after(async () => {
  await mesh?.close();
  h1app?.closeAllConnections();
  h1app?.close();
  h2app?.close();
  grpcServer?.forceShutdown();
});

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 600 && !cond(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(cond(), what);
}

interface H1Result {
  status: number;
  body: string;
  /** The response ended properly (last chunk received), rather than the connection closing mid-body. */
  complete: boolean;
}

function h1get(hops: Hops, path: string): Promise<H1Result> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: mesh.client.ports.outbound, path, headers: { host: authority('h1', hops) }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('error', () => undefined);
      res.once('close', () => resolve({ status: res.statusCode!, body, complete: res.complete }));
    });
    req.on('error', reject);
  });
}

interface H2Result {
  status: number;
  body: string;
  rstCode: number;
}

function h2get(hops: Hops, path: string): Promise<H2Result> {
  const session = http2.connect(`http://127.0.0.1:${mesh.client.ports.outbound}`);
  session.on('error', () => undefined);
  return new Promise((resolve) => {
    const s = session.request({ ':path': path, ':authority': authority('h2', hops) });
    let status = 0;
    let body = '';
    s.on('response', (h) => (status = Number(h[':status'])));
    s.setEncoding('utf8');
    s.on('data', (c: string) => (body += c));
    s.on('error', () => undefined);
    s.once('close', () => {
      session.close();
      resolve({ status, body, rstCode: s.rstCode ?? -1 });
    });
    s.end();
  });
}

interface GrpcResult {
  code: number;
  details: string;
  messages: string[];
}

function grpcStream(hops: Hops, name: keyof typeof SERVICE): Promise<GrpcResult> {
  const Ctor = grpc.makeGenericClientConstructor(SERVICE, 'Test');
  const c = new Ctor(`127.0.0.1:${mesh.client.ports.outbound}`, grpc.credentials.createInsecure(), {
    'grpc.default_authority': authority('grpc', hops),
  }) as unknown as Record<string, (r: Buffer) => grpc.ClientReadableStream<Buffer>> & grpc.Client;
  return new Promise((resolve) => {
    const out: GrpcResult = { code: -1, details: '', messages: [] };
    const call = c[name]!(Buffer.from('go'));
    call.on('data', (m: Buffer) => out.messages.push(m.toString()));
    call.on('error', () => undefined);
    call.on('status', (s: grpc.StatusObject) => {
      out.code = s.code;
      out.details = s.details;
      c.close();
      resolve(out);
    });
  });
}

async function routeFailures(route: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${mesh.client.ports.admin}/metrics`)).text();
  return metricValue(text, 'route_response_total', { direction: 'outbound', rt_route: route, classification: 'failure', error: 'DEADLINE_EXCEEDED' });
}

for (const hops of HOPS) {
  for (const [route, path] of [
    ['deadline', '/stall'],
    ['idle', '/idle-stall'],
  ] as const) {
    test(`HTTP/1.1, ${hops}: a body that stalls after the headers is ended by the ${route} timeout — the connection closes mid-body`, { timeout: 60_000 }, async () => {
      const before = await routeFailures(route);
      const r = await h1get(hops, path);
      assert.equal(r.status, 200);
      assert.equal(r.body, 'part;', 'what was sent before the stall arrives');
      assert.equal(r.complete, false, 'the chunked body is cut off, not ended: the client can tell');
      await until('the application request is cancelled', () => cancelled.includes(`h1 ${path}`));
      cancelled.splice(cancelled.indexOf(`h1 ${path}`), 1);
      assert.equal((await routeFailures(route)) - before, 1);
    });

    test(`HTTP/2, ${hops}: a body that stalls after the headers is ended by the ${route} timeout — RST_STREAM CANCEL`, { timeout: 60_000 }, async () => {
      const before = await routeFailures(route);
      const r = await h2get(hops, path);
      assert.equal(r.status, 200);
      assert.equal(r.body, 'part;');
      assert.equal(r.rstCode, http2.constants.NGHTTP2_CANCEL);
      await until('the application stream is reset', () => cancelled.includes(`h2 ${path}`));
      cancelled.splice(cancelled.indexOf(`h2 ${path}`), 1);
      assert.equal((await routeFailures(route)) - before, 1);
    });
  }

  for (const [route, method] of [
    ['deadline', 'Stall'],
    ['idle', 'IdleStall'],
  ] as const) {
    test(`gRPC (grpc-js), ${hops}: a server stream that stalls after a message gets DEADLINE_EXCEEDED from the ${route} timeout`, { timeout: 60_000 }, async () => {
      const before = await routeFailures(route);
      const r = await grpcStream(hops, method);
      assert.deepEqual(r.messages, ['first']);
      assert.equal(r.code, grpc.status.DEADLINE_EXCEEDED, r.details);
      assert.match(r.details, route === 'idle' ? /stream idle/ : /timed out/);
      const path = `grpc /weft.timeout.Test/${method}`;
      await until('the application call is cancelled', () => cancelled.includes(path));
      cancelled.splice(cancelled.indexOf(path), 1);
      assert.equal((await routeFailures(route)) - before, 1);
    });
  }

  test(`${hops}: a stream that keeps moving outlives its idle timeout (HTTP/1.1, HTTP/2, gRPC)`, { timeout: 60_000 }, async () => {
    const h1 = await h1get(hops, '/idle-drip');
    assert.ok(h1.complete && h1.body.endsWith(`d${DRIP_CHUNKS - 1}`), JSON.stringify(h1));
    const h2 = await h2get(hops, '/idle-drip');
    assert.equal(h2.rstCode, http2.constants.NGHTTP2_NO_ERROR);
    assert.ok(h2.body.endsWith(`d${DRIP_CHUNKS - 1}`));
    const g = await grpcStream(hops, 'IdleDrip');
    assert.equal(g.code, grpc.status.OK, g.details);
    assert.equal(g.messages.length, DRIP_CHUNKS);
  });

  test(`HTTP/1.1, ${hops}: nothing moving before the headers ends the request with 504`, { timeout: 60_000 }, async () => {
    const r = await h1get(hops, '/idle-nohead');
    assert.equal(r.status, 504);
    assert.match(r.body, /stream idle/);
  });
}
