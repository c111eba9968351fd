// Discovery against the real destination service over mTLS (in-memory
// Kubernetes objects): endpoints arrive with identities, protocol hints and
// owner labels, live changes reach subscribers, unknown authorities fail fast.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@weft/common/log';
import { MemorySource } from '@weft/destination/sources/memory';
import { startTestDestination, type TestDestination } from '@weft/destination/testing/serve';
import { mayRetry, routeTableOf } from '../profile/route-table.js';
import { pod, service, slice } from '@weft/destination/testing/fixtures';
import { DestinationDiscovery } from './destination-client.js';
import { UnknownAuthorityError } from '../errors.js';
import type { Endpoint } from '../svc.js';

const WEB_ID = 'web.demo.serviceaccount.identity.weft.cluster.local';
const source = new MemorySource();
let dest: TestDestination;
let discovery: DestinationDiscovery;
let clientForTests: () => ReturnType<TestDestination['client']>;

before(async () => {
  source.apply('Service', service('web', { clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, targetPort: 8080 }] }));
  source.apply('Pod', pod('web-1', { ip: '10.1.0.1', meshed: true, serviceAccount: 'web', owner: 'deployment/web', labels: { app: 'web' } }));
  source.apply('EndpointSlice', slice('web-a', 'web', [{ name: 'http', port: 8080 }], [{ ip: '10.1.0.1', pod: 'web-1' }]));
  const log = createLogger('destination-test', 'silent');
  dest = await startTestDestination(source, log);
  const client = dest.client();
  clientForTests = () => client;
  discovery = new DestinationDiscovery(clientForTests, '{"ns":"demo"}', log);
});

after(async () => {
  discovery?.close();
  await dest?.close();
});

test('a service authority resolves to meshed endpoints with identity, inbound port and owner labels', { timeout: 60_000 }, async () => {
  const set = await discovery.resolve('web.demo.svc.cluster.local:80');
  assert.equal(set.endpoints.length, 1);
  const ep = set.endpoints[0]!;
  assert.deepEqual(ep.addr, { ip: '10.1.0.1', port: 8080 });
  assert.equal(ep.identity, WEB_ID);
  assert.equal(ep.hint, 'h2');
  assert.equal(ep.inboundPort, 4143);
  assert.equal(ep.labels.deployment, 'web');
  assert.equal(ep.labels.namespace, 'demo');
});

test('endpoint changes reach subscribers live', { timeout: 60_000 }, async () => {
  const set = await discovery.resolve('web.demo.svc.cluster.local:80');
  const changed = new Promise<readonly Endpoint[]>((resolve) => {
    const off = set.subscribe((eps) => {
      if (eps.length === 2) {
        off();
        resolve(eps);
      }
    });
  });
  source.apply('EndpointSlice', slice('web-a', 'web', [{ name: 'http', port: 8080 }], [{ ip: '10.1.0.1', pod: 'web-1' }, { ip: '10.1.0.2' }]));
  const eps = await changed;
  const added = eps.find((e) => e.addr.ip === '10.1.0.2')!;
  // An address without a meshed pod is plaintext.
  assert.equal(added.identity, undefined);
  assert.equal(added.inboundPort, undefined);
});

test('an unknown authority is rejected as UnknownAuthorityError, and remembered briefly', { timeout: 60_000 }, async () => {
  let streams = 0;
  const counting = new DestinationDiscovery(() => (streams++, clientForTests()), '{}', createLogger('t', 'silent'), 200);
  try {
    await assert.rejects(counting.resolve('nope.demo.svc.cluster.local:80'), UnknownAuthorityError);
    await assert.rejects(counting.resolve('nope.demo.svc.cluster.local:80'), UnknownAuthorityError);
    assert.equal(streams, 1);
    // After the TTL destination is asked again (the service may exist by now).
    await new Promise((r) => setTimeout(r, 300));
    await assert.rejects(counting.resolve('nope.demo.svc.cluster.local:80'), UnknownAuthorityError);
    assert.equal(streams, 2);
  } finally {
    counting.close();
  }
});

