// GetProfile(authority): ServiceProfile routes, timeouts, retries, budget,
// traffic split and opaque ports; invalid profiles are ignored, not half-applied.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { destination } from '@weft/api';
import { CRD_VERSION, PROFILE_GROUP } from '@weft/api/names';
import { WatchHub } from '../watch-hub.js';
import { DEFAULT_SETTINGS } from '../settings.js';
import { pod, service, settle } from '../testing/fixtures.js';
import type { CustomObject } from '../model.js';

const log = pino({ level: 'silent' });

const profileSpec = {
  routes: [
    {
      name: 'GET /books',
      matches: [{ method: 'get', path: { prefix: '/books' }, headers: [{ name: 'X-Canary', exact: '1' }] }],
      timeout: '100ms',
      totalTimeout: '1s',
      isRetryable: true,
    },
    { name: 'POST /orders', matches: [{ method: 'POST', path: { regex: '^/orders/\\d+$' } }], responseClasses: [{ status: { min: 500, max: 504 }, isFailure: true }] },
  ],
  retryBudget: { retryRatio: 0.1, minRetriesPerSecond: 5, ttl: '30s' },
  dstOverrides: [
    { authority: 'web-v2.demo.svc.cluster.local:80', weight: 900 },
    { authority: 'web.demo.svc.cluster.local:80', weight: 100 },
  ],
};

function sp(spec: unknown, name = 'web.demo.svc.cluster.local'): CustomObject {
  return { apiVersion: `${PROFILE_GROUP}/${CRD_VERSION}`, kind: 'ServiceProfile', metadata: { name, namespace: 'demo' }, spec };
}

function setup(): WatchHub {
  const d = new WatchHub(DEFAULT_SETTINGS, log);
  d.cache.apply('Service', service('web', { clusterIP: '10.96.0.10', annotations: { 'config.weft.io/opaque-ports': '3306' }, ports: [{ port: 80 }, { port: 3306 }] }));
  d.cache.apply('ServiceProfile', sp(profileSpec));
  return d;
}

function watch(d: WatchHub, authority: string): destination.DestinationProfile[] {
  const got: destination.DestinationProfile[] = [];
  d.watchProfile(authority, (p) => got.push(p));
  return got;
}

test('routes carry method/path/header matches, timeouts and retryability', () => {
  const [p] = watch(setup(), 'web.demo.svc.cluster.local:80');
  assert.equal(p!.fullyQualifiedName, 'web.demo.svc.cluster.local');
  const [books, orders] = p!.routes;
  assert.equal(books!.name, 'GET /books');
  assert.equal(books!.matches[0]!.method, 'GET');
  assert.deepEqual(books!.matches[0]!.path?.kind, { case: 'prefix', value: '/books' });
  assert.equal(books!.matches[0]!.headers[0]!.name, 'x-canary');
  assert.deepEqual(books!.matches[0]!.headers[0]!.value, { case: 'exact', value: '1' });
  assert.equal(books!.timeout?.nanos, 100_000_000);
  assert.equal(books!.totalTimeout?.seconds, 1n);
  assert.equal(books!.isRetryable, true);
  assert.deepEqual(books!.retryStatuses.map((s) => [s.min, s.max]), [[500, 599]], 'retryable routes retry 5xx by default');
  assert.equal(orders!.isRetryable, false);
  assert.deepEqual(orders!.matches[0]!.path?.kind, { case: 'regex', value: '^/orders/\\d+$' });
  assert.deepEqual(orders!.responseClasses.map((c) => [c.status?.min, c.status?.max, c.isFailure]), [[500, 504, true]]);
});

test('retry budget and traffic-split weights come from the profile', () => {
  const [p] = watch(setup(), '10.96.0.10:80');
  assert.ok(Math.abs(p!.retryBudget!.retryRatio - 0.1) < 1e-6);
  assert.equal(p!.retryBudget!.minRetriesPerSecond, 5);
  assert.equal(p!.retryBudget!.ttl?.seconds, 30n);
  assert.deepEqual(p!.dstOverrides.map((d) => [d.authority, d.weight]), [
    ['web-v2.demo.svc.cluster.local:80', 900],
    ['web.demo.svc.cluster.local:80', 100],
  ]);
});

test('opaque ports come from the Service annotation; the asked port is flagged', () => {
  const d = setup();
  const [http] = watch(d, 'web.demo.svc.cluster.local:80');
  assert.deepEqual(http!.opaquePorts, [3306]);
  assert.equal(http!.opaqueProtocol, false);
  const [mysql] = watch(d, 'web.demo.svc.cluster.local:3306');
  assert.equal(mysql!.opaqueProtocol, true);
});

test('a pod IP takes opaque ports from the pod annotation', () => {
  const d = setup();
  d.cache.apply('Pod', pod('db-0', { ip: '10.1.2.3', annotations: { 'config.weft.io/opaque-ports': '5432,6000-6001' } }));
  const [p] = watch(d, '10.1.2.3:5432');
  assert.deepEqual(p!.opaquePorts, [5432, 6000, 6001]);
  assert.equal(p!.opaqueProtocol, true);
});

test('changing split weights streams a new profile; an unrelated change does not', async () => {
  const d = setup();
  const got = watch(d, 'web.demo.svc.cluster.local:80');
  d.cache.apply('ServiceProfile', sp({ ...profileSpec, dstOverrides: [{ authority: 'web-v2.demo.svc.cluster.local:80', weight: 1 }] }));
  await settle();
  assert.equal(got.length, 2);
  assert.deepEqual(got[1]!.dstOverrides.map((x) => x.weight), [1]);
  d.cache.apply('ServiceProfile', sp(profileSpec, 'other.demo.svc.cluster.local'));
  await settle();
  assert.equal(got.length, 2);
});

test('an invalid ServiceProfile is ignored as a whole: the default profile is served', async () => {
  const d = setup();
  const got = watch(d, 'web.demo.svc.cluster.local:80');
  d.cache.apply('ServiceProfile', sp({ routes: [{ name: 'bad', matches: [{ path: { regex: '([' } }] }] }));
  await settle();
  assert.equal(got.length, 2);
  assert.deepEqual(got[1]!.routes, []);
  assert.equal(got[1]!.retryBudget?.minRetriesPerSecond, 10, 'default budget');
});

test('unknown authorities get the default profile at once', () => {
  const d = setup();
  for (const a of ['nope.demo.svc.cluster.local:80', 'example.com:443', '10.9.9.9:80']) {
    const got = watch(d, a);
    assert.equal(got.length, 1, a);
    assert.deepEqual(got[0]!.routes, []);
    assert.ok(got[0]!.retryBudget);
  }
});

test('deleting the ServiceProfile falls back to no routes', async () => {
  const d = setup();
  const got = watch(d, 'web.demo.svc.cluster.local:80');
  d.cache.delete('ServiceProfile', sp(profileSpec));
  await settle();
  assert.deepEqual(got[1]?.routes, []);
});
