/**
 * SpanRecords → OTLP `ExportTraceServiceRequest` in protobuf binary: one
 * resource (this workload or component), one scope (`weft-proxy`,
 * `weft-identity`, ...). Written field by field with protobuf's wire writer
 * (field numbers from api/proto/opentelemetry, opentelemetry-proto v1.11.0):
 * `common` sits below `api` in the build, so it cannot use the generated
 * messages, and writing the few fields a span has directly skips the
 * reflective message building per span. The proxy's `otlp.test.ts` decodes
 * the output with the generated messages to pin the field numbers.
 */
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import type { AttributeValue, SpanRecord } from './span.js';

// Span.SpanKind and Status.StatusCode (trace.proto).
const SPAN_KIND = { server: 2, client: 3 } as const;
const STATUS_ERROR = 2;

function keyValue(w: BinaryWriter, field: number, key: string, v: AttributeValue): void {
  w.tag(field, WireType.LengthDelimited).fork(); // KeyValue
  w.tag(1, WireType.LengthDelimited).string(key);
  w.tag(2, WireType.LengthDelimited).fork(); // AnyValue
  if (typeof v === 'string') w.tag(1, WireType.LengthDelimited).string(v);
  else if (typeof v === 'boolean') w.tag(2, WireType.Varint).bool(v);
  else if (Number.isInteger(v)) w.tag(3, WireType.Varint).int64(v);
  else w.tag(4, WireType.Bit64).double(v);
  w.join().join();
}

/** Epoch milliseconds (fractional) → fixed64 nanoseconds, without losing the sub-millisecond part to float rounding. */
export function unixNano(ms: number): bigint {
  const whole = Math.floor(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6));
}

function span(w: BinaryWriter, s: SpanRecord): void {
  w.tag(2, WireType.LengthDelimited).fork(); // ScopeSpans.spans
  w.tag(1, WireType.LengthDelimited).bytes(Buffer.from(s.traceId, 'hex'));
  w.tag(2, WireType.LengthDelimited).bytes(Buffer.from(s.spanId, 'hex'));
  if (s.parentSpanId) w.tag(4, WireType.LengthDelimited).bytes(Buffer.from(s.parentSpanId, 'hex'));
  w.tag(5, WireType.LengthDelimited).string(s.name);
  w.tag(6, WireType.Varint).int32(SPAN_KIND[s.kind]);
  w.tag(7, WireType.Bit64).fixed64(unixNano(s.startMs));
  w.tag(8, WireType.Bit64).fixed64(unixNano(s.endMs));
  for (const [k, v] of s.attributes) keyValue(w, 9, k, v);
  if (s.error !== undefined) {
    w.tag(15, WireType.LengthDelimited).fork(); // Status
    w.tag(2, WireType.LengthDelimited).string(s.error);
    w.tag(3, WireType.Varint).int32(STATUS_ERROR);
    w.join();
  }
  w.join();
}

/** The resource attributes (service.name, k8s.*) and a batch of spans, encoded. */
export function encodeExport(scope: string, resource: Readonly<Record<string, string>>, spans: readonly SpanRecord[]): Uint8Array {
  const w = new BinaryWriter();
  w.tag(1, WireType.LengthDelimited).fork(); // ExportTraceServiceRequest.resource_spans
  w.tag(1, WireType.LengthDelimited).fork(); // ResourceSpans.resource
  for (const [k, v] of Object.entries(resource)) keyValue(w, 1, k, v);
  w.join();
  w.tag(2, WireType.LengthDelimited).fork(); // ResourceSpans.scope_spans
  w.tag(1, WireType.LengthDelimited).fork(); // ScopeSpans.scope
  w.tag(1, WireType.LengthDelimited).string(scope);
  w.join();
  for (const s of spans) span(w, s);
  w.join().join();
  return w.finish();
}

/** `ExportTraceServiceResponse.partial_success.rejected_spans` (0 when absent); throws on a malformed body. */
export function rejectedSpans(body: Uint8Array): number {
  let rejected = 0;
  const r = new BinaryReader(body);
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field !== 1 || wire !== WireType.LengthDelimited) {
      r.skip(wire, field);
      continue;
    }
    const partial = new BinaryReader(r.bytes());
    while (partial.pos < partial.len) {
      const [f, w] = partial.tag();
      if (f === 1 && w === WireType.Varint) rejected = Number(partial.int64());
      else partial.skip(w, f);
    }
  }
  return rejected;
}
