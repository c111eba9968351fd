/**
 * Request deadlines, as two layers. `requestDeadline`: a route's total
 * timeout and a gRPC client's `grpc-timeout` become one absolute deadline
 * per request (`req.deadline`), and it covers the whole exchange, retries
 * included. `attemptTimeout`: a route's per-attempt timeout and idle
 * timeout bound each attempt (below the retry layer, so a timed-out attempt
 * may be retried while the deadline allows). An exchange without response
 * headers in time fails with DEADLINE_EXCEEDED (504 for HTTP, grpc-status 4
 * for gRPC); a response whose body has not ended in time is ended with that
 * error (the HTTP servers turn it into gRPC trailers, an RST_STREAM or a
 * closed HTTP/1 connection). The idle timeout ends a stream on which no
 * byte moved either way for that long, the same way. The upstream stream is
 * reset in every case and the metrics count a failure. gRPC requests carry
 * the remaining time to the next hop in `grpc-timeout`, so the deadline
 * holds across the mesh.
 */
import { performance } from 'node:perf_hooks';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { WeftError } from '@weft/common/errors';
import type { HttpLayer, HttpRequest, HttpResponse, HttpService } from '../svc.js';
import { StreamSignal, type RequestSignal } from '../http/request-signal.js';

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

export interface DeadlineOptions {
  /** Whether the matched route's total timeout counts (outbound); else only the client's grpc-timeout (inbound). */
  readonly routeTimeouts: boolean;
}

/** The request's deadline over the whole exchange; the request below carries it (`req.deadline`, and in grpc-timeout). */
export function requestDeadline(o: DeadlineOptions): HttpLayer {
  return (inner) => (req) => {
    const total = o.routeTimeouts ? (req.route?.params.totalTimeoutMs ?? 0) : 0;
    if (total <= 0 && req.headers['grpc-timeout'] === undefined) return inner(req);
    const deadline = deadlineOf(req, total);
    if (deadline === Infinity) return inner(req);
    const t = now();
    if (t >= deadline) return Promise.reject(new RequestTimeoutError('request', deadline - req.startedAt));
    const next: HttpRequest = isGrpc(req)
      ? { ...req, deadline, headers: { ...req.headers, 'grpc-timeout': formatGrpcTimeout(deadline - t) } }
      : { ...req, deadline };
    return callWithTimeout(inner, next, deadline - t, 'request');
  };
}

/** Each attempt bounded by the route's per-attempt timeout and idle timeout. */
export function attemptTimeout(): HttpLayer {
  return (inner) => (req) => {
    const p = req.route?.params;
    if (!p || (p.timeoutMs <= 0 && p.idleTimeoutMs <= 0)) return inner(req);
    return callWithTimeout(inner, req, p.timeoutMs > 0 ? p.timeoutMs : Infinity, 'request attempt', p.idleTimeoutMs);
  };
}

/**
 * Calls `inner` with the exchange bounded: it must be over (response body
 * ended) within `ms`, and with `idleMs` > 0 no byte may take longer than
 * that to move either way. Before response headers a timeout rejects with
 * RequestTimeoutError; after them the response body fails with it. Either
 * way the attempt is aborted (its signal also follows the client's), and a
 * late response is discarded.
 */
