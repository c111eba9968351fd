import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '@weft/common/errors';
import { loadIdentityConfig } from './config.js';

test("identity's tracing: off without a collector; the component, pod and node as resource when set", () => {
  assert.equal(loadIdentityConfig({}).tracing, undefined);
  const c = loadIdentityConfig({ WEFT_IDENTITY_TRACE_COLLECTOR: 'http://otel.tracing:4318', WEFT_IDENTITY_TRACE_SAMPLING: '0.2', WEFT_IDENTITY_POD_NAMESPACE: 'weft', WEFT_IDENTITY_POD_NAME: 'weft-identity-1', WEFT_IDENTITY_NODE_NAME: 'node-a' }).tracing!;
  assert.equal(c.collectorUrl, 'http://otel.tracing:4318/v1/traces');
  assert.equal(c.sampleRate, 0.2);
  assert.deepEqual(c.resource, { 'service.name': 'identity', 'k8s.namespace.name': 'weft', 'k8s.pod.name': 'weft-identity-1', 'k8s.node.name': 'node-a' });
});

test('a bad tracing setting is reported with the other problems, by variable', () => {
  assert.throws(
    () => loadIdentityConfig({ WEFT_IDENTITY_TRACE_COLLECTOR: 'otel', WEFT_IDENTITY_ISSUANCE_LIFETIME: '10s' }),
    (e: unknown) => e instanceof ConfigError && e.problems.some((p) => /WEFT_IDENTITY_TRACE_COLLECTOR="otel" has no port/.test(p)) && e.problems.some((p) => /WEFT_IDENTITY_ISSUANCE_LIFETIME/.test(p)),
  );
});
