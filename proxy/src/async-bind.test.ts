// installAsyncBind: AsyncResource.prototype.bind as Node's, less the deprecated property — the bound function runs
// in the resource's async scope, with thisArg or the caller's this, its arguments, result and length; Node's own
// error for a non-function; Node's HTTP/2 client, which binds every request, keeps its requests' async context.
// (Each test file runs in a process of its own: the replacement stays in this one.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import { once } from 'node:events';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { installAsyncBind } from './async-bind.js';

installAsyncBind();
installAsyncBind(); // idempotent

test('the bound function runs in the async context of the bind, not of its caller', () => {
  const als = new AsyncLocalStorage<string>();
  const bound = als.run('at bind', () => new AsyncResource('weft-test').bind(() => als.getStore()));
  assert.equal(als.run('at call', bound), 'at bind');
  assert.equal(bound(), 'at bind');
  const viaStatic = als.run('static', () => AsyncResource.bind(() => als.getStore()));
  assert.equal(als.run('at call', viaStatic), 'static');
});

test('this, arguments, result and length as Node\'s bind gives them; no deprecated property, no warning', async () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('warning', onWarning);
  try {
    const resource = new AsyncResource('weft-test');
    const self = { name: 'thisArg' };
    // (Node's type declarations leave bind's thisArg out)
    const bindWithThis = resource.bind.bind(resource) as <F extends (...args: never[]) => unknown>(fn: F, thisArg: unknown) => F;
    const withThis = bindWithThis(function (this: unknown, a: number, b: number) {
      return { self: this, sum: a + b };
    }, self);
    assert.deepEqual(withThis(2, 3), { self, sum: 5 });
    assert.equal(withThis.length, 2);
    const holder = {
      f: resource.bind(function (this: unknown, ...rest: number[]) {
        return { self: this, rest };
      }),
    };
    assert.deepEqual(holder.f(1, 2, 3), { self: holder, rest: [1, 2, 3] });
    assert.equal(holder.f.length, 0);
    const thrown = new Error('from inside');
    assert.throws(() => resource.bind(() => { throw thrown; })(), (err) => err === thrown);
    assert.equal('asyncResource' in withThis, false);
    assert.throws(() => resource.bind('not a function' as never), { code: 'ERR_INVALID_ARG_TYPE' });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(warnings, []);
  } finally {
    process.off('warning', onWarning);
  }
});

test('Node\'s HTTP/2 client still delivers each response in the async context of its request', async () => {
  const server = http2.createServer((req, res) => res.end(req.url));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  try {
    const als = new AsyncLocalStorage<string>();
    const one = (path: string): Promise<{ store: string | undefined; body: string }> =>
      als.run(path, () => {
        const req = session.request({ ':path': path });
        req.end();
        return new Promise((resolve, reject) => {
          let body = '';
          let store: string | undefined;
          req.on('response', () => (store = als.getStore()));
          req.setEncoding('utf8');
          req.on('data', (d: string) => (body += d));
          req.on('end', () => resolve({ store, body }));
          req.on('error', reject);
        });
      });
    // Several at once, the first ones sent before the session is connected (the bound callbacks wait for it).
    const results = await Promise.all(['/a', '/b', '/c', '/d'].map(one));
    assert.deepEqual(results, ['/a', '/b', '/c', '/d'].map((p) => ({ store: p, body: p })));
  } finally {
    session.close();
    server.close();
  }
});
