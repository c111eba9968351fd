// The code V8 optimized for the proxy's per-request classes survives the full collections an idle proxy runs, because
// keep-shapes.ts keeps one instance of each: a real mesh in a process of its own (testing/shape-probe.ts), with V8's
// own trace of the optimized code it throws away, and the same process again without the kept instances as the
// control (the collections then do throw that code away, so the test would see a change that lost the keeping).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const PROBE = new URL('./testing/shape-probe.js', import.meta.url).pathname;
/**
 * Functions whose optimized code is specialized on kept classes: HTTP/1's whole response and its held body, the
 * metrics' response counter; HTTP/2's client exchange and served request (kept through the counter's response).
 */
const WATCHED = { http1: ['wholeBody', 'countWhole', 'respondWhole'], http2: ['H2Exchange', 'onH2Stream'] };

test('optimized code for HTTP/1 and HTTP/2 per-request classes survives idle full collections while their newest instances are kept', { timeout: 120_000 }, () => {
  const r = spawnSync(process.execPath, ['--expose-gc', '--trace-gc', '--trace-deopt', PROBE], { encoding: 'utf8', timeout: 100_000, maxBuffer: 64 * 2 ** 20 });
  assert.equal(r.status, 0, `shape-probe failed:\n${r.stderr}\n${r.stdout.slice(-4000)}`);
  const lines = r.stdout.split('\n');
  // V8 prints the functions a collection throws away before that collection's own line.
  const forced = lines.flatMap((l, i) => (/Mark-Compact .* testing;/.test(l) ? [i] : []));
  assert.equal(forced.length, 4, `four forced collections traced:\n${r.stdout.slice(-4000)}`);
  const thrownAway = (from: number, to: number) =>
    lines
      .slice(from, to)
      .flatMap((l) => (/reason: weak objects/.test(l) ? [/<SharedFunctionInfo ([^>]*)>/.exec(l)?.[1] ?? ''] : []));
  const kept = thrownAway(0, forced[1]!);
  const forgotten = thrownAway(forced[1]! + 1, forced[3]!);
  for (const [protocol, watched] of Object.entries(WATCHED)) {
    assert.deepEqual(
      kept.filter((name) => watched.includes(name)),
      [],
      `${protocol}: with the newest instances kept, the collections threw away: ${kept.join(' ')}`,
    );
    assert.ok(
      forgotten.some((name) => watched.includes(name)),
      `${protocol}: without them (the control), the collections threw away none of ${watched.join(', ')}: ${forgotten.join(' ')}`,
    );
  }
});
