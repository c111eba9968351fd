import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../errors.js';
import { loadConfig } from '../config.js';
import { controlPlaneTraceConfig, controlPlaneTraceSchema } from './config.js';

const parse = (vars: Record<string, string>) => controlPlaneTraceConfig('IDENTITY', 'identity', loadConfig(controlPlaneTraceSchema('IDENTITY'), vars));

test('a control-plane component traces only when a collector is set', () => {
  assert.equal(parse({}), undefined);
  assert.equal(parse({ WEFT_IDENTITY_TRACE_COLLECTOR: ' ' }), undefined);
});

test("a component's tracing: its name as service.name, the pod's namespace, name and node as resource, 1 % by default", () => {
  const c = parse({
    WEFT_IDENTITY_TRACE_COLLECTOR: 'weft-jaeger.weft-viz:4318',
    WEFT_IDENTITY_POD_NAMESPACE: 'weft',
    WEFT_IDENTITY_POD_NAME: 'weft-identity-abc',
    WEFT_IDENTITY_NODE_NAME: 'node-a',
  })!;
  assert.equal(c.collectorUrl, 'http://weft-jaeger.weft-viz:4318/v1/traces');
  assert.equal(c.sampleRate, 0.01);
  assert.deepEqual(c.resource, { 'service.name': 'identity', 'k8s.namespace.name': 'weft', 'k8s.pod.name': 'weft-identity-abc', 'k8s.node.name': 'node-a' });
  assert.equal(c.maxQueue, 2048);
  assert.equal(c.flushIntervalMs, 1000);
  assert.equal(parse({ WEFT_IDENTITY_TRACE_COLLECTOR: 'c:4318', WEFT_IDENTITY_TRACE_SAMPLING: '1' })!.sampleRate, 1);
});

test('bad control-plane tracing settings are refused together, each with its variable named', () => {
  assert.throws(
    () => parse({ WEFT_IDENTITY_TRACE_COLLECTOR: 'jaeger', WEFT_IDENTITY_TRACE_SAMPLING: '2' }),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.problems.length === 2 &&
      /WEFT_IDENTITY_TRACE_COLLECTOR="jaeger" has no port/.test(e.problems[0]!) &&
      /WEFT_IDENTITY_TRACE_SAMPLING="2" is not a probability/.test(e.problems[1]!),
  );
  assert.throws(() => parse({ WEFT_IDENTITY_TRACE_COLLECTOR: 'grpc://c:4317' }), /WEFT_IDENTITY_TRACE_COLLECTOR.*only http and https/);
});
