// The deadline, retry and attempt-timeout layers as the outbound per-Logical list stacks them, on an in-memory
// inner service: what each layer does on its own, and that a request on the default route passes through untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { stack, type HttpRequest, type HttpResponse, type HttpService, type MatchedRoute } from '../svc.js';
import { DEFAULT_BUDGET, DEFAULT_ROUTE, type RouteParams } from '../profile/route-table.js';
import { attemptTimeout, requestDeadline, RequestTimeoutError } from './timeout.js';
import { MAX_RETRIES, retry } from './retry.js';

const request = (route?: RouteParams): HttpRequest => ({
  method: 'GET', scheme: 'http', authority: 'web.test.svc:80', path: '/', headers: {}, body: Readable.from([]), bodyless: true, version: 'HTTP/2',
  signal: new AbortController().signal, startedAt: performance.now(),
  conn: { direction: 'outbound', client: { ip: '127.0.0.1', port: 1 }, local: { ip: '127.0.0.1', port: 4140 }, origDst: undefined, tls: { identity: undefined } },
  route: route && ({ params: route, metrics: undefined, budget: DEFAULT_BUDGET } satisfies MatchedRoute),
});
const ok = (): HttpResponse => ({ status: 200, headers: {}, body: Readable.from([]), trailers: () => undefined, resetCode: () => undefined });

/** deadline ─ retry ─ attempt timeout, as in outbound/stack.ts, over `inner`. */
const routed = (inner: HttpService): HttpService => {
  const perLogical = retry<string>()((_target) => stack(attemptTimeout())(inner));
  return stack(requestDeadline({ routeTimeouts: true }))(perLogical('web.test.svc:80'));
};

/** An inner service whose attempts hang (until aborted) except those listed as answering. */
function attempts(answering: ReadonlySet<number>) {
  const seen: HttpRequest[] = [];
  const svc: HttpService = (req) => {
    seen.push(req);
    if (answering.has(seen.length)) return Promise.resolve(ok());
    return new Promise((_, reject) => req.signal.addEventListener('abort', () => reject(new Error('attempt aborted')), { once: true }));
  };
  return { svc, seen };
}

test('a request on the default route passes every layer as the same object', async () => {
  const seen: HttpRequest[] = [];
  const req = request();
  const rsp = await routed(async (r) => (seen.push(r), ok()))(req);
  for await (const _ of rsp.body) void _;
  assert.equal(seen.length, 1);
  assert.equal(seen[0], req);
});

test('an attempt that outlives the route attempt timeout is aborted and retried; the retry answers', async () => {
  const { svc, seen } = attempts(new Set([2]));
  const rsp = await routed(svc)(request({ ...DEFAULT_ROUTE, name: 'GET /', retryable: true, timeoutMs: 50 }));
  assert.equal(rsp.status, 200);
  // Read to the end, as the server does: the attempt timeout bounds the body too.
  for await (const _ of rsp.body) void _;
  assert.equal(seen.length, 2);
  assert.equal(seen[0]!.signal.aborted, true, 'the timed-out attempt was cancelled');
});

test('the total timeout ends the whole exchange: DEADLINE_EXCEEDED, every attempt aborted, at most MAX_RETRIES retries', async () => {
  const { svc, seen } = attempts(new Set());
  await assert.rejects(
    routed(svc)(request({ ...DEFAULT_ROUTE, name: 'GET /', retryable: true, timeoutMs: 120, totalTimeoutMs: 300 })),
    (err: unknown) => err instanceof RequestTimeoutError && err.code === 'DEADLINE_EXCEEDED' && /request timed out/.test(err.message),
  );
  assert.ok(seen.length >= 1 && seen.length <= MAX_RETRIES + 1, `${seen.length} attempts`);
  assert.ok(seen.every((r) => r.signal.aborted), 'no attempt is left running');
  assert.equal(typeof seen[0]!.deadline, 'number', 'attempts carry the request deadline');
});

test('a non-retryable route is sent once and its attempt timeout is final', async () => {
  const { svc, seen } = attempts(new Set([2]));
  await assert.rejects(routed(svc)(request({ ...DEFAULT_ROUTE, name: 'GET /', timeoutMs: 30 })), /request attempt timed out/);
  assert.equal(seen.length, 1);
});
