// identity's tracing against a real Jaeger (all-in-one v1.75.0 built from its
// Go module, common/src/testing/jaeger.ts): a real identity service exporting
// to it, called by a real gRPC client that sends a sampled `traceparent`, the
// traces read back through Jaeger's query API. With WEFT_E2E_KUBECONFIG (the
// e2e environment's real API server, `.ci/run`) the token is a real pod-bound
// ServiceAccount token and the TokenReview it costs is a CLIENT span under
// the Certify span.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { Code, ConnectError } from '@connectrpc/connect';
import { identity as api } from '@weft/api';
import { createGrpcClient } from '@weft/common/grpc';
import { k8s, loadKubeConfig } from '@weft/common/k8s/client';
import { TestPki } from '@weft/common/testing/pki';
import { jaegerForFile, parentOf, tag, type JaegerSpan, type JaegerTrace } from '@weft/common/testing/jaeger';
import { unusedPort } from '@weft/common/testing/ports';
import { OtlpHttpExporter } from '@weft/common/trace/exporter';
import { SpanRecord } from '@weft/common/trace/span';
import { startTracing, type Tracing } from '@weft/common/trace/tracing';
import { startIdentityService, type IdentityService } from './identity-service.js';
import { MemorySource } from './sources.js';
import type { TokenValidator } from './token-validator.js';
import { FakeTokenValidator } from './testing/fake-token-validator.js';
import { KubernetesTokenValidator } from './kubernetes-token-validator.js';
import { captureLog } from './testing/log-capture.js';
import { opensslCsr } from './testing/openssl-csr.js';

const pki = new TestPki();
const anchor = pki.cert({ subject: '/CN=root.weft', ca: true });
const issuer = pki.cert({ subject: '/CN=issuer', ca: true, issuer: anchor });
const { log } = captureLog();
const file = jaegerForFile();
after(() => pki.dispose());

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');
const identityOf = (ns: string, sa: string) => `${sa}.${ns}.serviceaccount.identity.weft.cluster.local`;

function settings(collectorUrl: string, sampleRate = 0.0) {
  return { collectorUrl, sampleRate, resource: { 'service.name': 'identity', 'k8s.namespace.name': 'weft', 'k8s.pod.name': 'weft-identity-0' }, maxQueue: 100, flushIntervalMs: 50 };
}

async function startIdentity(validator: TokenValidator, tracing: Tracing): Promise<{ service: IdentityService; client: ReturnType<typeof createGrpcClient<typeof api.Identity>> }> {
  const service = await startIdentityService({
    host: '127.0.0.1',
    port: 0,
    trustDomain: 'cluster.local',
    controlNamespace: 'weft',
    issuerSource: new MemorySource({ certPem: issuer.cert, keyPem: issuer.key }),
    trustSource: new MemorySource(anchor.cert),
    validator,
    log,
    registry: tracing.registry,
    tracer: tracing.tracer,
  });
  file.defer(() => service.close(), () => tracing.exporter.close());
  const client = createGrpcClient(api.Identity, { baseUrl: `https://127.0.0.1:${service.port}`, ca: anchor.cert, serverName: service.serverName });
  return { service, client };
}

function certify(client: ReturnType<typeof createGrpcClient<typeof api.Identity>>, identity: string, token: string, headers: Record<string, string>) {
  const csr = opensslCsr(pki, { key: 'ec', subject: `/CN=${identity}` }).der;
  return client.certify({ identity, token: new TextEncoder().encode(token), certificateSigningRequest: csr }, { headers });
}

/** The caller's own span, exported as an instrumented client would, so Jaeger shows the whole tree. */
async function exportCaller(traceId: string, spanId: string, startMs: number): Promise<void> {
  const exporter = new OtlpHttpExporter({ scope: 'test', url: file.jaeger.otlpUrl, resource: { 'service.name': 'caller' }, maxQueue: 10, maxBatch: 10, flushIntervalMs: 60_000, timeoutMs: 5000, registry: new Registry(), log });
  const span = new SpanRecord(traceId, spanId, undefined, 'certify', 'client', startMs);
  span.endMs = performance.timeOrigin + performance.now();
  exporter.push(span);
  await exporter.close();
}

