// Inbound.Watch(workload, port): Servers, AuthorizationPolicies and their
// authentications, default policies with their overrides, kubelet probes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { policy } from '@weft/api';
import { CRD_VERSION, POLICY_GROUP } from '@weft/api/names';
import { InvalidArgumentError } from '@weft/common/errors';
import { WatchHub } from '../watch-hub.js';
import { DEFAULT_SETTINGS, type MeshSettings } from '../settings.js';
import { pod, settle } from '../testing/fixtures.js';
import type { CustomObject, PolicyKind } from '../model.js';

const log = pino({ level: 'silent' });

function obj(kind: PolicyKind, name: string, spec: unknown, namespace = 'demo', created?: string): CustomObject {
  return { apiVersion: `${POLICY_GROUP}/${CRD_VERSION}`, kind, metadata: { name, namespace, ...(created ? { creationTimestamp: created as never } : {}) }, spec };
}

function setup(settings: Partial<MeshSettings> = {}): WatchHub {
  const d = new WatchHub({ ...DEFAULT_SETTINGS, ...settings }, log);
  d.cache.apply('Namespace', { metadata: { name: 'demo' } });
  d.cache.apply('Pod', pod('web-1', { ip: '10.1.0.1', labels: { app: 'web' }, ports: [{ name: 'http', containerPort: 8080 }, { containerPort: 9000 }], hostIP: '192.168.5.5', probes: [{ port: 'http', path: '/ready' }, { port: 8080, path: '/live' }] }));
  return d;
}

function watch(d: WatchHub, workload: string, port: number): policy.Server[] {
  const got: policy.Server[] = [];
  d.watchPolicy(workload, port, (s) => got.push(s));
  return got;
}

const permit = (a: policy.Authz | undefined) => a?.authentication?.permit;

test('without a Server the cluster default applies (all-unauthenticated), protocol detect', () => {
  const [s] = watch(setup(), 'demo:web-1', 9000);
  assert.deepEqual(s!.labels, { name: 'all-unauthenticated', kind: 'default' });
  assert.equal(s!.protocol?.kind.case, 'detect');
  assert.equal(s!.authorizations.length, 1);
  assert.equal(permit(s!.authorizations[0])?.case, 'unauthenticated');
  assert.deepEqual(s!.authorizations[0]!.networks, []);
});

test('each default policy maps to its authorizations', () => {
  const expect: Record<string, (s: policy.Server) => void> = {
    'all-authenticated': (s) => assert.deepEqual((permit(s.authorizations[0]) as { value: policy.Authn_PermitMeshTls }).value.identities, ['*']),
    'cluster-authenticated': (s) => {
      assert.deepEqual((permit(s.authorizations[0]) as { value: policy.Authn_PermitMeshTls }).value.suffixes, ['cluster.local']);
      assert.deepEqual(s.authorizations[0]!.networks.map((n) => n.net), DEFAULT_SETTINGS.clusterNetworks);
    },
    deny: (s) => assert.equal(s.authorizations.length, 0),
  };
  for (const [name, check] of Object.entries(expect)) {
    const [s] = watch(setup({ defaultInboundPolicy: name as MeshSettings['defaultInboundPolicy'] }), 'demo:web-1', 9000);
    assert.equal(s!.labels.name, name);
    check(s!);
  }
});

test('the namespace annotation overrides the cluster default and the pod annotation overrides both', async () => {
  const d = setup();
  const got = watch(d, 'demo:web-1', 9000);
  d.cache.apply('Namespace', { metadata: { name: 'demo', annotations: { 'config.weft.io/default-inbound-policy': 'deny' } } });
  await settle();
  assert.equal(got[1]?.labels.name, 'deny');
  d.cache.apply('Pod', pod('web-1', { ip: '10.1.0.1', labels: { app: 'web' }, annotations: { 'config.weft.io/default-inbound-policy': 'all-authenticated' } }));
  await settle();
  assert.equal(got[2]?.labels.name, 'all-authenticated');
  d.cache.apply('Pod', pod('web-1', { ip: '10.1.0.1', labels: { app: 'web' }, annotations: { 'config.weft.io/default-inbound-policy': 'bogus' } }));
  await settle();
  assert.equal(got[3]?.labels.name, 'deny', 'an invalid pod value falls through to the namespace');
});

test('kubelet probes on the port stay allowed from the node, for the probe paths, even under deny', () => {
  const [s] = watch(setup({ defaultInboundPolicy: 'deny' }), 'demo:web-1', 8080);
  assert.equal(s!.authorizations.length, 1);
  const probe = s!.authorizations[0]!;
  assert.deepEqual(probe.labels, { name: 'probe', kind: 'default' });
  assert.deepEqual(probe.httpPaths, ['/live', '/ready']);
  assert.deepEqual(probe.networks.map((n) => n.net), ['192.168.5.5/32']);
  assert.equal(permit(probe)?.case, 'unauthenticated');
  const [other] = watch(setup({ defaultInboundPolicy: 'deny' }), 'demo:web-1', 9000);
  assert.equal(other!.authorizations.length, 0, 'no probe on that port: nothing allowed');
});

