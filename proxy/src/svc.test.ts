import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newStack, onService, perTarget, stack, type Layer, type NewService } from './svc.js';
import { cache } from './layers/cache.js';

/** A layer that records its name on the way in. */
const tag = (name: string, seen: string[]): Layer<string, string> => (inner) => (req) => {
  seen.push(name);
  return inner(`${req}>${name}`);
};

test('stack applies layers with the first listed outermost', async () => {
  const seen: string[] = [];
  const svc = stack(tag('a', seen), tag('b', seen), tag('c', seen))(async (req) => req);
  assert.equal(await svc('req'), 'req>a>b>c');
  assert.deepEqual(seen, ['a', 'b', 'c']);
});

test('newStack lists a stage outermost first; below its cache, layers are built once per target, not per request', async () => {
  const built: string[] = [];
  const seen: string[] = [];
  const leaf: NewService<string, string, string> = (target) => {
    built.push(`leaf:${target}`);
    return async (req) => `${req}@${target}`;
  };
  const stage = newStack<string, string, string>(
    cache((t) => t),
    perTarget((t) => {
      built.push(`per-target:${t}`);
      return tag(`t-${t}`, seen);
    }),
    onService(tag('plain', seen)),
  )(leaf);
  assert.equal(await stage('x')('r1'), 'r1>t-x>plain@x');
  assert.equal(await stage('x')('r2'), 'r2>t-x>plain@x');
  assert.equal(await stage('y')('r3'), 'r3>t-y>plain@y');
  assert.deepEqual(built, ['per-target:x', 'leaf:x', 'per-target:y', 'leaf:y'], 'each target built once, outer layers first');
  assert.deepEqual(seen, ['t-x', 'plain', 't-x', 'plain', 't-y', 'plain']);
});
