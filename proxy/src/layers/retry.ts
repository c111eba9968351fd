/**
 * Retries for retryable routes. A request is retried when the route is
 * retryable and its method idempotent (or named by the route; gRPC calls
 * when the route names retryable gRPC statuses), after a connection
 * failure, an attempt timeout, a response in the route's retry statuses or
 * a gRPC status the route names, while the deadline allows, up to
 * MAX_RETRIES times, and only with the logical service's retry budget's
 * consent. The body must be replayed, so a copy of up to MAX_REPLAY_BYTES is
 * kept while it streams to the first attempt; a larger body (or one still
 * streaming when the attempt failed) is not retried. A gRPC status is
 * retried only when no response data came before it (trailers-only, or
 * trailers right after the headers): what reached the client is never
 * sent twice.
 */
import { PassThrough, Readable } from 'node:stream';
import { WeftError } from '@weft/common/errors';
import type { HttpRequest, HttpResponse, HttpService } from '../svc.js';
import { isRetryableGrpcStatus, isRetryableStatus, mayRetry, type RouteParams } from '../profile/route-table.js';
import type { RouteTargetMetrics } from '../metrics/route-metrics.js';
import type { RetryBudget } from './retry-budget.js';
import { callWithTimeout, deadlineOf, isGrpc, now, RequestTimeoutError, withRemaining } from './timeout.js';

/** Largest request body kept for replay. */
export const MAX_REPLAY_BYTES = 64 * 1024;
/** Attempts after the first, at most (the budget bounds the aggregate; this bounds one request). */
export const MAX_RETRIES = 3;

/**
 * A request body streamed to the first attempt while a copy is kept (up to
 * `limit` bytes) for replays. The first attempt is not delayed, so streaming
 * calls keep streaming; a replay is possible only once the client's body
 * ended within the limit.
 */
export class ReplayableBody {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private overflow = false;
  private ended = false;

  constructor(
    private readonly src: Readable,
    private readonly limit: number,
  ) {}

  /** The body for the first attempt. */
  first(): Readable {
    const out = new PassThrough();
    const resume = (): void => {
      this.src.resume();
    };
    this.src.on('data', (chunk: Buffer) => {
      if (!this.overflow) {
        this.size += chunk.length;
        if (this.size > this.limit) {
          this.overflow = true;
          this.chunks.length = 0;
        } else this.chunks.push(chunk);
      }
      if (out.destroyed) return;
      if (!out.write(chunk)) {
        this.src.pause();
        out.once('drain', resume);
      }
    });
    this.src.once('end', () => {
      this.ended = true;
      out.end();
    });
    this.src.once('error', (err) => out.destroy(err));
    // An attempt that gave up on the body must not stall the client's upload: keep reading (for the replay copy).
    out.once('close', () => {
      out.off('drain', resume);
      this.src.resume();
    });
    return out;
  }

  /** Whether the whole body is held: it ended within the limit. */
  get complete(): boolean {
    return this.ended && !this.overflow;
  }

  /** A fresh copy of the whole body (only when `complete`). */
  replay(): Readable {
    return Readable.from(this.chunks);
  }
}

/** Whether a failed attempt may be tried again: connection-level failures and attempt timeouts, not the client going away. */
function retryableError(err: unknown, req: HttpRequest): boolean {
  if (req.signal.aborted) return false;
  if (err instanceof RequestTimeoutError) return true;
  if (err instanceof WeftError) return err.code === 'UNAVAILABLE';
  return true;
}

/**
 * Sends a request along its route: deadline (total timeout, grpc-timeout),
 * per-attempt timeout, and retries within the budget.
 */
