// Get(authority) against an in-memory cluster: every lookup kind, the
// content of each endpoint, and incremental updates under churn.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { destination } from '@weft/api';
import { InvalidArgumentError } from '@weft/common/errors';
import { WatchHub } from '../watch-hub.js';
import { DEFAULT_SETTINGS } from '../settings.js';
import { pod, service, slice, settle } from '../testing/fixtures.js';

const log = pino({ level: 'silent' });

function cluster(): WatchHub {
  const d = new WatchHub(DEFAULT_SETTINGS, log);
  const c = d.cache;
  c.apply('Service', service('web', { clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, targetPort: 'http' }] }));
  c.apply('Pod', pod('web-1', { ip: '10.1.0.1', meshed: true, serviceAccount: 'web', owner: 'deployment/web', ports: [{ name: 'http', containerPort: 8080 }] }));
  c.apply('Pod', pod('web-2', { ip: '10.1.0.2', owner: 'deployment/web', ports: [{ name: 'http', containerPort: 8080 }] }));
  c.apply('EndpointSlice', slice('web-abc', 'web', [{ name: 'http', port: 8080 }], [{ ip: '10.1.0.1', pod: 'web-1' }, { ip: '10.1.0.2', pod: 'web-2' }]));
  return d;
}

function watch(d: WatchHub, authority: string): destination.Update[] {
  const got: destination.Update[] = [];
  d.watchEndpoints(authority, (u) => got.push(u));
  return got;
}

function added(u: destination.Update | undefined): destination.WeightedAddr[] {
  assert.equal(u?.update.case, 'add', `expected add, got ${u?.update.case}`);
  return (u!.update.value as destination.WeightedAddrSet).addrs;
}

function addrs(list: readonly ({ addr?: { ip: string; port: number } } | { ip: string; port: number })[]): string[] {
  return list.map((a) => ('addr' in a ? `${a.addr!.ip}:${a.addr!.port}` : `${(a as { ip: string }).ip}:${(a as { port: number }).port}`)).sort();
}

test('a service DNS name resolves to its ready endpoints with the named target port', () => {
  const got = watch(cluster(), 'web.demo.svc.cluster.local:80');
  assert.equal(got.length, 1);
  assert.deepEqual(addrs(added(got[0])), ['10.1.0.1:8080', '10.1.0.2:8080']);
  assert.deepEqual((got[0]!.update.value as destination.WeightedAddrSet).metricLabels, { namespace: 'demo', service: 'web' });
});

test('a meshed endpoint carries its ServiceAccount identity, an h2 hint with port 4143 and owner labels', () => {
  const eps = added(watch(cluster(), 'web.demo.svc.cluster.local:80')[0]);
  const meshed = eps.find((e) => e.addr?.ip === '10.1.0.1')!;
  assert.equal(meshed.tlsIdentity?.dnsName, 'web.demo.serviceaccount.identity.weft.cluster.local');
  assert.equal(meshed.tlsIdentity?.spiffeUri, 'spiffe://cluster.local/ns/demo/sa/web');
  assert.equal(meshed.protocolHint?.protocol.case, 'h2');
  assert.equal(meshed.protocolHint?.inboundPort, 4143);
  assert.deepEqual(meshed.metricLabels, { namespace: 'demo', pod: 'web-1', serviceaccount: 'web', deployment: 'web' });
  assert.equal(meshed.weight, DEFAULT_SETTINGS.endpointWeight);
  const plain = eps.find((e) => e.addr?.ip === '10.1.0.2')!;
  assert.equal(plain.tlsIdentity, undefined, 'an unmeshed pod has no identity');
  assert.equal(plain.protocolHint, undefined);
});

test('the annotation weft.io/proxy-version also marks a pod as meshed', () => {
  const d = cluster();
  d.cache.apply('Pod', pod('web-2', { ip: '10.1.0.2', annotations: { 'weft.io/proxy-version': 'v0.1.0' } }));
  const eps = added(watch(d, 'web.demo.svc.cluster.local:80')[0]);
  assert.equal(eps.find((e) => e.addr?.ip === '10.1.0.2')!.tlsIdentity?.dnsName, 'default.demo.serviceaccount.identity.weft.cluster.local');
});

