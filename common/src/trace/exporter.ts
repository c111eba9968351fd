/**
 * Batches finished spans and sends them to an OTLP/HTTP collector
 * (`POST <collector>/v1/traces`, `application/x-protobuf`). The queue is
 * bounded: when it is full, or an export fails for good, spans are dropped
 * and counted (`trace_spans_dropped_total{reason}`) — a slow or absent
 * collector costs the request path nothing (the proxy's requests, a
 * control-plane component's RPCs). One export is in flight
 * at a time; a full batch is sent at once, a partial one every flush
 * interval.
 *
 * A failure the OTLP specification calls transient — no answer (refused,
 * reset, timed out) or HTTP 429, 502, 503, 504 — is retried: up to
 * `retry.attempts` sends of the batch, the waits doubling from
 * `retry.backoffMs` with ±25 % jitter (so proxies that lost one collector
 * together do not come back together), or what a `Retry-After` in seconds
 * asks, up to 30 s. Meanwhile new spans wait in the queue (bounded as
 * always). On close a waiting batch is sent once more at once, within the
 * close timeout.
 */
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../log.js';
import type { SpanRecord } from './span.js';
import { encodeExport, rejectedSpans } from './otlp.js';

/** What a collector answered to one export. */
export interface CollectorAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: Uint8Array;
  /** The answer's `Retry-After`, if any. */
  readonly retryAfter?: string;
}

/** How batches reach the collector: one POST of an encoded export at a time, then `close` once the last is sent. */
export interface CollectorClient {
  post(body: Uint8Array, timeoutMs: number): Promise<CollectorAnswer>;
  close(): void;
}

/** Node's fetch: the control plane's collector client (the proxy sends on its own HTTP/1 client, proxy/src/trace). */
export function fetchCollector(url: string): CollectorClient {
  return {
    async post(body, timeoutMs) {
      const rsp = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body, signal: AbortSignal.timeout(timeoutMs) });
      const retryAfter = rsp.headers.get('retry-after') ?? undefined;
      return { status: rsp.status, contentType: rsp.headers.get('content-type') ?? '', body: new Uint8Array(await rsp.arrayBuffer()), retryAfter };
    },
    close() {},
  };
}

export interface ExporterOptions {
  /** The instrumentation scope of every span: `weft-proxy`, `weft-identity`, ... */
  readonly scope: string;
  /** The full OTLP/HTTP traces URL, e.g. `http://jaeger.weft-jaeger:4318/v1/traces`. */
  readonly url: string;
  /** Sends to `url`; default: `fetchCollector(url)`. */
  readonly client?: CollectorClient;
  /** Resource attributes of every span: service.name, k8s.namespace.name, k8s.pod.name, k8s.node.name, ... */
  readonly resource: Readonly<Record<string, string>>;
  readonly maxQueue: number;
  readonly maxBatch: number;
  readonly flushIntervalMs: number;
  /** Time allowed for one export request. */
  readonly timeoutMs: number;
  readonly registry: Registry;
  readonly log: Logger;
  /** Transient failures: how many sends a batch gets in all, and the first wait between them; default RETRY. */
  readonly retry?: { readonly attempts: number; readonly backoffMs: number };
}

const CLOSE_TIMEOUT_MS = 2000;
/** Four sends, the waits ~1, 2 and 4 s: a collector's restart, not an outage, is ridden out. */
export const RETRY = { attempts: 4, backoffMs: 1000 } as const;
const MAX_RETRY_AFTER_MS = 30_000;
/** Answers the OTLP specification says to retry (the request may succeed later). */
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

export type DropReason = 'queue_full' | 'export_failed' | 'rejected';

export class OtlpHttpExporter {
  private queue: SpanRecord[] = [];
  private sending: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly exported: Counter;
  private readonly dropped: Record<DropReason, { inc(n?: number): void }>;
  private failureLogged = false;
  private closing = false;
  /** Ends a retry's wait early: set while a batch waits to be sent again. */
  private wake: (() => void) | undefined;
  private readonly client: CollectorClient;

