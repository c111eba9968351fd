import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cache, type Disposable } from './cache.js';
import type { Service } from '../svc.js';

function counting() {
  const built: string[] = [];
  const disposed: string[] = [];
  const inner = (t: string): Service<number, string> & Disposable => {
    built.push(t);
    const svc: Service<number, string> & Disposable = async () => t;
    svc.dispose = () => disposed.push(t);
    return svc;
  };
  return { built, disposed, inner };
}

test('a target is built once and reused', async () => {
  const c = counting();
  const svc = cache<string, number, string>((t: string) => t)(c.inner);
  assert.equal(await svc('a')(1), 'a');
  assert.equal(await svc('a')(2), 'a');
  assert.deepEqual(c.built, ['a']);
});

test('the cache holds at most maxTargets: a client naming endless targets cannot grow it, and evicted targets are disposed', () => {
  const c = counting();
  const svc = cache<string, number, string>((t: string) => t, { maxTargets: 3, idleMs: 3_600_000 })(c.inner);
  for (let i = 0; i < 1000; i++) svc(`t${i}`);
  assert.equal(c.built.length, 1000);
  assert.equal(c.disposed.length, 997);
  assert.deepEqual(c.disposed.slice(0, 3), ['t0', 't1', 't2']);
  // The three newest are still cached.
  for (const t of ['t997', 't998', 't999']) svc(t);
  assert.equal(c.built.length, 1000);
});

test('idle targets are dropped when a new target arrives', () => {
  const c = counting();
  const svc = cache<string, number, string>((t: string) => t, { maxTargets: 100, idleMs: 0 })(c.inner);
  svc('a');
  svc('b');
  assert.deepEqual(c.disposed, ['a']);
});

test('reused targets: a target object seen before is found without its key; after its eviction it is built again', () => {
  const built: string[] = [];
  const keys: string[] = [];
  const inner = (t: { name: string }): Service<number, string> => {
    built.push(t.name);
    return async () => t.name;
  };
  const svc = cache<{ name: string }, number, string>((t) => (keys.push(t.name), t.name), { maxTargets: 2, idleMs: 3_600_000 }, { reusedTargets: true })(inner);
  const a = { name: 'a' };
  const s1 = svc(a);
  assert.equal(svc(a), s1);
  assert.deepEqual(keys, ['a']); // the second lookup did not compute the key
  // Another object with the same key shares the service (discovery may hand out a new object for the same endpoint).
  assert.equal(svc({ name: 'a' }), s1);
  assert.deepEqual(built, ['a']);
  // Two more targets evict `a` (the least recently used): its object no longer finds the disposed service.
  svc({ name: 'b' });
  svc({ name: 'c' });
  assert.notEqual(svc(a), s1);
  assert.deepEqual(built, ['a', 'b', 'c', 'a']);
});
