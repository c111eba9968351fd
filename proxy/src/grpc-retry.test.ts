// Retries of gRPC statuses through real proxies (grpc-js client → client
// proxy → mTLS → server proxy → grpc-js server). The client proxy's route
// names UNAVAILABLE as retryable: a call failing with it (trailers-only, or
// trailers right after headers) is retried and succeeds; other statuses, a
// status after streamed data, a body over the replay bound and a spent
// budget are not retried. Counted in retry_total / retry_budget_exhausted_total.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { destination } from '@weft/api';
import { startMesh, metricValue, SERVER_ID, type Mesh } from './testing/mesh.js';
import { endpoint } from './discovery/discovery.js';
import { MAX_REPLAY_BYTES } from './layers/retry.js';

const FLAKY = 'flaky.test.svc:8080';
const NO_BUDGET = 'nobudget.test.svc:8080';
const NOT_NAMED = 'notnamed.test.svc:8080';
const ttl = { seconds: 600n, nanos: 0 };

const bytes = (b: Buffer): Buffer => b;
const method = (name: string, responseStream: boolean): grpc.MethodDefinition<Buffer, Buffer> => ({
  path: `/weft.retry.Test/${name}`,
  requestStream: false,
  responseStream,
  requestSerialize: bytes,
  requestDeserialize: bytes,
  responseSerialize: bytes,
  responseDeserialize: bytes,
});
const SERVICE = {
  // Fails with the status in x-status (trailers-only) for the first x-fail attempts of a call id, then answers OK.
  Flaky: method('Flaky', false),
  // The same, but the failure comes as headers and then trailers with no data in between.
  FlakyAfterHeaders: method('FlakyAfterHeaders', false),
  // Streams one message, then fails with UNAVAILABLE.
  StreamThenFail: method('StreamThenFail', true),
} satisfies grpc.ServiceDefinition;

type AnyClient = Record<string, (...args: never[]) => unknown> & grpc.Client;

/** Attempts that reached the server, per call id. */
const attempts = new Map<string, number>();
let server: grpc.Server;
let mesh: Mesh;

function countAttempt(call: { metadata: grpc.Metadata }): { n: number; fail: number; status: number } {
  const id = String(call.metadata.get('x-id')[0]);
  const n = (attempts.get(id) ?? 0) + 1;
  attempts.set(id, n);
  return { n, fail: Number(call.metadata.get('x-fail')[0] ?? 0), status: Number(call.metadata.get('x-status')[0] ?? grpc.status.UNAVAILABLE) };
}

before(async () => {
  server = new grpc.Server();
  server.addService(SERVICE, {
    Flaky: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const a = countAttempt(call);
      if (a.n <= a.fail) cb({ code: a.status, details: `attempt ${a.n} fails` });
      else cb(null, Buffer.concat([Buffer.from(`ok after ${a.n}:`), call.request]));
    },
    FlakyAfterHeaders: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const a = countAttempt(call);
      call.sendMetadata(new grpc.Metadata());
      if (a.n <= a.fail) cb({ code: a.status, details: `attempt ${a.n} fails` });
      else cb(null, Buffer.from(`ok after ${a.n}`));
    },
    StreamThenFail: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      countAttempt(call);
      call.write(Buffer.from('first'), () => {
        // After the message left: the status comes in real trailers behind streamed data.
        setTimeout(() => call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'gone mid-stream' }), 20);
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  mesh = await startMesh({ appPort: port });
  const ep = endpoint('127.0.0.1', port, { identity: SERVER_ID, inboundPort: mesh.server.ports.inbound });
  const everything = [{ path: { kind: { case: 'prefix' as const, value: '/weft.retry.Test/' } } }];
  for (const a of [FLAKY, NO_BUDGET, NOT_NAMED]) mesh.discovery.set(a, [ep]);
  mesh.profiles.set(
    FLAKY,
    create(destination.DestinationProfileSchema, {
      routes: [{ name: 'flaky', matches: everything, isRetryable: true, retryGrpcStatuses: [grpc.status.UNAVAILABLE] }],
      retryBudget: { retryRatio: 1, minRetriesPerSecond: 100, ttl },
    }),
  );
  mesh.profiles.set(
    NO_BUDGET,
    create(destination.DestinationProfileSchema, {
      routes: [{ name: 'nobudget', matches: everything, isRetryable: true, retryGrpcStatuses: [grpc.status.UNAVAILABLE] }],
      retryBudget: { retryRatio: 0, minRetriesPerSecond: 0, ttl },
    }),
  );
  mesh.profiles.set(
    NOT_NAMED,
    create(destination.DestinationProfileSchema, {
      routes: [{ name: 'notnamed', matches: everything, isRetryable: true }],
      retryBudget: { retryRatio: 1, minRetriesPerSecond: 100, ttl },
    }),
  );
});

after(async () => {
  await mesh?.close();
  server?.forceShutdown();
});

function client(authority: string): AnyClient {
  const Ctor = grpc.makeGenericClientConstructor(SERVICE, 'Test');
  return new Ctor(`127.0.0.1:${mesh.client.ports.outbound}`, grpc.credentials.createInsecure(), {
    'grpc.default_authority': authority,
    // Only the proxy retries here.
    'grpc.enable_retries': 0,
  }) as unknown as AnyClient;
}

interface Outcome {
  code: number;
  details: string;
  messages: string[];
}

function md(id: string, fail: number, status: number = grpc.status.UNAVAILABLE): grpc.Metadata {
  const m = new grpc.Metadata();
  m.set('x-id', id);
  m.set('x-fail', String(fail));
  m.set('x-status', String(status));
  return m;
}

