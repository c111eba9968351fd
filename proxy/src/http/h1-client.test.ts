import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { once, getEventListeners } from 'node:events';
import { Readable } from 'node:stream';
import { unusedPort } from '@weft/common/testing/ports';
import { Http1Client } from './h1-client.js';
import { watcherCount } from './abort-watch.js';
import { wholeBody } from './whole-body.js';
import { arrivedWhole, type Headers, type HttpRequest, type SocketAddr } from '../svc.js';
import { EndpointError, neverConnected } from '../errors.js';
import { testRequest } from '../testing/request.js';

async function upstream(handler: http.RequestListener, opts: http.ServerOptions = {}): Promise<{ port: number; server: http.Server; close(): void }> {
  const server = http.createServer(opts, handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    server,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/**
 * A server writing exact bytes: for each request head (bodyless requests only) `answer(path, socket, conn)` writes
 * the response; `conn` counts connections from 1.
 */
async function rawUpstream(answer: (path: string, socket: net.Socket, conn: number, nth: number) => void): Promise<{ port: number; conns: () => number; close(): void }> {
  let conns = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    const conn = ++conns;
    let nth = 0;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buf = '';
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        answer(head.split(' ')[1]!, socket, conn, ++nth);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    conns: () => conns,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

function request(path: string, over: Partial<HttpRequest> = {}): HttpRequest {
  return testRequest(path, { headers: { te: 'trailers', accept: 'text/plain' }, ...over });
}

async function text(body: Readable): Promise<string> {
  let s = '';
  for await (const c of body) s += (c as Buffer).toString('latin1');
  return s;
}

const at = (port: number): SocketAddr => ({ ip: '127.0.0.1', port });

/** A node:http server answering with the path, the request's socket port and its body. */
async function echo(): Promise<Awaited<ReturnType<typeof upstream>> & { seen: { path: string; port: number; headers: http.IncomingHttpHeaders; body: Buffer }[] }> {
  const seen: { path: string; port: number; headers: http.IncomingHttpHeaders; body: Buffer }[] = [];
  const up = await upstream((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ path: req.url!, port: req.socket.remotePort!, headers: req.headers, body: Buffer.concat(chunks) });
      if (req.url === '/204') return void res.writeHead(204).end();
      if (req.url === '/304') return void res.writeHead(304, { etag: '"v1"' }).end();
      const body = `${req.method} ${req.url}`;
      res.writeHead(200, { 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });
  return { ...up, seen };
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
  const rsp = await client.request(at(up.port), request('/x'));
  assert.equal(rsp.status, 200);
  assert.deepEqual(rsp.headers['set-cookie'], ['a=1', 'b=2']);
  assert.equal(rsp.headers['x-one'], 'v');
  assert.equal(rsp.headers.connection, undefined);
  assert.equal(rsp.headers['transfer-encoding'], undefined);
  assert.equal(await text(rsp.body), 'hello world');
  assert.deepEqual({ ...rsp.trailers() }, { 'x-sum': '42' });
  assert.equal(rsp.resetCode(), undefined);
  assert.equal(seen.host, 'app.test');
  assert.equal(seen.te, undefined);
  assert.equal(seen.accept, 'text/plain');
});

test('keep-alive: the second request reuses the first one\'s connection; extra headers override and are sent', async (t) => {
  const up = await echo();
  const client = new Http1Client();
  t.after(() => (client.close(), up.close()));
  const addr = at(up.port);
  for (const path of ['/one', '/two']) {
    const rsp = await client.request(addr, request(path), { 'x-extra': 'e', accept: 'text/html' });
    assert.equal(await text(rsp.body), `GET ${path}`);
  }
  // A different SocketAddr object for the same address shares the pool.
  assert.equal(await text((await client.request(at(up.port), request('/three'))).body), 'GET /three');
  assert.equal(up.seen.length, 3);
  assert.equal(up.seen[1]!.port, up.seen[0]!.port, 'same connection');
  assert.equal(up.seen[2]!.port, up.seen[0]!.port, 'same connection');
  assert.equal(up.seen[0]!.headers['x-extra'], 'e');
  assert.equal(up.seen[0]!.headers.accept, 'text/html');
});

test('HEAD, 204 and 304 have no body, and the next request on the same connection is intact', async (t) => {
  const up = await echo();
  const client = new Http1Client();
  t.after(() => (client.close(), up.close()));
  const addr = at(up.port);
  const head = await client.request(addr, request('/h', { method: 'HEAD' }));
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], '7');
  assert.equal(await text(head.body), '');
  for (const [path, status] of [['/204', 204], ['/304', 304]] as const) {
    const rsp = await client.request(addr, request(path));
    assert.equal(rsp.status, status);
    assert.equal(await text(rsp.body), '');
  }
  assert.equal(await text((await client.request(addr, request('/after'))).body), 'GET /after');
  assert.deepEqual(new Set(up.seen.map((s) => s.port)).size, 1, 'one connection for all four');
});

