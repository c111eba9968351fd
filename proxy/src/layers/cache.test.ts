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