function unary(c: AnyClient, name: string, meta: grpc.Metadata, req = Buffer.from('req')): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { code: -1, details: '', messages: [] };
    const call = (c[name] as unknown as (r: Buffer, m: grpc.Metadata, cb: (e: grpc.ServiceError | null, v?: Buffer) => void) => grpc.ClientUnaryCall)(
      req,
      meta,
      (_err, value) => {
        if (value) out.messages.push(value.toString('latin1').slice(0, 40));
      },
    );
    call.on('status', (s: grpc.StatusObject) => {
      out.code = s.code;
      out.details = s.details;
      // The callback runs after 'status'.
      setImmediate(() => resolve(out));
    });
  });
}

function serverStream(c: AnyClient, name: string, meta: grpc.Metadata): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { code: -1, details: '', messages: [] };
    const call = (c[name] as unknown as (r: Buffer, m: grpc.Metadata) => grpc.ClientReadableStream<Buffer>)(Buffer.from('go'), meta);
    call.on('data', (m: Buffer) => out.messages.push(m.toString()));
    call.on('error', () => undefined);
    call.on('status', (s: grpc.StatusObject) => {
      out.code = s.code;
      out.details = s.details;
      resolve(out);
    });
  });
}

async function metrics(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${mesh.client.ports.admin}/metrics`)).text();
}

const retries = (text: string, route: string): number => metricValue(text, 'retry_total', { direction: 'outbound', rt_route: route });

test('UNAVAILABLE twice (trailers-only), then OK: the call is retried and succeeds, retries counted', { timeout: 60_000 }, async () => {
  const c = client(FLAKY);
  const before = retries(await metrics(), 'flaky');
  const r = await unary(c, 'Flaky', md('twice', 2), Buffer.from('payload'));
  assert.equal(r.code, grpc.status.OK, r.details);
  assert.deepEqual(r.messages, ['ok after 3:payload'], 'the replayed request carried the whole body');
  assert.equal(attempts.get('twice'), 3);
  assert.equal(retries(await metrics(), 'flaky') - before, 2);
  c.close();
});

test('UNAVAILABLE in trailers right after the headers (no data) is retried too', { timeout: 60_000 }, async () => {
  const c = client(FLAKY);
  const r = await unary(c, 'FlakyAfterHeaders', md('after-headers', 1));
  assert.equal(r.code, grpc.status.OK, r.details);
  assert.deepEqual(r.messages, ['ok after 2']);
  assert.equal(attempts.get('after-headers'), 2);
  c.close();
});

test('a status the route does not name is not retried and reaches the client as it is', { timeout: 60_000 }, async () => {
  const c = client(FLAKY);
  const r = await unary(c, 'Flaky', md('not-found', 1, grpc.status.NOT_FOUND));
  assert.equal(r.code, grpc.status.NOT_FOUND);
  assert.equal(r.details, 'attempt 1 fails');
  assert.equal(attempts.get('not-found'), 1);
  c.close();
});

test('a status the route does not name, in trailers right after the headers, reaches the client whole', { timeout: 60_000 }, async () => {
  const c = client(FLAKY);
  const r = await unary(c, 'FlakyAfterHeaders', md('after-headers-not-found', 1, grpc.status.NOT_FOUND));
  assert.equal(r.code, grpc.status.NOT_FOUND);
  assert.equal(r.details, 'attempt 1 fails');
  assert.equal(attempts.get('after-headers-not-found'), 1);
  c.close();
});

test('UNAVAILABLE after streamed data is not retried: the client sees the data, then the status', { timeout: 60_000 }, async () => {
  const c = client(FLAKY);
  const before = retries(await metrics(), 'flaky');
  const r = await serverStream(c, 'StreamThenFail', md('streamed', 0));
  assert.deepEqual(r.messages, ['first']);
  assert.equal(r.code, grpc.status.UNAVAILABLE);
  assert.equal(r.details, 'gone mid-stream');
  assert.equal(attempts.get('streamed'), 1);
  assert.equal(retries(await metrics(), 'flaky'), before);
  c.close();
});

test('a request body over the replay bound is sent once, not retried', { timeout: 60_000 }, async () => {
  const c = client(FLAKY);
  const r = await unary(c, 'Flaky', md('large', 1), Buffer.alloc(MAX_REPLAY_BYTES + 1024, 1));
  assert.equal(r.code, grpc.status.UNAVAILABLE);
  assert.equal(attempts.get('large'), 1);
  c.close();
});

test('a retryable route that names no gRPC status does not retry gRPC calls (POST)', { timeout: 60_000 }, async () => {
  const c = client(NOT_NAMED);
  const r = await unary(c, 'Flaky', md('not-named', 1));
  assert.equal(r.code, grpc.status.UNAVAILABLE);
  assert.equal(attempts.get('not-named'), 1);
  assert.equal(retries(await metrics(), 'notnamed'), 0);
  c.close();
});

test('with the budget spent, UNAVAILABLE is not retried and the refusal is counted', { timeout: 60_000 }, async () => {
  const c = client(NO_BUDGET);
  const r = await unary(c, 'Flaky', md('no-budget', 1));
  assert.equal(r.code, grpc.status.UNAVAILABLE);
  assert.equal(attempts.get('no-budget'), 1);
  const text = await metrics();
  assert.equal(retries(text, 'nobudget'), 0);
  assert.equal(metricValue(text, 'retry_budget_exhausted_total', { direction: 'outbound', rt_route: 'nobudget' }), 1);
  c.close();
});