test('statefulset and daemonset owners become owner labels', () => {
  const d = cluster();
  d.cache.apply('Pod', pod('db-0', { ip: '10.1.0.5', owner: 'statefulset/db' }));
  d.cache.apply('Pod', pod('agent-x', { ip: '10.1.0.6', owner: 'daemonset/agent' }));
  assert.equal(added(watch(d, '10.1.0.5:5432')[0])[0]!.metricLabels.statefulset, 'db');
  assert.equal(added(watch(d, '10.1.0.6:9000')[0])[0]!.metricLabels.daemonset, 'agent');
});

test('a cluster IP resolves to the service endpoints', () => {
  const got = watch(cluster(), '10.96.0.10:80');
  assert.deepEqual(addrs(added(got[0])), ['10.1.0.1:8080', '10.1.0.2:8080']);
});

test('a pod IP resolves to that pod alone, with its identity', () => {
  const eps = added(watch(cluster(), '10.1.0.1:8080')[0]);
  assert.deepEqual(addrs(eps), ['10.1.0.1:8080']);
  assert.equal(eps[0]!.tlsIdentity?.dnsName, 'web.demo.serviceaccount.identity.weft.cluster.local');
});

test('a named target port falls back to the pod container port when the slice has no port', () => {
  const d = cluster();
  d.cache.apply('EndpointSlice', slice('web-abc', 'web', [], [{ ip: '10.1.0.1', pod: 'web-1' }]));
  assert.deepEqual(addrs(added(watch(d, 'web.demo.svc.cluster.local:80')[0])), ['10.1.0.1:8080']);
});

test('a headless service resolves by name, and one of its pods by hostname', () => {
  const d = new WatchHub(DEFAULT_SETTINGS, log);
  d.cache.apply('Service', service('db', { ports: [{ name: 'pg', port: 5432 }] }));
  d.cache.apply('EndpointSlice', slice('db-x', 'db', [{ name: 'pg', port: 5432 }], [{ ip: '10.1.1.1', hostname: 'db-0' }, { ip: '10.1.1.2', hostname: 'db-1' }]));
  assert.deepEqual(addrs(added(watch(d, 'db.demo.svc.cluster.local:5432')[0])), ['10.1.1.1:5432', '10.1.1.2:5432']);
  assert.deepEqual(addrs(added(watch(d, 'db-1.db.demo.svc.cluster.local:5432')[0])), ['10.1.1.2:5432']);
  assert.deepEqual(addrs(added(watch(d, 'db.demo.svc:5432')[0])), ['10.1.1.1:5432', '10.1.1.2:5432'], 'the cluster domain may be omitted');
});

test('unknown authorities answer no_endpoints at once instead of hanging', () => {
  const d = cluster();
  for (const a of ['nope.demo.svc.cluster.local:80', '10.9.9.9:80', 'example.com:443']) {
    const got = watch(d, a);
    assert.equal(got.length, 1, a);
    assert.equal(got[0]!.update.case, 'noEndpoints');
    assert.equal((got[0]!.update.value as destination.NoEndpoints).exists, false, a);
  }
  const wrongPort = watch(d, 'web.demo.svc.cluster.local:81');
  assert.deepEqual(wrongPort[0]?.update.value, { $typeName: 'weft.destination.v1.NoEndpoints', exists: true });
});

test('a malformed authority is rejected with INVALID_ARGUMENT', () => {
  assert.throws(() => cluster().watchEndpoints('web.demo.svc.cluster.local:http', () => undefined), InvalidArgumentError);
  assert.throws(() => cluster().watchEndpoints('', () => undefined), InvalidArgumentError);
});

test('churn: scale up and down streams only the difference', async () => {
  const d = cluster();
  const got = watch(d, 'web.demo.svc.cluster.local:80');
  d.cache.apply('Pod', pod('web-3', { ip: '10.1.0.3', owner: 'deployment/web' }));
  d.cache.apply('EndpointSlice', slice('web-abc', 'web', [{ name: 'http', port: 8080 }], [{ ip: '10.1.0.1', pod: 'web-1' }, { ip: '10.1.0.2', pod: 'web-2' }, { ip: '10.1.0.3', pod: 'web-3' }]));
  await settle();
  assert.equal(got.length, 2);
  assert.deepEqual(addrs(added(got[1])), ['10.1.0.3:8080'], 'only the new endpoint is sent');
  d.cache.apply('EndpointSlice', slice('web-abc', 'web', [{ name: 'http', port: 8080 }], [{ ip: '10.1.0.1', pod: 'web-1' }, { ip: '10.1.0.3', pod: 'web-3', ready: false }]));
  await settle();
  assert.equal(got[2]?.update.case, 'remove');
  assert.deepEqual(addrs((got[2]!.update.value as destination.AddrSet).addrs), ['10.1.0.2:8080', '10.1.0.3:8080'], 'removed and not-ready endpoints leave');
  assert.equal(got.length, 3);
});

