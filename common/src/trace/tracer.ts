/**
 * A tracer (the proxy's, or a control-plane component's): decides whether a
 * request is traced (the caller's decision when it made one, else this
 * process's sampling rate for a new trace), opens spans with fresh ids under
 * the caller's context, and hands finished spans to the exporter. Spans still
 * open are indexed by span id so the proxy's endpoint stage can add what it
 * learns (peer, identity, attempts) to the request's client span.
 *
 * `activeSpan` carries the span a control-plane server is handling across its
 * awaits, so the calls it makes (Kubernetes) become its children.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomFillSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { incomingSampling, injectContext, parseContext, Sampling, traceparentSampled, TRACEPARENT, type TraceHeaders as Headers } from './context.js';
import { SpanRecord, type SpanKind } from './span.js';

/** The sampled span the current async context works for (set by the control plane's servers; the proxy does not use it). */
export const activeSpan = new AsyncLocalStorage<SpanRecord>();

/** The W3C `traceparent` naming `span` as the parent of the next hop (always sampled: only sampled spans exist). */
export function traceparentOf(span: SpanRecord): string {
  return `00-${span.traceId}-${span.spanId}-01`;
}

export interface SpanSink {
  push(span: SpanRecord): void;
}

export interface OpenedSpan<H extends Headers = Headers> {
  readonly span: SpanRecord;
  /** The request's headers with our span as the parent (W3C, and the caller's B3 form). */
  readonly headers: H;
}

/** Open spans indexed at most; past it a span is still recorded, only the endpoint stage cannot find it. */
const MAX_OPEN = 8192;

export class Tracer {
  private readonly open = new Map<string, SpanRecord>();
  private readonly unindexed = new WeakSet<SpanRecord>();

  constructor(
    /** Probability (0..1) of tracing a request that carries no sampling decision. */
    readonly sampleRate: number,
    private readonly sink: SpanSink,
    private readonly random: () => number = Math.random,
  ) {}

  /** Whether a request with these headers is traced. Allocates nothing. */
  sampled(h: Headers): boolean {
    const s = incomingSampling(h);
    if (s === Sampling.Sampled) return true;
    if (s === Sampling.Unsampled) return false;
    return this.sampleRate >= 1 || (this.sampleRate > 0 && this.random() < this.sampleRate);
  }

  /**
   * Opens a span for an outgoing call under `parent` (same trace), or, without a parent, a new trace when this
   * tracer's rate samples it. Undefined: not traced.
   */
  startChild(parent: SpanRecord | undefined, name: string, kind: SpanKind): SpanRecord | undefined {
    if (parent === undefined && !(this.sampleRate >= 1 || (this.sampleRate > 0 && this.random() < this.sampleRate))) return undefined;
    const span = new SpanRecord(parent?.traceId ?? newId(16), newId(8), parent?.spanId, name, kind, performance.timeOrigin + performance.now());
    if (this.open.size < MAX_OPEN) this.open.set(span.spanId, span);
    else this.unindexed.add(span);
    return span;
  }

  /** Opens a span for a sampled request that started at `startedAt` (performance.now()). */
  start<H extends Headers>(h: H, name: string, kind: SpanKind, startedAt: number): OpenedSpan<H> {
    const ctx = parseContext(h);
    const traceId = ctx?.traceId ?? newId(16);
    const span = new SpanRecord(traceId, newId(8), ctx?.parentSpanId, name, kind, performance.timeOrigin + startedAt);
    if (this.open.size < MAX_OPEN) this.open.set(span.spanId, span);
    else this.unindexed.add(span);
    return { span, headers: injectContext(h, ctx, traceId, span.spanId) };
  }

  /**
   * The open span a request's `traceparent` names as its parent: the client span the outbound stack opened for
   * it. Undefined when the request is not traced. Allocates only for traced requests.
   */
  openParent(h: Headers): SpanRecord | undefined {
    const tp = h[TRACEPARENT];
    if (typeof tp !== 'string' || traceparentSampled(tp) !== 1 || this.open.size === 0) return undefined;
    return this.open.get(tp.slice(36, 52));
  }

  /** Ends a span now and queues it for export. */
  finish(span: SpanRecord): void {
    // Each span is finished once: a second end (a body that errors, then closes) is ignored.
    if (!this.open.delete(span.spanId) && !this.unindexed.delete(span)) return;
    span.endMs = performance.timeOrigin + performance.now();
    this.sink.push(span);
  }
}

// Ids come from a pool of random bytes refilled 4 KiB at a time: one crypto call per ~300 spans, not per id.
const POOL = Buffer.alloc(4096);
let poolAt = POOL.length;

function newId(bytes: number): string {
  for (;;) {
    if (poolAt + bytes > POOL.length) {
      randomFillSync(POOL);
      poolAt = 0;
    }
    const from = poolAt;
    poolAt += bytes;
    // An all-zero id is invalid (W3C Trace Context §3.2.2.3, §3.2.2.4).
    for (let i = from; i < poolAt; i++) if (POOL[i] !== 0) return POOL.toString('hex', from, poolAt);
  }
}
