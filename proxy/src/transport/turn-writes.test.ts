import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { holdForTurn, release, WINDOW_MS } from './turn-writes.js';

/** A connected loopback pair: `local` is written, `received()` is everything the peer has read so far. */
async function pair(t: { after(fn: () => void): void }): Promise<{ local: net.Socket; received(): string; ended: Promise<unknown> }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const local = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1' });
  await once(local, 'connect');
  const [peer] = await accepted;
  let got = '';
  peer.setEncoding('latin1');
  peer.on('data', (d: string) => (got += d));
  const ended = once(peer, 'close');
  t.after(() => {
    local.destroy();
    peer.destroy();
    server.close();
  });
  return { local, received: () => got, ended };
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Keeps the loop's thread busy for `ms` without returning to the poll (no idle time). */
function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

/** Makes this turn one of a saturated loop: a window of the loop's time longer than `WINDOW_MS`, none of it idle. */
function saturate(socket: net.Socket): void {
  holdForTurn(socket); // closes the window before (idle or not): a new one starts
  busyFor(WINDOW_MS * 1.5);
}

/** Resumes after the loop slept in its poll for a while (a lightly loaded proxy). */
const afterIdle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));

test('in a saturated loop, writes held for the turn stay in the socket until the turn ends, then leave in the order written', async (t) => {
  const a = await pair(t);
  const b = await pair(t);
  saturate(a.local);
  holdForTurn(a.local);
  a.local.write('one ', 'latin1');
  holdForTurn(b.local);
  holdForTurn(a.local); // a second hold in the same turn changes nothing
  b.local.write('other');
  a.local.write(Buffer.from('two'));
  // Nothing was handed to the kernel yet: both sockets still hold their bytes.
  assert.equal(a.local.writableLength, 7);
  assert.equal(b.local.writableLength, 5);
  await nextTurn();
  assert.equal(a.local.writableLength, 0);
  assert.equal(b.local.writableLength, 0);
  assert.equal(a.local.writableCorked, 0);
  while (a.received().length < 7 || b.received().length < 5) await nextTurn();
  assert.equal(a.received(), 'one two');
  assert.equal(b.received(), 'other');
});

test('a socket released before it is destroyed writes what it held first; one destroyed while held loses it', async (t) => {
  const kept = await pair(t);
  saturate(kept.local);
  holdForTurn(kept.local);
  kept.local.write('answer');
  release(kept.local);
  assert.equal(kept.local.writableCorked, 0);
  kept.local.destroy();
  await kept.ended;
  assert.equal(kept.received(), 'answer');

  // Why release exists: destroy drops corked bytes.
  const lost = await pair(t);
  saturate(lost.local);
  holdForTurn(lost.local);
  lost.local.write('dropped');
  lost.local.destroy();
  await lost.ended;
  assert.equal(lost.received(), '');
  await nextTurn(); // the turn's end passes over the destroyed socket
});

test('end() flushes a held socket; a hold on the next turn holds again', async (t) => {
  const first = await pair(t);
  saturate(first.local);
  holdForTurn(first.local);
  first.local.write('x');
  assert.equal(first.local.writableLength, 1);
  await nextTurn();
  holdForTurn(first.local);
  first.local.write('y');
  assert.equal(first.local.writableLength, 1, 'held again on a later turn');
  first.local.end('z');
  await first.ended;
  assert.equal(first.received(), 'xyz');
});

test('a loop that slept in the window before holds nothing: writes leave at once; held again once saturated', async (t) => {
  const a = await pair(t);
  await afterIdle();
  holdForTurn(a.local);
  a.local.write('now');
  assert.equal(a.local.writableLength, 0, 'handed to the kernel as written');
  assert.equal(a.local.writableCorked, 0);
  busyFor(WINDOW_MS * 1.5);
  holdForTurn(a.local);
  a.local.write('later');
  assert.equal(a.local.writableLength, 5, 'held: the window since was all work');
  await nextTurn();
  assert.equal(a.local.writableLength, 0);
  while (a.received().length < 8) await nextTurn();
  assert.equal(a.received(), 'nowlater');
});

test('holding a socket adds nothing to it: held and unheld sockets keep one hidden class', async (t) => {
  const a = await pair(t);
  const b = await pair(t);
  const keys = (s: net.Socket) => Reflect.ownKeys(s).map(String).sort();
  b.local.write('free'); // written, never held
  const before = keys(b.local);
  saturate(a.local);
  holdForTurn(a.local);
  a.local.write('held');
  assert.equal(a.local.writableLength, 4, 'held for the turn');
  assert.deepEqual(keys(a.local), before, 'while held');
  await nextTurn();
  assert.deepEqual(keys(a.local), before, 'after the turn');
  assert.deepEqual(keys(a.local), keys(b.local), 'the same as a socket never held');
  while (a.received().length < 4 || b.received().length < 4) await nextTurn();
  assert.equal(a.received(), 'held');
  assert.equal(b.received(), 'free');
});
