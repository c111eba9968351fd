import { test } from 'node:test';
import assert from 'node:assert/strict';
import jsonpatch from 'fast-json-patch';
import { diff, toJsonPatch, toPointer } from './json-patch.js';

function roundTrip(before: unknown, after: unknown): void {
  const ops = toJsonPatch(diff(before, after));
  const patched = jsonpatch.applyPatch(structuredClone(before), ops as jsonpatch.Operation[], true, false).newDocument;
  assert.deepEqual(patched, after);
}

test('pointers escape ~ and / (annotation keys contain slashes)', () => {
  assert.equal(toPointer(['metadata', 'annotations', 'weft.io/inject']), '/metadata/annotations/weft.io~1inject');
  assert.equal(toPointer(['a~b', 0]), '/a~0b/0');
  roundTrip({ a: { 'x/y': 1, 'p~q': 2 } }, { a: { 'x/y': 3, 'n/e~w': 4 } });
});

test('inserting at the front of an array is one add', () => {
  const before = { containers: [{ name: 'app' }, { name: 'b' }] };
  const after = { containers: [{ name: 'weft-proxy' }, { name: 'app' }, { name: 'b' }] };
  assert.deepEqual(toJsonPatch(diff(before, after)), [{ op: 'add', path: '/containers/0', value: { name: 'weft-proxy' } }]);
  roundTrip(before, after);
  roundTrip(after, before);
});

test('type changes, removals, nulls and root replacement apply cleanly', () => {
  roundTrip({ a: 1, b: [1, 2], c: { d: null } }, { a: '1', b: { x: 1 }, c: {} });
  roundTrip([1, 2, 3], { now: 'an object' });
  roundTrip({ a: [1, 2, 3, 4, 5] }, { a: [1, 9, 8, 7, 5] });
  assert.deepEqual(diff({ a: 1 }, { a: 1 }), []);
});

// A seeded generator: reproducible random documents and mutations.
function rng(seed: number): () => number {
  return () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

function randomValue(r: () => number, depth: number): unknown {
  const k = Math.floor(r() * (depth > 2 ? 4 : 6));
  if (k === 0) return Math.floor(r() * 5);
  if (k === 1) return ['a', 'b/c', 'd~e', ''][Math.floor(r() * 4)];
  if (k === 2) return r() < 0.5;
  if (k === 3) return null;
  if (k === 4) return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
  return Object.fromEntries(Array.from({ length: Math.floor(r() * 4) }, () => [['k', 'x/y', 'z~', 'w'][Math.floor(r() * 4)]!, randomValue(r, depth + 1)]));
}

test('the patch turns before into after for 500 random document pairs', () => {
  const r = rng(7);
  for (let i = 0; i < 500; i++) roundTrip(randomValue(r, 0), randomValue(r, 0));
});
