import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from './poll.js';

test('waitFor returns the first defined value', async () => {
  let n = 0;
  assert.equal(await waitFor('three calls', () => (++n === 3 ? n : undefined), { intervalMs: 1 }), 3);
});

test('waitFor times out naming what it waited for and the last reason', async () => {
  await assert.rejects(
    waitFor(
      'the answer',
      () => {
        throw new Error('not yet: 41');
      },
      { timeoutMs: 20, intervalMs: 1 },
    ),
    /waiting for the answer: not yet: 41/,
  );
});
test('waitFor treats false as not yet', async () => {
  let n = 0;
  assert.equal(await waitFor('a true condition', () => ++n >= 3, { intervalMs: 1 }), true);
  assert.equal(n, 3);
});
