import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseInterval, watch } from './watch.js';

function recorder(isTTY: boolean) {
  const writes: string[] = [];
  return { isTTY, writes, write: (t: string) => (writes.push(t), true) };
}

test('on a terminal each frame clears the screen and replaces the last', async () => {
  const out = recorder(true);
  const abort = new AbortController();
  let n = 0;
  await watch(async () => `frame ${++n}\n${n === 3 ? (abort.abort(), '') : ''}`, {
    intervalMs: 100,
    title: 'weft viz stat deploy',
    out,
    signal: abort.signal,
  });
  assert.equal(out.writes.length, 3);
  for (const [i, w] of out.writes.entries()) {
    assert.ok(w.startsWith('\x1b[H\x1b[2JEvery 0.1s: weft viz stat deploy    '), JSON.stringify(w));
    assert.ok(w.includes(`frame ${i + 1}`));
  }
});

test('into a pipe frames are appended with a header each, and a failed refresh is shown and retried', async () => {
  const out = recorder(false);
  const abort = new AbortController();
  let n = 0;
  await watch(
    async () => {
      n++;
      if (n === 2) throw new Error('viz is restarting');
      if (n === 3) abort.abort();
      return `frame ${n}\n`;
    },
    { intervalMs: 100, title: 't', out, signal: abort.signal },
  );
  assert.equal(out.writes.length, 3);
  assert.ok(
    out.writes.every((w) => !w.includes('\x1b[')),
    'no escape codes into a pipe',
  );
  assert.match(out.writes[1]!, /weft: viz is restarting \(retrying every 0.1s\)/);
  assert.match(out.writes[2]!, /^Every 0.1s: t {4}\S+\n\nframe 3\n/);
});

test("the first frame failing is the command's error, and bad intervals are refused", async () => {
  await assert.rejects(
    watch(async () => Promise.reject(new Error('deploy/x not found')), { intervalMs: 100, title: 't', out: recorder(false) }),
    /not found/,
  );
  assert.equal(process.listenerCount('SIGINT'), 0, 'no Ctrl-C handler left behind');
  assert.equal(parseInterval('250ms'), 250);
  assert.throws(() => parseInterval('10ms'), /shorter than 100ms/);
  assert.throws(() => parseInterval('soon'), /--interval/);
});
