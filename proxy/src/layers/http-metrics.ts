/**
 * Golden HTTP metrics: request_total on arrival, response_latency_ms at
 * response headers, response_total (status, gRPC status, classification)
 * once the response body ended or failed. 5xx, non-zero grpc-status and
 * broken streams are failures.
 */
import { performance } from 'node:perf_hooks';
import type { HttpLayer, HttpRequest, HttpResponse } from '../svc.js';
import type { HttpTargetMetrics } from '../metrics/proxy-metrics.js';
import { streamError } from '../metrics/route-metrics.js';

export function httpMetrics(bind: (req: HttpRequest) => HttpTargetMetrics): HttpLayer {
  return (inner) => async (req) => {
    const m = bind(req);
    m.requests.inc();
    let rsp: HttpResponse;
    try {
      rsp = await inner(req);
    } catch (err) {
      m.response(0, undefined, true, (err as { code?: string }).code ?? 'error').inc();
      throw err;
    }
    m.latency(rsp.status).observe(performance.now() - req.startedAt);
    const headerGrpc = rsp.headers['grpc-status'];
    rsp.body.once('end', () => {
      // An HTTP/2 stream reset with CANCEL also ends (Node's client): a broken stream, not a response.
      if (rsp.cutOff?.()) return void m.response(rsp.status, undefined, true, 'stream').inc();
      const grpc = (rsp.trailers()?.['grpc-status'] ?? headerGrpc) as string | undefined;
      m.response(rsp.status, grpc, rsp.status >= 500 || (grpc !== undefined && grpc !== '0')).inc();
    });
    rsp.body.once('error', (err) => m.response(rsp.status, undefined, true, streamError(err)).inc());
    return rsp;
  };
}
