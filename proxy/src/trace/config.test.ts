import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '@weft/common/errors';
import { collectorUrl, parseSampling, traceConfig } from './config.js';

test('bad tracing settings are refused with the variable named', () => {
  assert.equal(collectorUrl('jaeger.weft-jaeger:4318'), 'http://jaeger.weft-jaeger:4318/v1/traces');
  assert.equal(collectorUrl('https://otel.example/custom/path'), 'https://otel.example/custom/path');
  assert.throws(() => collectorUrl('jaeger'), (e: unknown) => e instanceof ConfigError && /WEFT_PROXY_TRACE_COLLECTOR.*no port/.test(e.message));
  assert.throws(() => collectorUrl('grpc://x:4317'), /only http and https/);
  assert.throws(() => parseSampling('2'), /WEFT_PROXY_TRACE_SAMPLING="2"/);
  assert.throws(() => parseSampling('lots'), ConfigError);
  const pod = { namespace: 'ns', name: 'web-1', workloadKind: 'Deployment', workloadName: 'web', contextToken: '{"nodeName":"node-a"}' };
  assert.equal(traceConfig({ collector: undefined, sampling: undefined, serviceName: undefined, queueSize: 1, flushIntervalMs: 1 }, pod), undefined);
  const c = traceConfig({ collector: 'c:4318', sampling: '0.5', serviceName: undefined, queueSize: 10, flushIntervalMs: 100 }, pod)!;
  assert.deepEqual(c.resource, { 'service.name': 'web', 'k8s.namespace.name': 'ns', 'k8s.pod.name': 'web-1', 'k8s.node.name': 'node-a', 'k8s.deployment.name': 'web' });
  assert.equal(c.sampleRate, 0.5);
});
