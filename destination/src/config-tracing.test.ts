import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '@weft/common/errors';
import { loadDestinationConfig } from './config.js';

const tls = { WEFT_DESTINATION_TLS_CERT_FILE: '/c', WEFT_DESTINATION_TLS_KEY_FILE: '/k', WEFT_DESTINATION_TRUST_ANCHORS_FILE: '/a' };

test("destination's tracing: off without a collector; the component, pod and node as resource when set", () => {
  assert.equal(loadDestinationConfig(tls).tracing, undefined);
  const c = loadDestinationConfig({ ...tls, WEFT_DESTINATION_TRACE_COLLECTOR: 'otel.tracing:4318', WEFT_DESTINATION_POD_NAMESPACE: 'weft', WEFT_DESTINATION_POD_NAME: 'weft-destination-1', WEFT_DESTINATION_NODE_NAME: 'node-a' }).tracing!;
  assert.equal(c.collectorUrl, 'http://otel.tracing:4318/v1/traces');
  assert.equal(c.sampleRate, 0.01);
  assert.deepEqual(c.resource, { 'service.name': 'destination', 'k8s.namespace.name': 'weft', 'k8s.pod.name': 'weft-destination-1', 'k8s.node.name': 'node-a' });
});

test('a bad tracing setting is reported with the other problems, by variable', () => {
  assert.throws(
    () => loadDestinationConfig({ ...tls, WEFT_DESTINATION_TRACE_COLLECTOR: 'otel:4318', WEFT_DESTINATION_TRACE_SAMPLING: '1.5', WEFT_DESTINATION_CLUSTER_NETWORKS: 'nope' }),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.problems.some((p) => /WEFT_DESTINATION_TRACE_SAMPLING="1.5" is not a probability/.test(p)) &&
      e.problems.some((p) => /WEFT_DESTINATION_CLUSTER_NETWORKS/.test(p)),
  );
});