const byId = (t: JaegerTrace, id: string): JaegerSpan | undefined => t.spans.find((s) => s.spanID === id);
const service = (t: JaegerTrace, s: JaegerSpan): string | undefined => t.processes[s.processID]?.serviceName;
const kind = (s: JaegerSpan): unknown => tag(s, 'span.kind');

test('a sampled Certify call is a SERVER span under the caller, with the RPC attributes and identity as the resource', { timeout: 120_000 }, async () => {
  const tracing = startTracing(settings(file.jaeger.otlpUrl), 'weft-identity', new Registry(), log);
  const validator = new FakeTokenValidator();
  const { client } = await startIdentity(validator, tracing);
  const traceId = hex(16);
  const caller = hex(8);
  const startMs = performance.timeOrigin + performance.now();
  await certify(client, identityOf('demo', 'web'), validator.issue('demo', 'web'), { traceparent: `00-${traceId}-${caller}-01` });
  // A refused call is traced too, with its status; INVALID_ARGUMENT is the caller's fault, not an error of the server.
  const refusedTrace = hex(16);
  await assert.rejects(certify(client, identityOf('demo', 'web'), 'forged', { traceparent: `00-${refusedTrace}-${caller}-01` }), (e: unknown) => e instanceof ConnectError && e.code === Code.Unauthenticated);
  await exportCaller(traceId, caller, startMs);
  await tracing.exporter.flush();

  const trace = await file.jaeger.waitForTrace(traceId, 2);
  const server = trace.spans.find((s) => parentOf(s) === caller && service(trace, s) === 'identity');
  assert.ok(server, `identity's span under the caller: ${trace.spans.map((s) => `${service(trace, s)}:${s.operationName}`).join(', ')}`);
  assert.ok(byId(trace, caller), "the caller's span is in the same trace");
  assert.equal(server.operationName, 'weft.identity.v1.Identity/Certify');
  assert.equal(kind(server), 'server');
  assert.equal(tag(server, 'rpc.system'), 'grpc');
  assert.equal(tag(server, 'rpc.service'), 'weft.identity.v1.Identity');
  assert.equal(tag(server, 'rpc.method'), 'Certify');
  assert.equal(tag(server, 'rpc.grpc.status_code'), 0);
  assert.equal(tag(server, 'client.address'), '127.0.0.1');
  assert.equal(tag(server, 'weft.client_id'), undefined, 'Certify callers present no certificate');
  const process = trace.processes[server.processID]!;
  assert.equal(process.tags.find((t) => t.key === 'k8s.pod.name')?.value, 'weft-identity-0');
  assert.equal(tag(server, 'otel.scope.name'), 'weft-identity');

  const refused = (await file.jaeger.waitForTrace(refusedTrace, 1)).spans[0]!;
  assert.equal(tag(refused, 'rpc.grpc.status_code'), Code.Unauthenticated);
  assert.equal(tag(refused, 'error'), undefined, 'a refused token is not a server error');
});

test('an unsampled call leaves no span, and a call without context is traced at the rate of identity (0 here)', { timeout: 120_000 }, async () => {
  const tracing = startTracing(settings(file.jaeger.otlpUrl, 0), 'weft-identity', new Registry(), log);
  const validator = new FakeTokenValidator();
  const { client } = await startIdentity(validator, tracing);
  const unsampled = hex(16);
  await certify(client, identityOf('demo', 'web'), validator.issue('demo', 'web'), { traceparent: `00-${unsampled}-${hex(8)}-00` });
  await certify(client, identityOf('demo', 'web'), validator.issue('demo', 'web'), {});
  // A sampled call after them: once it is in Jaeger, what the earlier calls would have sent is there too.
  const sampled = hex(16);
  await certify(client, identityOf('demo', 'web'), validator.issue('demo', 'web'), { traceparent: `00-${sampled}-${hex(8)}-01` });
  await tracing.exporter.flush();
  await file.jaeger.waitForTrace(sampled, 1);
  assert.equal(await file.jaeger.trace(unsampled), undefined);
  const text = await tracing.registry.metrics();
  assert.match(text, /^trace_spans_exported_total 1$/m, 'one span exported: the sampled call only');
});

