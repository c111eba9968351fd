/**
 * Per-route and reliability families (docs/contracts.md): `route_request_total`,
 * `route_response_total`, `route_response_latency_ms` with `rt_route` and `route_kind` (what
 * `weft viz routes` reads), `retry_total` and `retry_budget_exhausted_total`.
 * Children are bound once per (direction, authority, route) and cached.
 * The families are created once per registry, so the inbound and outbound
 * stacks share them.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import { LATENCY_BUCKETS_MS } from '@weft/common/metrics';
import { WeftError } from '@weft/common/errors';
import { BoundCounter, BoundHistogram } from './bound.js';

const ROUTE_LABELS = ['direction', 'authority', 'rt_route', 'route_kind'];
/** Route label sets kept before new ones share `authority="(other)"` (authorities come from clients). */
const MAX_ROUTES = 2000;

class RouteFamilies {
  readonly requests: Counter<string>;
  readonly responses: Counter<string>;
  readonly latency: Histogram<string>;
  readonly retries: Counter<string>;
  readonly exhausted: Counter<string>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({ name: 'route_request_total', help: 'HTTP requests, per route', labelNames: ROUTE_LABELS, registers });
    this.responses = new Counter({
      name: 'route_response_total',
      help: 'HTTP responses per route, by status and classification',
      labelNames: [...ROUTE_LABELS, 'status_code', 'classification', 'error'],
      registers,
    });
    this.latency = new Histogram({
      name: 'route_response_latency_ms',
      help: 'Time from request to response headers per route, in milliseconds',
      labelNames: [...ROUTE_LABELS, 'status_code'],
      buckets: LATENCY_BUCKETS_MS,
      registers,
    });
    this.retries = new Counter({ name: 'retry_total', help: 'Retried HTTP requests (attempts after the first), per route', labelNames: ROUTE_LABELS, registers });
    this.exhausted = new Counter({
      name: 'retry_budget_exhausted_total',
      help: 'Retries not attempted because the retry budget was exhausted, per route',
      labelNames: ROUTE_LABELS,
      registers,
    });
  }
}

export class RouteTargetMetrics {
  readonly requests: BoundCounter;
  readonly retries: BoundCounter;
  readonly budgetExhausted: BoundCounter;
  private readonly responses = new Map<string, BoundCounter>();
  private readonly latencies = new Map<number, BoundHistogram>();

  constructor(
    private readonly f: RouteFamilies,
    private readonly labels: Record<string, string>,
  ) {
    this.requests = new BoundCounter(f.requests, labels);
    this.retries = new BoundCounter(f.retries, labels);
    this.budgetExhausted = new BoundCounter(f.exhausted, labels);
  }

  latency(status: number): BoundHistogram {
    let h = this.latencies.get(status);
    if (!h) this.latencies.set(status, (h = new BoundHistogram(this.f.latency, { ...this.labels, status_code: String(status) })));
    return h;
  }

  /** `status` 0: no response (`error` names why: a timeout, a connection failure). */
  response(status: number, failure: boolean, error?: string): BoundCounter {
    const key = `${status}|${failure ? 1 : 0}|${error ?? ''}`;
    let c = this.responses.get(key);
    if (!c) {
      const l: Record<string, string> = { ...this.labels, classification: failure ? 'failure' : 'success' };
      if (status > 0) l.status_code = String(status);
      if (error !== undefined) l.error = error;
      this.responses.set(key, (c = new BoundCounter(this.f.responses, l)));
    }
    return c;
  }
}

export class RouteMetrics {
  private readonly targets = new Map<string, RouteTargetMetrics>();
  private overflow: RouteTargetMetrics | undefined;

  constructor(private readonly f: RouteFamilies) {}

  /** `kind`: what the route came from (ServiceProfile, HTTPRoute, GRPCRoute). */
  forRoute(direction: 'inbound' | 'outbound', authority: string, route: string, kind: string): RouteTargetMetrics {
    const key = `${direction}|${authority}|${route}|${kind}`;
    let m = this.targets.get(key);
    if (!m) {
      if (this.targets.size >= MAX_ROUTES) return (this.overflow ??= new RouteTargetMetrics(this.f, { direction, authority: '(other)', rt_route: '(other)', route_kind: '(other)' }));
      this.targets.set(key, (m = new RouteTargetMetrics(this.f, { direction, authority, rt_route: route, route_kind: kind })));
    }
    return m;
  }
}

const byRegistry = new WeakMap<Registry, RouteMetrics>();

/** The route metrics of a proxy (one per registry). */
export function routeMetrics(registry: Registry): RouteMetrics {
  let m = byRegistry.get(registry);
  if (!m) byRegistry.set(registry, (m = new RouteMetrics(new RouteFamilies(registry))));
  return m;
}

/** A gRPC response failed: its grpc-status (trailers, else headers) is present and not OK. */
export function grpcFailed(grpcStatus: string | undefined): boolean {
  return grpcStatus !== undefined && grpcStatus !== '0';
}

/** The `error` label of a response whose body failed: the proxy's own error code (e.g. DEADLINE_EXCEEDED), else `stream`. */
export function streamError(err: unknown): string {
  return err instanceof WeftError ? err.code : 'stream';
}
