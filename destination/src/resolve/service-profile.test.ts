// ServiceProfile validation: each mistake is named by its field path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseServiceProfileSpec } from './service-profile.js';

const bad: [string, unknown, RegExp][] = [
  ['route without matches', { routes: [{ name: 'r' }] }, /spec\.routes\[0\]\.matches: needs at least one match/],
  ['route without a name', { routes: [{ matches: [{}] }] }, /spec\.routes\[0\]\.name/],
  ['two path kinds', { routes: [{ name: 'r', matches: [{ path: { exact: '/a', prefix: '/a' } }] }] }, /matches\[0\]\.path: needs exactly one/],
  ['bad regex', { routes: [{ name: 'r', matches: [{ path: { regex: '(' } }] }] }, /path\.regex: invalid regular expression/],
  ['bad timeout', { routes: [{ name: 'r', matches: [{}], timeout: '10 parsecs' }] }, /routes\[0\]\.timeout: "10 parsecs" is not a duration/],
  ['bad status range', { routes: [{ name: 'r', matches: [{}], retryStatuses: [{ min: 600, max: 700 }] }] }, /retryStatuses\[0\]/],
  ['negative weight', { dstOverrides: [{ authority: 'a:80', weight: -1 }] }, /dstOverrides\[0\]\.weight/],
  ['negative ratio', { retryBudget: { retryRatio: -1 } }, /retryBudget\.retryRatio/],
  ['header with both', { routes: [{ name: 'r', matches: [{ headers: [{ name: 'a', exact: 'x', regex: 'y' }] }] }] }, /headers\[0\]: needs exactly one/],
  ['not an object', 'routes', /spec must be an object/],
  ['an unknown gRPC status name', { routes: [{ name: 'r', matches: [{}], retryableGrpcStatuses: ['UNAVAILABLE', 'UNAVAILBLE'] }] }, /routes\[0\]\.retryableGrpcStatuses\[1\]: "UNAVAILBLE" is not a retryable gRPC status/],
  ['OK as a retryable gRPC status', { routes: [{ name: 'r', matches: [{}], retryableGrpcStatuses: [0] }] }, /retryableGrpcStatuses\[0\]: 0 is not a retryable gRPC status .*OK is never retried/],
  ['a gRPC status code out of range', { routes: [{ name: 'r', matches: [{}], retryableGrpcStatuses: [17] }] }, /retryableGrpcStatuses\[0\]: 17/],
  ['retryableGrpcStatuses not a list', { routes: [{ name: 'r', matches: [{}], retryableGrpcStatuses: 'UNAVAILABLE' }] }, /retryableGrpcStatuses: must be an array/],
  ['a bad idle timeout', { routes: [{ name: 'r', matches: [{}], idleTimeout: 'soon' }] }, /routes\[0\]\.idleTimeout: "soon" is not a duration/],
];

for (const [what, spec, message] of bad) {
  test(`rejects a ServiceProfile with ${what}`, () => {
    assert.throws(() => parseServiceProfileSpec(spec), message);
  });
}

test('an empty spec is the default profile', () => {
  const p = parseServiceProfileSpec({});
  assert.deepEqual(p.routes, []);
  assert.equal(p.retryBudget.minRetriesPerSecond, 10);
  assert.equal(p.retryBudget.ttl?.seconds, 10n);
});

test('gRPC statuses by name (any case) or code become codes, without duplicates; idleTimeout becomes a duration', () => {
  const p = parseServiceProfileSpec({
    routes: [{ name: 'r', matches: [{}], isRetryable: true, retryableGrpcStatuses: ['UNAVAILABLE', 'resource_exhausted', 14], idleTimeout: '1500ms' }],
  });
  assert.deepEqual(p.routes[0]!.retryGrpcStatuses, [14, 8]);
  assert.equal(p.routes[0]!.idleTimeout?.seconds, 1n);
  assert.equal(p.routes[0]!.idleTimeout?.nanos, 500_000_000);
  // HTTP statuses keep their default when only gRPC statuses are named.
  assert.deepEqual(p.routes[0]!.retryStatuses.map((s) => [s.min, s.max]), [[500, 599]]);
});
