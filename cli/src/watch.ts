/**
 * `--watch`: draw a view again every interval until Ctrl-C. On a terminal
 * each frame replaces the last (like watch(1)); into a pipe or file each
 * frame is appended after a header line with the time, so nothing is lost.
 * A failed refresh is shown in place of the frame and retried: a watch
 * outlives a restarting viz. The first frame's error ends the command (bad
 * flags, unknown resources are usage errors, not something to retry).
 */
import { Option } from 'commander';
import { InvalidArgumentError } from '@weft/common/errors';
import { parseDuration } from '@weft/common/config';
import type { Stream } from './terminal.js';

export const watchOption = () => new Option('-w, --watch', 'refresh the view every --interval until Ctrl-C');
export const intervalOption = () => new Option('--interval <d>', 'how often --watch refreshes (e.g. 2s, 10s)').default('2s');

export function parseInterval(raw: string): number {
  let ms: number;
  try {
    ms = parseDuration(raw);
  } catch (err) {
    throw new InvalidArgumentError(`--interval: ${(err as Error).message}`);
  }
  if (ms < 100) throw new InvalidArgumentError(`--interval ${raw} is shorter than 100ms`);
  return ms;
}

/** Resolves when the user asks to stop (SIGINT, SIGTERM) or `signal` aborts. */
export function untilInterrupted(signal?: AbortSignal): { done: Promise<void>; stopped: () => boolean; dispose: () => void } {
  let stopped = false;
  let stop = () => {};
  const done = new Promise<void>((resolve) => {
    stop = () => {
      stopped = true;
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    signal?.addEventListener('abort', stop, { once: true });
  });
  return { done, stopped: () => stopped, dispose: () => stop() };
}

export interface WatchOptions {
  readonly intervalMs: number;
  /** What the header names, e.g. `weft viz stat deploy`. */
  readonly title: string;
  readonly out?: Stream;
  readonly signal?: AbortSignal;
}

/** Calls `frame` every interval and shows what it returns, until interrupted. */
export async function watch(frame: () => Promise<string>, opts: WatchOptions): Promise<void> {
  const out = opts.out ?? process.stdout;
  const tty = out.isTTY === true;
  const stop = untilInterrupted(opts.signal);
  const show = (body: string) => {
    const header = `Every ${opts.intervalMs / 1000}s: ${opts.title}    ${new Date().toISOString()}\n\n`;
    // \x1b[H\x1b[2J: cursor home and clear screen, so the new frame replaces the old one.
    out.write(tty ? `\x1b[H\x1b[2J${header}${body}` : `${header}${body}\n`);
  };
  try {
    show(await frame());
  } catch (err) {
    stop.dispose();
    throw err;
  }
  while (!stop.stopped()) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([stop.done, new Promise<void>((r) => (timer = setTimeout(r, opts.intervalMs)))]);
    clearTimeout(timer);
    if (stop.stopped()) break;
    let body: string;
    try {
      body = await frame();
    } catch (err) {
      body = `weft: ${(err as Error).message} (retrying every ${opts.intervalMs / 1000}s)\n`;
    }
    show(body);
  }
}
