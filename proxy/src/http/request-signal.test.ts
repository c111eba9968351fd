import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { StreamSignal } from './request-signal.js';

test('abort: aborted and reason set, every listener called once in the order added, a second abort changes nothing', () => {
  const s = new StreamSignal();
  const calls: string[] = [];
  s.addEventListener('abort', () => calls.push(`a:${String(s.reason)}`), { once: true });
  s.addEventListener('abort', () => calls.push('b'));
  s.addEventListener('abort', () => calls.push('c'));
  assert.equal(s.aborted, false);
  assert.equal(s.reason, undefined);
  s.abort('gone');
  assert.equal(s.aborted, true);
  assert.equal(s.reason, 'gone');
  assert.deepEqual(calls, ['a:gone', 'b', 'c']);
  s.abort('again');
  assert.equal(s.reason, 'gone');
  assert.deepEqual(calls, ['a:gone', 'b', 'c']);
});

test('a removed listener is not called, one added twice runs once, one re-added runs in its new place, one added after the abort never', () => {
  const s = new StreamSignal();
  const calls: string[] = [];
  const a = (): number => calls.push('a');
  const b = (): number => calls.push('b');
  const c = (): number => calls.push('c');
  s.addEventListener('abort', a);
  s.addEventListener('abort', b);
  s.addEventListener('abort', b);
  s.addEventListener('abort', c);
  s.removeEventListener('abort', c);
  s.removeEventListener('abort', a);
  s.addEventListener('abort', a);
  s.removeEventListener('abort', () => undefined);
  s.abort(new Error('reset'));
  assert.deepEqual(calls, ['b', 'a']);
  s.addEventListener('abort', c);
  s.abort(new Error('reset'));
  assert.deepEqual(calls, ['b', 'a']);
});

test('the only listener removed: nothing is called', () => {
  const s = new StreamSignal();
  let called = false;
  const only = (): void => void (called = true);
  s.addEventListener('abort', only);
  s.removeEventListener('abort', only);
  s.abort('x');
  assert.equal(called, false);
});

test('a listener that throws: the others still run, abort returns, and the error is an uncaught exception on the next tick', () => {
  // In a process of its own: the test runner would count the uncaught exception against this test.
  const script = `
    const { StreamSignal } = await import(${JSON.stringify(new URL('./request-signal.js', import.meta.url).href)});
    const s = new StreamSignal();
    s.addEventListener('abort', () => { throw new Error('listener failed'); });
    s.addEventListener('abort', () => console.log('second listener ran'));
    s.abort('x');
    console.log('abort returned');
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.stdout, 'second listener ran\nabort returned\n');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /Error: listener failed/);
});
