/**
 * Tracing of a control-plane gRPC server (docs/tracing.md, "Control plane"):
 * one SERVER span per RPC, under the caller's `traceparent` (or B3) metadata,
 * with the OpenTelemetry RPC attributes and the caller's mesh identity. The
 * handler runs with the span as `activeSpan`, so the Kubernetes calls it
 * makes are its children.
 *
 * A unary RPC's span ends with its answer. A server-streaming RPC (the
 * destination's Get, open for the caller's lifetime) gets a span from the
 * stream's open to its first message — the snapshot the caller waits for —
 * or to its end when it ends (or fails) before any message. A span for the
 * stream's whole lifetime would reach Jaeger only when the caller goes away,
 * hours later, and show nothing but its length.
 */
import { performance } from 'node:perf_hooks';
import { Code, ConnectError, type ContextValues, type Interceptor, type StreamResponse } from '@connectrpc/connect';
import type { SpanRecord } from './span.js';
import { activeSpan, type Tracer } from './tracer.js';
import { B3, B3_FLAGS, B3_PARENT_SPAN_ID, B3_SAMPLED, B3_SPAN_ID, B3_TRACE_ID, TRACEPARENT, TRACESTATE } from './context.js';

const CONTEXT_HEADERS = [TRACEPARENT, TRACESTATE, B3, B3_TRACE_ID, B3_SPAN_ID, B3_PARENT_SPAN_ID, B3_SAMPLED, B3_FLAGS];

/** What the server knows of the caller: its address, and its mesh identity when it presented a verified certificate. */
export interface RpcPeer {
  readonly address: string | undefined;
  readonly identity: string | undefined;
}

// gRPC status codes a server reports as its own failure (OpenTelemetry RPC conventions for gRPC servers).
const SERVER_ERRORS = new Set<number>([Code.Unknown, Code.DeadlineExceeded, Code.Unimplemented, Code.Internal, Code.Unavailable, Code.DataLoss]);

/** The connect interceptor that traces every RPC of a server. */
export function serverTraceInterceptor(tracer: Tracer, peerOf: (values: ContextValues) => RpcPeer): Interceptor {
  return (next) => async (req) => {
    const context: Record<string, string> = {};
    for (const name of CONTEXT_HEADERS) {
      const v = req.header.get(name);
      if (v !== null) context[name] = v;
    }
    if (!tracer.sampled(context)) return next(req);
    const service = req.service.typeName;
    const method = req.method.name;
    const { span } = tracer.start(context, `${service}/${method}`, 'server', performance.now());
    span.set('rpc.system', 'grpc');
    span.set('rpc.service', service);
    span.set('rpc.method', method);
    const peer = peerOf(req.contextValues);
    span.set('client.address', peer.address);
    span.set('weft.client_id', peer.identity);
    span.set('weft.tls', peer.identity !== undefined);
    let rsp;
    try {
      rsp = await activeSpan.run(span, () => next(req));
    } catch (err) {
      end(tracer, span, err);
      throw err;
    }
    if (!rsp.stream) {
      end(tracer, span, undefined);
      return rsp;
    }
    return { ...rsp, message: untilFirstMessage(tracer, span, rsp) } as typeof rsp;
  };
}

/** The stream's messages, unchanged; the span ends at the first one (or at the stream's end or failure before it). */
async function* untilFirstMessage(tracer: Tracer, span: SpanRecord, rsp: StreamResponse): AsyncGenerator<unknown> {
  const it = rsp.message[Symbol.asyncIterator]();
  let ended = false;
  try {
    // The handler's work up to its first message runs under the span, like a unary handler's.
    const first = await activeSpan.run(span, () => it.next());
    span.set('weft.rpc.stream', 'first_message');
    ended = true;
    end(tracer, span, undefined);
    if (first.done) return;
    yield first.value;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  } catch (err) {
    if (!ended) {
      ended = true;
      end(tracer, span, err);
    }
    throw err;
  } finally {
    // The caller went away before the first message.
    if (!ended) end(tracer, span, new ConnectError('stream closed before its first message', Code.Canceled));
    await it.return?.();
  }
}

function end(tracer: Tracer, span: SpanRecord, err: unknown): void {
  if (err === undefined) span.set('rpc.grpc.status_code', 0);
  else {
    const e = ConnectError.from(err);
    span.set('rpc.grpc.status_code', e.code);
    if (SERVER_ERRORS.has(e.code)) {
      span.set('error.type', Code[e.code]);
      span.error = e.rawMessage;
    }
  }
  tracer.finish(span);
}
