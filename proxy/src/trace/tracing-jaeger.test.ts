// Tracing through real proxies into a real OTLP receiver: Jaeger all-in-one
// (built from its Go module, test/e2e/tools/jaeger) receives the proxies'
// spans, and the test reads the traces back from Jaeger's query API. The path
// is client app → client proxy (outbound) → mTLS → server proxy (inbound) →
// server app; the apps export their own spans too, so a trace is one tree.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { createLogger } from '@weft/common/log';
import { startMesh, metricValue, CLIENT_ID, SERVER_ID, type Mesh } from '../testing/mesh.js';
import { unusedPort } from '@weft/common/testing/ports';
import { Jaeger, parentOf, tag, type JaegerSpan, type JaegerTrace } from '@weft/common/testing/jaeger';
import { endpoint } from '../discovery/discovery.js';
import { create } from '@bufbuild/protobuf';
import { destination } from '@weft/api';
import { OtlpHttpExporter } from './exporter.js';
import { SpanRecord } from './span.js';
import type { TraceConfig } from './config.js';

const WEB = 'web.test.svc:80';
/** A retryable route: the app fails the first attempt of each request (503), the proxy retries. */
const FLAKY = 'flaky.test.svc:80';
const GRPC = 'echo.test.svc:8080';

let jaeger: Jaeger;
let app: http.Server;
let grpcServer: grpc.Server;
let mesh: Mesh;
/** Headers the server app received, by the request's x-test-id. */
const received = new Map<string, http.IncomingHttpHeaders>();
const appLog = createLogger('test-apps', 'silent');

function tracing(url: string, o: Partial<TraceConfig> = {}): TraceConfig {
  return { collectorUrl: url, sampleRate: 0, resource: { 'service.name': 'unused' }, maxQueue: 1000, flushIntervalMs: 100, ...o };
}

/** The apps' own spans, exported like any OpenTelemetry SDK would (OTLP/HTTP protobuf). */
function appExporter(service: string): OtlpHttpExporter {
  return new OtlpHttpExporter({ url: jaeger.otlpUrl, resource: { 'service.name': service }, maxQueue: 100, maxBatch: 100, flushIntervalMs: 60_000, timeoutMs: 5000, registry: new Registry(), log: appLog });
}

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

before(async () => {
  jaeger = await Jaeger.start();
  app = http.createServer((req, res) => {
    const id = String(req.headers['x-test-id']);
    // Retried requests: the first attempt fails, so the client proxy's retry layer sends it again.
    if (req.headers['x-fail-first'] === '1' && !received.has(id)) {
      received.set(id, req.headers);
      res.writeHead(503).end('try again');
      return;
    }
    received.set(id, req.headers);
    res.end('ok');
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  const appPort = (app.address() as AddressInfo).port;
  mesh = await startMesh({
    appPort,
    clientConfig: { tracing: tracing(jaeger.otlpUrl, { resource: { 'service.name': 'client', 'k8s.namespace.name': 'test', 'k8s.pod.name': 'client-pod' } }) },
    serverConfig: { tracing: tracing(jaeger.otlpUrl, { resource: { 'service.name': 'server', 'k8s.namespace.name': 'test', 'k8s.pod.name': 'server-pod' } }) },
  });
  mesh.discovery.set(WEB, [endpoint('127.0.0.1', appPort, { identity: SERVER_ID, inboundPort: mesh.server.ports.inbound })]);
  mesh.discovery.set(FLAKY, [endpoint('127.0.0.1', appPort, { identity: SERVER_ID, inboundPort: mesh.server.ports.inbound })]);
  mesh.profiles.set(
    FLAKY,
    create(destination.DestinationProfileSchema, {
      routes: [{ name: 'flaky', matches: [{ path: { kind: { case: 'prefix', value: '/' } } }], isRetryable: true }],
      retryBudget: { retryRatio: 1, minRetriesPerSecond: 100, ttl: { seconds: 600n, nanos: 0 } },
    }),
  );

  grpcServer = new grpc.Server();
  grpcServer.addService(ECHO, {
    Say: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      received.set(call.request.toString(), call.metadata.getMap() as http.IncomingHttpHeaders);
      cb(null, call.request);
    },
  });
  const grpcPort = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );
  mesh.discovery.set(GRPC, [endpoint('127.0.0.1', grpcPort, { identity: SERVER_ID, inboundPort: mesh.server.ports.inbound })]);
});

after(async () => {
  await mesh?.close();
  app?.close();
  grpcServer?.forceShutdown();
  await jaeger?.stop();
});