test('content-length, close-delimited and interim (100, 103) responses from raw bytes', async (t) => {
  const up = await rawUpstream((path, socket) => {
    if (path === '/cl') socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello');
    else if (path === '/interim') socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok');
    else if (path === '/close') {
      socket.write('HTTP/1.1 200 OK\r\nX-B: 2\r\n\r\nuntil ');
      setTimeout(() => socket.end('the end'), 20);
    } else if (path === '/http10') socket.write('HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nold');
  });
  const client = new Http1Client();
  t.after(() => (client.close(), up.close()));
  const addr = at(up.port);
  const cl = await client.request(addr, request('/cl'));
  assert.equal(cl.headers['x-a'], '1');
  assert.equal(await text(cl.body), 'hello');
  const interim = await client.request(addr, request('/interim'));
  assert.equal(interim.status, 201);
  assert.equal(interim.headers.link, undefined, 'the 103\'s headers are not the response\'s');
  assert.equal(await text(interim.body), 'ok');
  assert.equal(up.conns(), 1);
  const close = await client.request(addr, request('/close'));
  assert.equal(close.headers['x-b'], '2');
  assert.equal(await text(close.body), 'until the end');
  // An HTTP/1.0 response without keep-alive: its connection is not reused.
  assert.equal(await text((await client.request(addr, request('/http10'))).body), 'old');
  assert.equal(await text((await client.request(addr, request('/cl'))).body), 'hello');
  assert.equal(up.conns(), 3, 'new connections after the close-delimited body and after HTTP/1.0');
});

test('a response whose whole body came with its head is held without a stream until a reader asks (wholeBody), then says it arrived whole (arrivedWhole); one still arriving is streamed', async (t) => {
  const up = await rawUpstream((path, socket) => {
    if (path === '/whole') socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello');
    else if (path === '/empty') socket.write('HTTP/1.1 204 No Content\r\n\r\n');
    else if (path === '/later') {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhe');
      setTimeout(() => socket.write('llo'), 20);
    } else if (path === '/chunked') socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
  });
  const client = new Http1Client();
  t.after(() => (client.close(), up.close()));
  const whole = await client.request(at(up.port), request('/whole'));
  assert.equal(wholeBody(whole), 'hello', 'the bytes, as one latin1 string');
  assert.equal(whole.trailers(), undefined);
  // A layer's copy names `body`: the stream is made then, already ended, and everyone follows it from there.
  const copy = { ...whole, body: whole.body, headers: { ...whole.headers, 'x-b': '2' } };
  assert.equal(wholeBody(whole), undefined, 'once a stream exists, the bytes are only in it');
  assert.equal(arrivedWhole(copy.body), true);
  assert.equal(await text(copy.body), 'hello');
  assert.equal(whole.body, copy.body, 'one stream for the response and its copies');
  const empty = await client.request(at(up.port), request('/empty'));
  assert.equal(wholeBody(empty), '');
  assert.equal(await text(empty.body), '');
  const later = await client.request(at(up.port), request('/later'));
  assert.equal(wholeBody(later), undefined, 'three bytes were still on their way: a stream');
  assert.equal(arrivedWhole(later.body), false);
  const [first] = (await once(later.body, 'data')) as [Buffer];
  assert.equal(first.toString(), 'he');
  await once(later.body, 'end');
  const chunked = await client.request(at(up.port), request('/chunked'));
  assert.equal(wholeBody(chunked), undefined, 'chunked bodies are streamed');
  assert.equal(arrivedWhole(chunked.body), true, 'a chunked body that came whole, last chunk included');
  assert.equal(await text(chunked.body), 'hello');
  const failed = await client.request(at(up.port), request('/whole'));
  failed.body.destroy();
  assert.equal(arrivedWhole(failed.body), false, 'a destroyed body is not there to be written');
  assert.equal(up.conns(), 1, 'the connection carried every exchange');
});