test('churn: a pod being deleted leaves at once, before its EndpointSlice marks it not ready', async () => {
  const d = cluster();
  const got = watch(d, 'web.demo.svc.cluster.local:80');
  d.cache.apply('Pod', pod('web-2', { ip: '10.1.0.2', owner: 'deployment/web', ports: [{ name: 'http', containerPort: 8080 }], deletionTimestamp: new Date() }));
  await settle();
  assert.equal(got[1]?.update.case, 'remove');
  assert.deepEqual(addrs((got[1]!.update.value as destination.AddrSet).addrs), ['10.1.0.2:8080']);
  // The slice catching up changes nothing more.
  d.cache.apply('EndpointSlice', slice('web-abc', 'web', [{ name: 'http', port: 8080 }], [{ ip: '10.1.0.1', pod: 'web-1' }, { ip: '10.1.0.2', pod: 'web-2', ready: false }]));
  await settle();
  assert.equal(got.length, 2);
});

test('churn: a second slice adds endpoints; deleting it removes them', async () => {
  const d = cluster();
  const got = watch(d, 'web.demo.svc.cluster.local:80');
  const extra = slice('web-def', 'web', [{ name: 'http', port: 8080 }], [{ ip: '10.1.0.9' }]);
  d.cache.apply('EndpointSlice', extra);
  await settle();
  assert.deepEqual(addrs(added(got[1])), ['10.1.0.9:8080']);
  d.cache.delete('EndpointSlice', extra);
  await settle();
  assert.equal(got[2]?.update.case, 'remove');
  assert.deepEqual(addrs((got[2]!.update.value as destination.AddrSet).addrs), ['10.1.0.9:8080']);
});

test('churn: a pod becoming meshed re-announces that endpoint with its identity', async () => {
  const d = cluster();
  const got = watch(d, 'web.demo.svc.cluster.local:80');
  d.cache.apply('Pod', pod('web-2', { ip: '10.1.0.2', meshed: true, serviceAccount: 'web', owner: 'deployment/web', ports: [{ name: 'http', containerPort: 8080 }] }));
  await settle();
  assert.equal(got.length, 2);
  const eps = added(got[1]);
  assert.deepEqual(addrs(eps), ['10.1.0.2:8080']);
  assert.equal(eps[0]!.tlsIdentity?.dnsName, 'web.demo.serviceaccount.identity.weft.cluster.local');
});

test('churn: scaling to zero sends remove then no_endpoints(exists); deleting the service sends no_endpoints(!exists)', async () => {
  const d = cluster();
  const got = watch(d, 'web.demo.svc.cluster.local:80');
  d.cache.apply('EndpointSlice', slice('web-abc', 'web', [{ name: 'http', port: 8080 }], []));
  await settle();
  assert.deepEqual(got.slice(1).map((u) => u.update.case), ['remove', 'noEndpoints']);
  assert.equal((got[2]!.update.value as destination.NoEndpoints).exists, true);
  d.cache.delete('Service', d.cache.service('demo', 'web')!);
  await settle();
  assert.equal(got[3]?.update.case, 'noEndpoints');
  assert.equal((got[3]!.update.value as destination.NoEndpoints).exists, false);
  d.cache.apply('Service', service('web', { clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, targetPort: 'http' }] }));
  d.cache.apply('EndpointSlice', slice('web-abc', 'web', [{ name: 'http', port: 8080 }], [{ ip: '10.1.0.1', pod: 'web-1' }]));
  await settle();
  assert.deepEqual(addrs(added(got[got.length - 1])), ['10.1.0.1:8080'], 'the service coming back streams its endpoints');
});

