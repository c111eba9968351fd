// Re-evaluation bookkeeping: only dependents of a change refresh, bursts
// coalesce, and one failing refresh does not stop the others.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterCache } from './cluster-cache.js';
import { SubscriptionIndex } from './subscriptions.js';
import { pod, service, settle } from '../testing/fixtures.js';

test('a burst of changes refreshes each dependent once; unrelated subscriptions stay idle', async () => {
  const cache = new ClusterCache();
  const subs = new SubscriptionIndex(cache);
  let web = 0;
  let other = 0;
  subs.add({ refresh: () => (web++, ['svc:demo/web']) });
  subs.add({ refresh: () => (other++, ['svc:demo/other']) });
  for (let i = 0; i < 5; i++) cache.apply('Service', service('web', { ports: [{ port: 80 + i }] }));
  await settle();
  assert.equal(web, 2, 'initial evaluation + one coalesced refresh');
  assert.equal(other, 1);
});

test('a refresh that throws is reported, the others still run, and it is retried on the next change', async () => {
  const cache = new ClusterCache();
  const errors: unknown[] = [];
  const subs = new SubscriptionIndex(cache, (e) => errors.push(e));
  let calls = 0;
  let fine = 0;
  subs.add({
    refresh: () => {
      if (calls++ === 1) throw new Error('unexpected object');
      return ['pod:demo/a'];
    },
  });
  subs.add({ refresh: () => (fine++, ['pod:demo/a']) });
  cache.apply('Pod', pod('a', { ip: '10.0.0.1' }));
  await settle();
  assert.equal(errors.length, 1);
  assert.equal(fine, 2);
  cache.apply('Pod', pod('a', { ip: '10.0.0.2' }));
  await settle();
  assert.equal(calls, 3, 'still subscribed after the failure');
});