test('an idle pooled connection stays referenced for less than two idle sweeps, then no longer keeps the process alive', async (t) => {
  const up = await upstream((_req, res) => res.end('pong'));
  t.after(() => up.close());
  // A process that makes one request and leaves the client open: it must exit by itself once the connection is idle.
  const script = `
    const { Http1Client } = await import(${JSON.stringify(new URL('./h1-client.js', import.meta.url).href)});
    const { Readable } = await import('node:stream');
    const client = new Http1Client();
    const req = { method: 'GET', scheme: 'http', authority: 'up', path: '/', headers: {}, body: Readable.from([]), bodyless: true,
      version: 'HTTP/1.1', signal: new AbortController().signal, conn: {}, startedAt: 0 };
    const rsp = await client.request({ ip: '127.0.0.1', port: ${up.port} }, req);
    let text = '';
    for await (const c of rsp.body) text += c;
    process.stdout.write(text);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  const killer = setTimeout(() => child.kill(), 30_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(killer);
  assert.equal(out, 'pong');
  assert.equal(code, 0, 'the process exited on its own, with the idle connection still pooled');
});

test('POST bodies: with content-length the bytes as they are, without it chunk-encoded; the server sees the exact bytes', async (t) => {
  const up = await echo();
  const client = new Http1Client();
  t.after(() => (client.close(), up.close()));
  const addr = at(up.port);
  const parts = [Buffer.from('abc'), Buffer.from('\r\n0\r\n\r\n'), Buffer.alloc(70_000, 0x7a)];
  const whole = Buffer.concat(parts);
  const sized = await client.request(addr, request('/sized', { method: 'POST', bodyless: false, body: Readable.from(parts), headers: { 'content-length': String(whole.length) } }));
  assert.equal(await text(sized.body), 'POST /sized');
  const chunked = await client.request(addr, request('/chunked', { method: 'POST', bodyless: false, body: Readable.from(parts), headers: {} }));
  assert.equal(await text(chunked.body), 'POST /chunked');
  const empty = await client.request(addr, request('/empty', { method: 'POST', bodyless: false, body: Readable.from([]), headers: {} }));
  assert.equal(await text(empty.body), 'POST /empty');
  assert.equal(up.seen[0]!.headers['content-length'], String(whole.length));
  assert.equal(up.seen[0]!.headers['transfer-encoding'], undefined);
  assert.ok(up.seen[0]!.body.equals(whole));
  assert.equal(up.seen[1]!.headers['transfer-encoding'], 'chunked');
  assert.equal(up.seen[1]!.headers['content-length'], undefined);
  assert.ok(up.seen[1]!.body.equals(whole));
  assert.equal(up.seen[2]!.headers['transfer-encoding'], 'chunked');
  assert.equal(up.seen[2]!.body.length, 0);
  assert.equal(new Set(up.seen.map((s) => s.port)).size, 1, 'one connection');
});

test('the chunked request body on the wire: the head and the first chunk in one segment, chunks framed, last chunk', async (t) => {
  let bytes = '';
  let firstRead = '';
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const server = net.createServer((socket) => {
    socket.on('data', (d: Buffer) => {
      if (firstRead === '') firstRead = d.toString('latin1');
      bytes += d.toString('latin1');
      if (bytes.endsWith('0\r\n\r\n')) {
        socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
        resolveDone();
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = new Http1Client();
  t.after(() => (client.close(), server.close()));
  const body = new Readable({ read() {} });
  body.push('first');
  const pending = client.request(at((server.address() as net.AddressInfo).port), request('/up', { method: 'PUT', bodyless: false, body, headers: { 'x-a': ['1', '2'] } }));
  setTimeout(() => (body.push('second!'), body.push(null)), 30);
  const rsp = await pending;
  await done;
  assert.equal(rsp.status, 200);
  assert.equal(firstRead, 'PUT /up HTTP/1.1\r\nhost: app.test\r\naccept: text/plain\r\nx-a: 1\r\nx-a: 2\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n'.replace('accept: text/plain\r\n', ''));
  assert.equal(bytes, `${firstRead}7\r\nsecond!\r\n0\r\n\r\n`);
});

test('20 MiB each way through slow ends: backpressure holds, memory stays bounded, every byte arrives', async (t) => {
  const MiB = 1024 * 1024;
  const block = Buffer.alloc(64 * 1024, 0x62);
  let serverSawBackpressure = false;
  let uploaded = 0;
  let produced = 0;
  let maxAhead = 0;
  const up = await upstream((req, res) => {
    if (req.url === '/down') {
      res.writeHead(200, { 'content-length': String(20 * MiB) });
      let sent = 0;
      const more = (): void => {
        while (sent < 20 * MiB) {
          sent += block.length;
          if (!res.write(block)) {
            serverSawBackpressure = true;
            return void res.once('drain', more);
          }
        }
        res.end();
      };
      more();
      return;
    }
    // A slow upload reader.
    req.on('data', (c: Buffer) => {
      uploaded += c.length;
      maxAhead = Math.max(maxAhead, produced - uploaded);
      req.pause();
      setTimeout(() => req.resume(), 1);
    });
    req.on('end', () => res.end(String(uploaded)));
  });
  const client = new Http1Client();
  t.after(() => (client.close(), up.close()));

  const down = await client.request(at(up.port), request('/down'));
  let got = 0;
  let maxBuffered = 0;
  for await (const c of down.body) {
    got += (c as Buffer).length;
    maxBuffered = Math.max(maxBuffered, down.body.readableLength);
    if (got % (MiB) < 65536) await new Promise((r) => setTimeout(r, 5));
  }
  assert.equal(got, 20 * MiB);
  assert.ok(serverSawBackpressure, 'the server had to wait for the slow reader');
  assert.ok(maxBuffered <= 256 * 1024, `the body buffered at most ${maxBuffered} bytes`);

  const source = Readable.from((function* () {
    for (let i = 0; i < 320; i++) {
      produced += block.length;
      yield block;
    }
  })());
  const upRsp = await client.request(at(up.port), request('/up', { method: 'POST', bodyless: false, body: source, headers: { 'content-length': String(20 * MiB) } }));
  assert.equal(await text(upRsp.body), String(20 * MiB));
  // Socket buffers on loopback hold a few MiB; without backpressure the whole 20 MiB would be read ahead.
  assert.ok(maxAhead < 10 * MiB, `the request body was read at most ${maxAhead} bytes ahead of the server`);
});

test('a connection the server closed while idle is dropped; the next request gets a new one', async (t) => {
  const up = await rawUpstream((path, socket) => {
    // Answers as keep-alive, then closes the connection soon after.
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    setTimeout(() => socket.end(), 10);
  });
  const client = new Http1Client();
  t.after(() => (client.close(), up.close()));
  const addr = at(up.port);
  assert.equal(await text((await client.request(addr, request('/1'))).body), 'ok');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(await text((await client.request(addr, request('/2', { method: 'POST', bodyless: false, body: Readable.from(['x']), headers: {} }))).body), 'ok');
  assert.equal(up.conns(), 2);
});

test('node:http with a short keep-alive timeout: requests after its idle close succeed', async (t) => {
  const up = await echo();
  up.server.keepAliveTimeout = 100;
  const client = new Http1Client();
  t.after(() => (client.close(), up.close()));
  for (let i = 0; i < 3; i++) {
    assert.equal(await text((await client.request(at(up.port), request(`/k${i}`))).body), `GET /k${i}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.equal(new Set(up.seen.map((s) => s.port)).size, 3);
});

