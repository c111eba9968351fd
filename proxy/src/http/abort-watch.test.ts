import assert from 'node:assert/strict';
import test from 'node:test';
import { getEventListeners } from 'node:events';
import { watchAbort, watcherCount, type AbortWatcher } from './abort-watch.js';

const watcher = (log: string[], name: string): AbortWatcher => ({ aborted: () => log.push(name) });

test('one listener per signal; every watcher still watching is told once when it aborts, in the order they came', () => {
  const ac = new AbortController();
  const log: string[] = [];
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => watcher(log, n));
  const wa = watchAbort(ac.signal, a!);
  watchAbort(ac.signal, b!);
  const wc = watchAbort(ac.signal, c!);
  watchAbort(ac.signal, d!);
  assert.equal(getEventListeners(ac.signal, 'abort').length, 1);
  assert.equal(watcherCount(ac.signal), 4);
  assert.equal(wc.delete(c!), true);
  assert.equal(wc.delete(c!), false);
  assert.equal(watcherCount(ac.signal), 3);
  ac.abort();
  assert.deepEqual(log, ['a', 'b', 'd']);
  assert.equal(watcherCount(ac.signal), 0);
  assert.equal(wa.delete(a!), false);
});

test('one watcher at a time, as on an HTTP/1 connection: the slot is reused, and the watcher beside it is not lost', () => {
  const ac = new AbortController();
  const log: string[] = [];
  for (let i = 0; i < 100; i++) {
    const w = watcher(log, `x${i}`);
    assert.equal(watchAbort(ac.signal, w).delete(w), true);
  }
  assert.equal(watcherCount(ac.signal), 0);
  // The first leaves while a second is watching; a third takes the free slot: both still watching are told.
  const [first, second, third] = ['first', 'second', 'third'].map((n) => watcher(log, n));
  const w1 = watchAbort(ac.signal, first!);
  watchAbort(ac.signal, second!);
  w1.delete(first!);
  watchAbort(ac.signal, third!);
  assert.equal(watcherCount(ac.signal), 2);
  ac.abort();
  assert.deepEqual(log.sort(), ['second', 'third']);
});

test('a watcher added twice is told once', () => {
  const ac = new AbortController();
  const log: string[] = [];
  const w = watcher(log, 'w');
  watchAbort(ac.signal, w);
  watchAbort(ac.signal, w);
  assert.equal(watcherCount(ac.signal), 1);
  ac.abort();
  assert.deepEqual(log, ['w']);
});