const bytes = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };
const ECHO = {
  Say: { path: '/weft.test.Echo/Say', requestStream: false, responseStream: false, requestSerialize: bytes.serialize, requestDeserialize: bytes.deserialize, responseSerialize: bytes.serialize, responseDeserialize: bytes.deserialize },
} satisfies grpc.ServiceDefinition;

/** GET through the client proxy (explicit mode: routed by Host). */
function get(proxyPort: number, headers: Record<string, string>, host = WEB): Promise<{ status: number; id: string }> {
  const id = hex(4);
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: proxyPort, path: '/things?x=1', headers: { host, 'x-test-id': id, ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, id }));
    });
    req.on('error', reject);
  });
}

function byParent(trace: JaegerTrace, parent: string | undefined): JaegerSpan[] {
  return trace.spans.filter((s) => parentOf(s) === parent);
}

function service(trace: JaegerTrace, span: JaegerSpan): string {
  return trace.processes[span.processID]!.serviceName;
}

function processTag(trace: JaegerTrace, span: JaegerSpan, key: string): unknown {
  return trace.processes[span.processID]!.tags.find((t) => t.key === key)?.value;
}

/** The context the server app received in `traceparent`: [traceId, parent span id, flags]. */
function w3c(h: http.IncomingHttpHeaders | undefined): [string, string, string] {
  const tp = h?.traceparent;
  assert.equal(typeof tp, 'string', 'the server app received a traceparent');
  const [, traceId, parent, flags] = (tp as string).split('-');
  return [traceId!, parent!, flags!];
}

test('a sampled HTTP/1 call gives one trace tree in Jaeger: client app → client proxy → server proxy → server app', { timeout: 120_000 }, async () => {
  const traceId = hex(16);
  const appSpan = new SpanRecord(traceId, hex(8), undefined, 'GET /things', 'client', performance.timeOrigin + performance.now());
  const { status, id } = await get(mesh.client.ports.outbound, { traceparent: `00-${traceId}-${appSpan.spanId}-01`, tracestate: 'app=1' });
  assert.equal(status, 200);
  const [gotTrace, serverProxySpan, flags] = w3c(received.get(id));
  assert.equal(gotTrace, traceId, 'same trace downstream');
  assert.equal(flags, '01', 'still sampled');
  assert.notEqual(serverProxySpan, appSpan.spanId, 'the parent the server app sees is a proxy span');
  assert.equal(received.get(id)!.tracestate, 'app=1', 'tracestate travels unchanged');

  // The apps report their spans as an SDK would.
  appSpan.endMs = performance.timeOrigin + performance.now();
  const serverAppSpan = new SpanRecord(traceId, hex(8), serverProxySpan, 'GET /things', 'server', appSpan.startMs + 1);
  serverAppSpan.endMs = appSpan.endMs - 1;
  const clientApp = appExporter('client-app');
  const serverApp = appExporter('server-app');
  clientApp.push(appSpan);
  serverApp.push(serverAppSpan);
  await Promise.all([clientApp.close(), serverApp.close()]);

  const trace = await jaeger.waitForTrace(traceId, 4);
  assert.equal(trace.spans.length, 4, trace.spans.map((s) => `${service(trace, s)}:${s.operationName}`).join(', '));
  const [root] = byParent(trace, undefined);
  assert.equal(root?.spanID, appSpan.spanId, 'the client app span is the root');
  const [clientProxy] = byParent(trace, appSpan.spanId);
  assert.ok(clientProxy, 'a span is the child of the client app span');
  assert.equal(service(trace, clientProxy), 'client');
  assert.equal(tag(clientProxy, 'span.kind'), 'client');
  const [serverProxy] = byParent(trace, clientProxy.spanID);
  assert.ok(serverProxy, 'a span is the child of the client proxy span');
  assert.equal(serverProxy.spanID, serverProxySpan, 'the server app was handed the server proxy span as its parent');
  assert.equal(service(trace, serverProxy), 'server');
  assert.equal(tag(serverProxy, 'span.kind'), 'server');
  const [leaf] = byParent(trace, serverProxy.spanID);
  assert.equal(leaf?.spanID, serverAppSpan.spanId, 'the server app span is the child of the server proxy span');

  for (const s of [clientProxy, serverProxy]) {
    assert.equal(s.operationName, 'GET');
    assert.equal(tag(s, 'http.request.method'), 'GET');
    assert.equal(tag(s, 'http.response.status_code'), 200);
    assert.equal(tag(s, 'url.path'), '/things');
    assert.equal(tag(s, 'server.address'), 'web.test.svc');
    assert.equal(tag(s, 'server.port'), 80);
    assert.equal(tag(s, 'weft.server_id'), SERVER_ID);
    assert.equal(tag(s, 'weft.client_id'), CLIENT_ID);
    assert.equal(tag(s, 'weft.tls'), true);
  }
  assert.equal(tag(clientProxy, 'network.protocol.version'), '1.1');
  assert.equal(tag(clientProxy, 'network.peer.address'), '127.0.0.1');
  assert.equal(tag(clientProxy, 'weft.direction'), 'outbound');
  assert.equal(tag(serverProxy, 'weft.direction'), 'inbound');
  // HTTP/1 from the app rides HTTP/2 between the proxies and is restored at the server proxy.
  assert.equal(tag(serverProxy, 'network.protocol.version'), '1.1');
  assert.equal(processTag(trace, clientProxy, 'k8s.namespace.name'), 'test');
  assert.equal(processTag(trace, serverProxy, 'k8s.pod.name'), 'server-pod');
});

