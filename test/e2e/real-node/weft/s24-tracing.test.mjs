// Scenario 24: tracing in the cluster (docs/tracing.md). Jaeger all-in-one
// (built from its Go module, test/e2e/lib/jaeger-build.mjs) runs on the host
// with its OTLP receiver on the address pods reach the host by; two meshed
// pods carry `config.weft.io/trace-collector` pointing at it. A Job's app
// calls the echo Service with a sampled W3C context; Jaeger then holds the
// client proxy's CLIENT span (child of the app's span) and the server
// proxy's SERVER span (child of the client span), with the resource the
// injector's environment gives: service.name = the workload, the namespace,
// the pod and the real node name; the mesh identities on the spans.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { notRunning, waitFor } from '../../lib/env.mjs';
import { echoPod } from '../../lib/pods.mjs';
import { podReady, runScriptJob } from '../../lib/node-pods.mjs';
import { cleanUp, meshedWeft, realNodeEnv, webService } from '../../lib/scenario-setup.mjs';
import { HOST_IP } from '../../lib/node-net.mjs';
import { WEFT_NS } from '../../lib/weft-install.mjs';
import { ensureJaeger } from '../../lib/jaeger-build.mjs';

const NS = 'weft-e2e-s24';
let env;
let installed = [];
let jaeger;
let dir;
let collector;
let queryUrl;

function freePort(host) {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, host, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

before(async () => {
  if (notRunning) return;
  env = realNodeEnv();
  const { paths } = await ensureJaeger((l) => process.stderr.write(l));
  const [otlp, query, grpc] = [await freePort(HOST_IP), await freePort('127.0.0.1'), await freePort('127.0.0.1')];
  dir = mkdtempSync(join(tmpdir(), 'weft-e2e-jaeger-'));
  writeFileSync(join(dir, 'config.yaml'), [
    'service:',
    '  extensions: [jaeger_storage, jaeger_query]',
    '  pipelines: { traces: { receivers: [otlp], processors: [batch], exporters: [jaeger_storage_exporter] } }',
    '  telemetry: { metrics: { level: none }, logs: { level: warn } }',
    'extensions:',
    `  jaeger_query: { storage: { traces: mem }, http: { endpoint: "127.0.0.1:${query}" }, grpc: { endpoint: "127.0.0.1:${grpc}" } }`,
    '  jaeger_storage: { backends: { mem: { memory: { max_traces: 1000 } } } }',
    `receivers: { otlp: { protocols: { http: { endpoint: "${HOST_IP}:${otlp}" } } } }`,
    'processors: { batch: { timeout: 100ms } }',
    'exporters: { jaeger_storage_exporter: { trace_storage: mem } }',
    '',
  ].join('\n'));
  jaeger = spawn(paths.jaeger, ['--config', join(dir, 'config.yaml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  collector = `${HOST_IP}:${otlp}`;
  queryUrl = `http://127.0.0.1:${query}`;
  await waitFor('Jaeger ready', async () => (await globalThis.fetch(`${queryUrl}/api/services`)).ok, { timeoutMs: 60_000, intervalMs: 500 });

  installed = await meshedWeft(env, NS, 'caller');
  const web = echoPod(env.echoImage, 'web');
  // The server follows the caller's decision: its own rate is 0.
  web.metadata.annotations = { 'config.weft.io/trace-collector': collector, 'config.weft.io/trace-sampling': '0' };
  await env.kube.create(`/api/v1/namespaces/${NS}/pods`, web);
  await webService(env, NS);
  await podReady(env, NS, 'web');
});

after(async () => {
  if (!env) return;
  await cleanUp(env, [NS], installed);
  if (jaeger && jaeger.exitCode === null) {
    const gone = new Promise((resolve) => jaeger.once('exit', resolve));
    jaeger.kill('SIGTERM');
    await gone;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const tag = (span, key) => span.tags.find((t) => t.key === key)?.value;
const parentOf = (span) => span.references.find((r) => r.refType === 'CHILD_OF')?.spanID;

test('a meshed call with a sampled W3C context gives client and server proxy spans in Jaeger, named after the workloads, with namespace, pod and node', { skip: notRunning }, async () => {
  const traceId = randomBytes(16).toString('hex');
  const appSpan = randomBytes(8).toString('hex');
  const script = [
    `const r = await globalThis.fetch('http://web/traced', { headers: { traceparent: '00-${traceId}-${appSpan}-01' } });`,
    "console.log('caller: ' + r.status);",
    'process.exit(r.status === 200 ? 0 : 1);',
  ].join(' ');
  const callerPod = await runScriptJob(env, NS, {
    name: 'caller',
    serviceAccountName: 'caller',
    script,
    module: true,
    annotations: { 'config.weft.io/trace-collector': collector, 'config.weft.io/trace-sampling': '0' },
  });
  const webPod = await env.kube.get(`/api/v1/namespaces/${NS}/pods/web`);

  const trace = await waitFor('both proxy spans in Jaeger', async () => {
    const rsp = await globalThis.fetch(`${queryUrl}/api/traces/${traceId}`);
    if (!rsp.ok) return undefined;
    const t = (await rsp.json()).data?.[0];
    return t && t.spans.length >= 2 ? t : undefined;
  }, { timeoutMs: 60_000, intervalMs: 500 });
  const resource = (span) => Object.fromEntries(trace.processes[span.processID].tags.map((t) => [t.key, t.value]));
  const service = (span) => trace.processes[span.processID].serviceName;

  const client = trace.spans.find((s) => parentOf(s) === appSpan);
  assert.ok(client, `a span under the app's span: ${JSON.stringify(trace.spans.map((s) => [s.spanID, parentOf(s)]))}`);
  const server = trace.spans.find((s) => parentOf(s) === client.spanID);
  assert.ok(server, 'a span under the client proxy span');
  assert.equal(tag(client, 'span.kind'), 'client');
  assert.equal(tag(server, 'span.kind'), 'server');
  assert.equal(service(client), 'caller', 'service.name: the Job');
  assert.equal(service(server), 'web', 'service.name: the pod (no owner)');
  assert.deepEqual(
    { ns: resource(client)['k8s.namespace.name'], pod: resource(client)['k8s.pod.name'], node: resource(client)['k8s.node.name'], job: resource(client)['k8s.job.name'] },
    { ns: NS, pod: callerPod.metadata.name, node: callerPod.spec.nodeName, job: 'caller' },
  );
  assert.deepEqual(
    { ns: resource(server)['k8s.namespace.name'], pod: resource(server)['k8s.pod.name'], node: resource(server)['k8s.node.name'] },
    { ns: NS, pod: 'web', node: webPod.spec.nodeName },
  );
  const callerId = `caller.${NS}.serviceaccount.identity.${WEFT_NS}.cluster.local`;
  const webId = `default.${NS}.serviceaccount.identity.${WEFT_NS}.cluster.local`;
  for (const s of [client, server]) {
    assert.equal(tag(s, 'weft.client_id'), callerId);
    assert.equal(tag(s, 'weft.server_id'), webId);
    assert.equal(tag(s, 'weft.tls'), true);
    assert.equal(tag(s, 'http.response.status_code'), 200);
    assert.equal(tag(s, 'url.path'), '/traced');
  }
  console.log(`# trace ${traceId}: ${service(client)} CLIENT → ${service(server)} SERVER on node ${resource(server)['k8s.node.name']}, ${callerId} → ${webId}`);
});
