/**
 * Batches finished spans and sends them to an OTLP/HTTP collector
 * (`POST <collector>/v1/traces`, `application/x-protobuf`). The queue is
 * bounded: when it is full, or an export fails, spans are dropped and
 * counted (`trace_spans_dropped_total{reason}`), never held — a slow or
 * absent collector costs the request path nothing (the proxy's requests, a
 * control-plane component's RPCs). One export is in flight
 * at a time; a full batch is sent at once, a partial one every flush
 * interval.
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
      return { status: rsp.status, contentType: rsp.headers.get('content-type') ?? '', body: new Uint8Array(await rsp.arrayBuffer()) };
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
}

const CLOSE_TIMEOUT_MS = 2000;

export type DropReason = 'queue_full' | 'export_failed' | 'rejected';

export class OtlpHttpExporter {
  private queue: SpanRecord[] = [];
  private sending: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly exported: Counter;
  private readonly dropped: Record<DropReason, { inc(n?: number): void }>;
  private failureLogged = false;
  private closing = false;
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
    await this.flush();
    this.client.close();
  }

  private async send(batch: SpanRecord[]): Promise<void> {
    try {
      const body = encodeExport(this.o.scope, this.o.resource, batch);
      const rsp = await this.client.post(body, this.closing ? Math.min(this.o.timeoutMs, CLOSE_TIMEOUT_MS) : this.o.timeoutMs);
      if (rsp.status < 200 || rsp.status > 299) throw new Error(`collector answered HTTP ${rsp.status}`);
      const protobuf = rsp.body.length > 0 && rsp.contentType.includes('protobuf');
      const rejected = protobuf ? rejectedSpans(rsp.body) : 0;
      if (rejected > 0) this.dropped.rejected.inc(rejected);
      this.exported.inc(batch.length - rejected);
      this.failureLogged = false;
    } catch (err) {
      this.dropped.export_failed.inc(batch.length);
      // Once per outage, not per batch: a collector that is down must not flood the log.
      if (!this.failureLogged) this.o.log.warn({ err, url: this.o.url, spans: batch.length }, 'span export failed; spans are dropped until the collector answers');
      this.failureLogged = true;
    }
  }
}