export async function sendOnRoute(
  inner: HttpService,
  req: HttpRequest,
  route: RouteParams,
  budget: RetryBudget,
  m: RouteTargetMetrics | undefined,
): Promise<HttpResponse> {
  const deadline = deadlineOf(req, route.totalTimeoutMs);
  const attemptMs = route.timeoutMs > 0 ? route.timeoutMs : Infinity;
  const grpc = isGrpc(req);
  const retryable = mayRetry(route, req.method, grpc);
  const watchGrpc = retryable && grpc && route.retryGrpcStatuses.size > 0;
  let replayable: ReplayableBody | undefined;
  let first = req;
  if (retryable) {
    budget.deposit();
    if (!req.bodyless) {
      replayable = new ReplayableBody(req.body, MAX_REPLAY_BYTES);
      first = { ...req, body: replayable.first() };
    }
  }
  for (let attempt = 0; ; attempt++) {
    const t = now();
    if (t >= deadline) throw new RequestTimeoutError('request', deadline - req.startedAt);
    const ms = Math.min(attemptMs, deadline - t);
    const finalTimeout = ms !== attemptMs;
    let areq = withRemaining(first, deadline, t);
    if (attempt > 0) areq = { ...areq, body: replayable ? replayable.replay() : Readable.from([]) };
    let rsp: HttpResponse;
    try {
      rsp = await callWithTimeout(inner, areq, ms, finalTimeout ? 'request' : 'request attempt', route.idleTimeoutMs);
    } catch (err) {
      // A total-deadline timeout is final; an attempt timeout may be retried within the total.
      if (!canRetry(retryable, attempt, replayable) || !retryableError(err, req) || (err instanceof RequestTimeoutError && finalTimeout)) throw err;
      if (!takeRetry(budget, m)) throw err;
      continue;
    }
    if (!canRetry(retryable, attempt, replayable) || req.signal.aborted) return rsp;
    let retry = isRetryableStatus(route, rsp.status);
    if (!retry && watchGrpc) {
      let status = rsp.headers['grpc-status'];
      if (status === undefined) ({ status, rsp } = await grpcStatusBeforeData(rsp));
      retry = isRetryableGrpcStatus(route, status);
    }
    if (retry && !req.signal.aborted && takeRetry(budget, m)) {
      // The failed response is dropped; its stream is reset rather than read to the end.
      rsp.body.on('error', () => undefined);
      rsp.body.destroy();
      continue;
    }
    return rsp;
  }
}

/**
 * The gRPC status of a response that ends without a byte of data (status in trailers right after the headers);
 * undefined as soon as data arrives (the call is streaming: it goes to the client as it is) or the stream fails.
 * Nothing is consumed. A body found at its end is handed on as a fresh empty body: Node ends and closes an
 * HTTP/2 stream without a reader once it is over, so the original would never emit 'end' to the server.
 */
function grpcStatusBeforeData(rsp: HttpResponse): Promise<{ status: string | undefined; rsp: HttpResponse }> {
  const body = rsp.body;
  if (body.readableEnded || body.destroyed) return Promise.resolve({ status: undefined, rsp });
  return new Promise((resolve) => {
    const settle = (status: string | undefined, out: HttpResponse): void => {
      body.off('readable', onReadable);
      body.off('close', onClose);
      resolve({ status, rsp: out });
    };
    // 'readable' fires when data is buffered, or once at the end of a body that had none.
    const onReadable = (): void => {
      if (body.readableLength > 0) return settle(undefined, rsp);
      body.off('readable', onReadable);
      body.off('close', onClose);
      // Node emits the HTTP/2 'trailers' event a tick after the end of the body: read them a turn later.
      setImmediate(() => {
        const status = rsp.trailers()?.['grpc-status'];
        settle(typeof status === 'string' ? status : undefined, { ...rsp, body: Readable.from([]) });
      });
    };
    const onClose = (): void => settle(undefined, rsp);
    // A reset while waiting is the client's to see (through the server's own listener); it must not throw here.
    body.on('error', () => undefined);
    body.on('readable', onReadable);
    body.once('close', onClose);
  });
}

function canRetry(retryable: boolean, attempt: number, body: ReplayableBody | undefined): boolean {
  return retryable && attempt < MAX_RETRIES && (body === undefined || body.complete);
}

function takeRetry(budget: RetryBudget, m: RouteTargetMetrics | undefined): boolean {
  if (!budget.withdraw()) {
    m?.budgetExhausted.inc();
    return false;
  }
  m?.retries.inc();
  return true;
}
