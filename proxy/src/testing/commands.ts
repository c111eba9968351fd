/**
 * Commands and polling for the proxy's tests: running commands comes from the
 * sandbox (common/sandbox/commands); `waitFor` is common's, polled every 50 ms
 * with a plain timeout argument.
 */
import { waitFor as poll } from '@weft/common/poll';

export { runCommand, mustRun, type CommandResult } from '@weft/common/sandbox/commands';

/** Polls `check` until it returns a value (not undefined/false) or the safety-net timeout passes. */
export function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000): Promise<T> {
  return poll(what, check, { timeoutMs, intervalMs: 50 });
}
