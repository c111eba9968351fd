/**
 * Request deadlines. A route's per-attempt timeout and total timeout, and a
 * gRPC client's `grpc-timeout`, become one absolute deadline per request;
 * an attempt that has no response headers by then is cancelled (the
 * upstream stream is reset) and the request fails with DEADLINE_EXCEEDED
 * (504 for HTTP, grpc-status 4 for gRPC), which the metrics count as a
 * failure. gRPC requests carry the remaining time to the next hop in
 * `grpc-timeout`, so the deadline holds across the mesh.
 */
import { performance } from 'node:perf_hooks';
import { WeftError } from '@weft/common/errors';
import type { HttpRequest, HttpResponse, HttpService } from '../svc.js';

export class RequestTimeoutError extends WeftError {
  constructor(what: string, ms: number) {
    super('DEADLINE_EXCEEDED', `weft: ${what} timed out after ${Math.round(ms)} ms`);
  }
}

const GRPC_UNITS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** Parses `grpc-timeout` (1–8 digits and a unit, per the gRPC HTTP/2 spec); undefined when absent or malformed. */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  return m ? Number(m[1]) * GRPC_UNITS[m[2]!]! : undefined;
}

/** Formats milliseconds as `grpc-timeout` (whole milliseconds, at least 1, at most 8 digits). */
export function formatGrpcTimeout(ms: number): string {
  return `${Math.min(99_999_999, Math.max(1, Math.ceil(ms)))}m`;
}

export function isGrpc(req: HttpRequest): boolean {
  const ct = req.headers['content-type'];
  return typeof ct === 'string' && ct.startsWith('application/grpc');
}

/** The request's absolute deadline (performance.now() scale): its total timeout and its own grpc-timeout, whichever ends first. */
export function deadlineOf(req: HttpRequest, totalTimeoutMs: number): number {
  let deadline = totalTimeoutMs > 0 ? req.startedAt + totalTimeoutMs : Infinity;
  const grpc = parseGrpcTimeout(req.headers['grpc-timeout']);
  if (grpc !== undefined) deadline = Math.min(deadline, req.startedAt + grpc);
  return deadline;
}

/** The request for the next hop: gRPC requests with a deadline carry what remains of it. */
export function withRemaining(req: HttpRequest, deadline: number, now: number): HttpRequest {
  if (deadline === Infinity || !isGrpc(req)) return req;
  return { ...req, headers: { ...req.headers, 'grpc-timeout': formatGrpcTimeout(deadline - now) } };
}

/**
 * Calls `inner` and fails with RequestTimeoutError unless response headers
 * arrive within `ms`; on timeout the attempt is aborted (its signal also
 * follows the client's) and a late response is discarded.
 */
export function callWithTimeout(inner: HttpService, req: HttpRequest, ms: number, what: string): Promise<HttpResponse> {
  if (ms === Infinity) return inner(req);
  const ac = new AbortController();
  const attempt: HttpRequest = { ...req, signal: AbortSignal.any([req.signal, ac.signal]) };
  return new Promise<HttpResponse>((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      const err = new RequestTimeoutError(what, ms);
      ac.abort(err);
      reject(err);
    }, Math.max(0, ms));
    inner(attempt).then(
      (rsp) => {
        clearTimeout(timer);
        if (timedOut) rsp.body.destroy();
        else resolve(rsp);
      },
      (err: unknown) => {
        clearTimeout(timer);
        if (!timedOut) reject(err);
      },
    );
  });
}

export const now = (): number => performance.now();