test('a reused connection closed under a request: a bodyless GET is re-sent once on a new connection, a POST fails', async (t) => {
  // The second request on every connection is met with a close (the keep-alive race, made certain).
  const up = await rawUpstream((path, socket, conn, nth) => {
    if (nth === 2) return void socket.destroy();
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  });
  const client = new Http1Client();
  t.after(() => (client.close(), up.close()));
  const addr = at(up.port);
  assert.equal(await text((await client.request(addr, request('/1'))).body), 'ok');
  assert.equal(await text((await client.request(addr, request('/2'))).body), 'ok');
  assert.equal(up.conns(), 2, 're-sent on a new connection');
  const post = client.request(addr, request('/3', { method: 'POST', bodyless: false, body: Readable.from(['x']), headers: { 'content-length': '1' } }));
  await assert.rejects(post, (err: Error) => err instanceof EndpointError && /closed before the response|ECONNRESET|EPIPE/.test(err.message));
  assert.equal(up.conns(), 2, 'not re-sent');
});

test('ECONNREFUSED keeps its code, so the request counts as never delivered', async (t) => {
  const port = await unusedPort();
  const client = new Http1Client();
  t.after(() => client.close());
  const err = await client.request(at(port), request('/')).then(() => assert.fail('answered'), (e: unknown) => e);
  assert.ok(err instanceof EndpointError);
  assert.equal(((err as Error).cause as NodeJS.ErrnoException).code, 'ECONNREFUSED');
  assert.ok(neverConnected(err));
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
  const pending = client.request(at(up.port), request('/hang', { signal: ac.signal }));
  setTimeout(() => ac.abort(new Error('gone')), 50);
  await assert.rejects(pending, (err: Error) => err instanceof EndpointError && /client went away/.test(err.message));
  await closed;
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
});

