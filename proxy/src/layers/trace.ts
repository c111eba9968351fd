/**
 * Distributed tracing (docs/tracing.md). `traceLayer` records one span per
 * request and direction — inbound a SERVER span, outbound a CLIENT span
 * around routing and retries — under the caller's trace context, and hands
 * the request on with this span as the parent (W3C `traceparent`, plus the
 * caller's B3 form). `traceEndpoint`, at the endpoint stage, adds the chosen
 * peer and counts resends on the request's client span. `traceRoute`, below
 * the inbound route layer, names the matched route (`http.route`) on the
 * server span; outbound, `traceEndpoint` does it for the client span. Without
 * a tracer they return the inner service itself; for a request that is not
 * sampled they cost a few header reads and allocate nothing.
 */
import type { Endpoint, HttpLayer, HttpRequest, HttpResponse, HttpService } from '../svc.js';
import type { SpanKind, SpanRecord } from '@weft/common/trace/span';
import type { Tracer } from '@weft/common/trace/tracer';
import { isGrpc } from './timeout.js';
import { wholeBody } from '../http/whole-body.js';

export interface TraceLayerOptions {
  /** Undefined: tracing is off and the layer is not in the path at all. */
  readonly tracer: Tracer | undefined;
  readonly kind: SpanKind;
  /** This proxy's identity: `weft.server_id` of server spans, `weft.client_id` of client spans. */
  readonly localIdentity: string;
}

export function traceLayer(o: TraceLayerOptions): HttpLayer {
  return (inner) => {
    const tracer = o.tracer;
    if (tracer === undefined) return inner;
    return (req) => (tracer.sampled(req.headers) ? traced(tracer, o, inner, req) : inner(req));
  };
}

/** The endpoint stage: the peer, its identity and the attempt count go on the request's client span. */
export function traceEndpoint(tracer: Tracer | undefined, ep: Endpoint): HttpLayer {
  return (inner) => {
    if (tracer === undefined) return inner;
    const peer = ep.addr.ip;
    return (req) => {
      const span = tracer.openParent(req.headers);
      if (span !== undefined) {
        setRoute(span, req);
        attempts.set(span, (attempts.get(span) ?? 0) + 1);
        span.set('network.peer.address', peer);
        span.set('network.peer.port', ep.addr.port);
        span.set('weft.server_id', ep.identity);
        span.set('weft.tls', ep.identity !== undefined);
      }
      return inner(req);
    };
  };
}

/** Below the route layer: the route the request matched goes on the span that the request's `traceparent` names (ours). */
export function traceRoute(tracer: Tracer | undefined): HttpLayer {
  return (inner) => {
    if (tracer === undefined) return inner;
    return (req) => {
      if (req.route !== undefined) {
        const span = tracer.openParent(req.headers);
        if (span !== undefined) setRoute(span, req);
      }
      return inner(req);
    };
  };
}

/**
 * `http.route`: the matched route's name as the route metrics label it (`rt_route`: a ServiceProfile route's name,
 * often its path template; an HTTPRoute or GRPCRoute rule's name). An HTTP span is then named `{method} {http.route}`
 * (OpenTelemetry HTTP conventions); a gRPC span keeps its `package.Service/Method` name.
 */
function setRoute(span: SpanRecord, req: HttpRequest): void {
  const name = req.route?.params.name;
  if (!name) return;
  span.set('http.route', name);
  span.set('weft.route_kind', req.route!.params.kind);
  if (!isGrpc(req)) span.name = `${req.method} ${name}`;
}

/** Attempts per client span (the first, plus resends by the retry layer). */
const attempts = new WeakMap<SpanRecord, number>();

// gRPC status codes a server reports as its own failure (OpenTelemetry gRPC conventions); a client fails on any non-zero.
const GRPC_SERVER_ERRORS = new Set(['2', '4', '12', '13', '14', '15']);

