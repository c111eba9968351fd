/**
 * Exchanges that must stop when their request's signal aborts. An HTTP/1 connection has one signal for every
 * request on it, so the clients watch a signal through one 'abort' listener per signal and a Set of watchers,
 * instead of adding and removing an EventTarget listener per request (Node's EventTarget bookkeeping, and the
 * garbage it leaves, were a visible share of a proxied request's CPU).
 */

export interface AbortWatcher {
  /** The signal aborted (called once, after the watcher was removed). */
  aborted(): void;
}

const watchers = new WeakMap<AbortSignal, Set<AbortWatcher>>();

/** What a watcher leaves to stop watching: `delete(w)` (no lookup of the signal's watchers). */
export interface Watching {
  delete(w: AbortWatcher): boolean;
}

/** Calls `w.aborted()` when `signal` aborts, unless unwatched first. The signal must not have aborted yet. */
export function watchAbort(signal: AbortSignal, w: AbortWatcher): Watching {
  let set = watchers.get(signal);
  if (set === undefined) {
    const all = (set = new Set());
    watchers.set(signal, all);
    signal.addEventListener(
      'abort',
      () => {
        const now = [...all];
        all.clear();
        for (const x of now) x.aborted();
      },
      { once: true },
    );
  }
  set.add(w);
  return set;
}

/** How many watchers `signal` has (tests: an exchange that is over no longer watches). */
export function watcherCount(signal: AbortSignal): number {
  return watchers.get(signal)?.size ?? 0;
}
