// The admission webhook's tracing against a real Jaeger (common/src/testing/jaeger.ts):
// each AdmissionReview POSTed with a sampled `traceparent` (as an API server
// with tracing on sends it) is a SERVER span under it, saying what was
// reviewed and whether a proxy was injected; a malformed review is traced
// with its 400.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { TestPki, type CertAndKey } from '@weft/common/testing/pki';
import { createLogger } from '@weft/common/log';
import { Jaeger, parentOf, tag } from '@weft/common/testing/jaeger';
import { startTracing, type Tracing } from '@weft/common/trace/tracing';
import { startWebhookServer, type WebhookServer } from './webhook-server.js';
import { testMesh } from './testing/test-mesh.js';
import { review, wirePod } from './testing/admission-review.js';

const log = createLogger('injector-test', 'silent');
const namespaces: Record<string, Record<string, string>> = { meshed: { 'weft.io/inject': 'enabled' }, plain: {} };
let pki: TestPki;
let ca: CertAndKey;
let jaeger: Jaeger;
let tracing: Tracing;
let server: WebhookServer;

before(async () => {
  jaeger = await Jaeger.start();
  pki = new TestPki();
  ca = pki.cert({ subject: '/CN=webhook-ca', ca: true });
  const leaf = pki.cert({ subject: '/CN=weft-injector.weft.svc', dns: ['localhost'], issuer: ca });
  tracing = startTracing({ collectorUrl: jaeger.otlpUrl, sampleRate: 0, resource: { 'service.name': 'injector' }, maxQueue: 100, flushIntervalMs: 50 }, 'weft-injector', new Registry(), log);
  const mesh = testMesh();
  server = await startWebhookServer({
    host: '127.0.0.1',
    port: 0,
    certFile: pki.file('tls.crt', leaf.cert),
    keyFile: pki.file('tls.key', leaf.key),
    certPollMs: 60_000,
    admission: { mesh: () => mesh, namespaceAnnotations: async (ns) => namespaces[ns] ?? {} },
    notReadyReason: () => undefined,
    log,
    tracer: tracing.tracer,
  });
});

after(async () => {
  await server?.close();
  await tracing?.exporter.close();
  await jaeger?.stop();
  pki?.dispose();
});

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

function post(body: string, traceparent: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port: server.port, servername: 'localhost', method: 'POST', path: '/inject', ca: ca.cert, headers: { 'content-type': 'application/json', traceparent } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('an AdmissionReview is a SERVER span under the caller: operation, kind, namespace and whether a proxy was injected', { timeout: 120_000 }, async () => {
  const cases = [
    { namespace: 'meshed', injected: true, result: 'injected' },
    { namespace: 'plain', injected: false, result: 'skipped' },
  ];
  for (const c of cases) {
    const traceId = hex(16);
    const caller = hex(8);
    assert.equal(await post(review(wirePod(), c.namespace), `00-${traceId}-${caller}-01`), 200);
    await tracing.exporter.flush();
    const [span] = (await jaeger.waitForTrace(traceId, 1)).spans;
    assert.equal(parentOf(span!), caller);
    assert.equal(span!.operationName, 'POST /inject');
    assert.equal(tag(span!, 'span.kind'), 'server');
    assert.equal(tag(span!, 'http.route'), '/inject');
    assert.equal(tag(span!, 'http.response.status_code'), 200);
    assert.equal(tag(span!, 'weft.admission.operation'), 'CREATE');
    assert.equal(tag(span!, 'weft.admission.kind'), 'Pod');
    assert.equal(tag(span!, 'k8s.namespace.name'), c.namespace);
    assert.equal(tag(span!, 'weft.injected'), c.injected, c.namespace);
    assert.equal(tag(span!, 'weft.admission.result'), c.result);
  }
});

test('a malformed review is traced with its 400; an unsampled one leaves no span', { timeout: 120_000 }, async () => {
  const traceId = hex(16);
  assert.equal(await post('{not json', `00-${traceId}-${hex(8)}-01`), 400);
  const unsampled = hex(16);
  assert.equal(await post(review(wirePod(), 'meshed'), `00-${unsampled}-${hex(8)}-00`), 200);
  await tracing.exporter.flush();
  const [span] = (await jaeger.waitForTrace(traceId, 1)).spans;
  assert.equal(tag(span!, 'http.response.status_code'), 400);
  assert.equal(tag(span!, 'weft.admission.operation'), undefined, 'nothing was read from a body that did not parse');
  assert.equal(await jaeger.trace(unsampled), undefined);
});
