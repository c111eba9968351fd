/**
 * PromQL over the proxies' Linkerd-compatible metrics (docs/contracts.md).
 *
 * Request and response counts use an exact window increase instead of
 * `increase()`: Prometheus extrapolates `increase()` to the window edges, so a
 * workload that served exactly 200 requests would show 203.4. Per series:
 *   max_over_time(x[w]) - x offset w        when the series existed at the window start
 *   max_over_time(x[w])                       when it appeared inside the window (proxies
 *                                            create a series at its first request)
 * A counter reset (proxy restart) inside the window undercounts; clamp_min keeps it >= 0.
 */
import { InvalidArgumentError } from '@weft/common/errors';
import { isWorkloadKind, type ResourceKind, type ResourceRef } from '../resource.js';

/** Which series a query reads, and how rows are keyed. */
export interface Selection {
  readonly direction: 'inbound' | 'outbound';
  /** Label matchers, without braces, e.g. `direction="inbound",namespace="demo"`. */
  readonly matchers: string;
  readonly groupBy: readonly string[];
  /** The labels that name the row's namespace and object. */
  readonly namespaceLabel: string;
  readonly nameLabel: string;
}

export interface ScopedRef extends ResourceRef {
  readonly namespace?: string;
}

export interface StatQuery {
  readonly resource: ResourceRef;
  /** Namespace of the resource; undefined means every namespace. */
  readonly namespace?: string;
  /** Only traffic from this resource (read from its outbound metrics). */
  readonly from?: ScopedRef;
  /** Only traffic to this resource (read from the resource's outbound metrics). */
  readonly to?: ScopedRef;
  /** Prometheus duration, e.g. `1m`. */
  readonly window: string;
}

const WINDOW = /^[1-9]\d*(ms|s|m|h|d)$/;

export function checkWindow(window: string): string {
  if (!WINDOW.test(window)) throw new InvalidArgumentError(`"${window}" is not a time window (use e.g. 30s, 1m, 1h)`);
  return window;
}

export function quote(value: string): string {
  return JSON.stringify(value);
}

/** The metric label a kind is carried in (`deployment`, `pod`, `namespace`). */
export function labelOf(kind: ResourceKind): string {
  if (kind === 'namespace' || kind === 'pod' || kind === 'service' || isWorkloadKind(kind)) return kind;
  throw new InvalidArgumentError(`${kind} has no proxy metric label; use the routes API for routes`);
}

function matchersOf(parts: ReadonlyArray<readonly [string, string | undefined]>): string {
  return parts
    .filter((p): p is readonly [string, string] => p[1] !== undefined)
    .map(([k, v]) => `${k}=${quote(v)}`)
    .join(',');
}

/** Chooses the series and grouping for a stat query (see docs/viz.md, "from/to"). */
export function selectionFor(q: StatQuery): Selection {
  const { resource, namespace } = q;
  if (resource.kind === 'route') throw new InvalidArgumentError('routes are reported by `routes`, not `stat`');
  if (q.from && q.to) throw new InvalidArgumentError('use --from or --to, not both');
  const label = labelOf(resource.kind);
  if (resource.kind === 'service') {
    // A Service has no proxy of its own: its traffic is what meshed clients send to it.
    if (q.to) throw new InvalidArgumentError('--to is not supported for services');
    const fromLabel = q.from ? labelOf(q.from.kind) : undefined;
    return {
      direction: 'outbound',
      matchers: matchersOf([
        ['direction', 'outbound'],
        ['dst_namespace', namespace],
        ['dst_service', resource.name],
        ['namespace', q.from?.namespace],
        ...(q.from && fromLabel !== 'namespace' ? [[fromLabel!, q.from.name] as const] : []),
      ]),
      groupBy: ['dst_namespace', 'dst_service'],
      namespaceLabel: 'dst_namespace',
      nameLabel: 'dst_service',
    };
  }
  const own = (ns: string | undefined, l: string, name: string | undefined, prefix: string) =>
    l === 'namespace' ? [[`${prefix}namespace`, ns ?? name] as const] : [[`${prefix}namespace`, ns] as const, [`${prefix}${l}`, name] as const];
  if (q.from) {
    const fromLabel = labelOf(q.from.kind);
    return {
      direction: 'outbound',
      matchers: matchersOf([['direction', 'outbound'], ...own(q.from.namespace, fromLabel, q.from.name, ''), ...own(namespace, label, resource.name, 'dst_')]),
      groupBy: label === 'namespace' ? ['dst_namespace'] : ['dst_namespace', `dst_${label}`],
      namespaceLabel: 'dst_namespace',
      nameLabel: `dst_${label}`,
    };
  }
  const toParts = q.to ? own(q.to.namespace, labelOf(q.to.kind), q.to.name, 'dst_') : [];
  return {
    direction: q.to ? 'outbound' : 'inbound',
    matchers: matchersOf([['direction', q.to ? 'outbound' : 'inbound'], ...own(namespace, label, resource.name, ''), ...toParts]),
    groupBy: label === 'namespace' ? ['namespace'] : ['namespace', label],
    namespaceLabel: 'namespace',
    nameLabel: label,
  };
}

