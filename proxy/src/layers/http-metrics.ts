/**
 * Golden HTTP metrics: request_total on arrival, response_latency_ms at
 * response headers, response_total (status, gRPC status, classification)
 * once the response body ended or failed (at once for a body that arrived
 * whole with its head: http/whole-body.ts). 5xx, non-zero grpc-status and
 * broken streams are failures.
 */
import { performance } from 'node:perf_hooks';
import type { HttpLayer, HttpRequest, HttpResponse } from '../svc.js';
import type { HttpTargetMetrics } from '../metrics/proxy-metrics.js';
import { grpcFailed, streamError } from '../metrics/route-metrics.js';
import { wholeBody } from '../http/whole-body.js';
import { newest } from '../keep-shapes.js';

export function httpMetrics(bind: (req: HttpRequest) => HttpTargetMetrics): HttpLayer {
  return (inner) => (req) => {
    const m = bind(req);
    m.requests.inc();
    return inner(req).then(
      (rsp) => {
        m.latency(rsp.status).observe(performance.now() - req.startedAt);
        // A body that arrived whole with the head has ended: counted now, without waiting on a stream.
        if (wholeBody(rsp) !== undefined) countWhole(m, rsp);
        else new CountResponse(m, rsp);
        return rsp;
      },
      (err: unknown) => {
        m.response(0, undefined, true, (err as { code?: string }).code ?? 'error').inc();
        throw err;
      },
    );
  };
}

/**
 * A metrics binding for `httpMetrics` that looks its children up again only when a request's authority or client
 * identity differs from the previous request's (most requests through a target repeat both): no key string per request.
 */
export function bindLast(bind: (authority: string, identity: string | undefined) => HttpTargetMetrics): (req: HttpRequest) => HttpTargetMetrics {
  let authority: string | undefined;
  let identity: string | undefined;
  let last: HttpTargetMetrics | undefined;
  return (req) => {
    const id = req.conn.tls.identity;
    if (last === undefined || req.authority !== authority || id !== identity) {
      last = bind(req.authority, id);
      authority = req.authority;
      identity = id;
    }
    return last;
  };
}

function countWhole(m: HttpTargetMetrics, rsp: HttpResponse): void {
  const grpc = rsp.headers['grpc-status'] as string | undefined;
  m.response(rsp.status, grpc, rsp.status >= 500 || grpcFailed(grpc)).inc();
}

/**
 * Counts one response once its body ended or failed: one object per response whose listeners are its methods bound
 * once (closures made per response are called once, late, and lose their optimised code at every full GC:
 * docs/proxy.md, "Garbage and recompilation on the HTTP/2 path").
 */
class CountResponse {
  private done = false;
  /** A gRPC status in the headers (trailers-only), read before the body runs. */
  private readonly headerGrpc: string | undefined;

  constructor(
    private readonly m: HttpTargetMetrics,
    private readonly rsp: HttpResponse,
  ) {
    this.headerGrpc = rsp.headers['grpc-status'] as string | undefined;
    rsp.body.on('end', this.end.bind(this));
    rsp.body.on('error', this.error.bind(this));
    newest.countResponse = this;
  }

  private end(): void {
    if (this.done) return;
    this.done = true;
    const rsp = this.rsp;
    // An HTTP/2 stream reset with CANCEL also ends (Node's client): a broken stream, not a response.
    if (rsp.cutOff?.()) return void this.m.response(rsp.status, undefined, true, 'stream').inc();
    const grpc = (rsp.trailers()?.['grpc-status'] ?? this.headerGrpc) as string | undefined;
    this.m.response(rsp.status, grpc, rsp.status >= 500 || grpcFailed(grpc)).inc();
  }

  private error(err: Error): void {
    if (this.done) return;
    this.done = true;
    this.m.response(this.rsp.status, undefined, true, streamError(err)).inc();
  }
}
