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
 *
 * Every request with a body keeps that copy, on any route: a request that was not delivered (the endpoint refused
 * the connection, or its proxy answered that the application was unreachable) is re-sent on another endpoint by
 * the balance layer (balance.ts `redispatch`), outside the route's retry policy and budget.
 */
import { Readable } from 'node:stream';
import { WeftError } from '@weft/common/errors';
import type { HttpRequest, HttpResponse, HttpService, MatchedRoute, NewLayer } from '../svc.js';
import { isRetryableGrpcStatus, isRetryableStatus, mayRetry, type RetryBudgetParams } from '../profile/route-table.js';
import type { RouteTargetMetrics } from '../metrics/route-metrics.js';
import { RetryBudget } from './retry-budget.js';
import { isGrpc, now, RequestTimeoutError, withRemaining } from './timeout.js';

/** Largest request body kept for replay. */
export const MAX_REPLAY_BYTES = 64 * 1024;
/** Attempts after the first, at most (the budget bounds the aggregate; this bounds one request). */
export const MAX_RETRIES = 3;

/**
 * A request body streamed to the first attempt while a copy is kept (up to
 * `limit` bytes) for replays. The first attempt is not delayed, so streaming
 * calls keep streaming; a replay is possible only once the client's body
 * ended within the limit. The copy holds the client's chunks themselves, not
 * copies of their bytes.
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

  /** The body for the first attempt (once). */
  first(): Readable {
    return new FirstAttemptBody(this.src, this);
  }

  /** Whether the whole body is held: it ended within the limit. */
  get complete(): boolean {
    return this.ended && !this.overflow;
  }

  /** A fresh copy of the whole body (only when `complete`). */
  replay(): Readable {
    return Readable.from(this.chunks);
  }

  /** A chunk of the client's body arrived: kept while the body is within the limit. */
  keep(chunk: Buffer): void {
    if (this.overflow) return;
    this.size += chunk.length;
    if (this.size > this.limit) {
      this.overflow = true;
      this.chunks.length = 0;
    } else this.chunks.push(chunk);
  }

  /** The client's body ended. */
  end(): void {
    this.ended = true;
  }
}

/**
 * The first attempt's body: the client's chunks pushed on as they arrive, each shown to the copy first, at the
 * attempt's pace (the client's body pauses while this one is full and resumes when the attempt reads). One
 * Readable, not a PassThrough: every gRPC call and every request with a body goes through one, and a transform
 * stage costs a writable side and its callbacks per chunk (docs/proxy.md, issue 17, twelfth pass). Its listeners
 * are its methods, bound once (http/forward.ts says why).
 */
class FirstAttemptBody extends Readable {
  private readonly onData = this.data.bind(this);
  private readonly onEnd = this.srcEnd.bind(this);
  private readonly onError = this.srcError.bind(this);

  constructor(
    private readonly src: Readable,
    private readonly copy: ReplayableBody,
  ) {
    super();
    src.on('data', this.onData);
    src.once('end', this.onEnd);
    src.once('error', this.onError);
    // As on the server's own stream: a client's reset reaches the attempt through the abort signal and the
    // consumer's stream, so an error on this body is not one more unhandled 'error' event.
    this.on('error', ignore);
  }

  override _read(): void {
    this.src.resume();
  }

  /** An attempt that gave up on the body must not stall the client's upload: the client's body keeps flowing (for the copy). */
  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.src.resume();
    callback(err);
  }

  private data(chunk: Buffer): void {
    this.copy.keep(chunk);
    if (!this.destroyed && !this.push(chunk)) this.src.pause();
  }

  private srcEnd(): void {
    this.copy.end();
    if (!this.destroyed) this.push(null);
  }

  private srcError(err: Error): void {
    this.destroy(err);
  }
}

function ignore(): void {}

/** Whether a failed attempt may be tried again: connection-level failures and attempt timeouts, not the client going away. */
function retryableError(err: unknown, req: HttpRequest): boolean {
  if (req.signal.aborted) return false;
  if (err instanceof RequestTimeoutError) return true;
  if (err instanceof WeftError) return err.code === 'UNAVAILABLE';
  return true;
}

/**
 * Retries per logical service (each holds its retry budget): a request on a retryable route is sent again after
 * a failed attempt while its deadline (`req.deadline`, from the deadline layer above) allows.
 */
export function retry<T>(): NewLayer<T, T, HttpRequest, HttpResponse> {
  return (inner) => (target) => {
    const svc = inner(target);
    let budget: RetryBudget | undefined;
    const budgetFor = (p: RetryBudgetParams): RetryBudget => {
      // A changed budget starts a fresh window (rare: a ServiceProfile edit).
      if (!budget || budget.params !== p) budget = new RetryBudget(p);
      return budget;
    };
    return (req) => {
      const r = req.route;
      if (!r) return svc(withReplayCopy(req));
      const grpc = isGrpc(req);
      if (!mayRetry(r.params, req.method, grpc)) return svc(withReplayCopy(req));
      return withRetries(svc, req, r, grpc, budgetFor(r.budget));
    };
  };
}

/**
 * A request on a route that is not retried still keeps a copy of a small body: a request that was not delivered
 * (balance.ts `redispatch`) is re-sent with it on any route. A bodyless request is passed on unchanged.
 */
function withReplayCopy(req: HttpRequest): HttpRequest {
  if (req.bodyless || req.replayable !== undefined) return req;
  const replayable = new ReplayableBody(req.body, MAX_REPLAY_BYTES);
  return { ...req, body: replayable.first(), replayable };
}

async function withRetries(inner: HttpService, req: HttpRequest, r: MatchedRoute, grpc: boolean, budget: RetryBudget): Promise<HttpResponse> {
  const route = r.params;
  const m = r.metrics;
  const deadline = req.deadline ?? Infinity;
  const watchGrpc = grpc && route.retryGrpcStatuses.size > 0;
  let replayable: ReplayableBody | undefined;
  let first = req;
  budget.deposit();
  if (!req.bodyless) {
    replayable = new ReplayableBody(req.body, MAX_REPLAY_BYTES);
    first = { ...req, body: replayable.first(), replayable };
  }
  for (let attempt = 0; ; attempt++) {
    let areq = first;
    if (attempt > 0) {
      const t = now();
      if (t >= deadline) throw new RequestTimeoutError('request', deadline - req.startedAt);
      areq = { ...withRemaining(first, deadline, t), body: replayable ? replayable.replay() : Readable.from([]) };
    }
    let rsp: HttpResponse;
    try {
      rsp = await inner(areq);
    } catch (err) {
      // The deadline layer aborts `req.signal` when the whole exchange is over: that is final.
      if (!canRetry(attempt, replayable) || !retryableError(err, req)) throw err;
      if (!takeRetry(budget, m)) throw err;
      continue;
    }
    if (!canRetry(attempt, replayable) || req.signal.aborted) return rsp;
    let again = isRetryableStatus(route, rsp.status);
    if (!again && watchGrpc) {
      let status = rsp.headers['grpc-status'];
      if (status === undefined) ({ status, rsp } = await grpcStatusBeforeData(rsp));
      again = isRetryableGrpcStatus(route, status);
    }
    if (again && !req.signal.aborted && takeRetry(budget, m)) {
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

function canRetry(attempt: number, body: ReplayableBody | undefined): boolean {
  return attempt < MAX_RETRIES && (body === undefined || body.complete);
}

function takeRetry(budget: RetryBudget, m: RouteTargetMetrics | undefined): boolean {
  if (!budget.withdraw()) {
    m?.budgetExhausted.inc();
    return false;
  }
  m?.retries.inc();
  return true;
}
