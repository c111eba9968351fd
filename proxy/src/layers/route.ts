/**
 * Routes: per request, the logical service's profile (GetProfile, read live
 * through its `ProfileWatch`) picks the first matching route, and the route
 * layer hands it to the layers below on `req.route`: route metrics
 * (`measureRoute`: `route_*` with `rt_route`), filters (`routeFilters`:
 * redirect, request and response rewrites), the deadline, retries and the
 * attempt timeout (timeout.ts, retry.ts), the split (the route's own
 * backends). A profile change applies to the next request; requests in
 * flight keep the route they started with. A request on the default route
 * goes down without one, so every layer below passes it straight through.
 */
import { performance } from 'node:perf_hooks';
import type { HttpLayer, HttpRequest, HttpResponse, Logical, MatchedRoute, NewLayer } from '../svc.js';
import type { Profiles, ProfileWatch } from '../discovery/profiles.js';
import { DEFAULT_ROUTE, routeTableOf, type RouteParams, type RouteTable } from '../profile/route-table.js';
import { grpcFailed, streamError, type RouteMetrics, type RouteTargetMetrics } from '../metrics/route-metrics.js';
import { normalizeAuthority } from './logical.js';
import { wholeBody } from '../http/whole-body.js';

export interface RouteDeps {
  readonly profiles: Profiles;
  readonly metrics: RouteMetrics;
}

/** Outbound, per Logical: the route the request matches in the logical service's profile. */
export function outboundRoute(d: RouteDeps): NewLayer<Logical, Logical, HttpRequest, HttpResponse> {
  return (inner) => (logical) => {
    const svc = inner(logical);
    const watch = d.profiles.watch(logical.authority);
    const bound = new WeakMap<RouteParams, MatchedRoute>();
    return (req) => {
      const table = routeTableOf(watch.current());
      const route = table.route(req.method, req.path, req.headers);
      if (route === DEFAULT_ROUTE) return svc(req);
      return svc({ ...req, route: matched(bound, table, route, () => d.metrics.forRoute('outbound', logical.authority, route.name, route.kind)) });
    };
  };
}

/** Watched authorities on the inbound side, at most; Host comes from clients, so the set of watches is bounded. */
const MAX_INBOUND_AUTHORITIES = 256;

/** Inbound: the route the request matches in the profile of its own authority (for route metrics). */
export function inboundRoute(d: RouteDeps): HttpLayer {
  // Keyed by the authority as clients send it, so the hot path does not normalize it per request.
  const watches = new Map<string, InboundTarget>();
  const watchOf = (raw: string): InboundTarget | undefined => {
    let w = watches.get(raw);
    if (!w && watches.size < MAX_INBOUND_AUTHORITIES) {
      const authority = normalizeAuthority(raw);
      watches.set(raw, (w = { authority, watch: d.profiles.watch(authority), bound: new WeakMap() }));
    }
    return w;
  };
  return (inner) => (req) => {
    const w = req.authority === '' ? undefined : watchOf(req.authority);
    if (!w) return inner(req);
    const table = routeTableOf(w.watch.current());
    const route = table.route(req.method, req.path, req.headers);
    if (route === DEFAULT_ROUTE) return inner(req);
    return inner({ ...req, route: matched(w.bound, table, route, () => d.metrics.forRoute('inbound', w.authority, route.name, route.kind)) });
  };
}

/** Counts each request on its route: request, latency at headers, response (classified by the route) at the end of the body. */
export function measureRoute(): HttpLayer {
  return (inner) => (req) => {
    const r = req.route;
    return r?.metrics ? measured(r.metrics, r.params, req, inner(req)) : inner(req);
  };
}

/** The route's filters: a redirect answered here, request rewrites on the way in, response header rewrites on the way out. */
export function routeFilters(): HttpLayer {
  return (inner) => (req) => {
    const f = req.route?.params.filters;
    if (!f) return inner(req);
    if (f.redirect) return Promise.resolve(f.redirect(req));
    const sent = inner(f.request ? f.request(req) : req);
    return f.response ? sent.then((rsp) => ({ ...rsp, body: rsp.body, headers: f.response!(rsp.headers) })) : sent;
  };
}

interface InboundTarget {
  readonly authority: string;
  readonly watch: ProfileWatch;
  /** Routes bound once per route of the current profile. */
  readonly bound: WeakMap<RouteParams, MatchedRoute>;
}

function matched(
  bound: WeakMap<RouteParams, MatchedRoute>,
  table: RouteTable,
  route: RouteParams,
  bind: () => RouteTargetMetrics,
): MatchedRoute {
  let m = bound.get(route);
  if (!m) bound.set(route, (m = { params: route, metrics: route.name === '' ? undefined : bind(), budget: table.budget }));
  return m;
}

function measured(
  m: RouteTargetMetrics | undefined,
  route: RouteParams,
  req: HttpRequest,
  pending: Promise<HttpResponse>,
): Promise<HttpResponse> {
  if (!m) return pending;
  m.requests.inc();
  return pending.then(
    (rsp) => {
      m.latency(rsp.status).observe(performance.now() - req.startedAt);
      const headerGrpc = rsp.headers['grpc-status'] as string | undefined;
      if (wholeBody(rsp) !== undefined) {
        // The body arrived whole with the head: it has ended.
        m.response(rsp.status, route.isFailure(rsp.status) || grpcFailed(headerGrpc)).inc();
        return rsp;
      }
      rsp.body.once('end', () => {
        // An HTTP/2 stream reset with CANCEL also ends (Node's client): a broken stream, not a response.
        if (rsp.cutOff?.()) return void m.response(rsp.status, true, 'stream').inc();
        const grpc = (rsp.trailers()?.['grpc-status'] ?? headerGrpc) as string | undefined;
        m.response(rsp.status, route.isFailure(rsp.status) || grpcFailed(grpc)).inc();
      });
      rsp.body.once('error', (err) => m.response(rsp.status, true, streamError(err)).inc());
      return rsp;
    },
    (err: unknown) => {
      m.response(0, true, (err as { code?: string }).code ?? 'error').inc();
      throw err;
    },
  );
}
