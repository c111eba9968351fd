/**
 * Retries for retryable routes. A request is retried when the route is
 * retryable and its method idempotent (or named by the route), after a
 * connection failure, an attempt timeout or a response in the route's retry
 * statuses, while the deadline allows, up to MAX_RETRIES times, and only
 * with the logical service's retry budget's consent. The body must be
 * replayed, so it is buffered up to MAX_REPLAY_BYTES; a larger body is
 * streamed through once and never retried.
 */
import { Readable } from 'node:stream';
import { WeftError } from '@weft/common/errors';
import type { HttpRequest, HttpResponse, HttpService } from '../svc.js';
import { isRetryableStatus, mayRetry, type RouteParams } from '../profile/route-table.js';
import type { RouteTargetMetrics } from '../metrics/route-metrics.js';
import type { RetryBudget } from './retry-budget.js';
import { callWithTimeout, deadlineOf, now, RequestTimeoutError, withRemaining } from './timeout.js';

/** Largest request body kept for replay. */
export const MAX_REPLAY_BYTES = 64 * 1024;
/** Attempts after the first, at most (the budget bounds the aggregate; this bounds one request). */
export const MAX_RETRIES = 3;

/** Reads the body up to `limit` bytes: the chunks when it ended within the limit, else a stream replaying what was read followed by the rest. */
export function bufferBody(body: Readable, limit: number): Promise<Buffer[] | Readable> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > limit) {
        done();
        body.pause();
        // Too large to keep: give the bytes back and stream the whole body through, once.
        body.unshift(Buffer.concat(chunks));
        resolve(body);
      }
    };
    const onEnd = (): void => {
      done();
      resolve(chunks);
    };
    const onError = (err: Error): void => {
      done();
      reject(err);
    };
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
  });
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
  let replay: Buffer[] | undefined;
  if (mayRetry(route, req.method)) {
    budget.deposit();
    if (req.bodyless) replay = [];
    else {
      const body = await bufferBody(req.body, MAX_REPLAY_BYTES);
      if (Array.isArray(body)) replay = body;
    }
  }
  for (let attempt = 0; ; attempt++) {
    const t = now();
    if (t >= deadline) throw new RequestTimeoutError('request', deadline - req.startedAt);
    const totalLeft = deadline - t;
    const ms = Math.min(attemptMs, totalLeft);
    const what = ms === attemptMs ? 'request attempt' : 'request';
    let areq = withRemaining(req, deadline, t);
    if (replay && (attempt > 0 || !req.bodyless)) areq = { ...areq, body: Readable.from(replay) };
    const canRetry = replay !== undefined && attempt < MAX_RETRIES;
    let rsp: HttpResponse;
    try {
      rsp = await callWithTimeout(inner, areq, ms, what);
    } catch (err) {
      // A total-deadline timeout is final; an attempt timeout may be retried within the total.
      if (!canRetry || !retryableError(err, req) || (err instanceof RequestTimeoutError && ms !== attemptMs)) throw err;
      if (!takeRetry(budget, m)) throw err;
      continue;
    }
    if (canRetry && isRetryableStatus(route, rsp.status) && !req.signal.aborted && takeRetry(budget, m)) {
      // The failed response is dropped; its stream is reset rather than read to the end.
      rsp.body.on('error', () => undefined);
      rsp.body.destroy();
      continue;
    }
    return rsp;
  }
}

function takeRetry(budget: RetryBudget, m: RouteTargetMetrics | undefined): boolean {
  if (!budget.withdraw()) {
    m?.budgetExhausted.inc();
    return false;
  }
  m?.retries.inc();
  return true;
}
