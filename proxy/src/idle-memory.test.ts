// watchIdleMemory gives memory back once per quiet spell that follows work: the decision on a CPU clock the test
// turns, then the real reduction (V8's young generation, the executable's pages) and the real watch in processes of
// their own (never in the test runner, whose heap and pages they would change).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { watchIdleMemory, type IdleReduction } from './idle-memory.js';

const MODULE = pathToFileURL(new URL('./idle-memory.js', import.meta.url).pathname).href;

/** A watch on a CPU clock the test sets (µs), counting reductions; `reductionCpuUs`: what each reduction costs. */
function watched(opts: { reductionCpuUs?: number; fail?: boolean } = {}) {
  let cpu = 0;
  let reductions = 0;
  const logs: Array<{ level: number; msg: string; workCpuMs?: number }> = [];
  const watch = watchIdleMemory(pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line)) }), {
    checkMs: 3_600_000, // the test calls check() itself
    quietCpuMs: 50,
    workCpuMs: 1_000,
    cpuMicros: () => cpu,
    reduce: (): IdleReduction => {
      reductions += 1;
      cpu += opts.reductionCpuUs ?? 0;
      if (opts.fail) throw new Error('no memory to give');
      return { newSpaceMiB: [4, 1], releasedMiB: 7 };
    },
  });
  /** `ms` of CPU in the next period, then the check at its end. */
  const period = (ms: number): IdleReduction | undefined => {
    cpu += ms * 1000;
    return watch.check();
  };
  return { watch, period, logs, reductions: () => reductions };
}

test('idle memory: nothing at start-up, once when quiet after work, not again until more work', () => {
  const w = watched();
  try {
    // Start-up's CPU (under the work threshold) then quiet: nothing to give back.
    assert.equal(w.period(300), undefined);
    assert.equal(w.period(10), undefined);
    // Load: busy periods never reduce, however much work they add.
    assert.equal(w.period(800), undefined);
    assert.equal(w.period(900), undefined);
    // The first quiet period after it does, once.
    assert.deepEqual(w.period(20), { newSpaceMiB: [4, 1], releasedMiB: 7 });
    assert.equal(w.reductions(), 1);
    const line = w.logs.find((l) => l.msg === 'quiet after work: memory given back');
    assert.ok(line, JSON.stringify(w.logs));
    assert.equal(line.level, 20, 'logged at debug');
    assert.equal(line.workCpuMs, 2_010, 'the CPU since start, up to the quiet period');
    // Staying quiet, or a little traffic (under 1 s of CPU in all), gives nothing more.
    for (let i = 0; i < 20; i++) assert.equal(w.period(40), undefined);
    assert.equal(w.reductions(), 1);
    // Enough work again, then quiet: once more.
    assert.equal(w.period(600), undefined);
    assert.ok(w.period(0));
    assert.equal(w.reductions(), 2);
  } finally {
    w.watch.stop();
  }
});

test('idle memory: the reduction\'s own CPU is neither work nor noise in the next period', () => {
  const w = watched({ reductionCpuUs: 30_000 });
  try {
    w.period(1_500);
    assert.ok(w.period(10));
    // The 30 ms the reduction took belong to no period: the next check is quiet and owes nothing to it.
    assert.equal(w.period(40), undefined);
    assert.equal(w.period(900), undefined, 'busy periods never reduce');
    assert.equal(w.period(40), undefined, '980 ms of work since the reduction (its own 30 ms not counted): under the threshold');
    assert.ok(w.period(30), '1,010 ms since the reduction, and quiet');
    assert.equal(w.reductions(), 2);
  } finally {
    w.watch.stop();
  }
});

test('idle memory: a reduction that fails is logged, and not retried before more work', () => {
  const w = watched({ fail: true });
  try {
    w.period(2_000);
    assert.equal(w.period(0), undefined);
    assert.equal(w.reductions(), 1);
    const warn = w.logs.find((l) => l.msg === 'memory not given back after work');
    assert.equal(warn?.level, 40);
    for (let i = 0; i < 5; i++) w.period(0);
    assert.equal(w.reductions(), 1);
  } finally {
    w.watch.stop();
  }
});

// The real reduction and the real watch, each in a process of its own, run side by side: V8 shrinks its young
// generation only when its allocation rate over the last 5 s is low, so both children allocate, then stay quiet
// for longer than that, as a proxy's watch period (IDLE_CHECK_MS) makes sure.
const execNode = (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: new URL('.', import.meta.url).pathname, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });

/** Allocation that grows V8's young generation to its maximum and then stops. */
const ALLOCATE = `
let keep = [];
const allocate = (n) => { for (let i = 0; i < n; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 20_000) keep = []; } };
`;

// Allocates, stays quiet, then one reduction: what V8 says before and after, and whether the process's global
// (or a context made later) ever got a `gc` function.
const REDUCE_CHILD = `
import { getHeapSpaceStatistics } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { reduceIdleMemory } from ${JSON.stringify(MODULE)};
${ALLOCATE}
const newSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').physical_space_size;
allocate(2_000_000);
const grown = newSpace();
setTimeout(() => {
  const reduced = reduceIdleMemory();
  const after = newSpace();
  process.stdout.write(JSON.stringify({ grown, after, reduced, globalGc: typeof globalThis.gc, contextGc: runInNewContext('typeof gc') }) + '\\n');
}, 6_000);
`;

// The watch as main.js starts it, with a shorter period: real CPU work at the start (the first period is busy),
// then quiet (the second is not); the log shows what it gave back.
const WATCH_CHILD = `
import { pino } from 'pino';
import { watchIdleMemory } from ${JSON.stringify(MODULE)};
${ALLOCATE}
const log = pino({ level: 'debug' }, { write: (line) => process.stdout.write(line) });
watchIdleMemory(log, { checkMs: 3_000, quietCpuMs: 30, workCpuMs: 300 });
const until = Date.now() + 600;
const work = () => {
  allocate(50_000);
  if (Date.now() < until) setImmediate(work);
  else setTimeout(() => process.exit(0), 6_000); // the watch's timer is unref'd: this one keeps the process up
};
work();
`;

test('in processes of their own', { timeout: 60_000 }, async (t) => {
  if (process.platform !== 'linux') return t.skip('Linux only (the executable\'s pages through /proc/self/smaps)');
  const reduce = execNode(['--max-semi-space-size=2', '--input-type=module', '-e', REDUCE_CHILD]);
  const watch = execNode(['--max-semi-space-size=2', '--input-type=module', '-e', WATCH_CHILD]);
  await Promise.all([
    t.test('reduceIdleMemory shrinks V8\'s young generation, unmaps the executable\'s pages again, and exposes no gc', async () => {
      const child = await reduce;
      assert.equal(child.code, 0, child.stderr);
      const r = JSON.parse(child.stdout) as { grown: number; after: number; reduced: IdleReduction; globalGc: string; contextGc: string };
      const MiB = 2 ** 20;
      assert.ok(r.grown >= 3 * MiB, `the allocation grew the young generation: ${r.grown}`);
      assert.ok(r.after <= r.grown / 2, `young generation ${r.grown} → ${r.after} bytes`);
      // What it reports: the young generation as the reduction found it and as it left it. V8's own memory reducer
      // may already have given back part of it while the child idled (found 2.77 of a 3 MiB growth in one run), so
      // the report is checked against what the child measured, not against a fixed size.
      assert.ok(r.reduced.newSpaceMiB[0] >= r.reduced.newSpaceMiB[1], JSON.stringify(r.reduced));
      assert.equal(r.reduced.newSpaceMiB[1], Math.round((r.after / MiB) * 100) / 100);
      assert.ok((r.reduced.releasedMiB ?? 0) > 1, `the executable's pages released: ${JSON.stringify(r.reduced)}`);
      assert.equal(r.globalGc, 'undefined', 'the process\'s global has no gc');
      assert.equal(r.contextGc, 'undefined', 'contexts made after the collection have none either (the flag is off again)');
    }),
    t.test('watchIdleMemory: real work, then a quiet period, gives memory back once', async () => {
      const child = await watch;
      assert.equal(child.code, 0, child.stderr);
      const lines = child.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; workCpuMs: number; newSpaceMiB: [number, number] });
      const given = lines.filter((l) => l.msg === 'quiet after work: memory given back');
      assert.equal(given.length, 1, child.stdout);
      assert.ok(given[0]!.workCpuMs >= 300, JSON.stringify(given[0]));
      assert.ok(given[0]!.newSpaceMiB[1] < given[0]!.newSpaceMiB[0] / 2, JSON.stringify(given[0]));
    }),
  ]);
});