test('a retried request is one client span with http.request.resend_count, and each attempt a server span under it', { timeout: 60_000 }, async () => {
  const traceId = hex(16);
  const caller = hex(8);
  const { status } = await get(mesh.client.ports.outbound, { traceparent: `00-${traceId}-${caller}-01`, 'x-fail-first': '1' }, FLAKY);
  assert.equal(status, 200, 'the retry answered');
  const trace = await jaeger.waitForTrace(traceId, 3);
  const clients = byParent(trace, caller);
  assert.equal(clients.length, 1, 'one client span for the request, whatever the attempts');
  const client = clients[0]!;
  assert.equal(tag(client, 'http.request.resend_count'), 1);
  assert.equal(tag(client, 'http.response.status_code'), 200);
  // The profile route the request matched: http.route, and the span named `{method} {http.route}`.
  assert.equal(tag(client, 'http.route'), 'flaky');
  assert.equal(client.operationName, 'GET flaky');
  const attempts = byParent(trace, client.spanID);
  assert.deepEqual(attempts.map((s) => tag(s, 'http.response.status_code')).sort(), [200, 503], 'each attempt is a server span under the client span');
  for (const a of attempts) {
    assert.equal(tag(a, 'http.route'), 'flaky', 'the server proxy matched the same route inbound');
    assert.equal(a.operationName, 'GET flaky');
  }
});

test('B3 single in: W3C and B3 out to the app, same trace, spans in Jaeger under the B3 parent', { timeout: 60_000 }, async () => {
  const traceId = hex(16);
  const caller = hex(8);
  const { status, id } = await get(mesh.client.ports.outbound, { b3: `${traceId}-${caller}-1` });
  assert.equal(status, 200);
  const h = received.get(id)!;
  const [gotTrace, parent, flags] = w3c(h);
  assert.deepEqual([gotTrace, flags], [traceId, '01']);
  const [b3Trace, b3Span, b3Sampled] = String(h.b3).split('-');
  assert.deepEqual([b3Trace, b3Span, b3Sampled], [traceId, parent, '1'], 'the B3 header carries the same trace and parent as traceparent');
  const trace = await jaeger.waitForTrace(traceId, 2);
  const [clientProxy] = byParent(trace, caller);
  assert.ok(clientProxy, 'the client proxy span is the child of the B3 caller span');
  assert.equal(byParent(trace, clientProxy.spanID)[0]?.spanID, parent);
});

test('B3 multi in with a 64-bit trace id: the app gets the B3 headers back and a W3C traceparent of the padded id', { timeout: 60_000 }, async () => {
  const traceId64 = hex(8);
  const caller = hex(8);
  const { id } = await get(mesh.client.ports.outbound, { 'x-b3-traceid': traceId64, 'x-b3-spanid': caller, 'x-b3-sampled': '1' });
  const h = received.get(id)!;
  const [gotTrace, parent] = w3c(h);
  assert.equal(gotTrace, `${'0'.repeat(16)}${traceId64}`);
  assert.equal(h['x-b3-traceid'], traceId64);
  assert.equal(h['x-b3-spanid'], parent);
  assert.equal(h['x-b3-sampled'], '1');
  const trace = await jaeger.waitForTrace(gotTrace, 2);
  assert.ok(byParent(trace, caller)[0], 'the client proxy span is the child of the B3 caller span');
});