test('changes to unrelated objects send nothing', async () => {
  const d = cluster();
  const got = watch(d, 'web.demo.svc.cluster.local:80');
  d.cache.apply('Service', service('other', { ports: [{ port: 80 }] }));
  d.cache.apply('Pod', pod('other-1', { ip: '10.2.0.1' }));
  d.cache.apply('EndpointSlice', slice('other-x', 'other', [{ port: 80 }], [{ ip: '10.2.0.1' }]));
  // A resync re-delivers an identical object: still nothing to send.
  d.cache.apply('Pod', pod('web-1', { ip: '10.1.0.1', meshed: true, serviceAccount: 'web', owner: 'deployment/web', ports: [{ name: 'http', containerPort: 8080 }] }));
  await settle();
  assert.equal(got.length, 1);
});

test('a cluster IP authority follows the service when its IP is assigned later', async () => {
  const d = new WatchHub(DEFAULT_SETTINGS, log);
  const got = watch(d, '10.96.7.7:80');
  assert.equal(got[0]?.update.case, 'noEndpoints');
  d.cache.apply('Service', service('late', { clusterIP: '10.96.7.7', ports: [{ port: 80, targetPort: 8080 }] }));
  d.cache.apply('EndpointSlice', slice('late-x', 'late', [{ port: 8080 }], [{ ip: '10.3.0.1' }]));
  await settle();
  assert.deepEqual(addrs(added(got[got.length - 1])), ['10.3.0.1:8080']);
});

test('an opaque port (Service annotation) gives meshed endpoints an opaque hint', () => {
  const d = cluster();
  d.cache.apply('Service', service('web', { clusterIP: '10.96.0.10', annotations: { 'config.weft.io/opaque-ports': '80' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] }));
  const eps = added(watch(d, 'web.demo.svc.cluster.local:80')[0]);
  assert.equal(eps.find((e) => e.addr?.ip === '10.1.0.1')!.protocolHint?.protocol.case, 'opaque');
});

test('a pod annotation sets the proxy inbound port announced in the hint', () => {
  const d = cluster();
  d.cache.apply('Pod', pod('web-1', { ip: '10.1.0.1', meshed: true, annotations: { 'weft.io/proxy-inbound-port': '14143' } }));
  const eps = added(watch(d, '10.1.0.1:8080')[0]);
  assert.equal(eps[0]!.protocolHint?.inboundPort, 14143);
});

test('an endpoint whose pod is unknown is held back (never announced without its identity) until the pod appears', async () => {
  const d = cluster();
  d.cache.delete('Pod', d.cache.pod('demo', 'web-1')!);
  const got = watch(d, 'web.demo.svc.cluster.local:80');
  assert.deepEqual(addrs(added(got[0])), ['10.1.0.2:8080']);
  d.cache.apply('Pod', pod('web-1', { ip: '10.1.0.1', meshed: true, serviceAccount: 'web', ports: [{ name: 'http', containerPort: 8080 }] }));
  await settle();
  const eps = added(got[1]);
  assert.deepEqual(addrs(eps), ['10.1.0.1:8080']);
  assert.equal(eps[0]!.tlsIdentity?.dnsName, 'web.demo.serviceaccount.identity.weft.cluster.local');
});

test('watchers of the same target share one resolution; a late joiner gets the full snapshot; the last to leave frees it', async () => {
  const d = cluster();
  const first = watch(d, 'web.demo.svc.cluster.local:80');
  d.cache.apply('EndpointSlice', slice('web-def', 'web', [{ name: 'http', port: 8080 }], [{ ip: '10.1.0.9' }]));
  await settle();
  const got: destination.Update[] = [];
  const unwatch = d.watchEndpoints('web.demo.svc.cluster.local:80', (u) => got.push(u));
  assert.equal(d.topicCount, 1);
  assert.equal(d.watches, 2);
  assert.deepEqual(addrs(added(got[0])), ['10.1.0.1:8080', '10.1.0.2:8080', '10.1.0.9:8080'], 'the joiner sees everything at once');
  unwatch();
  d.cache.apply('EndpointSlice', slice('web-def', 'web', [{ name: 'http', port: 8080 }], []));
  await settle();
  assert.equal(first[first.length - 1]?.update.case, 'remove', 'the remaining watcher still gets diffs');
  assert.equal(got.length, 1, 'the one who left gets nothing more');
});
