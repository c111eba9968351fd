// destination's tracing against a real Jaeger (common/src/testing/jaeger.ts):
// a real destination over mTLS exporting to it, called by a real gRPC client
// with a sampled `traceparent`. A Get stream's span runs from the open to the
// first update and reaches Jaeger while the stream stays open; the caller's
// mesh identity is on it. With WEFT_E2E_KUBECONFIG (the e2e environment's
// real API server, `.ci/run`) the lists behind the informers are CLIENT spans.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { destination } from '@weft/api';
import { createGrpcClient } from '@weft/common/grpc';
import { loadKubeConfig } from '@weft/common/k8s/client';
import { TestPki } from '@weft/common/testing/pki';
import { jaegerForFile, parentOf, tag, type JaegerTrace } from '@weft/common/testing/jaeger';
import { startTracing, type Tracing } from '@weft/common/trace/tracing';
import { startDestination, type DestinationController } from './destination.js';
import { MemorySource } from './sources/memory.js';
import { KubernetesSource } from './sources/kubernetes.js';
import type { DiscoverySource } from './sources/source.js';
import { pod, service, slice } from './testing/fixtures.js';
import { DESTINATION_ID } from './testing/serve.js';

const log = pino({ level: 'silent' });
const WEB_ID = 'web.demo.serviceaccount.identity.weft.cluster.local';
const pki = new TestPki();
const anchor = pki.cert({ subject: '/CN=root.weft', ca: true });
const serving = pki.cert({ subject: '/CN=destination', issuer: anchor, dns: [DESTINATION_ID] });
const caller = pki.cert({ subject: '/CN=web', issuer: anchor, dns: [WEB_ID] });
const file = jaegerForFile();
after(() => pki.dispose());

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

async function start(source: DiscoverySource, tracing: Tracing): Promise<DestinationController> {
  const controller = await startDestination({ source, log, tls: { ca: anchor.cert, cert: serving.cert, key: serving.key }, destinationPort: 0, policyPort: 0, adminPort: 0, tracing });
  file.defer(() => controller.close(), () => tracing.exporter.close());
  return controller;
}

function tracingTo(url: string, sampleRate: number): Tracing {
  return startTracing({ collectorUrl: url, sampleRate, resource: { 'service.name': 'destination' }, maxQueue: 1000, flushIntervalMs: 50 }, 'weft-destination', new Registry(), log);
}

test('a Get stream is one SERVER span from its open to its first update, under the caller, with its mesh identity; it ends while the stream stays open', { timeout: 120_000 }, async () => {
  const source = new MemorySource();
  source.apply('Service', service('web', { clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, targetPort: 8080 }] }));
  source.apply('Pod', pod('web-1', { ip: '10.1.0.1', meshed: true, serviceAccount: 'web', owner: 'deployment/web', labels: { app: 'web' } }));
  source.apply('EndpointSlice', slice('web-a', 'web', [{ name: 'http', port: 8080 }], [{ ip: '10.1.0.1', pod: 'web-1' }]));
  const tracing = tracingTo(file.jaeger.otlpUrl, 0);
  const controller = await start(source, tracing);
  const client = createGrpcClient(destination.Destination, { baseUrl: `https://127.0.0.1:${controller.destinationPort}`, ca: anchor.cert, cert: caller.cert, key: caller.key, serverName: DESTINATION_ID });
  const traceId = hex(16);
  const parent = hex(8);
  const ac = new AbortController();
  const it = client.get({ scheme: 'k8s', path: 'web.demo.svc.cluster.local:80' }, { signal: ac.signal, headers: { traceparent: `00-${traceId}-${parent}-01` } })[Symbol.asyncIterator]();
  try {
    assert.equal(((await it.next()).value as destination.Update).update.case, 'add');
    // A live update on the same stream: not a span of its own.
    source.apply('EndpointSlice', slice('web-a', 'web', [{ name: 'http', port: 8080 }], [{ ip: '10.1.0.1', pod: 'web-1' }, { ip: '10.1.0.2' }]));
    assert.equal(((await it.next()).value as destination.Update).update.case, 'add');
    await tracing.exporter.flush();
    const trace: JaegerTrace = await file.jaeger.waitForTrace(traceId, 1);
    assert.equal(trace.spans.length, 1, trace.spans.map((s) => s.operationName).join(', '));
    const span = trace.spans[0]!;
    assert.equal(parentOf(span), parent);
    assert.equal(span.operationName, 'weft.destination.v1.Destination/Get');
    assert.equal(tag(span, 'rpc.service'), 'weft.destination.v1.Destination');
    assert.equal(tag(span, 'rpc.method'), 'Get');
    assert.equal(tag(span, 'rpc.grpc.status_code'), 0);
    assert.equal(tag(span, 'weft.rpc.stream'), 'first_message');
    assert.equal(tag(span, 'weft.client_id'), WEB_ID);
    assert.equal(tag(span, 'weft.tls'), true);
    assert.equal(tag(span, 'client.address'), '127.0.0.1');
  } finally {
    ac.abort();
    await it.return?.().catch(() => undefined);
  }
});

// Real parts: the informers' lists against the e2e environment's API server.
const e2eKubeconfig = process.env['WEFT_E2E_KUBECONFIG'];
const skipReason = e2eKubeconfig ? false : 'WEFT_E2E_KUBECONFIG is not set (no real API server for the list spans)';
if (skipReason) console.log(`# skipping the Kubernetes list tracing test: ${skipReason}`);

test("the informers' lists and the start-up access reviews are Kubernetes CLIENT spans with status, server and resource (real API server)", { skip: skipReason, timeout: 300_000 }, async () => {
  const tracing = tracingTo(file.jaeger.otlpUrl, 1);
  const kc = loadKubeConfig({ kubeconfig: e2eKubeconfig!, tracer: tracing.tracer });
  await start(new KubernetesSource(kc, log), tracing);
  await tracing.exporter.flush();
  const server = new URL(kc.getCurrentCluster()!.server);
  for (const [operation, resource] of [
    ['GET /api/v1/services', 'services'],
    ['GET /apis/discovery.k8s.io/v1/endpointslices', 'endpointslices.discovery.k8s.io'],
    ['GET /api/v1/pods', 'pods'],
    ['POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews', 'selfsubjectaccessreviews.authorization.k8s.io'],
  ] as const) {
    let traces: JaegerTrace[] = [];
    const deadline = Date.now() + 20_000;
    while ((traces = await file.jaeger.traces('destination', operation)).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const span = traces[0]?.spans.find((s) => s.operationName === operation);
    assert.ok(span, `a span ${operation} in Jaeger`);
    assert.equal(tag(span, 'span.kind'), 'client');
    assert.equal(tag(span, 'k8s.resource'), resource);
    assert.equal(tag(span, 'server.address'), server.hostname);
    assert.ok([200, 201].includes(tag(span, 'http.response.status_code') as number), `${operation}: ${tag(span, 'http.response.status_code')}`);
    assert.equal(parentOf(span), undefined, 'start-up calls are roots: no RPC is being served');
  }
});
