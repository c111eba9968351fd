import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { exitQuietlyWhenOutputCloses } from './broken-pipe.js';

const epipe = () => Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });

class Exited extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}
const exit = (code: number): never => {
  throw new Exited(code);
};

test('a closed pipe exits 0 at once when nothing needs tearing down', () => {
  const out = new EventEmitter();
  exitQuietlyWhenOutputCloses([out], exit);
  assert.equal(process.listenerCount('SIGTERM'), 0);
  assert.throws(
    () => out.emit('error', epipe()),
    (e: unknown) => e instanceof Exited && e.code === 0,
  );
});

test('a verb that listens for SIGTERM is asked to stop once, however many writes fail after', () => {
  const out = new EventEmitter();
  exitQuietlyWhenOutputCloses([out], exit);
  let stops = 0;
  const stop = () => stops++;
  process.on('SIGTERM', stop);
  try {
    out.emit('error', epipe());
    out.emit('error', epipe());
    out.emit('error', Object.assign(new Error('destroyed'), { code: 'ERR_STREAM_DESTROYED' }));
    assert.equal(stops, 1);
  } finally {
    process.off('SIGTERM', stop);
  }
});

test('any other output error is reported and fails with exit code 1', () => {
  const out = new EventEmitter();
  exitQuietlyWhenOutputCloses([out], exit);
  assert.throws(
    () => out.emit('error', Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })),
    (e: unknown) => e instanceof Exited && e.code === 1,
  );
});