test('GetProfile delivers the service profile and its routes, gRPC retry statuses and idle timeout included', { timeout: 60_000 }, async () => {
  const { DestinationProfiles } = await import('./profiles.js');
  const route = { name: 'all', matches: [{ path: { prefix: '/' } }], timeout: '2s', idleTimeout: '30s', isRetryable: true, retryableGrpcStatuses: ['UNAVAILABLE', 'resource_exhausted'] };
  source.apply('ServiceProfile', { metadata: { name: 'web.demo.svc.cluster.local', namespace: 'demo' }, spec: { routes: [route] } });
  const profiles = new DestinationProfiles(clientForTests, '{"ns":"demo"}', createLogger('t', 'silent'));
  try {
    const watch = profiles.watch('web.demo.svc.cluster.local:80');
    const profile = watch.current()?.routes.length ? watch.current()! : await new Promise<NonNullable<ReturnType<typeof watch.current>>>((resolve) => {
      const off = watch.subscribe((p) => {
        if (p.routes.length > 0) {
          off();
          resolve(p);
        }
      });
    });
    assert.deepEqual(profile.routes.map((r) => r.name), ['all']);
    // What the proxy's route layers read: the ServiceProfile's names became codes; a gRPC call (POST) is opted in.
    const compiled = routeTableOf(profile).route('POST', '/pkg.Svc/Get', { 'content-type': 'application/grpc' });
    assert.deepEqual([...compiled.retryGrpcStatuses].sort((a, b) => a - b), [8, 14]);
    assert.equal(compiled.timeoutMs, 2000);
    assert.equal(compiled.idleTimeoutMs, 30_000);
    assert.ok(mayRetry(compiled, 'POST', true));
  } finally {
    profiles.close();
  }
});

test('a stream reopened to a new destination replaces the endpoints: ones removed while it was broken are not kept', { timeout: 60_000 }, async () => {
  // Two destinations as during a control-plane rollout: the first goes away while the servers are replaced,
  // the client reconnects to the second, which only knows the new pods.
  const log = createLogger('destination-test', 'silent');
  const before = new MemorySource();
  before.apply('Service', service('api', { clusterIP: '10.96.0.11', ports: [{ name: 'http', port: 80, targetPort: 8080 }] }));
  before.apply('EndpointSlice', slice('api-a', 'api', [{ name: 'http', port: 8080 }], [{ ip: '10.2.0.1' }, { ip: '10.2.0.2' }]));
  const after = new MemorySource();
  after.apply('Service', service('api', { clusterIP: '10.96.0.11', ports: [{ name: 'http', port: 80, targetPort: 8080 }] }));
  after.apply('EndpointSlice', slice('api-b', 'api', [{ name: 'http', port: 8080 }], [{ ip: '10.2.0.3' }, { ip: '10.2.0.4' }]));
  const first = await startTestDestination(before, log);
  const second = await startTestDestination(after, log);
  let current = first.client();
  const d = new DestinationDiscovery(() => current, '{"ns":"demo"}', log);
  try {
    const set = await d.resolve('api.demo.svc.cluster.local:80');
    assert.deepEqual(set.endpoints.map((e) => e.addr.ip).sort(), ['10.2.0.1', '10.2.0.2']);
    const changed = new Promise<readonly Endpoint[]>((resolve) => {
      const off = set.subscribe((eps) => {
        if (eps.some((e) => e.addr.ip === '10.2.0.3')) {
          off();
          resolve(eps);
        }
      });
    });
    current = second.client();
    await first.close();
    const eps = await changed;
    assert.deepEqual(eps.map((e) => e.addr.ip).sort(), ['10.2.0.3', '10.2.0.4']);
    assert.deepEqual(set.endpoints.map((e) => e.addr.ip).sort(), ['10.2.0.3', '10.2.0.4']);
  } finally {
    d.close();
    await first.close().catch(() => undefined);
    await second.close();
  }
});

test('a broken stream is reopened after 250 ms doubling up to 2 s, jittered to 50-100 % of that', async () => {
  const { reconnectDelayMs } = await import('./destination-client.js');
  assert.deepEqual([0, 1, 2, 3, 4, 10, 60].map((a) => reconnectDelayMs(a, () => 1)), [250, 500, 1000, 2000, 2000, 2000, 2000]);
  assert.deepEqual([0, 3, 60].map((a) => reconnectDelayMs(a, () => 0)), [125, 1000, 1000]);
});

