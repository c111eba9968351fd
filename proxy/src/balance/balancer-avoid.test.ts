// Endpoint exclusion on pick: a request that was not delivered is re-sent on
// an endpoint other than the ones that just failed, while one is available.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Balancer } from './balancer.js';

function balancer(keys: string[], random: () => number = Math.random): Balancer<string> {
  const b = new Balancer<string>({ now: () => 0, random });
  for (const k of keys) b.add({ key: k, weight: 1, endpoint: k });
  return b;
}

test('an avoided endpoint is never picked while another one is available (every random draw)', () => {
  const b = balancer(['a', 'b', 'c']);
  const avoid = new Set(['a']);
  for (let i = 0; i < 500; i++) {
    const lease = b.pick(avoid)!;
    assert.notEqual(lease.key, 'a');
    lease.done(true);
  }
});

test('with one other endpoint left, that one is picked even when it costs more', () => {
  const b = balancer(['dead', 'live']);
  // Make `live` the more expensive choice: slow samples and one request in flight.
  const slow = b.pick(new Set(['dead']))!;
  assert.equal(slow.key, 'live');
  slow.done(true, 10_000);
  const held = b.pick(new Set(['dead']))!;
  assert.equal(held.key, 'live');
  for (let i = 0; i < 100; i++) {
    const lease = b.pick(new Set(['dead']))!;
    assert.equal(lease.key, 'live');
    lease.done(true, 10_000);
  }
  held.done(true);
  // Without avoidance P2C prefers the cheap endpoint.
  const free = b.pick()!;
  assert.equal(free.key, 'dead');
  free.done(true);
});

test('when every available endpoint is avoided, one of them is still picked', () => {
  const b = balancer(['a', 'b']);
  const lease = b.pick(new Set(['a', 'b']));
  assert.ok(lease, 'an endpoint is picked');
  assert.ok(['a', 'b'].includes(lease.key));
  lease.done(true);
});

test('avoidance does not bring back an ejected or draining endpoint', () => {
  const b = new Balancer<string>({ now: () => 0, random: Math.random, failureAccrual: { consecutiveFailures: 1, minBackoffMs: 1000, maxBackoffMs: 1000, jitter: 0 } });
  b.add({ key: 'ejected', weight: 1, endpoint: 'ejected' });
  b.add({ key: 'live', weight: 1, endpoint: 'live' });
  b.add({ key: 'gone', weight: 1, endpoint: 'gone' });
  b.remove('gone');
  // Fail `ejected` once: with consecutiveFailures 1 it is ejected for 1 s.
  for (;;) {
    const l = b.pick()!;
    if (l.key === 'ejected') {
      l.done(false);
      break;
    }
    l.done(true);
  }
  assert.equal(b.status().find((s) => s.key === 'ejected')?.state, 'ejected');
  for (let i = 0; i < 50; i++) {
    const l = b.pick(new Set(['live']))!;
    assert.equal(l.key, 'live', 'only live is available: the avoided one is picked rather than an ejected or removed one');
    l.done(true);
  }
});