test('a sampled gRPC call gives rpc spans (service/method, status) on both proxies', { timeout: 60_000 }, async () => {
  const traceId = hex(16);
  const caller = hex(8);
  const Ctor = grpc.makeGenericClientConstructor(ECHO, 'Echo');
  const client = new Ctor(`127.0.0.1:${mesh.client.ports.outbound}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': GRPC }) as unknown as grpc.Client & {
    Say(req: Buffer, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, rsp?: Buffer) => void): void;
  };
  const md = new grpc.Metadata();
  md.set('traceparent', `00-${traceId}-${caller}-01`);
  const key = `grpc-${hex(4)}`;
  const rsp = await new Promise<Buffer>((resolve, reject) => client.Say(Buffer.from(key), md, (err, r) => (err ? reject(err) : resolve(r!))));
  client.close();
  assert.equal(rsp.toString(), key);
  assert.equal(w3c(received.get(key))[0], traceId);
  const trace = await jaeger.waitForTrace(traceId, 2);
  const [clientProxy] = byParent(trace, caller);
  assert.ok(clientProxy);
  const [serverProxy] = byParent(trace, clientProxy.spanID);
  assert.ok(serverProxy);
  for (const s of [clientProxy, serverProxy]) {
    assert.equal(s.operationName, 'weft.test.Echo/Say');
    assert.equal(tag(s, 'rpc.system'), 'grpc');
    assert.equal(tag(s, 'rpc.service'), 'weft.test.Echo');
    assert.equal(tag(s, 'rpc.method'), 'Say');
    assert.equal(tag(s, 'rpc.grpc.status_code'), 0);
    assert.equal(tag(s, 'network.protocol.version'), '2');
  }
});

test('an unsampled request is passed on untouched and leaves no span; no context at rate 0 adds none', { timeout: 60_000 }, async () => {
  const traceId = hex(16);
  const tp = `00-${traceId}-${hex(8)}-00`;
  const { status, id } = await get(mesh.client.ports.outbound, { traceparent: tp });
  assert.equal(status, 200);
  assert.equal(received.get(id)!.traceparent, tp, 'the caller\'s unsampled context reaches the app as it was');
  const bare = await get(mesh.client.ports.outbound, {});
  assert.equal(received.get(bare.id)!.traceparent, undefined, 'no trace started at sampling rate 0');
  // A sampled request after it: once its spans are in Jaeger, the proxies have flushed past the unsampled one.
  const later = hex(16);
  await get(mesh.client.ports.outbound, { traceparent: `00-${later}-${hex(8)}-01` });
  await jaeger.waitForTrace(later, 2);
  assert.equal(await jaeger.trace(traceId), undefined, 'Jaeger holds no span of the unsampled trace');
});

test('with the collector down requests succeed, and the spans dropped are counted on /metrics', { timeout: 90_000 }, async () => {
  const dead = `http://127.0.0.1:${await unusedPort()}/v1/traces`;
  const appPort = (app.address() as AddressInfo).port;
  const down = await startMesh({ appPort, clientConfig: { tracing: tracing(dead, { sampleRate: 1 }) }, serverConfig: { tracing: tracing(dead, { sampleRate: 1 }) } });
  try {
    down.discovery.set(WEB, [endpoint('127.0.0.1', appPort, { identity: SERVER_ID, inboundPort: down.server.ports.inbound })]);
    for (let i = 0; i < 20; i++) assert.equal((await get(down.client.ports.outbound, {})).status, 200);
    const dropped = async (p: typeof down.client): Promise<number> =>
      metricValue(await (await fetch(`http://127.0.0.1:${p.ports.admin}/metrics`)).text(), 'trace_spans_dropped_total', { reason: 'export_failed' });
    // A batch is dropped after four refused sends, ~7 s of retry waits (RETRY in @weft/common/trace/exporter).
    const deadline = Date.now() + 45_000;
    while ((await dropped(down.client)) < 20 || (await dropped(down.server)) < 20) {
      assert.ok(Date.now() < deadline, `drops counted: client ${await dropped(down.client)}, server ${await dropped(down.server)}; expected 20 each`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await down.close();
  }
});

test('a full span queue drops (and counts) rather than grows', { timeout: 60_000 }, async () => {
  const appPort = (app.address() as AddressInfo).port;
  // The flush interval outlasts the test: nothing leaves the queue of 3.
  const full = await startMesh({ appPort, clientConfig: { tracing: tracing(jaeger.otlpUrl, { sampleRate: 1, maxQueue: 3, flushIntervalMs: 600_000 }) } });
  try {
    full.discovery.set(WEB, [endpoint('127.0.0.1', appPort, { identity: SERVER_ID, inboundPort: full.server.ports.inbound })]);
    for (let i = 0; i < 10; i++) assert.equal((await get(full.client.ports.outbound, {})).status, 200);
    const text = await (await fetch(`http://127.0.0.1:${full.client.ports.admin}/metrics`)).text();
    assert.equal(metricValue(text, 'trace_spans_dropped_total', { reason: 'queue_full' }), 7);
  } finally {
    await full.close();
  }
});
