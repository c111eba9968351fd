// Certify's per-source token buckets on an injected clock: burst, refill,
// one source never spends another's calls, and the table of sources stays
// bounded (idle ones forgotten, the least recently used dropped first).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SourceRateLimiter } from './source-rate-limiter.js';

function clock() {
  let ms = 1_000_000;
  return { now: () => ms, advance: (by: number) => (ms += by) };
}

test('a source gets `burst` calls at once, then waits for the refill; the wait is what take() reports', () => {
  const c = clock();
  const limiter = new SourceRateLimiter({ burst: 3, perMinute: 6 }, c.now);
  assert.deepEqual([1, 2, 3].map(() => limiter.take('10.0.0.1')), [0, 0, 0]);
  assert.equal(limiter.take('10.0.0.1'), 10_000);
  c.advance(9_999);
  assert.equal(limiter.take('10.0.0.1'), 1);
  c.advance(1);
  assert.equal(limiter.take('10.0.0.1'), 0);
  assert.equal(limiter.take('10.0.0.1'), 10_000);
});

test('refill stops at the burst: a long-idle source gets `burst` calls, not more', () => {
  const c = clock();
  const limiter = new SourceRateLimiter({ burst: 2, perMinute: 60 }, c.now);
  limiter.take('10.0.0.1');
  c.advance(3_600_000);
  assert.deepEqual([1, 2, 3].map(() => limiter.take('10.0.0.1') === 0), [true, true, false]);
});

test('one source exhausting its bucket does not limit another', () => {
  const limiter = new SourceRateLimiter({ burst: 1, perMinute: 1 }, clock().now);
  assert.equal(limiter.take('10.0.0.1'), 0);
  assert.ok(limiter.take('10.0.0.1') > 0);
  assert.equal(limiter.take('10.0.0.2'), 0);
});

test('a clock that steps back neither refills nor drains a bucket', () => {
  const c = clock();
  const limiter = new SourceRateLimiter({ burst: 2, perMinute: 60 }, c.now);
  limiter.take('10.0.0.1');
  c.advance(-60_000);
  assert.equal(limiter.take('10.0.0.1'), 0);
  assert.ok(limiter.take('10.0.0.1') > 0);
});

test('sources idle long enough to be full again are forgotten', () => {
  const c = clock();
  const limiter = new SourceRateLimiter({ burst: 2, perMinute: 60 }, c.now);
  for (let i = 0; i < 100; i++) limiter.take(`10.0.1.${i}`);
  assert.equal(limiter.size, 100);
  // 2 calls at 1/s refill in 2 s; a source seen 1 s ago is still refilling and kept.
  c.advance(1_000);
  limiter.take('10.0.2.1');
  c.advance(1_000);
  limiter.take('10.0.2.2');
  assert.equal(limiter.size, 2);
});

test('the table never holds more than maxSources; the least recently used source goes first', () => {
  const limiter = new SourceRateLimiter({ burst: 1, perMinute: 1 }, clock().now, 3);
  for (const s of ['a', 'b', 'c']) limiter.take(s);
  // 'a' is used again (and refused), so 'b' is now the least recently used.
  assert.ok(limiter.take('a') > 0);
  limiter.take('x');
  assert.equal(limiter.size, 3);
  assert.ok(limiter.take('a') > 0, 'a, recently used, is still tracked and limited');
  assert.equal(limiter.take('b'), 0, 'b, the least recently used, was dropped and starts over');
  for (let i = 0; i < 50; i++) limiter.take(`flood-${i}`);
  assert.equal(limiter.size, 3);
});
