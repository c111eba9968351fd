import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '@weft/common/errors';
import { parseProxyEnv } from './config.js';
import { DEFAULT_CONNECTIONS } from './transport/connections.js';

const REQUIRED = {
  WEFT_PROXY_IDENTITY_SVC_ADDR: 'identity.weft.svc:8080',
  WEFT_PROXY_IDENTITY_SVC_NAME: 'identity.weft.serviceaccount.identity.weft.cluster.local',
  WEFT_PROXY_DESTINATION_SVC_ADDR: 'destination.weft.svc:8086',
  WEFT_PROXY_DESTINATION_SVC_NAME: 'destination.weft.serviceaccount.identity.weft.cluster.local',
  WEFT_PROXY_POLICY_SVC_ADDR: 'destination.weft.svc:8090',
  WEFT_PROXY_IDENTITY_LOCAL_NAME: 'web.emojivoto.serviceaccount.identity.weft.cluster.local',
  WEFT_PROXY_IDENTITY_TRUST_ANCHORS: '-----BEGIN CERTIFICATE-----\n...',
  WEFT_PROXY_POD_NAMESPACE: 'emojivoto',
  WEFT_PROXY_POD_NAME: 'web-1',
};

test('parses the contract environment with its defaults', () => {
  const c = parseProxyEnv({ ...REQUIRED, WEFT_PROXY_OPAQUE_PORTS: '25,3306,8000-8002', WEFT_PROXY_WORKLOAD_KIND: 'deployment', WEFT_PROXY_WORKLOAD_NAME: 'web' });
  assert.deepEqual(c.outbound, { host: '127.0.0.1', port: 4140 });
  assert.deepEqual(c.inbound, { host: '0.0.0.0', port: 4143 });
  assert.deepEqual(c.admin, { host: '0.0.0.0', port: 4191 });
  assert.deepEqual(c.tap, { host: '0.0.0.0', port: 4190 });
  assert.deepEqual(c.opaquePorts, [25, 3306, 8000, 8001, 8002]);
  assert.equal(c.detectTimeoutMs, 10_000);
  assert.equal(c.defaultInboundPolicy, 'all-unauthenticated');
  assert.equal(c.identity.tokenFile, '/var/run/secrets/tokens/weft-identity-token');
  assert.equal(c.inboundAppPort, undefined);
  assert.equal(c.pod.workloadName, 'web');
  assert.equal(c.logFormat, 'json');
  assert.equal(c.meshHttp1, 'mux', 'HTTP/1 between proxies on weft.mux streams (weft.tcp to a peer without them)');
});

test('WEFT_PROXY_MESH_HTTP1 is mux, http1 or http2; anything else is refused naming the variable', () => {
  for (const mode of ['mux', 'http1', 'http2'] as const) assert.equal(parseProxyEnv({ ...REQUIRED, WEFT_PROXY_MESH_HTTP1: mode }).meshHttp1, mode);
  assert.throws(() => parseProxyEnv({ ...REQUIRED, WEFT_PROXY_MESH_HTTP1: 'h2' }), /WEFT_PROXY_MESH_HTTP1/);
});

test('the log format is json or plain; anything else is refused naming the variable', () => {
  assert.equal(parseProxyEnv({ ...REQUIRED, WEFT_PROXY_LOG_FORMAT: 'plain' }).logFormat, 'plain');
  assert.throws(() => parseProxyEnv({ ...REQUIRED, WEFT_PROXY_LOG_FORMAT: 'logfmt' }), /WEFT_PROXY_LOG_FORMAT/);
});

test('connection settings: the defaults, each variable, and bounds named by variable', () => {
  assert.deepEqual(parseProxyEnv(REQUIRED).connections, { connectMs: 1_000, handshakeMs: 10_000, keepAliveMs: 10_000, userTimeoutMs: 20_000, peerPingMs: 10_000 });
  assert.deepEqual(parseProxyEnv(REQUIRED).connections, DEFAULT_CONNECTIONS, 'the variables\' defaults are the ones the code uses when given none');
  const c = parseProxyEnv({
    ...REQUIRED,
    WEFT_PROXY_CONNECT_TIMEOUT: '3s',
    WEFT_PROXY_TLS_HANDSHAKE_TIMEOUT: '5s',
    WEFT_PROXY_KEEPALIVE: '30s',
    WEFT_PROXY_USER_TIMEOUT: '45s',
    WEFT_PROXY_PEER_PING_INTERVAL: '2500ms',
  });
  assert.deepEqual(c.connections, { connectMs: 3_000, handshakeMs: 5_000, keepAliveMs: 30_000, userTimeoutMs: 45_000, peerPingMs: 2_500 });
  assert.throws(
    () => parseProxyEnv({ ...REQUIRED, WEFT_PROXY_CONNECT_TIMEOUT: '0s', WEFT_PROXY_KEEPALIVE: '500ms', WEFT_PROXY_USER_TIMEOUT: '25h', WEFT_PROXY_PEER_PING_INTERVAL: 'often' }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.problems, [
        'WEFT_PROXY_CONNECT_TIMEOUT=0s is below the minimum 1ms',
        'WEFT_PROXY_KEEPALIVE=500ms is below the minimum 1s',
        'WEFT_PROXY_USER_TIMEOUT=25h is above the maximum 24h',
        'WEFT_PROXY_PEER_PING_INTERVAL: "often" is not a duration (use e.g. 250ms, 20s, 5m, 24h)',
      ]);
      return true;
    },
  );
});

test('explicit-mode and IPv6 listen addresses parse', () => {
  const c = parseProxyEnv({ ...REQUIRED, WEFT_PROXY_INBOUND_LISTEN_ADDR: '[::]:14143', WEFT_PROXY_INBOUND_APP_PORT: '8080' });
  assert.deepEqual(c.inbound, { host: '::', port: 14143 });
  assert.equal(c.inboundAppPort, 8080);
});

test('every missing or invalid variable is named in one error', () => {
  assert.throws(
    () => parseProxyEnv({ WEFT_PROXY_DETECT_TIMEOUT: 'soon', WEFT_PROXY_DEFAULT_INBOUND_POLICY: 'maybe' }),
    (err: unknown) =>
      err instanceof ConfigError &&
      /WEFT_PROXY_IDENTITY_LOCAL_NAME is required/.test(err.message) &&
      /WEFT_PROXY_DETECT_TIMEOUT/.test(err.message) &&
      /WEFT_PROXY_DEFAULT_INBOUND_POLICY="maybe"/.test(err.message),
  );
  assert.throws(() => parseProxyEnv({ ...REQUIRED, WEFT_PROXY_ADMIN_LISTEN_ADDR: 'nope' }), /WEFT_PROXY_ADMIN_LISTEN_ADDR="nope" is not host:port/);
  assert.throws(() => parseProxyEnv({ ...REQUIRED, WEFT_PROXY_INBOUND_APP_PORT: '70000' }), /WEFT_PROXY_INBOUND_APP_PORT/);
});