function join(matchers: string, extra: string): string {
  return [matchers, extra].filter(Boolean).join(',');
}

/** Exact increase of a counter over the window, summed by `groupBy` (see the header comment). */
export function windowIncrease(metric: string, matchers: string, groupBy: readonly string[], window: string): string {
  const s = `${metric}{${matchers}}`;
  return `sum by (${groupBy.join(', ')}) (clamp_min(max_over_time(${s}[${window}]) - ${s} offset ${window}, 0) or (max_over_time(${s}[${window}]) unless ${s} offset ${window}))`;
}

export interface StatQueries {
  readonly requests: string;
  readonly responses: string;
  readonly successes: string;
  readonly rps: string;
  readonly latency: (quantile: number) => string;
  readonly tcpConnections: string;
}

export function statQueries(sel: Selection, window: string, prefix = ''): StatQueries {
  const g = sel.groupBy;
  const by = g.join(', ');
  // The proxy-side end of a TCP connection: the accepted one inbound, the dialled one outbound.
  const peer = sel.direction === 'inbound' ? 'src' : 'dst';
  return {
    requests: windowIncrease(`${prefix}request_total`, sel.matchers, g, window),
    responses: windowIncrease(`${prefix}response_total`, sel.matchers, g, window),
    successes: windowIncrease(`${prefix}response_total`, join(sel.matchers, 'classification="success"'), g, window),
    rps: `sum by (${by}) (rate(${prefix}request_total{${sel.matchers}}[${window}]))`,
    latency: (quantile) => `histogram_quantile(${quantile}, ${windowIncrease(`${prefix}response_latency_ms_bucket`, sel.matchers, [...g, 'le'], window)})`,
    tcpConnections: `sum by (${by}) (tcp_open_connections{${join(sel.matchers, `peer="${peer}"`)}})`,
  };
}

/** Pods whose proxies Prometheus scrapes (job `weft-proxy`), and how many of them are up (a failed scrape marks the process series stale). */
export function meshedPodsQueries(resource: ResourceRef, namespace: string | undefined): { total: string; up: string; groupBy: readonly string[] } | undefined {
  if (resource.kind === 'service' || resource.kind === 'route') return undefined;
  const label = labelOf(resource.kind);
  const matchers = matchersOf([
    ['job', 'weft-proxy'],
    ['namespace', label === 'namespace' ? (namespace ?? resource.name) : namespace],
    ...(label === 'namespace' ? [] : [[label, resource.name] as const]),
  ]) + (label !== 'namespace' && !resource.name ? `,${label}!=""` : '');
  const groupBy = label === 'namespace' ? ['namespace'] : ['namespace', label];
  const by = groupBy.join(', ');
  // A proxy's workload label is on its own series (process_start_time_seconds carries the registry's
  // default labels) even when the scrape job only attaches namespace and pod to `up`.
  const pods = (up: string) => `count by (${by}) (group by (${by}, pod) (${up} or process_start_time_seconds{${matchers}}))`;
  return {
    total: pods(`up{${matchers}}`),
    up: pods(`(up{${matchers}} == 1)`),
    groupBy,
  };
}