test('a client abort after the response headers errors the body and cuts the upstream response', async (t) => {
  let upstreamClosed!: (finished: boolean) => void;
  const closed = new Promise<boolean>((r) => (upstreamClosed = r));
  const up = await upstream((req, res) => {
    res.writeHead(200);
    res.write('partial');
    res.once('close', () => upstreamClosed(res.writableFinished));
  });
  const client = new Http1Client();
  t.after(() => (client.close(), up.close()));
  const ac = new AbortController();
  const rsp = await client.request(at(up.port), request('/stream', { signal: ac.signal }));
  await once(rsp.body, 'data');
  ac.abort();
  const [err] = (await once(rsp.body, 'error')) as [Error];
  assert.match(err.message, /client went away/);
  assert.equal(await closed, false);
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

  const big = await client.request(at(up.port), request('/big'));
  let bytes = 0;
  for await (const c of big.body) {
    bytes += (c as Buffer).length;
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(bytes, chunk.length * 64);

  const endless = await client.request(at(up.port), request('/endless'));
  await once(endless.body, 'data');
  endless.body.destroy();
  assert.equal(await closed, false, 'the upstream response was cut, not finished');
});

test('malformed responses fail the request (or its body) with EndpointError; the pool keeps serving', async (t) => {
  const up = await rawUpstream((path, socket) => {
    const answers: Record<string, string> = {
      '/bare-lf': 'HTTP/1.1 200 OK\nContent-Length: 2\n\nok',
      '/status': 'HTTP/1.1 2xx OK\r\n\r\n',
      '/header': 'HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n',
      '/value': 'HTTP/1.1 200 OK\r\nX: a\x00b\r\nContent-Length: 0\r\n\r\n',
      '/cl-bad': 'HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nok',
      '/cl-mismatch': 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!',
      '/switch': 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n',
      '/http2': 'HTTP/2.0 200 OK\r\n\r\n',
      '/good': 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood',
    };
    if (answers[path] !== undefined) socket.write(answers[path]);
    else if (path === '/chunk-size') socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n');
    else if (path === '/short') socket.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
    else if (path === '/extra') socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokGARBAGE');
  });
  const client = new Http1Client();
  t.after(() => (client.close(), up.close()));
  const addr = at(up.port);
  for (const [path, why] of [
    ['/bare-lf', /bare LF/],
    ['/status', /bad status line/],
    ['/header', /invalid header name/],
    ['/value', /invalid character in the value of X/],
    ['/cl-bad', /invalid content-length/],
    ['/cl-mismatch', /invalid content-length/],
    ['/switch', /101/],
    ['/http2', /bad status line/],
  ] as const) {
    await assert.rejects(client.request(addr, request(path)), (err: Error) => err instanceof EndpointError && why.test(err.message), path);
    assert.equal(await text((await client.request(addr, request('/good'))).body), 'good', `after ${path}`);
  }
  for (const [path, why] of [
    ['/chunk-size', /chunk size is not a hex number/],
    ['/short', /closed before the response ended/],
  ] as const) {
    const rsp = await client.request(addr, request(path));
    await assert.rejects(text(rsp.body), (err: Error) => err instanceof EndpointError && why.test(err.message), path);
    assert.equal(await text((await client.request(addr, request('/good'))).body), 'good', `after ${path}`);
  }
  // Bytes after the response: the response is intact, the connection is not used again.
  const before = up.conns();
  assert.equal(await text((await client.request(addr, request('/extra'))).body), 'ok');
  assert.equal(await text((await client.request(addr, request('/good'))).body), 'good');
  assert.equal(up.conns(), before + 1);
});

test('a header value, name, path or method that would split the request is refused before anything is sent', async (t) => {
  const up = await echo();
  const client = new Http1Client();
  t.after(() => (client.close(), up.close()));
  const addr = at(up.port);
  const bad: [Partial<HttpRequest>, Headers | undefined, RegExp][] = [
    [{ headers: { 'x-a': 'v\r\nx-injected: 1' } }, undefined, /invalid character in the value of header x-a/],
    [{ headers: { 'x-a': ['ok', 'v\nx'] } }, undefined, /invalid character in the value of header x-a/],
    [{ headers: { 'x-a': 'a\x00' } }, undefined, /invalid character/],
    [{}, { 'x-id': 'a\rb' }, /invalid character in the value of header x-id/],
    [{ headers: { 'bad name': 'v' } }, undefined, /invalid header name/],
    [{ path: '/a b' }, undefined, /invalid request target/],
    [{ path: '/a\r\nX: y' }, undefined, /invalid request target/],
    [{ method: 'GE T' }, undefined, /invalid method/],
    [{ authority: 'a\r\nb' }, undefined, /authority/],
  ];
  for (const [over, extra, why] of bad) {
    await assert.rejects(client.request(addr, request('/x', over), extra), (err: Error) => err instanceof EndpointError && why.test(err.message), JSON.stringify(over));
  }
  assert.equal(up.seen.length, 0, 'nothing reached the server');
  assert.equal(await text((await client.request(addr, request('/ok'))).body), 'GET /ok');
});

test('at most 128 connections per address; further requests wait and are served in order', async (t) => {
  const held: http.ServerResponse[] = [];
  const order: string[] = [];
  let sockets = 0;
  let resolveReached!: () => void;
  const reached = new Promise<void>((r) => (resolveReached = r));
  const up = await upstream((req, res) => {
    order.push(req.url!);
    if (order.length > 128) return void res.end(req.url);
    held.push(res);
    if (held.length === 128) resolveReached();
  });
  up.server.on('connection', () => sockets++);
  const client = new Http1Client();
  t.after(() => (client.close(), up.close()));
  const addr = at(up.port);
  const all = Array.from({ length: 132 }, (_, i) => client.request(addr, request(`/${i}`)));
  await reached;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(sockets, 128);
  assert.equal(held.length, 128, 'the other 4 wait');
  for (const res of held.splice(0)) res.end(res.req.url);
  const bodies = await Promise.all(all.map(async (p) => text((await p).body)));
  assert.deepEqual(bodies, Array.from({ length: 132 }, (_, i) => `/${i}`));
  assert.deepEqual(order.slice(128), ['/128', '/129', '/130', '/131'], 'queued requests in arrival order');
  assert.equal(sockets, 128, 'the waiting requests reused the connections');
});

test('a queued request whose client goes away leaves the queue', async (t) => {
  const held: http.ServerResponse[] = [];
  const up = await upstream((req, res) => {
    held.push(res);
  });
  const client = new Http1Client();
  t.after(() => (client.close(), up.close()));
  const addr = at(up.port);
  const first = Array.from({ length: 128 }, (_, i) => client.request(addr, request(`/${i}`)));
  while (held.length < 128) await new Promise((r) => setTimeout(r, 10));
  const ac = new AbortController();
  const queued = client.request(addr, request('/queued', { signal: ac.signal }));
  ac.abort();
  await assert.rejects(queued, /client went away/);
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
  const next = client.request(addr, request('/next'));
  held[0]!.end('done');
  assert.equal(await text((await first[0]!).body), 'done');
  while (held.length < 129) await new Promise((r) => setTimeout(r, 10));
  assert.equal(held[128]!.req.url, '/next');
  held[128]!.end('next');
  assert.equal(await text((await next).body), 'next');
  for (const res of held.slice(1, 128)) res.end();
  await Promise.all(first.slice(1));
});

test('one signal shared by many requests: one abort listener for all of them, no watcher left once each exchange is over', async (t) => {
  const up = await upstream((req, res) => {
    if (req.url === '/chunked') {
      res.write('a');
      res.end('b');
    } else if (req.url === '/hang') res.write('partial');
    else res.end('x');
  });
  const client = new Http1Client();
  t.after(() => (client.close(), up.close()));
  const ac = new AbortController();
  for (let i = 0; i < 50; i++) {
    const rsp = await client.request(at(up.port), request(i % 2 ? '/chunked' : '/sized', { signal: ac.signal }));
    await text(rsp.body);
  }
  assert.equal(getEventListeners(ac.signal, 'abort').length, 1);
  assert.equal(watcherCount(ac.signal), 0);
  const rsps = await Promise.all(Array.from({ length: 20 }, () => client.request(at(up.port), request('/sized', { signal: ac.signal }))));
  await Promise.all(rsps.map((r) => text(r.body)));
  assert.equal(getEventListeners(ac.signal, 'abort').length, 1);
  assert.equal(watcherCount(ac.signal), 0);
  // The shared signal still reaches an exchange in flight: its body fails, the others were over.
  const hanging = await client.request(at(up.port), request('/hang', { signal: ac.signal }));
  assert.equal(watcherCount(ac.signal), 1);
  const failed = text(hanging.body).then(
    () => 'ended',
    (err: Error) => err.message,
  );
  ac.abort();
  assert.match(await failed, /client went away/);
  assert.equal(watcherCount(ac.signal), 0);
});

test('idle connections do not keep the process alive', async () => {
  const up = await echo();
  const script = `
    import { Http1Client } from ${JSON.stringify(new URL('./h1-client.js', import.meta.url).href)};
    import { Readable } from 'node:stream';
    const client = new Http1Client();
    const rsp = await client.request({ ip: '127.0.0.1', port: ${up.port} }, { method: 'GET', authority: 'a', path: '/', headers: {}, body: Readable.from([]), bodyless: true, signal: new AbortController().signal });
    for await (const _ of rsp.body);
    console.log('done');`;
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  const timer = setTimeout(() => child.kill(), 5000);
  const [code] = await once(child, 'exit');
  clearTimeout(timer);
  up.close();
  assert.equal(out.trim(), 'done');
  assert.equal(code, 0, 'exited on its own with an idle connection open');
  assert.equal(up.seen.length, 1);
});

test('close() ends idle and busy connections and fails waiting and in-flight requests', async (t) => {
  let open = 0;
  let hangs = false;
  const up = await upstream((req, res) => {
    if (req.url === '/hang') hangs = true;
    else res.end('ok');
  });
  up.server.on('connection', (s: net.Socket) => (open++, s.on('close', () => open--)));
  t.after(() => up.close());
  const client = new Http1Client();
  const addr = at(up.port);
  // Two at once: two connections, both idle afterwards; then one of them is busy with a request that hangs.
  for (const rsp of await Promise.all([client.request(addr, request('/a')), client.request(addr, request('/b'))])) assert.equal(await text(rsp.body), 'ok');
  const hanging = client.request(addr, request('/hang'));
  while (!hangs) await new Promise((r) => setTimeout(r, 10));
  assert.equal(open, 2);
  client.close();
  await assert.rejects(hanging, (err: Error) => err instanceof EndpointError && /client closed/.test(err.message));
  while (open > 0) await new Promise((r) => setTimeout(r, 10));
  await assert.rejects(client.request(addr, request('/after')), /client closed/);
});

test('requestVia: connections the target opens (bytes written ahead of the first request), pooled by key; errors name the label', async (t) => {
  const preambles: string[] = [];
  const server = net.createServer((socket) => {
    let buf = '';
    let greeted = false;
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (!greeted) {
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        preambles.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        greeted = true;
      }
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        const path = buf.slice(0, end).split(' ')[1]!;
        buf = buf.slice(end + 4);
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const client = new Http1Client();
  t.after(() => (client.close(), server.close()));
  let connects = 0;
  const target = {
    key: `via:${port}`,
    label: `peer ${port}`,
    connect: (onread: net.OnReadOpts) => {
      connects++;
      const s = net.connect({ host: '127.0.0.1', port, noDelay: true, onread });
      s.write('PREAMBLE 8080\n');
      return s;
    },
  };
  assert.equal(await text((await client.requestVia(target, request('/a'))).body), '/a');
  assert.equal(await text((await client.requestVia({ ...target }, request('/b'))).body), '/b');
  assert.equal(connects, 1, 'the same key shares the pool');
  assert.deepEqual(preambles, ['PREAMBLE 8080']);
  const refused = { key: 'via:refused', label: 'peer refused', connect: (onread: net.OnReadOpts) => net.connect({ host: '127.0.0.1', port: 1, onread }) };
  await assert.rejects(client.requestVia(refused, request('/x')), (err: Error) => err instanceof EndpointError && /endpoint peer refused failed/.test(err.message) && neverConnected(err));
});

test('an idle connection is closed by the client before the keep-alive timeout the server announced', async (t) => {
  let clientEnded!: () => void;
  const ended = new Promise<void>((r) => (clientEnded = r));
  const up = await rawUpstream((path, socket) => {
    // `timeout=3`: the client keeps the connection at most 1 s idle (2 s before the server would close it).
    socket.write('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=3\r\nContent-Length: 2\r\n\r\nok');
    socket.once('end', () => clientEnded());
  });
  const client = new Http1Client();
  t.after(() => (client.close(), up.close()));
  assert.equal(await text((await client.request(at(up.port), request('/'))).body), 'ok');
  await ended;
  assert.equal(await text((await client.request(at(up.port), request('/'))).body), 'ok');
  assert.equal(up.conns(), 2, 'the next request opened a new connection');
});
