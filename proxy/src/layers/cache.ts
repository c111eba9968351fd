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
  usedAt: number;
}

/** Refreshing an entry's place costs a Map delete + set; done at most once per this many ms per target. */
const TOUCH_EVERY_MS = 1000;

/** The first layer of each stage: one service per target key, built on first use. */
export function cache<T, Req, Rsp>(keyOf: (target: T) => string, limits: CacheLimits = DEFAULT_CACHE_LIMITS): NewLayer<T, T, Req, Rsp> {
  return (inner) => cachedServices(keyOf, inner, limits);
}

function cachedServices<T, Req, Rsp>(keyOf: (target: T) => string, inner: NewService<T, Req, Rsp>, limits: CacheLimits): NewService<T, Req, Rsp> {
  type Svc = ReturnType<NewService<T, Req, Rsp>>;
  // Map order is least recently used first.
  const entries = new Map<string, Entry<Svc>>();
  const evict = (key: string, e: Entry<Svc>): void => {
    entries.delete(key);
    (e.svc as Disposable).dispose?.();
  };
  return (target) => {
    const key = keyOf(target);
    const now = performance.now();
    let e = entries.get(key);
    if (e) {
      if (now - e.usedAt > TOUCH_EVERY_MS) {
        entries.delete(key);
        entries.set(key, e);
        e.usedAt = now;
      }
      return e.svc;
    }
    for (const [k, old] of entries) {
      if (entries.size < limits.maxTargets && now - old.usedAt < limits.idleMs) break;
      evict(k, old);
    }
    entries.set(key, (e = { svc: inner(target), usedAt: now }));
    return e.svc;
  };
}
