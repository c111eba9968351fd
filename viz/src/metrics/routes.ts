/**
 * Per-route golden metrics (`route_*` series with `rt_route` and `route_kind`), busiest
 * first: the "top routes" of a workload.
 */
import { InvalidArgumentError } from '@weft/common/errors';
import type { ResourceRef } from '../resource.js';
import { checkWindow, labelOf, quote, windowIncrease } from './promql.js';
import { finiteOrNull, type GoldenMetrics, type Querier } from './stat.js';

export interface RouteRow extends GoldenMetrics {
  readonly namespace: string;
  /** The object serving the route (e.g. the deployment name). */
  readonly name: string;
  readonly route: string;
  /** Where the route came from: ServiceProfile, HTTPRoute or GRPCRoute (`route_kind`); empty from proxies that predate it. */
  readonly kind: string;
}

export interface RoutesQuery {
  readonly resource: ResourceRef;
  readonly namespace?: string;
  readonly window: string;
  /** Keep only the busiest N routes. */
  readonly limit?: number;
}

export async function queryRoutes(prometheus: Querier, q: RoutesQuery): Promise<RouteRow[]> {
  checkWindow(q.window);
  if (q.resource.kind === 'route' || q.resource.kind === 'service') throw new InvalidArgumentError(`routes are listed per workload, pod or namespace, not per ${q.resource.kind}`);
  const l = labelOf(q.resource.kind);
  const parts = ['direction="inbound"', 'rt_route!=""'];
  const ns = l === 'namespace' ? (q.namespace ?? q.resource.name) : q.namespace;
  if (ns) parts.push(`namespace=${quote(ns)}`);
  if (l !== 'namespace' && q.resource.name) parts.push(`${l}=${quote(q.resource.name)}`);
  const m = parts.join(',');
  // A namespace's routes are still listed per workload (whichever kind label it has).
  const g = l === 'namespace' ? ['namespace', 'deployment', 'statefulset', 'daemonset', 'route_kind', 'rt_route'] : ['namespace', l, 'route_kind', 'rt_route'];
  const by = g.join(', ');
  const lat = (quantile: number) => `histogram_quantile(${quantile}, ${windowIncrease('route_response_latency_ms_bucket', m, [...g, 'le'], q.window)})`;
  const [requests, responses, successes, rps, p50, p95, p99] = await Promise.all(
    [
      windowIncrease('route_request_total', m, g, q.window),
      windowIncrease('route_response_total', m, g, q.window),
      windowIncrease('route_response_total', `${m},classification="success"`, g, q.window),
      `sum by (${by}) (rate(route_request_total{${m}}[${q.window}]))`,
      lat(0.5),
      lat(0.95),
      lat(0.99),
    ].map(async (promql) => new Map((await prometheus.query(promql)).map((s) => [g.map((x) => s.labels[x] ?? '').join('\u0000'), s.value]))),
  );
  const rows: RouteRow[] = [];
  for (const key of new Set([...requests!.keys(), ...responses!.keys()])) {
    const labels = key.split('\u0000');
    const resp = responses!.get(key) ?? 0;
    rows.push({
      namespace: labels[0]!,
      name: labels.slice(1, -2).find((x) => x !== '') ?? labels[0]!,
      route: labels[labels.length - 1]!,
      kind: labels[labels.length - 2]!,
      requests: Math.round(requests!.get(key) ?? 0),
      successRate: resp > 0 ? (successes!.get(key) ?? 0) / resp : null,
      rps: finiteOrNull(rps!.get(key)) ?? 0,
      latencyMsP50: finiteOrNull(p50!.get(key)),
      latencyMsP95: finiteOrNull(p95!.get(key)),
      latencyMsP99: finiteOrNull(p99!.get(key)),
    });
  }
  rows.sort((a, b) => b.rps - a.rps || b.requests - a.requests || a.route.localeCompare(b.route));
  return q.limit ? rows.slice(0, q.limit) : rows;
}
