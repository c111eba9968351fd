/**
 * A `DestinationProfile` compiled into what the route layers need per
 * request: the ordered routes with their matchers (first match wins, as in
 * the ServiceProfile), timeouts, retry policy and response classes, plus the
 * retry budget and the traffic split. Compiled once per profile message, so
 * the hot path only runs the matchers.
 */
import type { destination } from '@weft/api';
import type { Headers, WeightedBackends } from '../svc.js';
import { compileFilters, type RouteFilters } from './route-filters.js';

export type Profile = destination.DestinationProfile;

export interface StatusRange {
  readonly min: number;
  readonly max: number;
}

export interface RouteParams {
  /** The `rt_route` label; empty for requests that match no route. */
  readonly name: string;
  /** The `route_kind` label: what the route came from (ServiceProfile, HTTPRoute, GRPCRoute). */
  readonly kind: string;
  /** Redirect, request and response rewrites (Gateway API filters); undefined when none. */
  readonly filters: RouteFilters | undefined;
  /** The route's own weighted backends (Gateway API backendRefs); undefined: the profile's split, else the service. */
  readonly backends: WeightedBackends | undefined;
  /** Per-attempt timeout in ms, until the response body ended; 0 = none. */
  readonly timeoutMs: number;
  /** Total timeout across retries in ms, until the response body ended; 0 = none. */
  readonly totalTimeoutMs: number;
  /** A stream with no bytes either way for this long is ended, in ms; 0 = none. */
  readonly idleTimeoutMs: number;
  readonly retryable: boolean;
  readonly retryStatuses: readonly StatusRange[];
  /** gRPC status codes retried on a retryable route; naming any also opts the route's gRPC calls in (they are POSTs). */
  readonly retryGrpcStatuses: ReadonlySet<number>;
  /** Methods the route's matches name explicitly: retried even when not idempotent (the author opted in). */
  readonly explicitMethods: ReadonlySet<string>;
  /** Whether a response status is a failure (route response classes; else 5xx). */
  isFailure(status: number): boolean;
}

export interface RetryBudgetParams {
  readonly ratio: number;
  readonly minPerSecond: number;
  readonly ttlMs: number;
}

export interface Backend {
  readonly authority: string;
  readonly weight: number;
}

export interface RouteTable {
  /** The first route matching the request, else the default (no name, no timeout, not retryable). */
  route(method: string, path: string, headers: Headers): RouteParams;
  readonly budget: RetryBudgetParams;
  /** Weighted backends; empty when the service has no split. */
  readonly backends: readonly Backend[];
  readonly totalWeight: number;
}

/** Retried when a route is retryable and names no statuses (destination's default too). */
const DEFAULT_RETRY_STATUSES: readonly StatusRange[] = [{ min: 500, max: 599 }];
/** destination's default budget: 20 % of requests, at least 10 retries/s, over 10 s. */
export const DEFAULT_BUDGET: RetryBudgetParams = { ratio: 0.2, minPerSecond: 10, ttlMs: 10_000 };

export const DEFAULT_ROUTE: RouteParams = {
  name: '',
  kind: '',
  filters: undefined,
  backends: undefined,
  timeoutMs: 0,
  totalTimeoutMs: 0,
  idleTimeoutMs: 0,
  retryable: false,
  retryStatuses: DEFAULT_RETRY_STATUSES,
  retryGrpcStatuses: new Set(),
  explicitMethods: new Set(),
  isFailure: (status) => status >= 500,
};

export const EMPTY_TABLE: RouteTable = { route: () => DEFAULT_ROUTE, budget: DEFAULT_BUDGET, backends: [], totalWeight: 0 };

export type Matcher = (method: string, path: string, headers: Headers) => boolean;

interface CompiledRoute {
  readonly matches: readonly Matcher[];
  readonly params: RouteParams;
}

function durationMs(d: { seconds: bigint; nanos: number } | undefined): number {
  if (!d) return 0;
  return Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6);
}

const inRange = (ranges: readonly StatusRange[], status: number): boolean => ranges.some((r) => status >= r.min && status <= r.max);

