/**
 * Golden metrics per resource: success rate, requests per second, latency
 * percentiles, meshed pods and open TCP connections, as one row per object.
 */
import type { ResourceKind } from '../resource.js';
import { meshedPodsQueries, selectionFor, statQueries, type StatQuery } from './promql.js';
import type { Sample } from './prometheus.js';

export interface Querier {
  query(promql: string): Promise<Sample[]>;
}

/** The golden metrics of one row (an object, a route) over the window. */
export interface GoldenMetrics {
  /** Requests observed in the window (exact counter increase). */
  readonly requests: number;
  /** Successful responses / all responses in the window; null without responses. */
  readonly successRate: number | null;
  readonly rps: number;
  readonly latencyMsP50: number | null;
  readonly latencyMsP95: number | null;
  readonly latencyMsP99: number | null;
}

export interface StatRow extends GoldenMetrics {
  readonly namespace: string;
  readonly kind: ResourceKind;
  readonly name: string;
  /** Pods of the object whose proxy Prometheus scrapes, and how many are up (null for services). */
  readonly meshedPods: number | null;
  readonly totalPods: number | null;
  readonly tcpConnections: number;
}

export interface StatResult {
  readonly window: string;
  readonly rows: StatRow[];
}

type Keyed = Map<string, number>;

/** A finite number or null (histogram_quantile yields NaN without observations). */
export function finiteOrNull(v: number | undefined): number | null {
  return v === undefined || !Number.isFinite(v) ? null : v;
}

export class StatService {
  constructor(private readonly prometheus: Querier) {}

  async stat(q: StatQuery): Promise<StatResult> {
    const sel = selectionFor(q);
    const qs = statQueries(sel, q.window);
    const key = (s: Sample) => `${s.labels[sel.namespaceLabel] ?? ''}\u0000${sel.nameLabel === sel.namespaceLabel ? '' : (s.labels[sel.nameLabel] ?? '')}`;
    const keyed = async (promql: string, k: (s: Sample) => string = key): Promise<Keyed> =>
      new Map((await this.prometheus.query(promql)).map((s) => [k(s), s.value]));
    const meshed = meshedPodsQueries(q.resource, q.namespace);
    // Meshed pods are keyed by the object's own labels, whichever series the stats come from.
    const meshedKey = (s: Sample) => {
      const [nsLabel, nameLabel] = meshed!.groupBy;
      return `${s.labels[nsLabel!] ?? ''}\u0000${nameLabel ? (s.labels[nameLabel] ?? '') : ''}`;
    };
    const [requests, responses, successes, rps, p50, p95, p99, tcp, podsTotal, podsUp] = await Promise.all([
      keyed(qs.requests),
      keyed(qs.responses),
      keyed(qs.successes),
      keyed(qs.rps),
      keyed(qs.latency(0.5)),
      keyed(qs.latency(0.95)),
      keyed(qs.latency(0.99)),
      keyed(qs.tcpConnections),
      meshed ? keyed(meshed.total, meshedKey) : Promise.resolve(new Map() as Keyed),
      meshed ? keyed(meshed.up, meshedKey) : Promise.resolve(new Map() as Keyed),
    ]);
    // Objects with scraped proxies but no traffic get a row too (the dashboard lists them).
    // With --from/--to only objects with matching traffic are rows.
    const keys = new Set([...requests.keys(), ...responses.keys(), ...tcp.keys(), ...(q.from || q.to ? [] : podsTotal.keys())]);
    const rows: StatRow[] = [];
    for (const k of keys) {
      const [namespace, name] = k.split('\u0000') as [string, string];
      // Series of other kinds group under an empty name (e.g. a deployment's pods in a statefulset query).
      if (q.resource.kind !== 'namespace' && name === '') continue;
      const resp = responses.get(k) ?? 0;
      rows.push({
        namespace,
        kind: q.resource.kind,
        name: q.resource.kind === 'namespace' ? namespace : name,
        meshedPods: meshed ? (podsUp.get(k) ?? 0) : null,
        totalPods: meshed ? (podsTotal.get(k) ?? 0) : null,
        requests: Math.round(requests.get(k) ?? 0),
        successRate: resp > 0 ? (successes.get(k) ?? 0) / resp : null,
        rps: finiteOrNull(rps.get(k)) ?? 0,
        latencyMsP50: finiteOrNull(p50.get(k)),
        latencyMsP95: finiteOrNull(p95.get(k)),
        latencyMsP99: finiteOrNull(p99.get(k)),
        tcpConnections: tcp.get(k) ?? 0,
      });
    }
    rows.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
    return { window: q.window, rows };
  }
}
