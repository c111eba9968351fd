import assert from 'node:assert/strict';
import test from 'node:test';
import { once } from 'node:events';
import { PassThrough, Readable, Writable } from 'node:stream';
import { BodyForward } from './forward.js';

/** A writable that keeps what it was given and acknowledges each write only when `release()` is called. */
function slowSink(highWaterMark: number): { sink: Writable; got: Buffer[]; release: () => void } {
  const got: Buffer[] = [];
  const pending: (() => void)[] = [];
  const sink = new Writable({
    highWaterMark,
    write(chunk: Buffer, _enc, cb) {
      got.push(chunk);
      pending.push(cb);
    },
  });
  return { sink, got, release: () => pending.splice(0).forEach((cb) => cb()) };
}

test('copies every chunk in order and ends the writable with the readable', async () => {
  const src = Readable.from([Buffer.from('a'), Buffer.from('bc'), Buffer.from('def')], { objectMode: false });
  const out: Buffer[] = [];
  const dst = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk);
      cb();
    },
  });
  new BodyForward(src, dst, true);
  await once(dst, 'finish');
  assert.equal(Buffer.concat(out).toString(), 'abcdef');
});

test('without `end` the writable stays open after the readable ended', async () => {
  const src = new PassThrough();
  const dst = new PassThrough();
  new BodyForward(src, dst, false);
  src.end('x');
  await once(src, 'end');
  assert.equal(dst.writableEnded, false);
  assert.equal(dst.read()?.toString(), 'x');
});

test('a writable that is behind pauses the readable until it drains', async () => {
  const src = new PassThrough();
  const { sink, got, release } = slowSink(4);
  new BodyForward(src, sink, true);
  src.write(Buffer.alloc(8, 1));
  await new Promise((r) => setImmediate(r));
  assert.equal(src.isPaused(), true, 'paused while the sink is over its high-water mark');
  src.write(Buffer.alloc(8, 2));
  await new Promise((r) => setImmediate(r));
  assert.equal(got.length, 1, 'the second chunk waits in the readable');
  release();
  await new Promise((r) => setImmediate(r));
  assert.equal(got.length, 2, 'drain resumed the readable');
  release();
  src.end();
  await once(sink, 'finish');
  assert.deepEqual(
    got.map((b) => b[0]),
    [1, 2],
  );
});

test('once the writable closed, the readable is paused and no longer read', async () => {
  const src = new PassThrough();
  const dst = new PassThrough();
  new BodyForward(src, dst, true);
  dst.destroy();
  await once(dst, 'close');
  src.write('after close');
  await new Promise((r) => setImmediate(r));
  assert.equal(src.isPaused(), true);
  assert.equal(src.listenerCount('data'), 0);
  assert.equal(src.readableLength, 'after close'.length, 'left for whoever reads it next');
});

test('a readable paused before it was handed over flows (as pipe)', async () => {
  const src = new PassThrough();
  src.pause();
  src.write('early');
  const dst = new PassThrough();
  new BodyForward(src, dst, true);
  src.end();
  await once(dst, 'finish');
  assert.equal(dst.read()?.toString(), 'early');
});
