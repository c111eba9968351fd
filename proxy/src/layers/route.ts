/**
 * Routes: per request, the logical service's profile (GetProfile, read live
 * through its `ProfileWatch`) picks the first matching route; the request is
 * counted in the route's metrics (`route_*` with `rt_route`) and sent with
 * the route's timeouts and retries. A profile change applies to the next
 * request; requests in flight keep the route they started with.
 *
 * Outbound: matching, metrics, filters (redirect, request and response
 * rewrites), the route's own backends (for the split layer), deadlines,
 * retries (with the service's retry budget). Inbound: matching and metrics (what `weft viz routes` shows) and
 * the gRPC deadline; retries belong to the caller's side.
 */
import { performance } from 'node:perf_hooks';
import type { HttpLayer, HttpRequest, HttpResponse, HttpService, Logical, NewHttp } from '../svc.js';
import type { Profiles, ProfileWatch } from '../discovery/profiles.js';
import { DEFAULT_ROUTE, routeTableOf, type RetryBudgetParams, type RouteParams } from '../profile/route-table.js';
import { streamError, type RouteMetrics, type RouteTargetMetrics } from '../metrics/route-metrics.js';
import { RetryBudget } from './retry-budget.js';
import { sendOnRoute } from './retry.js';
import { normalizeAuthority } from './logical.js';
import { callWithTimeout, deadlineOf, now, withRemaining } from './timeout.js';

export interface RouteDeps {
  readonly profiles: Profiles;
  readonly metrics: RouteMetrics;
}

/** Outbound, per Logical: route matching, route metrics, timeouts and retries. */
export function outboundRoutes(d: RouteDeps): (inner: NewHttp<Logical>) => NewHttp<Logical> {
  return (inner) => (logical) => {
    const svc = inner(logical);
    const watch = d.profiles.watch(logical.authority);
    const bound = new WeakMap<RouteParams, RouteTargetMetrics>();
    let budget: RetryBudget | undefined;
    const budgetFor = (p: RetryBudgetParams): RetryBudget => {
      // A changed budget starts a fresh window (rare: a ServiceProfile edit).
      if (!budget || budget.params !== p) budget = new RetryBudget(p);
      return budget;
    };
    return (req) => {
      const table = routeTableOf(watch.current());
      const route = table.route(req.method, req.path, req.headers);
      if (route === DEFAULT_ROUTE && req.headers['grpc-timeout'] === undefined) return svc(req);
      const m =
        route.name === ''
          ? undefined
          : metricsFor(bound, route, () => d.metrics.forRoute('outbound', logical.authority, route.name, route.kind));
      const f = route.filters;
      if (f?.redirect) return measured(m, route, req, Promise.resolve(f.redirect(req)));
      let out = f?.request ? f.request(req) : req;
      if (route.backends) out = { ...out, backends: route.backends };
      const sent = sendOnRoute(svc, out, route, budgetFor(table.budget), m);
      return measured(m, route, req, f?.response ? sent.then((rsp) => ({ ...rsp, headers: f.response!(rsp.headers) })) : sent);
    };
  };
}

/** Watched authorities on the inbound side, at most; Host comes from clients, so the set of watches is bounded. */
const MAX_INBOUND_AUTHORITIES = 256;

/** Inbound: route metrics by the request's own authority, and the client's gRPC deadline. */
export function inboundRoutes(d: RouteDeps): HttpLayer {
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
    const route = w ? routeTableOf(w.watch.current()).route(req.method, req.path, req.headers) : DEFAULT_ROUTE;
    const hasDeadline = req.headers['grpc-timeout'] !== undefined;
    if (route === DEFAULT_ROUTE && !hasDeadline) return inner(req);
    const m =
      route.name === '' || !w
        ? undefined
        : metricsFor(w.bound, route, () => d.metrics.forRoute('inbound', w.authority, route.name, route.kind));
    return measured(m, route, req, hasDeadline ? withDeadline(inner, req) : inner(req));
  };
}

interface InboundTarget {
  readonly authority: string;
  readonly watch: ProfileWatch;
  /** Route metrics bound once per route of the current profile. */
  readonly bound: WeakMap<RouteParams, RouteTargetMetrics>;
}

function metricsFor(
  bound: WeakMap<RouteParams, RouteTargetMetrics>,
  route: RouteParams,
  bind: () => RouteTargetMetrics,
): RouteTargetMetrics {
  let m = bound.get(route);
  if (!m) bound.set(route, (m = bind()));
  return m;
}

function withDeadline(inner: HttpService, req: HttpRequest): Promise<HttpResponse> {
  const deadline = deadlineOf(req, 0);
  const t = now();
  return callWithTimeout(inner, withRemaining(req, deadline, t), deadline - t, 'request');
}

/** Counts one request on its route: request, latency at headers, response (classified by the route) at the end of the body. */
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
      const headerGrpc = rsp.headers['grpc-status'];
      rsp.body.once('end', () => {
        // An HTTP/2 stream reset with CANCEL also ends (Node's client): a broken stream, not a response.
        if (rsp.cutOff?.()) return void m.response(rsp.status, true, 'stream').inc();
        const grpc = (rsp.trailers()?.['grpc-status'] ?? headerGrpc) as string | undefined;
        m.response(rsp.status, route.isFailure(rsp.status) || (grpc !== undefined && grpc !== '0')).inc();
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
