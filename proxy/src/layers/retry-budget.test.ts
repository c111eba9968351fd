import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RetryBudget } from './retry-budget.js';

function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function drain(b: RetryBudget): number {
  let n = 0;
  while (b.withdraw()) n++;
  return n;
}

test('retries are capped at the ratio of original requests', () => {
  const c = clock();
  const b = new RetryBudget({ ratio: 0.2, minPerSecond: 0, ttlMs: 10_000 }, c.now);
  assert.equal(b.withdraw(), false, 'no requests, no retries');
  for (let i = 0; i < 100; i++) b.deposit();
  assert.equal(drain(b), 20);
});

test('the minimum rate allows retries without traffic, per TTL', () => {
  const c = clock();
  const b = new RetryBudget({ ratio: 0, minPerSecond: 5, ttlMs: 2_000 }, c.now);
  assert.equal(drain(b), 10);
});

test('deposits and withdrawals expire after the TTL window', () => {
  const c = clock();
  const b = new RetryBudget({ ratio: 0.5, minPerSecond: 0, ttlMs: 1_000 }, c.now);
  for (let i = 0; i < 10; i++) b.deposit();
  assert.equal(drain(b), 5);
  c.advance(1_100);
  assert.equal(b.withdraw(), false, 'old requests no longer earn retries');
  for (let i = 0; i < 4; i++) b.deposit();
  assert.equal(drain(b), 2, 'old retries no longer count against the budget');
});

test('within the window, buckets keep counting as time passes', () => {
  const c = clock();
  const b = new RetryBudget({ ratio: 1, minPerSecond: 0, ttlMs: 1_000 }, c.now);
  b.deposit();
  c.advance(500);
  b.deposit();
  assert.equal(drain(b), 2);
  c.advance(550);
  // The first deposit left the window; the one left earns one retry, and two were taken in the window.
  assert.equal(b.withdraw(), false);
  b.deposit();
  b.deposit();
  assert.equal(drain(b), 1);
});
