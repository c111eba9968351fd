/**
 * Trace context on the wire: W3C Trace Context (`traceparent`, `tracestate`)
 * and Zipkin B3, single (`b3`) and multiple (`x-b3-*`) headers, as HTTP
 * headers or gRPC metadata (lower-case names either way). A traced hop reads
 * the caller's context, and for a sampled request writes its own span as the
 * new parent in W3C form and, when the caller spoke B3, in the B3 form it
 * read. The sampling decision is the caller's whenever it made one.
 *
 * `incomingSampling` is the per-request check when tracing is on: it reads
 * characters of header strings and allocates nothing, so requests that are
 * not sampled cost no garbage.
 */

/** Lower-case header (or gRPC metadata) names to values; only string values are read. */
export type TraceHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;
type Headers = TraceHeaders;

export const TRACEPARENT = 'traceparent';
export const TRACESTATE = 'tracestate';
export const B3 = 'b3';
export const B3_TRACE_ID = 'x-b3-traceid';
export const B3_SPAN_ID = 'x-b3-spanid';
export const B3_PARENT_SPAN_ID = 'x-b3-parentspanid';
export const B3_SAMPLED = 'x-b3-sampled';
export const B3_FLAGS = 'x-b3-flags';

/** What the caller decided: sample, do not sample, or no decision (no context, or B3 that defers). */
export const enum Sampling {
  Unsampled = 0,
  Sampled = 1,
  NoDecision = 2,
}

/** The caller's context, parsed (only for requests that will be traced). */
export interface TraceContext {
  /** 32 lower-case hex digits (a 64-bit B3 id is left-padded with zeros). */
  readonly traceId: string;
  /** The caller's span: the parent of ours. Undefined for a B3 context with ids but a fresh root, never for W3C. */
  readonly parentSpanId: string | undefined;
  /** The B3 forms the caller used, so they are written back. */
  readonly b3: 'single' | 'multi' | undefined;
  /** The B3 trace id as read (16 or 32 digits), written back unchanged. */
  readonly b3TraceId: string | undefined;
  /** B3 debug (`d`, `X-B3-Flags: 1`): sampled, and said again downstream. */
  readonly debug: boolean;
}

