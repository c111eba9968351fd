/**
 * Waiting for a real condition instead of sleeping: `check` is called until it
 * returns a value (anything but undefined or false) or the time is up. A check may also
 * throw to say why it is not there yet; the timeout error repeats the last
 * reason so a failure explains itself.
 */
export interface PollOptions {
  /** Safety net, not a performance bound. */
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
}

export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  opts: PollOptions = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const why = last === undefined ? '' : `: ${last instanceof Error ? last.message : String(last)}`;
      throw new Error(`timed out after ${(opts.timeoutMs ?? 60_000) / 1000} s waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250));
  }
}
