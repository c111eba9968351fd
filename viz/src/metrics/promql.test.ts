// Which series a stat query reads: inbound for the object itself, the
// client's outbound series for --from, the object's own outbound for --to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkWindow, meshedPodsQueries, selectionFor } from './promql.js';

test('a workload is measured on its own inbound series', () => {
  const s = selectionFor({ resource: { kind: 'deployment', name: 'books' }, namespace: 'shop', window: '1m' });
  assert.equal(s.matchers, 'direction="inbound",namespace="shop",deployment="books"');
  assert.deepEqual(s.groupBy, ['namespace', 'deployment']);
});

test('--from reads the client\'s outbound series keyed by the destination', () => {
  const s = selectionFor({ resource: { kind: 'deployment' }, namespace: 'shop', from: { kind: 'deployment', name: 'web', namespace: 'front' }, window: '1m' });
  assert.equal(s.matchers, 'direction="outbound",namespace="front",deployment="web",dst_namespace="shop"');
  assert.deepEqual([s.namespaceLabel, s.nameLabel], ['dst_namespace', 'dst_deployment']);
});

test('--to narrows the object\'s outbound series to a destination', () => {
  const s = selectionFor({ resource: { kind: 'pod', name: 'web-1' }, namespace: 'shop', to: { kind: 'service', name: 'books', namespace: 'shop' }, window: '5m' });
  assert.equal(s.matchers, 'direction="outbound",namespace="shop",pod="web-1",dst_namespace="shop",dst_service="books"');
});

test('services are measured from their meshed clients', () => {
  const s = selectionFor({ resource: { kind: 'service', name: 'books' }, namespace: 'shop', window: '1m' });
  assert.equal(s.matchers, 'direction="outbound",dst_namespace="shop",dst_service="books"');
  assert.equal(meshedPodsQueries({ kind: 'service' }, 'shop'), undefined);
});

test('label values are quoted so they cannot break out of the selector', () => {
  const s = selectionFor({ resource: { kind: 'deployment', name: 'a"}or vector(1)' }, window: '1m' });
  assert.equal(s.matchers, 'direction="inbound",deployment="a\\"}or vector(1)"');
});

test('meshed pods count scraped proxies of objects of the kind only', () => {
  const m = 'job="weft-proxy",namespace="shop",statefulset!=""';
  assert.equal(meshedPodsQueries({ kind: 'statefulset' }, 'shop')!.total, `count by (namespace, statefulset) (group by (namespace, statefulset, pod) (up{${m}} or process_start_time_seconds{${m}}))`);
});

test('windows, --from with --to, and routes are validated', () => {
  assert.equal(checkWindow('30s'), '30s');
  for (const w of ['0s', '1', 'soon', '1m)']) assert.throws(() => checkWindow(w), /is not a time window/);
  assert.throws(() => selectionFor({ resource: { kind: 'deployment' }, from: { kind: 'pod' }, to: { kind: 'pod' }, window: '1m' }), /not both/);
  assert.throws(() => selectionFor({ resource: { kind: 'route' }, window: '1m' }), /routes are reported by `routes`/);
});
