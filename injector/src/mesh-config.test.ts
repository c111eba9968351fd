import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@weft/common/errors';
import { TestPki } from '@weft/common/testing/pki';
import { loadMeshConfig, supportsNativeSidecars } from './mesh-config.js';
import { TESTDATA } from './testing/test-mesh.js';

const anchors = `${TESTDATA}trust-anchors.pem`;

test('native sidecars from Kubernetes 1.29 on', () => {
  assert.equal(supportsNativeSidecars('v1.28.9'), false);
  assert.equal(supportsNativeSidecars('1.29'), true);
  assert.equal(supportsNativeSidecars('v1.33.13+k3s1'), true);
  assert.throws(() => supportsNativeSidecars('latest'), ConfigError);
});

test('defaults follow the contracts: control-plane addresses and identities', () => {
  const m = loadMeshConfig({ WEFT_INJECTOR_TRUST_ANCHORS_FILE: anchors, WEFT_INJECTOR_CONTROL_PLANE_NAMESPACE: 'mesh', WEFT_INJECTOR_TRUST_DOMAIN: 'example.org' });
  assert.equal(m.identityAddr, 'weft-identity.mesh.svc.cluster.local:8080');
  assert.equal(m.identityName, 'weft-identity.mesh.serviceaccount.identity.mesh.example.org');
  assert.equal(m.destinationName, 'weft-destination.mesh.serviceaccount.identity.mesh.example.org');
  assert.equal(m.tokenAudience, 'identity.weft.io');
  assert.equal(m.tokenExpirationSeconds, 86400);
});

test('trust anchors must be readable PEM certificates', () => {
  const pki = new TestPki();
  try {
    assert.throws(() => loadMeshConfig({}), /WEFT_INJECTOR_TRUST_ANCHORS_FILE is required/);
    assert.throws(() => loadMeshConfig({ WEFT_INJECTOR_TRUST_ANCHORS_FILE: '/nonexistent/anchors.pem' }), /cannot read trust anchors file/);
    const junk = pki.file('junk.pem', 'not a certificate\n');
    assert.throws(() => loadMeshConfig({ WEFT_INJECTOR_TRUST_ANCHORS_FILE: junk }), /holds no PEM certificate/);
    const broken = pki.file('broken.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    assert.throws(() => loadMeshConfig({ WEFT_INJECTOR_TRUST_ANCHORS_FILE: broken }), /certificate 1 does not parse/);
  } finally {
    pki.dispose();
  }
});

test('bad settings are named in one error', () => {
  assert.throws(
    () => loadMeshConfig({ WEFT_INJECTOR_TRUST_ANCHORS_FILE: anchors, WEFT_INJECTOR_CNI_ENABLED: 'maybe', WEFT_INJECTOR_TOKEN_EXPIRATION_SECONDS: '60' }),
    (err: unknown) => err instanceof ConfigError && err.problems.length === 2,
  );
});

test('mesh-wide proxy connection settings: absent by default (the proxy\'s own), passed on when set, held to the proxy\'s bounds', () => {
  assert.deepEqual(loadMeshConfig({ WEFT_INJECTOR_TRUST_ANCHORS_FILE: anchors }).proxy.connections, {});
  const m = loadMeshConfig({ WEFT_INJECTOR_TRUST_ANCHORS_FILE: anchors, WEFT_INJECTOR_PROXY_CONNECT_TIMEOUT: '3s', WEFT_INJECTOR_PROXY_PEER_PING_INTERVAL: '5s' });
  assert.deepEqual(m.proxy.connections, { connectTimeout: '3s', peerPingInterval: '5s' });
  assert.throws(
    () => loadMeshConfig({ WEFT_INJECTOR_TRUST_ANCHORS_FILE: anchors, WEFT_INJECTOR_PROXY_KEEPALIVE: '500ms', WEFT_INJECTOR_PROXY_USER_TIMEOUT: 'long' }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.problems, [
        'WEFT_INJECTOR_PROXY_KEEPALIVE="500ms" is below the proxy\'s minimum 1s',
        'WEFT_INJECTOR_PROXY_USER_TIMEOUT="long" is not a duration (e.g. 500ms, 10s, 1m)',
      ]);
      return true;
    },
  );
});

test('the injector process refuses to start with bad config and says why', () => {
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const r = spawnSync(process.execPath, [main, '--trust-anchors-file', anchors, '--log-level', 'chatty', '--kubernetes-version', '1.30'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /weft injector: invalid configuration:[\s\S]*WEFT_INJECTOR_LOG_LEVEL="chatty"/);
  const bad = spawnSync(process.execPath, [main, 'stray'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unexpected argument "stray"/);
});