  constructor(private readonly o: ExporterOptions) {
    this.client = o.client ?? fetchCollector(o.url);
    const registers = [o.registry];
    this.exported = new Counter({ name: 'trace_spans_exported_total', help: 'Spans the collector accepted', registers });
    const dropped = new Counter({ name: 'trace_spans_dropped_total', help: 'Spans dropped: queue full, export failed, or rejected by the collector', labelNames: ['reason'], registers });
    this.dropped = { queue_full: dropped.labels('queue_full'), export_failed: dropped.labels('export_failed'), rejected: dropped.labels('rejected') };
    this.timer = setInterval(() => void this.flush(), o.flushIntervalMs).unref();
  }

  /** Queues a finished span; drops it (counted) when the queue is full. */
  push(span: SpanRecord): void {
    if (this.queue.length >= this.o.maxQueue) {
      this.dropped.queue_full.inc();
      return;
    }
    this.queue.push(span);
    if (this.queue.length >= this.o.maxBatch && this.sending === undefined) void this.flush();
  }

  /**
   * Sends what is queued, one batch at a time; resolves when every span
   * queued before the call is exported or counted as dropped — including a
   * batch the timer already took and is still sending.
   */
  async flush(): Promise<void> {
    for (;;) {
      if (this.sending) {
        await this.sending;
        continue;
      }
      if (this.queue.length === 0) return;
      const batch = this.queue.length <= this.o.maxBatch ? this.queue : this.queue.slice(0, this.o.maxBatch);
      this.queue = batch === this.queue ? [] : this.queue.slice(this.o.maxBatch);
      this.sending = this.send(batch).finally(() => (this.sending = undefined));
      await this.sending;
    }
  }

  /** Stops the timer and sends what is left, each batch within 2 s: a hanging collector must not hold up shutdown. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.closing = true;
    this.wake?.();
    await this.flush();
    this.client.close();
  }

  private async send(batch: SpanRecord[]): Promise<void> {
    const body = encodeExport(this.o.scope, this.o.resource, batch);
    const retry = this.o.retry ?? RETRY;
    for (let attempt = 1; ; attempt++) {
      const closing = this.closing;
      let failure: unknown;
      let waitMs: number | undefined;
      let rsp: CollectorAnswer | undefined;
      try {
        rsp = await this.client.post(body, closing ? Math.min(this.o.timeoutMs, CLOSE_TIMEOUT_MS) : this.o.timeoutMs);
      } catch (err) {
        failure = err;
        waitMs = backoffMs(retry.backoffMs, attempt);
      }
      if (rsp !== undefined && rsp.status >= 200 && rsp.status <= 299) {
        try {
          const protobuf = rsp.body.length > 0 && rsp.contentType.includes('protobuf');
          const rejected = protobuf ? rejectedSpans(rsp.body) : 0;
          if (rejected > 0) this.dropped.rejected.inc(rejected);
          this.exported.inc(batch.length - rejected);
          this.failureLogged = false;
          return;
        } catch (err) {
          // A 2xx whose body is not an ExportTraceServiceResponse: the collector has the batch; sending it again would duplicate it.
          failure = err;
        }
      } else if (rsp !== undefined) {
        failure = new Error(`collector answered HTTP ${rsp.status}`);
        if (RETRYABLE_STATUS.has(rsp.status)) waitMs = retryAfterMs(rsp.retryAfter) ?? backoffMs(retry.backoffMs, attempt);
      }
      if (waitMs === undefined || attempt >= retry.attempts || closing) {
        this.dropped.export_failed.inc(batch.length);
        // Once per outage, not per batch: a collector that is down must not flood the log.
        if (!this.failureLogged) this.o.log.warn({ err: failure, url: this.o.url, spans: batch.length, attempts: attempt }, 'span export failed; spans are dropped until the collector answers');
        this.failureLogged = true;
        return;
      }
      if (!this.closing) await this.pause(waitMs);
    }
  }

  /** Waits `ms`, or until close. */
  private async pause(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      this.wake = resolve;
    });
    clearTimeout(timer);
    this.wake = undefined;
  }
}

/** The wait before send `attempt + 1`: `base` doubled per send so far, ±25 %. */
function backoffMs(base: number, attempt: number): number {
  return base * 2 ** (attempt - 1) * (0.75 + Math.random() / 2);
}

/** A `Retry-After` in seconds (its date form is not followed), at most MAX_RETRY_AFTER_MS. */
function retryAfterMs(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value.trim())) return undefined;
  return Math.min(Number(value.trim()) * 1000, MAX_RETRY_AFTER_MS);
}