/** destination's own count of open streams of one API (destination_streams{api}), from its admin port. */
async function destinationStreams(api: 'get' | 'profile'): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${dest.controller.adminPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`destination_streams{api="${api}"}`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('an endpoint stream nobody subscribes to any more is closed after the idle period, here and in destination; resolving again reopens it', { timeout: 60_000 }, async () => {
  const d = new DestinationDiscovery(clientForTests, '{"ns":"demo"}', createLogger('t', 'silent'), 5_000, 100);
  const authority = '10.96.0.10:80';
  try {
    const base = await destinationStreams('get');
    const set = await d.resolve(authority);
    const off = set.subscribe(() => undefined);
    assert.equal(d.openStreams, 1);
    await until('destination to count the stream', async () => (await destinationStreams('get')) === base + 1);
    // Subscribed: several idle periods pass and the stream stays, still live.
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(d.openStreams, 1, 'a subscribed stream stays open');
    assert.equal(await d.resolve(authority), set, 'the same set while it is open');
    off();
    await until('the idle stream to close here', () => d.openStreams === 0);
    await until('destination to drop the subscription', async () => (await destinationStreams('get')) === base);
    const again = await d.resolve(authority);
    assert.notEqual(again, set, 'a new stream after the idle close');
    assert.deepEqual(again.endpoints.map((e) => e.addr.ip).sort(), set.endpoints.map((e) => e.addr.ip).sort(), 'the same endpoints from the new stream');
    assert.equal(again.endpoints.find((e) => e.addr.ip === '10.1.0.1')?.identity, WEB_ID);
  } finally {
    d.close();
  }
  assert.equal(d.openStreams, 0, 'close() ends every stream');
});

test('a profile watch not read for a sweep period closes its stream, keeps its profile, and reopens on the next read', { timeout: 60_000 }, async () => {
  const { DestinationProfiles } = await import('./profiles.js');
  const authority = 'web.demo.svc.cluster.local:80';
  const profiles = new DestinationProfiles(clientForTests, '{"ns":"demo"}', createLogger('t', 'silent'), 100);
  try {
    const base = await destinationStreams('profile');
    const watch = profiles.watch(authority);
    await until('the first profile', () => watch.current() !== undefined);
    assert.equal(profiles.openStreams, 1);
    // Read on every sweep: it stays open.
    for (let i = 0; i < 6; i++) {
      watch.current();
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(profiles.openStreams, 1, 'a watch in use stays open');
    await until('the unread watch to close', () => profiles.openStreams === 0);
    await until('destination to drop the GetProfile subscription', async () => (await destinationStreams('profile')) === base);
    const kept = watch.current();
    assert.equal(kept?.fullyQualifiedName, 'web.demo.svc.cluster.local', 'the last profile is kept while the stream reopens');
    assert.equal(profiles.openStreams, 1, 'the read reopened the stream');
    // The reopened stream is live: a ServiceProfile change reaches the same watch.
    source.apply('ServiceProfile', { metadata: { name: 'web.demo.svc.cluster.local', namespace: 'demo' }, spec: { routes: [{ name: 'reopened', matches: [{ path: { prefix: '/' } }] }] } });
    await until('the change through the reopened stream', () => watch.current()?.routes.some((r) => r.name === 'reopened') === true);
  } finally {
    profiles.close();
  }
});

test('a closed profile watch read after another watch opened for its authority reads through that one', { timeout: 60_000 }, async () => {
  const { DestinationProfiles } = await import('./profiles.js');
  const authority = 'web.demo.svc.cluster.local:80';
  const profiles = new DestinationProfiles(clientForTests, '{"ns":"demo"}', createLogger('t', 'silent'), 100);
  try {
    const old = profiles.watch(authority);
    await until('the first profile', () => old.current() !== undefined);
    await until('the unread watch to close', () => profiles.openStreams === 0);
    const fresh = profiles.watch(authority);
    assert.notEqual(fresh, old);
    await until('the new watch\'s profile', () => fresh.current() !== undefined);
    old.current();
    assert.equal(profiles.openStreams, 1, 'no second stream for the same authority');
    source.apply('ServiceProfile', { metadata: { name: 'web.demo.svc.cluster.local', namespace: 'demo' }, spec: { routes: [{ name: 'through', matches: [{ path: { prefix: '/' } }] }] } });
    await until('the change seen through the old watch', () => old.current()?.routes.some((r) => r.name === 'through') === true);
  } finally {
    profiles.close();
  }
});
