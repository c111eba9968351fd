/**
 * SpanRecords → OTLP `ExportTraceServiceRequest` (protobuf, the messages
 * generated from the OpenTelemetry protos in api/): one resource (this
 * workload), one scope (weft-proxy).
 */
import { create, toBinary } from '@bufbuild/protobuf';
import { otlpCommon, otlpResource, otlpTrace, otlpTraceService } from '@weft/api';
import type { AttributeValue, SpanRecord } from './span.js';

export const SCOPE_NAME = 'weft-proxy';

function anyValue(v: AttributeValue): otlpCommon.AnyValue {
  if (typeof v === 'string') return create(otlpCommon.AnyValueSchema, { value: { case: 'stringValue', value: v } });
  if (typeof v === 'boolean') return create(otlpCommon.AnyValueSchema, { value: { case: 'boolValue', value: v } });
  if (Number.isInteger(v)) return create(otlpCommon.AnyValueSchema, { value: { case: 'intValue', value: BigInt(v) } });
  return create(otlpCommon.AnyValueSchema, { value: { case: 'doubleValue', value: v } });
}

export function keyValues(attrs: Iterable<readonly [string, AttributeValue]>): otlpCommon.KeyValue[] {
  const out: otlpCommon.KeyValue[] = [];
  for (const [key, value] of attrs) out.push(create(otlpCommon.KeyValueSchema, { key, value: anyValue(value) }));
  return out;
}

/** Epoch milliseconds (fractional) → fixed64 nanoseconds, without losing the sub-millisecond part to float rounding. */
export function unixNano(ms: number): bigint {
  const whole = Math.floor(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6));
}

function spanMessage(s: SpanRecord): otlpTrace.Span {
  return create(otlpTrace.SpanSchema, {
    traceId: Buffer.from(s.traceId, 'hex'),
    spanId: Buffer.from(s.spanId, 'hex'),
    parentSpanId: s.parentSpanId ? Buffer.from(s.parentSpanId, 'hex') : new Uint8Array(0),
    name: s.name,
    kind: s.kind === 'server' ? otlpTrace.Span_SpanKind.SERVER : otlpTrace.Span_SpanKind.CLIENT,
    startTimeUnixNano: unixNano(s.startMs),
    endTimeUnixNano: unixNano(s.endMs),
    attributes: keyValues(s.attributes),
    status: create(otlpTrace.StatusSchema, s.error === undefined ? { code: otlpTrace.Status_StatusCode.UNSET } : { code: otlpTrace.Status_StatusCode.ERROR, message: s.error }),
  });
}

/** The resource attributes (service.name, k8s.*) and a batch of spans, encoded. */
export function encodeExport(resource: Readonly<Record<string, string>>, spans: readonly SpanRecord[]): Uint8Array {
  const req = create(otlpTraceService.ExportTraceServiceRequestSchema, {
    resourceSpans: [
      create(otlpTrace.ResourceSpansSchema, {
        resource: create(otlpResource.ResourceSchema, { attributes: keyValues(Object.entries(resource)) }),
        scopeSpans: [create(otlpTrace.ScopeSpansSchema, { scope: create(otlpCommon.InstrumentationScopeSchema, { name: SCOPE_NAME }), spans: spans.map(spanMessage) })],
      }),
    ],
  });
  return toBinary(otlpTraceService.ExportTraceServiceRequestSchema, req);
}
