/**
 * Caches the service built for each target, so per-target state (bound
 * metrics, balancers, discovery subscriptions) is created once and reused.
 * Bounded: targets come from what applications (and, inbound, remote
 * clients) name, so the cache keeps at most `maxTargets` and drops targets
 * idle for `idleMs`, oldest first, when a new target arrives. A service with
 * a `dispose` method has it called when evicted (a balancer leaves its
 * endpoint set).
 */
import { performance } from 'node:perf_hooks';
import type { NewLayer, NewService } from '../svc.js';

export interface CacheLimits {
  readonly maxTargets: number;
  readonly idleMs: number;
}

export const DEFAULT_CACHE_LIMITS: CacheLimits = { maxTargets: 10_000, idleMs: 10 * 60_000 };

/** A service that holds resources to release when its cache entry goes. */
export interface Disposable {
  dispose?(): void;
}

interface Entry<S> {
  readonly svc: S;
  readonly key: string;
  usedAt: number;
  evicted: boolean;
}

/** Refreshing an entry's place costs a Map delete + set; done at most once per this many ms per target. */
const TOUCH_EVERY_MS = 1000;

export interface CacheOptions {
  /**
   * The stage's targets are long-lived objects handed out again and again (the balancer's endpoints): a target
   * seen before finds its service by identity, without computing its key.
   */
  readonly reusedTargets?: boolean;
}

/** The first layer of each stage: one service per target key, built on first use. */
export function cache<T, Req, Rsp>(keyOf: (target: T) => string, limits: CacheLimits = DEFAULT_CACHE_LIMITS, opts: CacheOptions = {}): NewLayer<T, T, Req, Rsp> {
  return (inner) => cachedServices(keyOf, inner, limits, opts.reusedTargets === true);
}

function cachedServices<T, Req, Rsp>(keyOf: (target: T) => string, inner: NewService<T, Req, Rsp>, limits: CacheLimits, byIdentity: boolean): NewService<T, Req, Rsp> {
  type Svc = ReturnType<NewService<T, Req, Rsp>>;
  // Map order is least recently used first.
  const entries = new Map<string, Entry<Svc>>();
  const known = byIdentity ? new WeakMap<object, Entry<Svc>>() : undefined;
  const evict = (key: string, e: Entry<Svc>): void => {
    entries.delete(key);
    e.evicted = true;
    (e.svc as Disposable).dispose?.();
  };
  const use = (e: Entry<Svc>, now: number): Svc => {
    if (now - e.usedAt > TOUCH_EVERY_MS) {
      entries.delete(e.key);
      entries.set(e.key, e);
      e.usedAt = now;
    }
    return e.svc;
  };
  return (target) => {
    const now = performance.now();
    let e = known?.get(target as object);
    if (e !== undefined && !e.evicted) return use(e, now);
    const key = keyOf(target);
    e = entries.get(key);
    if (e === undefined) {
      for (const [k, old] of entries) {
        if (entries.size < limits.maxTargets && now - old.usedAt < limits.idleMs) break;
        evict(k, old);
      }
      entries.set(key, (e = { svc: inner(target), key, usedAt: now, evicted: false }));
    }
    known?.set(target as object, e);
    return use(e, now);
  };
}