test('a Server with policies: MeshTLS identities, ServiceAccount refs and networks combine per policy', () => {
  const d = setup();
  d.cache.apply('Server', obj('Server', 'web-http', { podSelector: { matchLabels: { app: 'web' } }, port: 'http', proxyProtocol: 'HTTP/1' }));
  d.cache.apply('MeshTLSAuthentication', obj('MeshTLSAuthentication', 'clients', { identities: ['spiffe://cluster.local/ns/demo/sa/client'], identityRefs: [{ kind: 'ServiceAccount', name: 'curl' }, { kind: 'Namespace', name: 'ops' }] }));
  d.cache.apply('NetworkAuthentication', obj('NetworkAuthentication', 'office', { networks: [{ cidr: '10.0.0.0/8', except: ['10.9.0.0/16'] }] }));
  d.cache.apply('AuthorizationPolicy', obj('AuthorizationPolicy', 'a-mtls', { targetRef: { group: 'policy.weft.io', kind: 'Server', name: 'web-http' }, requiredAuthenticationRefs: [{ kind: 'MeshTLSAuthentication', name: 'clients' }, { kind: 'NetworkAuthentication', name: 'office' }] }));
  d.cache.apply('AuthorizationPolicy', obj('AuthorizationPolicy', 'b-open', { targetRef: { kind: 'Server', name: 'web-http' } }));
  d.cache.apply('AuthorizationPolicy', obj('AuthorizationPolicy', 'c-elsewhere', { targetRef: { kind: 'Server', name: 'other' } }));
  const [s] = watch(d, 'demo:web-1', 8080);
  assert.deepEqual(s!.labels, { name: 'web-http', kind: 'server' });
  assert.equal(s!.protocol?.kind.case, 'http1');
  const names = s!.authorizations.map((a) => a.labels.name);
  assert.deepEqual(names, ['a-mtls', 'b-open', 'probe']);
  const mtls = s!.authorizations[0]!;
  const value = (permit(mtls) as { value: policy.Authn_PermitMeshTls }).value;
  assert.deepEqual(value.identities, ['spiffe://cluster.local/ns/demo/sa/client', 'curl.demo.serviceaccount.identity.weft.cluster.local', 'spiffe://cluster.local/ns/demo/sa/curl']);
  assert.deepEqual(value.suffixes, ['ops.serviceaccount.identity.weft.cluster.local']);
  assert.deepEqual(mtls.networks.map((n) => [n.net, n.except]), [['10.0.0.0/8', ['10.9.0.0/16']]]);
  assert.equal(permit(s!.authorizations[1])?.case, 'unauthenticated');
});

test('a Server without policies denies everything but probes; a policy with a missing authentication grants nothing', async () => {
  const d = setup();
  d.cache.apply('Server', obj('Server', 'web-admin', { podSelector: {}, port: 9000, proxyProtocol: 'opaque' }));
  d.cache.apply('AuthorizationPolicy', obj('AuthorizationPolicy', 'p', { targetRef: { kind: 'Server', name: 'web-admin' }, requiredAuthenticationRefs: [{ kind: 'MeshTLSAuthentication', name: 'missing' }] }));
  const got = watch(d, 'demo:web-1', 9000);
  assert.equal(got[0]!.protocol?.kind.case, 'opaque');
  assert.equal(got[0]!.authorizations.length, 0);
  d.cache.apply('MeshTLSAuthentication', obj('MeshTLSAuthentication', 'missing', { identities: ['*'] }));
  await settle();
  assert.deepEqual(got[1]?.authorizations.map((a) => a.labels.name), ['p'], 'the authentication appearing grants access live');
});

test('Server selection: label selector expressions, and the oldest of several matches wins', () => {
  const d = setup();
  d.cache.apply('Server', obj('Server', 'newer', { podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web'] }] }, port: 8080, proxyProtocol: 'gRPC' }, 'demo', '2024-02-01T00:00:00Z'));
  d.cache.apply('Server', obj('Server', 'older', { podSelector: { matchLabels: { app: 'web' } }, port: 8080, proxyProtocol: 'HTTP/2' }, 'demo', '2024-01-01T00:00:00Z'));
  d.cache.apply('Server', obj('Server', 'not-me', { podSelector: { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['web'] }] }, port: 8080 }, 'demo', '2023-01-01T00:00:00Z'));
  const [s] = watch(d, 'demo:web-1', 8080);
  assert.equal(s!.labels.name, 'older');
  assert.equal(s!.protocol?.kind.case, 'http2');
});

test('a namespace-targeted policy applies to every Server of the namespace', () => {
  const d = setup();
  d.cache.apply('Server', obj('Server', 'web-http', { podSelector: { matchLabels: { app: 'web' } }, port: 8080 }));
  d.cache.apply('AuthorizationPolicy', obj('AuthorizationPolicy', 'ns-wide', { targetRef: { kind: 'Namespace', name: 'demo' } }));
  const [s] = watch(d, 'demo:web-1', 8080);
  assert.deepEqual(s!.authorizations.map((a) => a.labels.name), ['ns-wide', 'probe']);
});

test('an unknown pod gets the namespace default, replaced when the pod appears', async () => {
  const d = setup();
  const got = watch(d, 'demo:later-1', 8080);
  assert.equal(got[0]!.labels.name, 'all-unauthenticated');
  d.cache.apply('Pod', pod('later-1', { ip: '10.1.0.9', annotations: { 'config.weft.io/default-inbound-policy': 'deny' } }));
  await settle();
  assert.equal(got[1]?.labels.name, 'deny');
});

test('a malformed workload or port is rejected with INVALID_ARGUMENT', () => {
  const d = setup();
  assert.throws(() => d.watchPolicy('web-1', 8080, () => undefined), InvalidArgumentError);
  assert.throws(() => d.watchPolicy('demo:web-1', 0, () => undefined), InvalidArgumentError);
});