async function traced(tracer: Tracer, o: TraceLayerOptions, inner: HttpService, req: HttpRequest): Promise<HttpResponse> {
  const grpc = isGrpc(req);
  const q = req.path.indexOf('?');
  const path = q < 0 ? req.path : req.path.slice(0, q);
  // gRPC: `package.Service/Method`; HTTP: the method, `{method} {http.route}` once a route matched (setRoute).
  const name = grpc ? path.slice(1) : req.method;
  const { span, headers } = tracer.start(req.headers, name, o.kind, req.startedAt);
  requestAttributes(span, req, path, grpc, o);
  let rsp: HttpResponse;
  try {
    rsp = await inner({ ...req, headers });
  } catch (err) {
    span.set('error.type', (err as { code?: string }).code ?? 'error');
    span.error = (err as Error).message;
    finish(tracer, span);
    throw err;
  }
  span.set('http.response.status_code', rsp.status);
  const server = o.kind === 'server';
  if (rsp.status >= 500 || (!server && rsp.status >= 400)) {
    span.set('error.type', String(rsp.status));
    span.error = `HTTP ${rsp.status}`;
  }
  let done = false;
  const end = (err?: Error): void => {
    if (done) return;
    done = true;
    if (grpc) {
      const status = rsp.trailers()?.['grpc-status'] ?? rsp.headers['grpc-status'];
      if (typeof status === 'string') {
        span.set('rpc.grpc.status_code', Number(status));
        if (status !== '0' && (!server || GRPC_SERVER_ERRORS.has(status))) span.error ??= `gRPC status ${status}`;
      }
    }
    if (err !== undefined || rsp.cutOff?.()) {
      span.set('error.type', 'stream');
      span.error = err?.message ?? 'response cut off';
    }
    finish(tracer, span);
  };
  // A body that arrived whole with its head has ended: the span ends now, and no stream is made of the body (reading
  // `rsp.body` would make one, and the server would then follow it instead of writing the response in one go).
  // A stream already over (nothing more will be emitted) ends it now too.
  if (wholeBody(rsp) !== undefined || rsp.body.readableEnded || rsp.body.closed) end();
  else {
    rsp.body.once('end', () => end());
    rsp.body.once('error', end);
    // A body discarded (a retried attempt) or closed without 'end' still ends its span.
    rsp.body.once('close', () => end());
  }
  return rsp;
}

function finish(tracer: Tracer, span: SpanRecord): void {
  const n = attempts.get(span);
  if (n !== undefined && n > 1) span.set('http.request.resend_count', n - 1);
  tracer.finish(span);
}

function requestAttributes(span: SpanRecord, req: HttpRequest, path: string, grpc: boolean, o: TraceLayerOptions): void {
  span.set('http.request.method', req.method);
  span.set('url.scheme', req.scheme);
  span.set('url.path', path);
  const { host, port } = splitAuthority(req.authority);
  span.set('server.address', host);
  if (port !== undefined) span.set('server.port', port);
  span.set('network.protocol.name', 'http');
  span.set('network.protocol.version', req.version === 'HTTP/2' ? '2' : '1.1');
  const ua = req.headers['user-agent'];
  if (typeof ua === 'string') span.set('user_agent.original', ua);
  if (grpc) {
    const slash = path.lastIndexOf('/');
    span.set('rpc.system', 'grpc');
    span.set('rpc.service', path.slice(1, slash));
    span.set('rpc.method', path.slice(slash + 1));
  }
  if (o.kind === 'server') {
    span.set('client.address', req.conn.client.ip);
    span.set('client.port', req.conn.client.port);
    span.set('weft.direction', 'inbound');
    span.set('weft.client_id', req.conn.tls.identity);
    span.set('weft.server_id', o.localIdentity);
    span.set('weft.tls', req.conn.tls.identity !== undefined);
  } else {
    span.set('weft.direction', 'outbound');
    span.set('weft.client_id', o.localIdentity);
  }
}

function splitAuthority(authority: string): { host: string; port: number | undefined } {
  const colon = authority.lastIndexOf(':');
  if (colon < 0 || authority.endsWith(']')) return { host: authority, port: undefined };
  const port = Number(authority.slice(colon + 1));
  return Number.isInteger(port) ? { host: authority.slice(0, colon), port } : { host: authority, port: undefined };
}
