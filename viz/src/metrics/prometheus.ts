/**
 * A small client for Prometheus's HTTP API: instant queries (`/api/v1/query`,
 * the tables and the CLI), range queries (`/api/v1/query_range`, the
 * dashboard's time series) and the scrape interval from `/api/v1/status/config`
 * (to size rate windows like Grafana's `$__rate_interval`).
 */
import { InvalidArgumentError, UnavailableError } from '@weft/common/errors';
import { parse as parseYaml } from 'yaml';

export interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  /** NaN and ±Inf are kept as numbers; callers decide what they mean. */
  readonly value: number;
}

/** One series of a range query: `[unix seconds, value]` pairs, oldest first. */
export interface RangeSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly points: ReadonlyArray<readonly [number, number]>;
}

interface ApiResponse<T> {
  status: 'success' | 'error';
  errorType?: string;
  error?: string;
  data?: T;
}

type QueryData = {
  resultType: string;
  result: Array<{ metric: Record<string, string>; value?: [number, string]; values?: Array<[number, string]> }>;
};

const DURATION_PART = /(\d+)(ms|s|m|h|d|w|y)/g;
const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000 };

/** Seconds of a Prometheus duration (`15s`, `1m`, `1h30m`); throws on anything else. */
export function durationSeconds(raw: string): number {
  if (!/^(\d+(ms|s|m|h|d|w|y))+$/.test(raw)) throw new InvalidArgumentError(`"${raw}" is not a Prometheus duration`);
  let total = 0;
  for (const [, n, unit] of raw.matchAll(DURATION_PART)) total += Number(n) * UNIT_SECONDS[unit!]!;
  return total;
}

/** Prometheus' own default when its configuration does not say. */
const DEFAULT_SCRAPE_INTERVAL_S = 60;
const SCRAPE_INTERVAL_TTL_MS = 60_000;

export interface PrometheusClientOptions {
  /** Base URL, e.g. `http://prometheus.weft-viz.svc:9090`. */
  readonly url: string;
  readonly timeoutMs?: number;
}

export class PrometheusClient {
  private readonly base: string;
  private readonly timeoutMs: number;
  private scrapeInterval?: { seconds: number; at: number };

  constructor(opts: PrometheusClientOptions) {
    this.base = opts.url.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** Runs an instant query; scalar and vector results both come back as samples. */
  async query(promql: string, time?: Date): Promise<Sample[]> {
    const body = new URLSearchParams({ query: promql });
    if (time) body.set('time', String(time.getTime() / 1000));
    const { resultType, result } = await this.post<QueryData>('/api/v1/query', body, promql);
    if (resultType === 'scalar') {
      const [, v] = result as unknown as [number, string];
      return [{ labels: {}, value: Number(v) }];
    }
    if (resultType !== 'vector') throw new InvalidArgumentError(`expected an instant vector, Prometheus returned a ${resultType}`);
    return result.map((r) => ({ labels: r.metric, value: Number(r.value![1]) }));
  }

  /** Runs a range query from `start` to `end` every `stepSeconds`; NaN and ±Inf are kept as numbers. */
  async queryRange(promql: string, start: Date, end: Date, stepSeconds: number): Promise<RangeSeries[]> {
    const body = new URLSearchParams({
      query: promql,
      start: String(start.getTime() / 1000),
      end: String(end.getTime() / 1000),
      step: String(stepSeconds),
    });
    const { resultType, result } = await this.post<QueryData>('/api/v1/query_range', body, promql);
    if (resultType !== 'matrix') throw new InvalidArgumentError(`expected a range vector, Prometheus returned a ${resultType}`);
    return result.map((r) => ({ labels: r.metric, points: (r.values ?? []).map(([t, v]) => [t, Number(v)] as const) }));
  }

  /**
   * The global scrape interval Prometheus runs with (seconds), read from its
   * configuration and cached for a minute; Prometheus' default (1m) when the
   * configuration does not set one.
   */
  async scrapeIntervalSeconds(): Promise<number> {
    if (this.scrapeInterval && Date.now() - this.scrapeInterval.at < SCRAPE_INTERVAL_TTL_MS) return this.scrapeInterval.seconds;
    const { yaml } = await this.get<{ yaml: string }>('/api/v1/status/config');
    let seconds = DEFAULT_SCRAPE_INTERVAL_S;
    try {
      const raw = (parseYaml(yaml) as { global?: { scrape_interval?: string } } | null)?.global?.scrape_interval;
      if (raw) seconds = durationSeconds(raw);
    } catch (err) {
      throw new UnavailableError(`cannot read the scrape interval from Prometheus' configuration: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.scrapeInterval = { seconds, at: Date.now() };
    return seconds;
  }

  private post<T>(path: string, body: URLSearchParams, promql: string): Promise<T> {
    return this.call<T>(path, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } }, promql);
  }

  private get<T>(path: string): Promise<T> {
    return this.call<T>(path, { method: 'GET' });
  }

  private async call<T>(path: string, init: RequestInit, promql?: string): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw new UnavailableError(`cannot reach Prometheus at ${this.base}: ${(err as Error).message}`, { cause: err });
    }
    let parsed: ApiResponse<T>;
    try {
      parsed = (await res.json()) as ApiResponse<T>;
    } catch (err) {
      throw new UnavailableError(`Prometheus at ${this.base} answered HTTP ${res.status} without JSON`, { cause: err });
    }
    if (parsed.status !== 'success' || !parsed.data) {
      const msg = `Prometheus rejected the ${promql === undefined ? 'request' : 'query'} (${parsed.errorType ?? res.status}): ${parsed.error ?? 'no reason given'}`;
      if (parsed.errorType === 'bad_data') throw new InvalidArgumentError(promql === undefined ? msg : `${msg}\n  query: ${promql}`);
      throw new UnavailableError(msg);
    }
    return parsed.data;
  }

  /** True when Prometheus answers `/-/ready`. */
  async ready(): Promise<boolean> {
    try {
      const res = await fetch(`${this.base}/-/ready`, { signal: AbortSignal.timeout(this.timeoutMs) });
      await res.arrayBuffer();
      return res.ok;
    } catch {
      return false;
    }
  }
}
