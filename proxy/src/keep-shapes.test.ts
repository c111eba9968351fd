// The code V8 optimized for the proxy's per-request classes survives the full collections an idle proxy runs, because
// keep-shapes.ts keeps one instance of each: a real mesh in a process of its own (testing/shape-probe.ts), with V8's
// own trace of the optimized code it throws away, and the same run again without the kept instances as the control
// (the collections then do throw that code away, so the test would see a change that lost the keeping).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PROBE = new URL('./testing/shape-probe.js', import.meta.url).pathname;
/**
 * Functions whose optimized code is specialized on kept classes alone, by protocol: for HTTP/1 the whole response and
 * its held body, the metrics' response counter and the client's exchange; for HTTP/2 the client's exchange and the
 * served stream's exchange and request; and Node's own `initAsyncResource`, which every `Immediate` and `Timeout` goes
 * through (the proxy's end-of-turn writes make the immediates; the kept connections' deadlines are timeouts); and the
 * balancer's `pick`, which makes each request's lease. Which of them hold optimized code when the load ends varies
 * from run to run on a busy machine (a late deoptimization is not always followed by a new optimization), so the
 * control asks for any one of them.
 */
const WATCHED = {
  http1: ['wholeBody', 'countWhole', 'respondWhole', 'Exchange'],
  http2: ['H2Exchange', 'onH2Stream', 'cutOff'],
  immediates: ['initAsyncResource'],
  balancer: ['pick'],
};
const ALL_WATCHED = Object.values(WATCHED).flat();

/** The functions V8 threw away ("weak objects") in one run of the probe, with or without the kept instances. */
function thrownAway(forget: boolean): string[] {
  // Functions are optimized, and the heap collected, on the process's own thread only: no compiler thread that a busy
  // machine may starve until after the load, and V8's trace lines come from one thread, whole.
  const flags = ['--expose-gc', '--trace-deopt', '--no-concurrent-recompilation', '--single-threaded-gc'];
  // V8 writes its traces through the C library's buffered stdout. Into a pipe (which Node makes non-blocking) the
  // last buffer can be refused while the reader is behind, and is lost at exit; into a file every byte lands.
  const dir = mkdtempSync(join(tmpdir(), 'weft-shape-probe-'));
  try {
    const out = join(dir, 'trace');
    const fd = openSync(out, 'w');
    let r;
    try {
      r = spawnSync(process.execPath, [...flags, PROBE, ...(forget ? ['forget'] : [])], { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8', timeout: 100_000 });
    } finally {
      closeSync(fd);
    }
    const trace = readFileSync(out, 'utf8');
    assert.equal(r.status, 0, `shape-probe failed:\n${r.stderr}\n${trace.slice(-4000)}`);
    return trace.split('\n').flatMap((l) => (/reason: weak objects/.test(l) ? [/<SharedFunctionInfo ([^>]*)>/.exec(l)?.[1] ?? ''] : []));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('optimized code for HTTP/1 and HTTP/2 per-request classes, Node\'s immediates and the balancer\'s leases survives idle full collections while their newest instances are kept', { timeout: 240_000 }, () => {
  const kept = thrownAway(false);
  for (const [protocol, watched] of Object.entries(WATCHED)) {
    assert.deepEqual(
      kept.filter((name) => watched.includes(name)),
      [],
      `${protocol}: with the newest instances kept, V8 threw away: ${kept.join(' ')}`,
    );
  }
  const forgotten = thrownAway(true);
  assert.ok(
    forgotten.some((name) => ALL_WATCHED.includes(name)),
    `without them (the control), V8 threw away none of ${ALL_WATCHED.join(', ')}: ${forgotten.join(' ')}`,
  );
});
