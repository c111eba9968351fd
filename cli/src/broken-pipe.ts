/**
 * `weft viz tap … | head -3`: when the reader of weft's output goes away,
 * weft stops quietly with exit code 0, as `head` asked for no more. Node
 * ignores SIGPIPE, so a closed pipe shows up as an EPIPE error on the next
 * write to stdout (or stderr); unhandled it would be an uncaught exception
 * with a stack trace. Installed once, in main.ts, for every verb.
 *
 * A verb that holds something to tear down (tap and top streams, --watch,
 * the demo's processes) listens for SIGTERM; it is asked to stop that way and
 * ends normally. Other verbs simply exit. Either way the exit code is 0.
 */
import { EXIT } from './exit-codes.js';

interface Output {
  on(event: 'error', listener: (err: NodeJS.ErrnoException) => void): unknown;
}

/** Codes of a write to an output whose reader is gone. */
const CLOSED = new Set(['EPIPE', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END']);

/** How long a verb may take to tear down after its output closed. */
const STOP_GRACE_MS = 10_000;

export function exitQuietlyWhenOutputCloses(
  outputs: readonly Output[] = [process.stdout, process.stderr],
  exit: (code: number) => never = process.exit,
): void {
  let closed = false;
  const quietExit = () => exit(typeof process.exitCode === 'number' && process.exitCode !== 0 ? process.exitCode : EXIT.OK);
  for (const out of outputs) {
    out.on('error', (err) => {
      if (CLOSED.has(err.code ?? '')) {
        // Later writes fail the same way: one stop is enough.
        if (closed) return;
        closed = true;
        if (process.listenerCount('SIGTERM') === 0) quietExit();
        process.emit('SIGTERM', 'SIGTERM');
        setTimeout(quietExit, STOP_GRACE_MS).unref();
        return;
      }
      // Any other output error (a full disk behind a redirect): say so once and fail.
      process.stderr.write(`weft: cannot write output: ${err.message}\n`);
      exit(EXIT.FAILURE);
    });
  }
}
