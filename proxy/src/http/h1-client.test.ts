import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { Http1Client } from './h1-client.js';
import type { HttpRequest } from '../svc.js';

async function upstream(handler: http.RequestListener): Promise<{ port: number; close(): void }> {
  const server = http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as { port: number }).port, close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

function request(path: string, signal = new AbortController().signal): HttpRequest {
  const local = { ip: '127.0.0.1', port: 0 };
  return {
    method: 'GET',
    scheme: 'http',
    authority: 'app.test',
    path,
    headers: { te: 'trailers', accept: 'text/plain' },
    body: Readable.from([]),
    bodyless: true,
    version: 'HTTP/1.1',
    signal,
    conn: { direction: 'inbound', client: local, local, origDst: undefined, tls: { identity: undefined } },
    startedAt: performance.now(),
  };
}

async function text(body: Readable): Promise<string> {
  let s = '';
  for await (const c of body) s += String(c);
  return s;
}

test('response: repeated headers as arrays, hop-by-hop dropped, 103 skipped, chunked trailers returned; Host sent, te not', async (t) => {
  let seen: http.IncomingHttpHeaders = {};
  const up = await upstream((req, res) => {
    seen = req.headers;
    res.writeEarlyHints({ link: '</a.css>; rel=preload' });
    res.writeHead(200, [['set-cookie', 'a=1'], ['set-cookie', 'b=2'], ['x-one', 'v'], ['connection', 'keep-alive'], ['trailer', 'x-sum']]);
    res.write('hello ');
    res.addTrailers({ 'x-sum': '42' });
    res.end('world');
  });
  const client = new Http1Client();
  t.after(() => (client.close(), up.close()));
  const rsp = await client.request({ ip: '127.0.0.1', port: up.port }, request('/x'));
  assert.equal(rsp.status, 200);
  assert.deepEqual(rsp.headers['set-cookie'], ['a=1', 'b=2']);
  assert.equal(rsp.headers['x-one'], 'v');
  assert.equal(rsp.headers.connection, undefined);
  assert.equal(await text(rsp.body), 'hello world');
  assert.deepEqual({ ...rsp.trailers() }, { 'x-sum': '42' });
  assert.equal(seen.host, 'app.test');
  assert.equal(seen.te, undefined);
  assert.equal(seen.accept, 'text/plain');
});

test('a client abort before the response headers fails the request and closes the upstream request', async (t) => {
  let upstreamClosed!: () => void;
  const closed = new Promise<void>((r) => (upstreamClosed = r));
  const up = await upstream((req, res) => {
    res.once('close', () => upstreamClosed());
    // Never answers.
  });
  const client = new Http1Client();
  t.after(() => (client.close(), up.close()));
  const ac = new AbortController();
  const pending = client.request({ ip: '127.0.0.1', port: up.port }, request('/hang', ac.signal));
  setTimeout(() => ac.abort(new Error('gone')), 50);
  await assert.rejects(pending, /client went away/);
  await closed;
});

test('destroying the response body mid-way stops the upstream response; reading slowly gets every byte', async (t) => {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let upstreamClosed!: (finished: boolean) => void;
  const closed = new Promise<boolean>((r) => (upstreamClosed = r));
  const up = await upstream((req, res) => {
    if (req.url === '/big') {
      res.writeHead(200, { 'content-length': String(chunk.length * 64) });
      for (let i = 0; i < 64; i++) res.write(chunk);
      res.end();
      return;
    }
    res.writeHead(200);
    const timer = setInterval(() => res.write(chunk), 5);
    res.once('close', () => (clearInterval(timer), upstreamClosed(res.writableFinished)));
  });
  const client = new Http1Client();
  t.after(() => (client.close(), up.close()));

  const big = await client.request({ ip: '127.0.0.1', port: up.port }, request('/big'));
  let bytes = 0;
  for await (const c of big.body) {
    bytes += (c as Buffer).length;
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(bytes, chunk.length * 64);

  const endless = await client.request({ ip: '127.0.0.1', port: up.port }, request('/endless'));
  await once(endless.body, 'data');
  endless.body.destroy();
  assert.equal(await closed, false, 'the upstream response was cut, not finished');
});
