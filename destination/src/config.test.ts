// destination's environment: defaults, and every bad value named at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '@weft/common/errors';
import { loadDestinationConfig } from './config.js';

const tls = { WEFT_DESTINATION_TLS_CERT_FILE: '/c', WEFT_DESTINATION_TLS_KEY_FILE: '/k', WEFT_DESTINATION_TRUST_ANCHORS_FILE: '/a' };

test('defaults follow docs/contracts.md ports and the mesh names', () => {
  const c = loadDestinationConfig(tls);
  assert.equal(c.destinationPort, 8086);
  assert.equal(c.policyPort, 8090);
  assert.equal(c.adminPort, 9996);
  assert.deepEqual(c.source, { kind: 'kubernetes' });
  assert.equal(c.settings.defaultInboundPolicy, 'all-unauthenticated');
  assert.equal(c.settings.proxyInboundPort, 4143);
});

test('the file source and overrides are parsed', () => {
  const c = loadDestinationConfig({ ...tls, WEFT_DESTINATION_SOURCE: 'file', WEFT_DESTINATION_DISCOVERY_FILE: '/m.yaml', WEFT_DESTINATION_DEFAULT_INBOUND_POLICY: 'deny', WEFT_DESTINATION_CLUSTER_NETWORKS: '10.0.0.0/8, fd00::/8' });
  assert.deepEqual(c.source, { kind: 'file', path: '/m.yaml' });
  assert.equal(c.settings.defaultInboundPolicy, 'deny');
  assert.deepEqual(c.settings.clusterNetworks, ['10.0.0.0/8', 'fd00::/8']);
});

test('bad values are all reported by name', () => {
  assert.throws(
    () => loadDestinationConfig({ WEFT_DESTINATION_PORT: 'x', WEFT_DESTINATION_DEFAULT_INBOUND_POLICY: 'allow' }),
    (err: unknown) =>
      err instanceof ConfigError &&
      ['WEFT_DESTINATION_PORT', 'WEFT_DESTINATION_DEFAULT_INBOUND_POLICY', 'WEFT_DESTINATION_TLS_CERT_FILE'].every((v) => err.message.includes(v)),
  );
  assert.throws(() => loadDestinationConfig({ ...tls, WEFT_DESTINATION_CLUSTER_NETWORKS: '10.0.0.0/33' }), /not a CIDR/);
  assert.throws(() => loadDestinationConfig({ ...tls, WEFT_DESTINATION_SOURCE: 'file' }), /WEFT_DESTINATION_DISCOVERY_FILE is required/);
});
