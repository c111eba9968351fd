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
