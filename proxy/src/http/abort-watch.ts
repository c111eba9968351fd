/**
 * Exchanges that must stop when their request's signal aborts. An HTTP/1 connection has one signal for every
 * request on it, so the clients watch a signal through one 'abort' listener per signal and its list of watchers,
 * instead of adding and removing an EventTarget listener per request (Node's EventTarget bookkeeping, and the
 * garbage it leaves, were a visible share of a proxied request's CPU).
 */

import type { RequestSignal } from './request-signal.js';

export interface AbortWatcher {
  /** The signal aborted (called once, after the watcher was removed). */
  aborted(): void;
}

const watchers = new WeakMap<RequestSignal, Watchers>();

/** What a watcher leaves to stop watching: `delete(w)` (no lookup of the signal's watchers). */
export interface Watching {
  delete(w: AbortWatcher): boolean;
}

/**
 * One signal's watchers. An HTTP/1 connection has one exchange at a time, so the first watcher takes a slot of its
 * own and only the ones beside it go to a Set: adding a watcher to a Set and removing it per request made V8
 * shrink and regrow the Set's table each time, garbage on every request.
 */
class Watchers implements Watching {
  private only: AbortWatcher | undefined;
  private rest: Set<AbortWatcher> | undefined;

  add(w: AbortWatcher): void {
    if (this.only === undefined) this.only = w;
    else if (this.only !== w) (this.rest ??= new Set()).add(w);
  }

  delete(w: AbortWatcher): boolean {
    if (this.only === w) {
      this.only = undefined;
      return true;
    }
    return this.rest?.delete(w) ?? false;
  }

  get size(): number {
    return (this.only === undefined ? 0 : 1) + (this.rest?.size ?? 0);
  }

  /** The signal aborted: every watcher is removed, then told. */
  readonly abort = (): void => {
    const now = this.only === undefined ? [] : [this.only];
    if (this.rest !== undefined) for (const x of this.rest) if (x !== this.only) now.push(x);
    this.only = undefined;
    this.rest?.clear();
    for (const x of now) x.aborted();
  };
}

/** Calls `w.aborted()` when `signal` aborts, unless unwatched first. The signal must not have aborted yet. */
export function watchAbort(signal: RequestSignal, w: AbortWatcher): Watching {
  let all = watchers.get(signal);
  if (all === undefined) {
    watchers.set(signal, (all = new Watchers()));
    signal.addEventListener('abort', all.abort, { once: true });
  }
  all.add(w);
  return all;
}

/** How many watchers `signal` has (tests: an exchange that is over no longer watches). */
export function watcherCount(signal: RequestSignal): number {
  return watchers.get(signal)?.size ?? 0;
}
