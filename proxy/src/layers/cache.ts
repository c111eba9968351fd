/**
 * Caches the service built for each target, so per-target state (bound
 * metrics, balancers, discovery watches) is created once and reused. Idle
 * eviction is not needed yet: targets are the services and endpoints an
 * application talks to, a bounded set.
 */
import type { NewService } from '../svc.js';

export function cached<T, Req, Rsp>(keyOf: (target: T) => string, inner: NewService<T, Req, Rsp>): NewService<T, Req, Rsp> {
  const services = new Map<string, ReturnType<NewService<T, Req, Rsp>>>();
  return (target) => {
    const key = keyOf(target);
    let svc = services.get(key);
    if (!svc) services.set(key, (svc = inner(target)));
    return svc;
  };
}
