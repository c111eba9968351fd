/**
 * Re-evaluates subscriptions when objects they read change. Each
 * subscription declares the dependency keys of its last evaluation
 * (see cluster-cache.ts); a burst of changes (a file reload, an informer
 * relist) is coalesced into one evaluation per subscription in a microtask.
 */
import type { ClusterCache } from './cluster-cache.js';

export interface Subscription {
  /** Re-reads the cache and pushes what changed; returns the keys it read. */
  refresh(): readonly string[];
}

export class SubscriptionIndex {
  private readonly byKey = new Map<string, Set<Subscription>>();
  private readonly keysOf = new Map<Subscription, readonly string[]>();
  private readonly dirty = new Set<Subscription>();
  private scheduled = false;
  private readonly unlisten: () => void;

  constructor(
    cache: ClusterCache,
    /** A refresh that throws (an object no resolver expected) is reported here; the others still run. */
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {
    this.unlisten = cache.onChange((keys) => this.touch(keys));
  }

  /** Evaluates a new subscription now and from then on whenever its dependencies change. */
  add(sub: Subscription): void {
    this.index(sub, sub.refresh());
  }

  remove(sub: Subscription): void {
    this.index(sub, []);
    this.keysOf.delete(sub);
    this.dirty.delete(sub);
  }

  get size(): number {
    return this.keysOf.size;
  }

  close(): void {
    this.unlisten();
  }

  private touch(keys: readonly string[]): void {
    for (const k of keys) {
      const subs = this.byKey.get(k);
      if (subs) for (const s of subs) this.dirty.add(s);
    }
    if (this.dirty.size > 0 && !this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    const subs = [...this.dirty];
    this.dirty.clear();
    for (const s of subs) {
      if (!this.keysOf.has(s)) continue;
      try {
        this.index(s, s.refresh());
      } catch (err) {
        // Keep the previous dependencies so the next change retries it.
        this.onError(err);
      }
    }
  }

  private index(sub: Subscription, keys: readonly string[]): void {
    const prev = this.keysOf.get(sub);
    if (prev) {
      for (const k of prev) {
        const set = this.byKey.get(k);
        set?.delete(sub);
        if (set?.size === 0) this.byKey.delete(k);
      }
    }
    this.keysOf.set(sub, keys);
    for (const k of keys) {
      let set = this.byKey.get(k);
      if (!set) this.byKey.set(k, (set = new Set()));
      set.add(sub);
    }
  }
}
