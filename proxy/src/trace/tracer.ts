// The tracer is shared with the control plane (common/src/trace/tracer.ts).
export { Tracer, type OpenedSpan, type SpanSink } from '@weft/common/trace/tracer';
