/**
 * A small client for Prometheus's HTTP API (`/api/v1/query`). viz only runs
 * instant queries; ranges are expressed inside PromQL.
 */
import { InvalidArgumentError, UnavailableError } from '@weft/common/errors';

export interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  /** NaN and ±Inf are kept as numbers; callers decide what they mean. */
  readonly value: number;
}

interface QueryResponse {
  status: 'success' | 'error';
  errorType?: string;
  error?: string;
  data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

export interface PrometheusClientOptions {
  /** Base URL, e.g. `http://prometheus.weft-viz.svc:9090`. */
  readonly url: string;
  readonly timeoutMs?: number;
}

export class PrometheusClient {
  private readonly base: string;
  private readonly timeoutMs: number;

  constructor(opts: PrometheusClientOptions) {
    this.base = opts.url.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** Runs an instant query; scalar and vector results both come back as samples. */
  async query(promql: string, time?: Date): Promise<Sample[]> {
    const body = new URLSearchParams({ query: promql });
    if (time) body.set('time', String(time.getTime() / 1000));
    let res: Response;
    try {
      res = await fetch(`${this.base}/api/v1/query`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new UnavailableError(`cannot reach Prometheus at ${this.base}: ${(err as Error).message}`, { cause: err });
    }
    let parsed: QueryResponse;
    try {
      parsed = (await res.json()) as QueryResponse;
    } catch (err) {
      throw new UnavailableError(`Prometheus at ${this.base} answered HTTP ${res.status} without JSON`, { cause: err });
    }
    if (parsed.status !== 'success' || !parsed.data) {
      const msg = `Prometheus rejected the query (${parsed.errorType ?? res.status}): ${parsed.error ?? 'no reason given'}`;
      if (parsed.errorType === 'bad_data') throw new InvalidArgumentError(`${msg}\n  query: ${promql}`);
      throw new UnavailableError(msg);
    }
    const { resultType, result } = parsed.data;
    if (resultType === 'scalar') {
      const [, v] = result as unknown as [number, string];
      return [{ labels: {}, value: Number(v) }];
    }
    if (resultType !== 'vector') throw new InvalidArgumentError(`expected an instant vector, Prometheus returned a ${resultType}`);
    return result.map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
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
