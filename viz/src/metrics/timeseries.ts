/**
 * Golden metrics over time for one object (a namespace, a workload, a pod, a
 * service): success rate, requests per second and p50/p95/p99 latency as
 * Prometheus range queries, on one shared time axis the dashboard draws.
 *
 * The step is sized to the window (about POINTS points, never finer than the
 * scrape interval) and every point is a `rate()` over Grafana's
 * `$__rate_interval` rule: max(step + scrape interval, 4 × scrape interval),
 * so each point covers at least a few scrapes and neighbouring points overlap
 * instead of leaving gaps. These are speeds over a sliding window, not the
 * exact window counts of `stat` (docs/viz.md).
 */
import { InvalidArgumentError } from '@weft/common/errors';
import type { ResourceRef } from '../resource.js';
import { checkWindow, selectionFor } from './promql.js';
import { durationSeconds, type RangeSeries } from './prometheus.js';

export interface RangeQuerier {
  queryRange(promql: string, start: Date, end: Date, stepSeconds: number): Promise<RangeSeries[]>;
  scrapeIntervalSeconds(): Promise<number>;
}

export interface TimeSeriesQuery {
  readonly resource: ResourceRef;
  readonly namespace?: string;
  /** Prometheus duration, e.g. `15m`. */
  readonly window: string;
  /** End of the series (default: now); tests pin it. */
  readonly now?: Date;
}

export interface TimeSeries {
  readonly window: string;
  /** Seconds between points. */
  readonly step: number;
  /** The range each point's rate is computed over, e.g. `8s`. */
  readonly rateInterval: string;
  /** Unix seconds, oldest first; the value arrays are aligned with it. */
  readonly timestamps: number[];
  /** Successful / all responses; null where there were none. */
  readonly successRate: Array<number | null>;
  readonly rps: Array<number | null>;
  readonly latencyMsP50: Array<number | null>;
  readonly latencyMsP95: Array<number | null>;
  readonly latencyMsP99: Array<number | null>;
}

/** About this many points per chart, whatever the window. */
export const POINTS = 90;
/** Windows up to a day: longer ones belong in Grafana. */
const MAX_WINDOW_S = 86_400;

export interface TimeSeriesPlan {
  readonly start: number;
  readonly end: number;
  readonly step: number;
  readonly rateIntervalSeconds: number;
}

/** Start, end and step for a window ending at `nowSeconds`; the axis is aligned to the step so refreshes reuse points. */
export function planRange(windowSeconds: number, scrapeSeconds: number, nowSeconds: number): TimeSeriesPlan {
  const step = Math.max(Math.ceil(windowSeconds / POINTS), Math.ceil(scrapeSeconds), 1);
  const end = Math.floor(nowSeconds / step) * step;
  const start = end - Math.floor(windowSeconds / step) * step;
  return { start, end, step, rateIntervalSeconds: Math.max(step + Math.ceil(scrapeSeconds), 4 * Math.ceil(scrapeSeconds)) };
}

export async function queryTimeSeries(prometheus: RangeQuerier, q: TimeSeriesQuery): Promise<TimeSeries> {
  const windowSeconds = durationSeconds(checkWindow(q.window));
  if (windowSeconds > MAX_WINDOW_S)
    throw new InvalidArgumentError(`window ${q.window} is longer than a day; use Grafana for longer ranges`);
  const sel = selectionFor({ resource: q.resource, namespace: q.namespace, window: q.window });
  const plan = planRange(windowSeconds, await prometheus.scrapeIntervalSeconds(), (q.now ?? new Date()).getTime() / 1000);
  const r = `${plan.rateIntervalSeconds}s`;
  const m = sel.matchers;
  const selector = (metric: string, extra: string) => `${metric}{${[m, extra].filter(Boolean).join(',')}}[${r}]`;
  const rate = (metric: string, extra = '') => `rate(${selector(metric, extra)})`;
  const samples = (metric: string, extra: string) => `count_over_time(${selector(metric, extra)})`;
  const latency = (quantile: number) => `histogram_quantile(${quantile}, sum by (le) (${rate('response_latency_ms_bucket')}))`;
  const queries = [
    // `or (all × 0)`: an object whose every response failed is 0 %, not a gap — but only while no success sample is in
    // the rate window. A success series that has just appeared has one sample and no rate yet: that point is unknown
    // (a gap), not 0 %.
    `(sum(${rate('response_total', 'classification="success"')}) or (sum(${rate('response_total')}) * 0 unless on() count(${samples('response_total', 'classification="success"')}))) / sum(${rate('response_total')})`,
    `sum(${rate('request_total')})`,
    latency(0.5),
    latency(0.95),
    latency(0.99),
  ];
  const start = new Date(plan.start * 1000);
  const end = new Date(plan.end * 1000);
  const timestamps: number[] = [];
  for (let t = plan.start; t <= plan.end; t += plan.step) timestamps.push(t);
  const index = new Map(timestamps.map((t, i) => [t, i]));
  const [successRate, rps, p50, p95, p99] = await Promise.all(
    queries.map(async (promql) => {
      const values: Array<number | null> = timestamps.map(() => null);
      // Each query aggregates to one series (or none without traffic).
      for (const s of await prometheus.queryRange(promql, start, end, plan.step)) {
        for (const [t, v] of s.points) {
          const i = index.get(Math.round(t));
          if (i !== undefined && Number.isFinite(v)) values[i] = v;
        }
      }
      return values;
    }),
  );
  return {
    window: q.window,
    step: plan.step,
    rateInterval: r,
    timestamps,
    successRate: successRate!,
    rps: rps!,
    latencyMsP50: p50!,
    latencyMsP95: p95!,
    latencyMsP99: p99!,
  };
}