function headerValue(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** Builds a matcher; an invalid regex makes the match never apply (destination validates, this is defence). */
export function compileMatch(m: destination.RouteMatch): Matcher {
  const method = m.method.toUpperCase();
  let path: ((p: string) => boolean) | undefined;
  const pathOnly = (p: string): string => {
    const q = p.indexOf('?');
    return q < 0 ? p : p.slice(0, q);
  };
  const kind = m.path?.kind;
  if (kind?.case === 'exact') {
    const want = kind.value;
    path = (p) => pathOnly(p) === want;
  } else if (kind?.case === 'prefix') {
    const want = kind.value;
    path = (p) => p.startsWith(want);
  } else if (kind?.case === 'regex') {
    const re = safeRegex(kind.value);
    path = (p) => re !== undefined && re.test(pathOnly(p));
  }
  const headers = m.headers.map((h): ((hs: Headers) => boolean) => {
    const name = h.name.toLowerCase();
    if (h.value.case === 'regex') {
      const re = safeRegex(h.value.value);
      return (hs) => {
        const v = headerValue(hs, name);
        return v !== undefined && re !== undefined && re.test(v);
      };
    }
    const want = h.value.value;
    return (hs) => {
      const v = headerValue(hs, name);
      return v !== undefined && (want === undefined || v === want);
    };
  });
  const query = m.queryParams.map((q): ((params: URLSearchParams) => boolean) => {
    if (q.value.case === 'regex') {
      const re = safeRegex(q.value.value);
      return (ps) => {
        const v = ps.get(q.name);
        return v !== null && re !== undefined && re.test(v);
      };
    }
    const want = q.value.value;
    return want === undefined ? (ps) => ps.has(q.name) : (ps) => ps.get(q.name) === want;
  });
  const queryOk =
    query.length === 0
      ? undefined
      : (p: string): boolean => {
          const i = p.indexOf('?');
          const ps = new URLSearchParams(i < 0 ? '' : p.slice(i + 1));
          return query.every((q) => q(ps));
        };
  return (meth, p, hs) =>
    (method === '' || meth === method) &&
    (path === undefined || path(p)) &&
    headers.every((h) => h(hs)) &&
    (queryOk === undefined || queryOk(p));
}

function safeRegex(source: string): RegExp | undefined {
  try {
    return new RegExp(source);
  } catch {
    return undefined;
  }
}

function compileRoute(r: destination.Route): CompiledRoute {
  const statuses = r.retryStatuses.length > 0 ? r.retryStatuses.map((s) => ({ min: s.min, max: s.max })) : DEFAULT_RETRY_STATUSES;
  const classes = r.responseClasses.filter((c) => c.status).map((c) => ({ min: c.status!.min, max: c.status!.max, failure: c.isFailure }));
  const prefix = r.matches[0]?.path?.kind.case === 'prefix' ? r.matches[0].path.kind.value : undefined;
  const backends = r.backends.filter((d) => d.weight > 0 && d.authority !== '').map((d) => ({ authority: d.authority, weight: d.weight }));
  const name = r.metricsLabels.route ?? r.name;
  return {
    matches: r.matches.map(compileMatch),
    params: {
      name,
      kind: r.metricsLabels.route_kind ?? (name === '' ? '' : 'ServiceProfile'),
      filters: compileFilters(r.filters, prefix),
      backends: backends.length === 0 ? undefined : { list: backends, totalWeight: backends.reduce((s, d) => s + d.weight, 0) },
      timeoutMs: durationMs(r.timeout),
      totalTimeoutMs: durationMs(r.totalTimeout),
      idleTimeoutMs: durationMs(r.idleTimeout),
      retryable: r.isRetryable,
      retryStatuses: statuses,
      retryGrpcStatuses: new Set(r.retryGrpcStatuses.filter((c) => c >= 1 && c <= 16)),
      explicitMethods: new Set(r.matches.map((m) => m.method.toUpperCase()).filter((m) => m !== '')),
      isFailure: (status) => {
        for (const c of classes) if (status >= c.min && status <= c.max) return c.failure;
        return status >= 500;
      },
    },
  };
}

export function compileProfile(p: Profile | undefined): RouteTable {
  if (!p) return EMPTY_TABLE;
  const routes = p.routes.map(compileRoute);
  const b = p.retryBudget;
  const budget: RetryBudgetParams = b
    ? { ratio: Math.max(0, b.retryRatio), minPerSecond: b.minRetriesPerSecond, ttlMs: durationMs(b.ttl) || DEFAULT_BUDGET.ttlMs }
    : DEFAULT_BUDGET;
  const backends = p.dstOverrides
    .filter((d) => d.weight > 0 && d.authority !== '')
    .map((d) => ({ authority: d.authority, weight: d.weight }));
  const totalWeight = backends.reduce((s, d) => s + d.weight, 0);
  return {
    route(method, path, headers) {
      for (const r of routes) for (const m of r.matches) if (m(method, path, headers)) return r.params;
      return DEFAULT_ROUTE;
    },
    budget,
    backends,
    totalWeight,
  };
}

/** Safe to send twice (RFC 9110 §9.2.2) without the route naming the method. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/**
 * Whether a request on this route may be retried at all: the route is retryable and the method idempotent or
 * named by the route, or it is a gRPC call (always a POST) on a route that names retryable gRPC statuses — the
 * route's author declares its methods safe to send twice, as naming POST does for plain HTTP.
 */
export function mayRetry(route: RouteParams, method: string, grpc: boolean): boolean {
  if (!route.retryable) return false;
  return IDEMPOTENT.has(method) || route.explicitMethods.has(method) || (grpc && route.retryGrpcStatuses.size > 0);
}

/** Whether a gRPC status (the `grpc-status` value) should be retried on a retryable route. */
export function isRetryableGrpcStatus(route: RouteParams, status: string | string[] | undefined): boolean {
  return typeof status === 'string' && route.retryGrpcStatuses.has(Number(status));
}

/** Whether a response status should be retried on a retryable route. */
export function isRetryableStatus(route: RouteParams, status: number): boolean {
  return inRange(route.retryStatuses, status);
}

const compiled = new WeakMap<Profile, RouteTable>();

/** The compiled table of a profile, compiled once per profile message. */
export function routeTableOf(p: Profile | undefined): RouteTable {
  if (!p) return EMPTY_TABLE;
  let t = compiled.get(p);
  if (!t) compiled.set(p, (t = compileProfile(p)));
  return t;
}
