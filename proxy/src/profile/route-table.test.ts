import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { destination } from '@weft/api';
import { compileProfile, isRetryableGrpcStatus, isRetryableStatus, mayRetry, routeTableOf, DEFAULT_ROUTE } from './route-table.js';

const ms = (n: number) => ({ seconds: BigInt(Math.floor(n / 1000)), nanos: (n % 1000) * 1e6 });

const profile = create(destination.DestinationProfileSchema, {
  routes: [
    { name: 'get-book', matches: [{ method: 'GET', path: { kind: { case: 'regex', value: '^/books/\\d+$' } } }], isRetryable: true, timeout: ms(250), totalTimeout: ms(1500) },
    { name: 'books', matches: [{ path: { kind: { case: 'prefix', value: '/books' } } }], metricsLabels: { route: 'books-route' } },
    { name: 'canary', matches: [{ headers: [{ name: 'X-Canary', value: { case: 'exact', value: '1' } }] }, { path: { kind: { case: 'exact', value: '/health' } } }] },
    {
      name: 'post-order',
      matches: [{ method: 'POST', path: { kind: { case: 'exact', value: '/orders' } } }],
      isRetryable: true,
      retryStatuses: [{ min: 503, max: 503 }],
      responseClasses: [{ status: { min: 404, max: 404 }, isFailure: true }, { status: { min: 500, max: 502 }, isFailure: false }],
    },
  ],
  retryBudget: { retryRatio: 0.5, minRetriesPerSecond: 3, ttl: ms(20_000) },
  dstOverrides: [{ authority: 'a:80', weight: 3 }, { authority: 'b:80', weight: 0 }, { authority: 'c:80', weight: 1 }],
});

test('the first matching route wins: method + regex path, then prefix', () => {
  const t = compileProfile(profile);
  assert.equal(t.route('GET', '/books/12', {}).name, 'get-book');
  // POST does not match the GET route; the prefix route catches it, named by its metrics label.
  assert.equal(t.route('POST', '/books/12', {}).name, 'books-route');
  assert.equal(t.route('GET', '/books/12x', {}).name, 'books-route');
  assert.equal(t.route('GET', '/authors', {}), DEFAULT_ROUTE);
});

test('exact paths ignore the query string; header matches need every header; any match of a route suffices', () => {
  const t = compileProfile(profile);
  assert.equal(t.route('GET', '/health?verbose=1', {}).name, 'canary');
  assert.equal(t.route('GET', '/x', { 'x-canary': '1' }).name, 'canary');
  assert.equal(t.route('GET', '/x', { 'x-canary': '2' }), DEFAULT_ROUTE);
});

test('timeouts, retryability and statuses come from the route; defaults retry 5xx', () => {
  const t = compileProfile(profile);
  const r = t.route('GET', '/books/1', {});
  assert.equal(r.timeoutMs, 250);
  assert.equal(r.totalTimeoutMs, 1500);
  assert.ok(isRetryableStatus(r, 500) && isRetryableStatus(r, 599) && !isRetryableStatus(r, 404));
  const post = t.route('POST', '/orders', {});
  assert.ok(isRetryableStatus(post, 503) && !isRetryableStatus(post, 500));
});

test('retries: idempotent methods on retryable routes, other methods only when the route names them', () => {
  const t = compileProfile(profile);
  assert.ok(mayRetry(t.route('GET', '/books/1', {}), 'GET', false));
  assert.ok(mayRetry(t.route('POST', '/orders', {}), 'POST', false));
  assert.ok(!mayRetry(t.route('POST', '/books', {}), 'POST', false), 'not a retryable route');
  assert.ok(!mayRetry(DEFAULT_ROUTE, 'GET', false));
});

test('gRPC calls (POST) are retried only on a retryable route that names retryable gRPC statuses, and only those statuses', () => {
  const grpcProfile = create(destination.DestinationProfileSchema, {
    routes: [
      { name: 'named', matches: [{ path: { kind: { case: 'prefix', value: '/pkg.Svc/' } } }], isRetryable: true, retryGrpcStatuses: [14, 8], idleTimeout: { seconds: 2n, nanos: 0 } },
      { name: 'plain', matches: [{ path: { kind: { case: 'prefix', value: '/pkg.Other/' } } }], isRetryable: true },
      { name: 'off', matches: [{ path: { kind: { case: 'prefix', value: '/pkg.Off/' } } }], retryGrpcStatuses: [14] },
    ],
  });
  const t = compileProfile(grpcProfile);
  const named = t.route('POST', '/pkg.Svc/Get', {});
  assert.ok(mayRetry(named, 'POST', true));
  assert.ok(!mayRetry(named, 'POST', false), 'plain HTTP POST still needs the route to name POST');
  assert.ok(!mayRetry(t.route('POST', '/pkg.Other/Get', {}), 'POST', true), 'no gRPC statuses named: gRPC calls are not opted in');
  assert.ok(!mayRetry(t.route('POST', '/pkg.Off/Get', {}), 'POST', true), 'not retryable');
  assert.ok(isRetryableGrpcStatus(named, '14') && isRetryableGrpcStatus(named, '8'));
  assert.ok(!isRetryableGrpcStatus(named, '2') && !isRetryableGrpcStatus(named, '0') && !isRetryableGrpcStatus(named, undefined));
  assert.equal(named.idleTimeoutMs, 2000);
  assert.equal(t.route('POST', '/pkg.Other/Get', {}).idleTimeoutMs, 0);
});

test('response classes override the 5xx rule', () => {
  const r = compileProfile(profile).route('POST', '/orders', {});
  assert.ok(r.isFailure(404));
  assert.ok(!r.isFailure(501));
  assert.ok(r.isFailure(503));
  assert.ok(!r.isFailure(200));
});

test('budget and split come from the profile; zero-weight backends are dropped', () => {
  const t = compileProfile(profile);
  assert.deepEqual(t.budget, { ratio: 0.5, minPerSecond: 3, ttlMs: 20_000 });
  assert.deepEqual(t.backends.map((b) => b.authority), ['a:80', 'c:80']);
  assert.equal(t.totalWeight, 4);
});

test('a bad regex never matches instead of throwing', () => {
  const bad = create(destination.DestinationProfileSchema, { routes: [{ name: 'bad', matches: [{ path: { kind: { case: 'regex', value: '([' } } }] }] });
  assert.equal(compileProfile(bad).route('GET', '/anything', {}), DEFAULT_ROUTE);
});

test('a profile is compiled once and reused', () => {
  assert.equal(routeTableOf(profile), routeTableOf(profile));
  assert.equal(routeTableOf(undefined).route('GET', '/', {}), DEFAULT_ROUTE);
});
