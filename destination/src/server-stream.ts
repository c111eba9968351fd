/**
 * Bridges a push-style watch to a gRPC server stream without a queue that
 * grows with a slow reader. A stream holds at most the latest state its
 * client has not received: a state that arrives while the client is not
 * reading replaces the pending one (counted as superseded), and a state is
 * turned into messages only when the client is ready for them. For
 * endpoints the translator then diffs what the client already holds against
 * the latest state, so a slow proxy gets one catch-up diff instead of every
 * intermediate change, and still ends with the current endpoints. Profiles
 * and policies are whole messages: the latest replaces the rest.
 */
import { Code, ConnectError, type HandlerContext } from '@connectrpc/connect';
import { WeftError } from '@weft/common/errors';
import type { Unwatch } from './watch-hub.js';

export interface StreamHooks {
  /** A message was handed to the stream. */
  readonly sent: () => void;
  /** A state was replaced before the client received it. */
  readonly superseded: () => void;
}

/**
 * `start` begins the watch before the stream does, so a bad request fails
 * the call with its own status; `toMessages` runs when the client is ready
 * for the next messages.
 */
export function streamOf<S, M>(ctx: Pick<HandlerContext, 'signal'>, start: (push: (state: S) => void) => Unwatch, toMessages: (state: S) => readonly M[], hooks: StreamHooks): AsyncGenerator<M> {
  let pending = false;
  let latest: S | undefined;
  let wake: (() => void) | undefined;
  let unwatch: Unwatch;
  try {
    unwatch = once(
      start((state) => {
        if (pending) hooks.superseded();
        latest = state;
        pending = true;
        wake?.();
      }),
    );
  } catch (err) {
    throw toConnectError(err);
  }
  const onAbort = (): void => {
    unwatch();
    wake?.();
  };
  ctx.signal.addEventListener('abort', onAbort);
  return (async function* () {
    try {
      while (!ctx.signal.aborted) {
        if (!pending) {
          await new Promise<void>((r) => (wake = r));
          wake = undefined;
          continue;
        }
        const state = latest as S;
        pending = false;
        latest = undefined;
        for (const m of toMessages(state)) {
          hooks.sent();
          yield m;
        }
      }
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      unwatch();
    }
  })();
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

export function toConnectError(err: unknown): ConnectError {
  if (err instanceof WeftError) return new ConnectError(err.message, err.grpcStatus as Code);
  return new ConnectError(String((err as Error)?.message ?? err), Code.Internal);
}