function header(h: Headers, name: string): string | undefined {
  const v = h[name];
  return typeof v === 'string' ? v : undefined;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

function isHex(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (hexValue(s.charCodeAt(i)) < 0) return false;
  return true;
}

function allZero(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (s.charCodeAt(i) !== 48) return false;
  return true;
}

/**
 * A valid `traceparent` (W3C Trace Context §3.2): `vv-<32 hex>-<16 hex>-ff`, lower-case, ids not all zero,
 * version not `ff`; a later version may append `-...` fields. Returns the sampled flag, or -1 when invalid.
 */
export function traceparentSampled(tp: string): number {
  if (tp.length < 55 || tp.charCodeAt(2) !== 45 || tp.charCodeAt(35) !== 45 || tp.charCodeAt(52) !== 45) return -1;
  if (!isHex(tp, 0, 2) || !isHex(tp, 3, 35) || !isHex(tp, 36, 52) || !isHex(tp, 53, 55)) return -1;
  const version00 = tp.charCodeAt(0) === 48 && tp.charCodeAt(1) === 48;
  if (tp.charCodeAt(0) === 102 && tp.charCodeAt(1) === 102) return -1;
  if (version00 ? tp.length !== 55 : tp.length > 55 && tp.charCodeAt(55) !== 45) return -1;
  if (allZero(tp, 3, 35) || allZero(tp, 36, 52)) return -1;
  return hexValue(tp.charCodeAt(54)) & 1;
}

/** B3 single: `{traceId}-{spanId}[-{sampling}[-{parentSpanId}]]` or a lone `{sampling}` (0, 1, d). Sampling or -1 when invalid. */
function b3SingleSampling(b3: string): Sampling | -1 {
  if (b3.length === 1) return samplingChar(b3.charCodeAt(0));
  const t = b3.indexOf('-');
  if ((t !== 16 && t !== 32) || !isHex(b3, 0, t) || b3.length < t + 17 || !isHex(b3, t + 1, t + 17)) return -1;
  if (b3.length === t + 17) return Sampling.NoDecision;
  if (b3.charCodeAt(t + 17) !== 45 || b3.length < t + 19) return -1;
  const s = samplingChar(b3.charCodeAt(t + 18));
  if (s === -1) return -1;
  if (b3.length === t + 19) return s;
  // A parent span id follows.
  return b3.length === t + 36 && b3.charCodeAt(t + 19) === 45 && isHex(b3, t + 20, t + 36) ? s : -1;
}

function samplingChar(c: number): Sampling | -1 {
  if (c === 48) return Sampling.Unsampled;
  if (c === 49 || c === 100 /* d */) return Sampling.Sampled;
  return -1;
}

function b3MultiSampling(h: Headers): Sampling {
  if (header(h, B3_FLAGS) === '1') return Sampling.Sampled;
  const s = header(h, B3_SAMPLED);
  if (s === '1' || s === 'true') return Sampling.Sampled;
  if (s === '0' || s === 'false') return Sampling.Unsampled;
  return Sampling.NoDecision;
}

/** The caller's sampling decision, W3C first, then B3 single, then B3 multi. Allocates nothing. */
export function incomingSampling(h: Headers): Sampling {
  const tp = header(h, TRACEPARENT);
  if (tp !== undefined) {
    const s = traceparentSampled(tp);
    if (s >= 0) return s === 1 ? Sampling.Sampled : Sampling.Unsampled;
  }
  const b3 = header(h, B3);
  if (b3 !== undefined) {
    const s = b3SingleSampling(b3);
    if (s !== -1) return s;
  }
  if (h[B3_TRACE_ID] !== undefined || h[B3_SAMPLED] !== undefined || h[B3_FLAGS] !== undefined) return b3MultiSampling(h);
  return Sampling.NoDecision;
}

const VALID_B3_MULTI = (h: Headers): boolean => {
  const t = header(h, B3_TRACE_ID);
  const s = header(h, B3_SPAN_ID);
  return t !== undefined && s !== undefined && (t.length === 16 || t.length === 32) && isHex(t, 0, t.length) && s.length === 16 && isHex(s, 0, 16);
};

/**
 * The caller's context for a request that will be traced, or undefined when it sent none usable (the proxy then
 * starts a trace). Only called once the request is known to be sampled.
 */
export function parseContext(h: Headers): TraceContext | undefined {
  const b3 = header(h, B3);
  const b3Single = b3 !== undefined && b3.length > 1 && b3SingleSampling(b3) !== -1 ? b3 : undefined;
  const b3Multi = b3Single === undefined && VALID_B3_MULTI(h);
  const b3Form = b3Single !== undefined ? 'single' : b3Multi ? 'multi' : undefined;
  let b3TraceId: string | undefined;
  let b3SpanId: string | undefined;
  let debug = false;
  if (b3Single !== undefined) {
    const parts = b3Single.split('-');
    b3TraceId = parts[0];
    b3SpanId = parts[1];
    debug = parts[2] === 'd';
  } else if (b3Multi) {
    b3TraceId = header(h, B3_TRACE_ID);
    b3SpanId = header(h, B3_SPAN_ID);
    debug = header(h, B3_FLAGS) === '1';
  }
  const tp = header(h, TRACEPARENT);
  if (tp !== undefined && traceparentSampled(tp) >= 0) {
    return { traceId: tp.slice(3, 35), parentSpanId: tp.slice(36, 52), b3: b3Form, b3TraceId, debug };
  }
  if (b3TraceId !== undefined && !allZero(b3TraceId, 0, b3TraceId.length)) {
    return { traceId: b3TraceId.padStart(32, '0'), parentSpanId: b3SpanId, b3: b3Form, b3TraceId, debug };
  }
  return undefined;
}

/** The context our span hands on: W3C always (B3 in, W3C out), plus the caller's B3 form with our span as its span. */
export function injectContext<H extends Headers>(h: H, ctx: TraceContext | undefined, traceId: string, spanId: string): H {
  const out: Record<string, unknown> = { ...h, [TRACEPARENT]: `00-${traceId}-${spanId}-01` };
  if (ctx === undefined) {
    // A trace we started: a tracestate without a traceparent belonged to no valid context (W3C §3.3.1.1).
    delete out[TRACESTATE];
    return out as H;
  }
  if (ctx.b3 === 'single') {
    out[B3] = `${ctx.b3TraceId}-${spanId}-${ctx.debug ? 'd' : '1'}${ctx.parentSpanId ? `-${ctx.parentSpanId}` : ''}`;
  } else if (ctx.b3 === 'multi') {
    out[B3_TRACE_ID] = ctx.b3TraceId!;
    out[B3_SPAN_ID] = spanId;
    if (ctx.parentSpanId) out[B3_PARENT_SPAN_ID] = ctx.parentSpanId;
    else delete out[B3_PARENT_SPAN_ID];
    if (ctx.debug) out[B3_FLAGS] = '1';
    else out[B3_SAMPLED] = '1';
  }
  return out as H;
}
