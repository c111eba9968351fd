/**
 * Outbound: traffic split. When the matched route names its own weighted
 * backends (Gateway API backendRefs, on `req.route`), or else the logical
 * service's profile has some (`dst_overrides`: canary, blue/green), each
 * request goes to one of them with probability weight / total; otherwise to
 * the logical service itself. Weights are read per request from the live profile, so a change
 * applies to the next request while requests in flight finish where they
 * started: shifting weights never fails a request. Each backend is a
 * Concrete with its own discovery and balancer (built once, cached below).
 */
import type { Concrete, HttpRequest, HttpResponse, Logical, NewLayer } from '../svc.js';
import type { Profiles } from '../discovery/profiles.js';
import { routeTableOf, type Backend } from '../profile/route-table.js';

/** Chooses a backend by weight; `r` in [0, 1). */
export function pickBackend(backends: readonly Backend[], totalWeight: number, r: number): Backend {
  let x = r * totalWeight;
  for (const b of backends) {
    if (x < b.weight) return b;
    x -= b.weight;
  }
  return backends[backends.length - 1]!;
}

/** Per Logical: the Concrete backend of each request (the stage boundary Logical → Concrete). */
export function split(profiles: Profiles): NewLayer<Concrete, Logical, HttpRequest, HttpResponse> {
  return (inner) => (logical) => {
    const watch = profiles.watch(logical.authority);
    const self = inner({ logical, authority: logical.authority });
    return (req) => {
      const own = req.route?.params.backends;
      if (own) {
        const b = pickBackend(own.list, own.totalWeight, Math.random());
        return b.authority === logical.authority ? self(req) : inner({ logical, authority: b.authority })(req);
      }
      const table = routeTableOf(watch.current());
      if (table.backends.length === 0) return self(req);
      const b = pickBackend(table.backends, table.totalWeight, Math.random());
      return b.authority === logical.authority ? self(req) : inner({ logical, authority: b.authority })(req);
    };
  };
}