test('with the collector down Certify answers, and the dropped spans are counted', { timeout: 120_000 }, async () => {
  const down = `http://127.0.0.1:${await unusedPort()}/v1/traces`;
  const tracing = startTracing(settings(down, 1), 'weft-identity', new Registry(), log);
  const validator = new FakeTokenValidator();
  const { client } = await startIdentity(validator, tracing);
  for (let i = 0; i < 5; i++) {
    const rsp = await certify(client, identityOf('demo', 'web'), validator.issue('demo', 'web'), {});
    assert.ok(rsp.leafCertificate.length > 0);
  }
  await tracing.exporter.flush();
  const text = await tracing.registry.metrics();
  assert.match(text, /^trace_spans_dropped_total\{reason="export_failed"\} 5$/m, text.split('\n').filter((l) => l.startsWith('trace_')).join('\n'));
});

// Real parts: the e2e environment's API server reviews the token; its TokenReview is a CLIENT span under Certify.
const e2eKubeconfig = process.env['WEFT_E2E_KUBECONFIG'];
const skipReason = e2eKubeconfig ? false : 'WEFT_E2E_KUBECONFIG is not set (no real API server for the TokenReview span)';
if (skipReason) console.log(`# skipping the real TokenReview tracing test: ${skipReason}`);

test('caller → identity SERVER span → Kubernetes TokenReview CLIENT span, one trace in Jaeger (real API server)', { skip: skipReason, timeout: 300_000 }, async () => {
  const tracing = startTracing(settings(file.jaeger.otlpUrl, 0), 'weft-identity', new Registry(), log);
  const admin = loadKubeConfig({ kubeconfig: e2eKubeconfig! });
  const core = admin.makeApiClient(k8s.CoreV1Api);
  const namespace = `wt-${hex(2)}`; // short: the identity is the CSR's CN (at most 64 characters)
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  file.defer(() => core.deleteNamespace({ name: namespace }));
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'web' } } });
  const pod = await core.createNamespacedPod({
    namespace,
    body: { metadata: { name: 'web-0' }, spec: { serviceAccountName: 'web', containers: [{ name: 'app', image: 'registry.invalid/none' }] } },
  });
  const token = (
    await core.createNamespacedServiceAccountToken({
      namespace,
      name: 'web',
      body: { spec: { audiences: ['identity.weft.io'], expirationSeconds: 600, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'web-0', uid: pod.metadata!.uid! } } },
    })
  ).status!.token;
  // identity's own client, as main.ts makes it: every API client of this KubeConfig traces its requests.
  const kc = loadKubeConfig({ kubeconfig: e2eKubeconfig!, tracer: tracing.tracer });
  const { client } = await startIdentity(new KubernetesTokenValidator(kc, log), tracing);
  const traceId = hex(16);
  const caller = hex(8);
  const startMs = performance.timeOrigin + performance.now();
  const rsp = await certify(client, identityOf(namespace, 'web'), token, { traceparent: `00-${traceId}-${caller}-01` });
  assert.ok(rsp.leafCertificate.length > 0);
  await exportCaller(traceId, caller, startMs);
  await tracing.exporter.flush();

  const trace = await file.jaeger.waitForTrace(traceId, 3);
  const server = trace.spans.find((s) => parentOf(s) === caller && service(trace, s) === 'identity');
  assert.ok(server, trace.spans.map((s) => `${service(trace, s)}:${s.operationName}`).join(', '));
  const reviews = trace.spans.filter((s) => parentOf(s) === server.spanID);
  assert.equal(reviews.length, 1, `one Kubernetes call under Certify: ${reviews.map((s) => s.operationName).join(', ')}`);
  const review = reviews[0]!;
  assert.equal(review.operationName, 'POST /apis/authentication.k8s.io/v1/tokenreviews');
  assert.equal(kind(review), 'client');
  assert.equal(tag(review, 'http.request.method'), 'POST');
  assert.equal(tag(review, 'http.response.status_code'), 201);
  assert.equal(tag(review, 'k8s.resource'), 'tokenreviews.authentication.k8s.io');
  const server0 = new URL(admin.getCurrentCluster()!.server);
  assert.equal(tag(review, 'server.address'), server0.hostname);
  assert.equal(tag(review, 'url.full'), `${server0.origin}/apis/authentication.k8s.io/v1/tokenreviews`);
  assert.ok(review.startTime >= server.startTime && review.startTime + review.duration <= server.startTime + server.duration, 'the review happens within the Certify call');
});
