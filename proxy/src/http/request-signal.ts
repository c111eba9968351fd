/**
 * A request's cancellation as the stacks read it: the part of AbortSignal they use, which a real AbortSignal also
 * satisfies (HTTP/1 connections and tests hand those over).
 */
export interface RequestSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * The signal of one HTTP/2 stream, or of one bounded attempt (layers/timeout.ts), aborted by its owner. Not an
 * AbortController: each of those is an EventTarget with its own listener map, and a gRPC call made one per stream on
 * the server side and added and removed a listener on it on the client side — a measurable share of a call's CPU
 * and garbage (docs/proxy.md, thirteenth pass). A stream has one or two listeners: the first takes a slot of its own.
 *
 * Same rules as AbortSignal's: `abort` happens once (later calls do nothing), listeners run in the order added, each
 * once; a listener added twice runs once; one added after the abort is not called; a listener that throws neither
 * keeps the others from running nor returns to the caller of `abort`: its error is thrown on the next tick, an
 * uncaught exception, as EventTarget reports it.
 */
export class StreamSignal implements RequestSignal {
  aborted = false;
  reason: unknown = undefined;
  private first: (() => void) | undefined;
  private rest: Array<() => void> | undefined;

  addEventListener(_type: 'abort', listener: () => void, _options?: { once?: boolean }): void {
    if (this.aborted || listener === this.first || this.rest?.includes(listener)) return;
    if (this.first === undefined && this.rest === undefined) this.first = listener;
    else (this.rest ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    if (listener === this.first) this.first = undefined;
    else if (this.rest !== undefined) {
      const i = this.rest.indexOf(listener);
      if (i >= 0) this.rest.splice(i, 1);
    }
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const first = this.first;
    const rest = this.rest;
    this.first = this.rest = undefined;
    if (first !== undefined) call(first);
    if (rest !== undefined) for (const listener of rest) call(listener);
  }
}

function call(listener: () => void): void {
  try {
    listener();
  } catch (err) {
    process.nextTick(() => {
      throw err;
    });
  }
}