export function callWithTimeout(inner: HttpService, req: HttpRequest, ms: number, what: string, idleMs = 0): Promise<HttpResponse> {
  if (ms === Infinity && idleMs <= 0) return inner(req);
  const signal = new StreamSignal();
  const x = new BoundedExchange(signal, req.signal, now(), ms, idleMs, what);
  let attempt: HttpRequest = { ...req, signal };
  if (idleMs > 0 && !req.bodyless) attempt = { ...attempt, body: watchBytes(req.body, x, false) };
  return new Promise<HttpResponse>((resolve, reject) => {
    x.pending = reject;
    inner(attempt).then(
      (rsp) => {
        if (x.over) {
          rsp.body.on('error', () => undefined);
          rsp.body.destroy();
        } else resolve(x.responded(rsp));
      },
      (err: unknown) => {
        if (!x.over) {
          x.finish();
          reject(err);
        }
      },
    );
  });
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The timer of one bounded exchange. One timer at a time, re-armed lazily: a byte only stamps `last`, so the
 * idle timeout costs nothing per chunk but a clock read.
 */
class BoundedExchange {
  /** Rejects the call while there is no response yet. */
  pending: ((err: RequestTimeoutError) => void) | undefined;
  over = false;
  last: number;
  private rsp: HttpResponse | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly endAt: number;

  /**
   * The attempt's signal follows the client's through one listener, removed when the exchange is over. (Not
   * `AbortSignal.any`: Node 20 keeps every signal derived that way on its source until the source aborts, and an
   * HTTP/1 connection's signal lives as long as the connection — one entry per request, never freed.)
   */
  constructor(
    private readonly attempt: StreamSignal,
    private readonly client: RequestSignal,
    start: number,
    private readonly ms: number,
    private readonly idleMs: number,
    private readonly what: string,
  ) {
    this.last = start;
    this.endAt = start + ms;
    if (client.aborted) attempt.abort(client.reason);
    else client.addEventListener('abort', this.follow, { once: true });
    this.arm(start);
  }

  private readonly follow = (): void => {
    this.attempt.abort(this.client.reason);
  };

  private arm(t: number): void {
    const at = this.idleMs > 0 ? Math.min(this.endAt, this.last + this.idleMs) : this.endAt;
    // setTimeout fires at once for delays over 2^31-1 ms (~24.8 days); a longer timeout is re-armed when that passes.
    this.timer = setTimeout(this.fire, Math.min(MAX_TIMER_MS, Math.max(0, at - t)));
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    if (this.over) return;
    const t = now();
    if (t >= this.endAt) this.fail(new RequestTimeoutError(this.what, this.ms));
    else if (this.idleMs > 0 && t - this.last >= this.idleMs) this.fail(new RequestTimeoutError(`${this.what}: stream idle`, this.idleMs));
    else this.arm(t);
  };

  private fail(err: RequestTimeoutError): void {
    this.over = true;
    this.client.removeEventListener('abort', this.follow);
    // Reset upstream first (RST_STREAM CANCEL / connection close), then end what the client reads with the error.
    this.attempt.abort(err);
    if (this.rsp) this.rsp.body.destroy(err);
    else this.pending?.(err);
  }

  finish(): void {
    this.over = true;
    clearTimeout(this.timer);
    this.client.removeEventListener('abort', this.follow);
  }

  /** Headers arrived: the same timer now bounds the body, which ends the exchange when it ends or closes. */
  responded(rsp: HttpResponse): HttpResponse {
    this.pending = undefined;
    this.last = now();
    const body = this.idleMs > 0 ? watchBytes(rsp.body, this, true) : rsp.body;
    this.rsp = body === rsp.body ? rsp : { ...rsp, body };
    const done = (): void => this.finish();
    body.once('end', done);
    body.once('close', done);
    return this.rsp;
  }
}

/** Stamps the exchange on every chunk that passes. */
class ByteWatch extends Transform {
  constructor(private readonly x: BoundedExchange) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.x.last = now();
    cb(null, chunk);
  }
}

/**
 * `src` seen through a ByteWatch. Errors of `src` reach the reader. `owned`: the reader going away destroys `src`
 * (a response: the upstream stream is reset); a request body belongs to the client's connection and is only unpiped.
 */
function watchBytes(src: Readable, x: BoundedExchange, owned: boolean): Readable {
  const out = new ByteWatch(x);
  src.once('error', (err) => out.destroy(err));
  if (owned) {
    out.once('close', () => {
      // With the reason, so layers below (http metrics) count why the stream ended.
      if (!src.readableEnded) src.destroy(out.errored ?? undefined);
    });
  }
  return src.pipe(out);
}

export const now = (): number => performance.now();
