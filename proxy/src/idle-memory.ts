/**
 * Gives memory back when the proxy goes quiet after work (docs/proxy.md, "Idle again after load").
 *
 * Load leaves a Node process larger than its idle start: V8's young generation grown to its maximum (it shrinks at
 * a collection, and a quiet proxy allocates too little to run one), the code and feedback the load compiled, and
 * the executable's pages the load ran, mapped back in since the start-up release (native/startup-pages.ts). So
 * once the proxy has worked (`workCpuMs` of CPU since the last time) and then spent a whole check period quiet
 * (under `quietCpuMs` of CPU), it runs one full collection and unmaps the executable's read-only pages again.
 * What the next load needs comes back as it runs: the young generation grows again, the pages fault back in from
 * the page cache (minor faults).
 *
 * The signal is the process's own CPU time, so every kind of work counts (HTTP, opaque TCP, TLS handshakes, the
 * control plane's updates) and the check costs one `process.cpuUsage()` per period. The collection pauses the
 * proxy for ~20 ms (30 ms of CPU with V8's helper threads, for a proxy's ~11 MiB heap), only while it is quiet, and
 * runs at most once per `workCpuMs` of CPU the proxy used: a few percent of the work that earned it at most.
 */
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from '@weft/common/log';
import { NativeAddonMissingError } from './native/addon.js';
import { releaseStartupPages, releasedMiB } from './native/startup-pages.js';

/**
 * How often the proxy looks at its CPU time. Longer than the 5 s over which V8 measures its allocation rate: V8
 * shrinks the young generation at a collection only when that rate is low, so a whole quiet period must lie between
 * the load's last collection and this one.
 */
export const IDLE_CHECK_MS = 10_000;
/**
 * A check period with less CPU than this is quiet: 0.5 % of a core at the default period, above what an idle proxy
 * uses (timers, keep-alives, the control plane's streams) and below a proxy serving even a few requests a second,
 * which so never pauses for a collection.
 */
export const QUIET_CPU_MS = 50;
/** Memory is given back after at least this much CPU since the last time (or since start). */
export const WORK_CPU_MS = 1_000;

export interface IdleMemoryOptions {
  readonly checkMs?: number;
  readonly quietCpuMs?: number;
  readonly workCpuMs?: number;
  /** The process's CPU time so far, µs (default: `process.cpuUsage()`, user + system). */
  readonly cpuMicros?: () => number;
  /** What giving memory back does (default: `reduceIdleMemory`). */
  readonly reduce?: () => IdleReduction;
}

export interface IdleReduction {
  /** V8's young generation, resident, before and after (MiB). */
  readonly newSpaceMiB: readonly [number, number];
  /** The executable's read-only pages that were resident and are now unmapped (MiB); undefined without the native addon. */
  readonly releasedMiB?: number;
}

export interface IdleMemoryWatch {
  /** One check, as the timer runs it: the reduction when this check made one. */
  check(): IdleReduction | undefined;
  stop(): void;
}

/**
 * Checks every `checkMs` (an unref'd timer: it never keeps the process up) and gives memory back once per
 * quiet spell that follows work. Logged at debug: how much CPU earned it and what it gave back.
 */
export function watchIdleMemory(log: Logger, opts: IdleMemoryOptions = {}): IdleMemoryWatch {
  const checkMs = opts.checkMs ?? IDLE_CHECK_MS;
  const quietUs = (opts.quietCpuMs ?? QUIET_CPU_MS) * 1000;
  const workUs = (opts.workCpuMs ?? WORK_CPU_MS) * 1000;
  const cpuMicros = opts.cpuMicros ?? processCpuMicros;
  const reduce = opts.reduce ?? reduceIdleMemory;
  let last = cpuMicros();
  let sinceReduced = last;
  const check = (): IdleReduction | undefined => {
    const now = cpuMicros();
    const period = now - last;
    last = now;
    if (period >= quietUs || now - sinceReduced < workUs) return undefined;
    const workCpuMs = Math.round((now - period - sinceReduced) / 1000);
    let reduced: IdleReduction;
    try {
      reduced = reduce();
    } catch (err) {
      log.warn({ err }, 'memory not given back after work');
      sinceReduced = now;
      return undefined;
    }
    // The reduction's own CPU is not work: the next one needs as much serving again.
    last = sinceReduced = cpuMicros();
    log.debug({ workCpuMs, ...reduced }, 'quiet after work: memory given back');
    return reduced;
  };
  const timer = setInterval(check, checkMs);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}

/**
 * One full collection of V8's heap (it shrinks the young generation back to its minimum) and the executable's
 * read-only pages unmapped again (when the native addon is there).
 */
export function reduceIdleMemory(): IdleReduction {
  const before = newSpaceMiB();
  collectGarbage();
  const after = newSpaceMiB();
  let released: number | undefined;
  try {
    released = releasedMiB(releaseStartupPages());
  } catch (err) {
    // No addon: the start-up release already said so once, and the collection alone still helps. Anything else
    // (madvise refused) is the watch's to log.
    if (!(err instanceof NativeAddonMissingError)) throw err;
  }
  return { newSpaceMiB: [before, after], ...(released === undefined ? {} : { releasedMiB: released }) };
}

let collect: (() => void) | undefined;

/**
 * A full, synchronous collection. V8 gives its `gc` function only to contexts made while `--expose-gc` is set, so
 * the flag is set for the moment it takes to make one context and read its `gc`; the proxy's own global never has one.
 */
export function collectGarbage(): void {
  if (!collect) {
    setFlagsFromString('--expose-gc');
    try {
      collect = runInNewContext('gc') as () => void;
    } finally {
      setFlagsFromString('--no-expose-gc');
    }
  }
  collect();
}

function newSpaceMiB(): number {
  const space = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  return space ? Math.round((space.physical_space_size / 2 ** 20) * 100) / 100 : 0;
}

function processCpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}
