/**
 * A finished (or finishing) span as a tracer records it: plain fields, no
 * protobuf objects on the request path. The exporter turns batches of them
 * into OTLP messages (trace/otlp.ts).
 */

export type SpanKind = 'server' | 'client';
export type AttributeValue = string | number | boolean;

export class SpanRecord {
  /** Epoch milliseconds (fractional). */
  endMs = 0;
  /** OpenTelemetry semantic-convention attributes, in the order they were set. */
  readonly attributes: Array<[string, AttributeValue]> = [];
  /** Set when the span failed (status ERROR); the message is the status description. */
  error: string | undefined;

  constructor(
    readonly traceId: string,
    readonly spanId: string,
    readonly parentSpanId: string | undefined,
    public name: string,
    readonly kind: SpanKind,
    readonly startMs: number,
  ) {}

  /** Sets (or replaces) an attribute; undefined leaves it unset. */
  set(key: string, value: AttributeValue | undefined): void {
    if (value === undefined) return;
    for (const a of this.attributes) {
      if (a[0] === key) {
        a[1] = value;
        return;
      }
    }
    this.attributes.push([key, value]);
  }
}
