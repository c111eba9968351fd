import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { once, getEventListeners } from 'node:events';
import { PassThrough, Readable } from 'node:stream';
import { createLogger } from '@weft/common/log';
import { HttpServer } from '../server.js';
import type { HttpRequest, HttpResponse, HttpService } from '../../svc.js';
import type { RequestSignal } from '../request-signal.js';
import { callWithTimeout } from '../../layers/timeout.js';
import { wholeBody, wholeResponse } from '../whole-body.js';
import { holdForTurn } from '../../transport/turn-writes.js';

/** An HttpServer (the proxy's HTTP/1 path, Node's server behind it) fed the connections of a loopback listener. */
async function serve(service: HttpService, opts: { headersTimeoutMs?: number; nodeOnly?: boolean } = {}): Promise<{ port: number; server: HttpServer; close(): void }> {
  const server = new HttpServer(service, {
    log: createLogger('test', 'silent'),
    headersTimeoutMs: opts.headersTimeoutMs ?? 5000,
    maxHeaderSize: 64 * 1024,
    onUpgrade: (_req, socket) => socket.destroy(),
    nodeOnly: opts.nodeOnly,
  });
  const listener = net.createServer({ allowHalfOpen: true }, (socket) => {
    const local = { ip: '127.0.0.1', port: 0 };
    server.serveHttp1(socket, { direction: 'inbound', client: local, local, origDst: undefined, tls: { identity: undefined } });
  });
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  return {
    port: (listener.address() as net.AddressInfo).port,
    server,
    close: () => {
      server.destroy();
      listener.close();
    },
  };
}

const response = (status: number, headers: HttpResponse['headers'], chunks: (string | Buffer)[], trailers?: HttpResponse['headers']): HttpResponse => ({
  status,
  headers,
  body: Readable.from(chunks.map((c) => Buffer.from(c))),
  trailers: () => trailers,
  resetCode: () => undefined,
});

async function text(body: Readable): Promise<string> {
  let s = '';
  for await (const c of body) s += String(c);
  return s;
}

/** Writes `raw` on a new connection (`halfClose`: then ends its side); resolves with all bytes until the server closed. */
function exchange(port: number, raw: string | Buffer, halfClose = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: halfClose }, () => {
      socket.write(raw);
      if (halfClose) socket.end();
    });
    let got = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (got += d));
    socket.on('close', () => resolve(got));
    socket.on('error', reject);
  });
}

/** Reads responses from one socket as they come (a keep-alive client that checks exact bytes). */
class RawClient {
  readonly socket: net.Socket;
  private got = '';
  private waiters: (() => void)[] = [];

  constructor(port: number) {
    this.socket = net.connect({ port, host: '127.0.0.1' });
    this.socket.setEncoding('latin1');
    this.socket.on('data', (d: string) => {
      this.got += d;
      for (const w of this.waiters.splice(0)) w();
    });
    this.socket.on('close', () => {
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Waits until the bytes received contain `marker`, returns them all and forgets them. */
  async until(marker: string): Promise<string> {
    while (!this.got.includes(marker)) {
      if (this.socket.destroyed) throw new Error(`closed before ${JSON.stringify(marker)}; got ${JSON.stringify(this.got)}`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
    const all = this.got;
    this.got = '';
    return all;
  }
}

test('keep-alive: requests on one connection, a sized response as the service framed it, an unsized one chunked with trailers', async (t) => {
  const seen: HttpRequest[] = [];
  const s = await serve(async (req) => {
    seen.push(req);
    if (req.path === '/sized') return response(200, { 'content-length': '5', 'x-a': 'b' }, ['hel', 'lo']);
    return response(200, { trailer: 'x-sum' }, ['one', 'two'], { 'x-sum': '42' });
  });
  t.after(() => s.close());
  const c = new RawClient(s.port);
  t.after(() => c.socket.destroy());
  c.socket.write('GET /sized HTTP/1.1\r\nHost: app.test\r\nX-Mixed-Case: v\r\n\r\n');
  const first = await c.until('hello');
  assert.equal(first, 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-a: b\r\n\r\nhello');
  c.socket.write('GET /chunked HTTP/1.1\r\nHost: app.test\r\n\r\n');
  const second = await c.until('0\r\nx-sum: 42\r\n\r\n');
  assert.equal(second, 'HTTP/1.1 200 OK\r\ntrailer: x-sum\r\ntransfer-encoding: chunked\r\n\r\n3\r\none\r\n3\r\ntwo\r\n0\r\nx-sum: 42\r\n\r\n');
  assert.equal(seen.length, 2);
  assert.equal(seen[0]!.authority, 'app.test');
  assert.equal(seen[0]!.headers['x-mixed-case'], 'v');
  assert.equal(seen[0]!.bodyless, true);
  // One signal per connection: both requests carry the same one, and it is not aborted while the connection lives.
  assert.equal(seen[0]!.signal, seen[1]!.signal);
  assert.equal(seen[1]!.signal.aborted, false);
});

test('a body the upstream already sent goes out with the head in one write: sized and chunked, small and large, more chunks after it', async (t) => {
  /** A response body with `first` already buffered when the service answers, then `later` chunks one tick apart. */
  const buffered = (first: Buffer, later: Buffer[]): Readable => {
    const body = new Readable({ read() {} });
    body.push(first);
    void (async () => {
      for (const c of later) {
        await new Promise((r) => setImmediate(r));
        body.push(c);
      }
      body.push(null);
    })();
    return body;
  };
  const big = Buffer.alloc(40_000, 0x61); // above the size sent as one string
  const s = await serve(async (req) => {
    const rsp = (headers: HttpResponse['headers'], body: Readable, trailers?: HttpResponse['headers']): HttpResponse => ({ status: 200, headers, body, trailers: () => trailers, resetCode: () => undefined });
    if (req.path === '/sized-small') return rsp({ 'content-length': '5' }, buffered(Buffer.from('hello'), []));
    if (req.path === '/sized-big') return rsp({ 'content-length': String(big.length + 3) }, buffered(big, [Buffer.from('end')]));
    if (req.path === '/chunked-small') return rsp({ trailer: 'x-n' }, buffered(Buffer.from('ab'), [Buffer.from('cde')]), { 'x-n': '2' });
    return rsp({}, buffered(big, [Buffer.from('z')]));
  });
  t.after(() => s.close());
  const c = new RawClient(s.port);
  t.after(() => c.socket.destroy());
  c.socket.write('GET /sized-small HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.equal(await c.until('hello'), 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello');
  c.socket.write('GET /sized-big HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.equal(await c.until('aend'), `HTTP/1.1 200 OK\r\ncontent-length: ${big.length + 3}\r\n\r\n${big.toString('latin1')}end`);
  c.socket.write('GET /chunked-small HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.equal(await c.until('x-n: 2\r\n\r\n'), 'HTTP/1.1 200 OK\r\ntrailer: x-n\r\ntransfer-encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\nx-n: 2\r\n\r\n');
  c.socket.write('GET /chunked-big HTTP/1.1\r\nHost: a\r\n\r\n');
  const hex = big.length.toString(16);
  assert.equal(await c.until('z\r\n0\r\n\r\n'), `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${hex}\r\n${big.toString('latin1')}\r\n1\r\nz\r\n0\r\n\r\n`);
  // And a real client reads the same responses.
  const get = (path: string): Promise<string> =>
    new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: s.port, path, headers: { host: 'a' } }, (res) => void text(res).then(resolve, reject)).on('error', reject);
    });
  assert.equal((await get('/sized-big')).length, big.length + 3);
  assert.equal(await get('/chunked-big'), `${big.toString('latin1')}z`);
});

test('a sized body that arrived whole is written with its head and the response is done: it still ends for the layers counting it; pipelined requests follow in order', async (t) => {
  /** A body whose bytes and end are all pushed, saying so as weft's HTTP/1 client's does (svc.ts arrivedWhole). */
  const arrived = (text: string): Readable => {
    const body = new Readable({ read() {} });
    body.push(Buffer.from(text));
    body.push(null);
    return Object.assign(body, { arrived: true });
  };
  const bodies: Readable[] = [];
  let ended = 0;
  const s = await serve(async (req) => {
    const body = req.path === '/streamed' ? new Readable({ read() {} }) : arrived(`whole ${req.path}`);
    if (req.path === '/streamed') setImmediate(() => (body.push('late'), body.push(null)));
    // As the metrics layer does: it counts the response when its body ends.
    body.once('end', () => ended++);
    bodies.push(body);
    return { status: 200, headers: { 'content-length': String(req.path === '/streamed' ? 4 : 6 + req.path.length) }, body, trailers: () => undefined, resetCode: () => undefined };
  });
  t.after(() => s.close());
  const c = new RawClient(s.port);
  t.after(() => c.socket.destroy());
  c.socket.write('GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /streamed HTTP/1.1\r\nHost: a\r\n\r\nGET /bb HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.equal(
    await c.until('whole /bb'),
    'HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\nwhole /a' + 'HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nlate' + 'HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nwhole /bb',
  );
  await new Promise((r) => setImmediate(r));
  assert.equal(ended, 3, 'every body ended, the ones written in one go too');
  // The arrived bodies were read in one go, never followed; the streamed one was.
  assert.deepEqual(bodies.map((b) => b.readableFlowing === true), [false, true, false]);
  for (const b of bodies) assert.equal(getEventListeners(b, 'data').length, 0);
});

test('a response with its whole body held (no stream) is written with its head in one write; HEAD gets the head only', async (t) => {
  const big = Buffer.alloc(20 * 1024, 0x62);
  const answered: HttpResponse[] = [];
  const s = await serve(async (req) => {
    const rsp =
      req.path === '/big'
        ? wholeResponse(200, { 'content-length': String(big.length) }, big, undefined)
        : req.path === '/empty'
          ? wholeResponse(204, {}, '', undefined)
          : wholeResponse(200, { 'content-length': '5', 'x-a': '1' }, 'hello', undefined);
    answered.push(rsp);
    return rsp;
  });
  t.after(() => s.close());
  const c = new RawClient(s.port);
  t.after(() => c.socket.destroy());
  const writes: string[] = [];
  c.socket.on('data', (d: string) => writes.push(d));
  c.socket.write('GET /small HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.equal(await c.until('hello'), 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-a: 1\r\n\r\nhello');
  assert.equal(writes.length, 1, 'head and body arrived together');
  c.socket.write('HEAD /small HTTP/1.1\r\nHost: a\r\n\r\nGET /empty HTTP/1.1\r\nHost: a\r\n\r\nGET /big HTTP/1.1\r\nHost: a\r\n\r\n');
  const got = await c.until('b'.repeat(big.length));
  assert.equal(got, 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-a: 1\r\n\r\n' + 'HTTP/1.1 204 No Content\r\n\r\n' + `HTTP/1.1 200 OK\r\ncontent-length: ${big.length}\r\n\r\n${big.toString('latin1')}`);
  assert.equal(answered.length, 4);
  for (const rsp of answered) assert.notEqual(wholeBody(rsp), undefined, 'the server wrote the held bytes without making a stream');
});

test('request bodies: content-length and chunked arrive whole; pipelined requests after a body are answered in order', async (t) => {
  const s = await serve(async (req) => {
    const body = req.bodyless ? '' : await text(req.body);
    return response(200, { 'content-length': String(Buffer.byteLength(`${req.path}=${body}`)) }, [`${req.path}=${body}`]);
  });
  t.after(() => s.close());
  const got = await exchange(
    s.port,
    'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello' +
      'POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nx-t: 1\r\n\r\n' +
      'GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  );
  const bodies = [...got.matchAll(/\r\n\r\n(\/[a-z]=[a-z]*)/g)].map((m) => m[1]);
  assert.deepEqual(bodies, ['/a=hello', '/b=abcde', '/c=']);
  assert.match(got, /connection: close\r\n/);
});

test('a large request body is streamed with backpressure (the socket pauses while the service does not read)', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let bytes = 0;
  const s = await serve(async (req) => {
    await gate;
    for await (const c of req.body) bytes += (c as Buffer).length;
    return response(200, { 'content-length': '2' }, ['ok']);
  });
  t.after(() => s.close());
  const size = 32 * 1024 * 1024;
  const socket = net.connect({ port: s.port, host: '127.0.0.1' });
  t.after(() => socket.destroy());
  socket.write(`POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`);
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let written = 0;
  // Write until the kernel and the proxy stop taking bytes: the proxy must not have buffered the whole body.
  while (written < size) {
    const more = socket.write(chunk);
    written += chunk.length;
    if (!more) {
      const drained = await Promise.race([once(socket, 'drain').then(() => true), new Promise((r) => setTimeout(() => r(false), 500))]);
      if (!drained) break;
    }
  }
  assert.ok(written < size, `the whole ${size}-byte body was taken while nobody read it`);
  release();
  while (written < size) {
    if (!socket.write(chunk)) await once(socket, 'drain');
    written += chunk.length;
  }
  socket.setEncoding('latin1');
  let got = '';
  socket.on('data', (d: string) => (got += d));
  while (!got.endsWith('ok')) await once(socket, 'data');
  assert.equal(bytes, size);
});

test('heads outside the served subset go to Node’s server with their bytes, mid-connection too, and are answered as before', async (t) => {
  const paths: string[] = [];
  const s = await serve(async (req) => {
    paths.push(req.path);
    if (!req.bodyless) await text(req.body);
    return response(200, { 'content-length': '2' }, ['ok']);
  });
  t.after(() => s.close());
  // A served request, then HTTP/1.0 on the same connection: Node's server answers it (and closes, no keep-alive).
  const got = await exchange(s.port, 'GET /fast HTTP/1.1\r\nHost: x\r\n\r\nGET /old HTTP/1.0\r\nHost: x\r\n\r\n');
  assert.equal((got.match(/200 OK/g) ?? []).length, 2, got);
  assert.deepEqual(paths.splice(0), ['/fast', '/old']);
  // Each of these is outside the subset and still served: duplicate field, obs-text, Expect, an unusual method, absolute form.
  const odd = [
    'GET /dup HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nX-A: 2\r\nConnection: close\r\n\r\n',
    'GET /obs HTTP/1.1\r\nHost: x\r\nX-A: caf\xe9\r\nConnection: close\r\n\r\n',
    'POST /expect HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi',
    'PROPFIND /dav HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    'GET http://x/abs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  ];
  for (const raw of odd) assert.match(await exchange(s.port, Buffer.from(raw, 'latin1')), /HTTP\/1\.1 200 OK/, raw);
  assert.deepEqual(paths, ['/dup', '/obs', '/expect', '/dav', 'http://x/abs']);
});

test('malformed heads get Node’s 400 at once, and no request reaches the service', async (t) => {
  const paths: string[] = [];
  const s = await serve(async (req) => {
    paths.push(req.path);
    return response(200, { 'content-length': '2' }, ['ok']);
  });
  t.after(() => s.close());
  for (const raw of ['GET / HTTP/1.1\r\nHost: x\r\nbad line\r\n\r\n', 'GET / HTTP/1.1\nHost: x\n\n', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', '\x16\x03\x01garbage\r\n\r\n']) {
    assert.match(await exchange(s.port, Buffer.from(raw, 'latin1')), /^HTTP\/1\.1 400 /, JSON.stringify(raw));
  }
  assert.deepEqual(paths, []);
});

test('a response written in the same turn as a pipelined head Node’s server takes, or a malformed one, goes out before it', async (t) => {
  // The whole response is written (held to the end of the turn) as the next head is parsed in the same turn: it must
  // leave before Node's server answers, or closes, the connection.
  const s = await serve(async (req) => {
    const body = new Readable({ read() {} });
    body.push(Buffer.from(`whole ${req.path}`));
    body.push(null);
    return { status: 200, headers: { 'content-length': String(6 + req.path.length) }, body: Object.assign(body, { arrived: true }), trailers: () => undefined, resetCode: () => undefined };
  });
  t.after(() => s.close());
  // A saturated loop (turns one after another, busy, never waiting in the poll), so responses are held to each turn's end.
  const unused = new net.Socket();
  let spinning = true;
  const spin = (): void => {
    const until = performance.now() + 0.2;
    while (performance.now() < until);
    holdForTurn(unused);
    if (spinning) setImmediate(spin);
  };
  t.after(() => (spinning = false));
  spin();
  const first = 'HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\nwhole /a';
  const bad = await exchange(s.port, 'GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nbad line\r\n\r\n');
  assert.ok(bad.startsWith(first), JSON.stringify(bad));
  const old = await exchange(s.port, 'GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /old HTTP/1.0\r\nHost: x\r\n\r\n');
  assert.ok(old.startsWith(first), JSON.stringify(old));
  assert.match(old.slice(first.length), /^HTTP\/1\.1 200 OK\r\n[^]*whole \/old$/);
  // The client half-closes after a request and the start of another: the answer to the first still arrives.
  const cut = await exchange(s.port, 'GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HT', true);
  assert.equal(cut, first);
});

test('a malformed chunked body: 400, the connection closes, and the service sees its body fail', async (t) => {
  let bodyError: unknown;
  const s = await serve(async (req) => {
    try {
      await text(req.body);
    } catch (err) {
      bodyError = err;
    }
    return response(200, { 'content-length': '2' }, ['ok']);
  });
  t.after(() => s.close());
  const got = await exchange(s.port, 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.match(got, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.equal((got.match(/HTTP\/1\.1/g) ?? []).length, 1, got);
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(bodyError instanceof Error, 'the request body did not fail');
});

test('a header value that would split the response is refused (502), and the connection serves on', async (t) => {
  const s = await serve(async (req) =>
    req.path === '/evil' ? response(200, { 'x-evil': 'a\r\nset-cookie: stolen=1' }, ['x']) : response(200, { 'content-length': '2' }, ['ok']),
  );
  t.after(() => s.close());
  const c = new RawClient(s.port);
  t.after(() => c.socket.destroy());
  c.socket.write('GET /evil HTTP/1.1\r\nHost: x\r\n\r\n');
  const got = await c.until('x-evil\n');
  assert.match(got, /^HTTP\/1\.1 502 /);
  assert.doesNotMatch(got, /set-cookie/);
  c.socket.write('GET /ok HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.match(await c.until('ok'), /^HTTP\/1\.1 200 OK/);
});

test('HEAD, 204 and 304 get no body; the next request on the connection is intact', async (t) => {
  const s = await serve(async (req) => {
    if (req.path === '/204') return response(204, {}, []);
    if (req.path === '/304') return response(304, { etag: '"1"' }, []);
    return response(200, { 'content-length': '5' }, req.method === 'HEAD' ? [] : ['hello']);
  });
  t.after(() => s.close());
  const got = await exchange(s.port, 'HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET /204 HTTP/1.1\r\nHost: x\r\n\r\nGET /304 HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(got, 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\netag: "1"\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello');
});

test('the client going away aborts the request in flight and its upstream body', async (t) => {
  let signal: RequestSignal | undefined;
  const upstream = new PassThrough();
  const s = await serve(async (req) => {
    signal = req.signal;
    return { ...response(200, {}, []), body: upstream };
  });
  t.after(() => s.close());
  const c = new RawClient(s.port);
  c.socket.write('GET /stream HTTP/1.1\r\nHost: x\r\n\r\n');
  upstream.write('partial');
  await c.until('partial');
  c.socket.destroy();
  await once(upstream, 'close');
  assert.equal(signal?.aborted, true);
});

test('a client that half-closes is gone, as for Node’s server: its request in flight is aborted and the connection closes', async (t) => {
  let signal: RequestSignal | undefined;
  const s = await serve((req) => {
    signal = req.signal;
    return new Promise<HttpResponse>(() => undefined);
  });
  t.after(() => s.close());
  assert.equal(await exchange(s.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', true), '');
  assert.equal(signal?.aborted, true);
});

test('drain closes idle connections and closes busy ones after their response', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const s = await serve(async (req) => {
    if (req.path === '/slow') await gate;
    return response(200, { 'content-length': '2' }, ['ok']);
  });
  t.after(() => s.close());
  const idle = new RawClient(s.port);
  idle.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await idle.until('ok');
  const busy = new RawClient(s.port);
  busy.socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise((r) => setTimeout(r, 50));
  s.server.drain();
  await once(idle.socket, 'close');
  assert.equal(busy.socket.destroyed, false);
  release();
  const got = await busy.until('ok');
  assert.match(got, /connection: close\r\n/);
  await once(busy.socket, 'close');
});

test('a route timeout leaves no listener on the connection’s signal, however many requests it serves', async (t) => {
  let signal: RequestSignal | undefined;
  const inner: HttpService = async () => response(200, { 'content-length': '2' }, ['ok']);
  const s = await serve((req) => {
    signal = req.signal;
    return callWithTimeout(inner, req, 10_000, 'request', 5_000);
  });
  t.after(() => s.close());
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  for (let i = 0; i < 50; i++) {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => http.get({ port: s.port, host: '127.0.0.1', agent, headers: { host: 'x' } }, resolve).on('error', reject));
    assert.equal(await text(res), 'ok');
  }
  // An HTTP/1 connection's signal is an AbortSignal (one per connection).
  assert.ok(signal instanceof AbortSignal);
  assert.equal(getEventListeners(signal, 'abort').length, 0);
});

test('Node’s server alone (nodeOnly) serves the same exchange', async (t) => {
  const s = await serve(async () => response(200, { 'content-length': '2' }, ['ok']), { nodeOnly: true });
  t.after(() => s.close());
  const got = await exchange(s.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(got, /^HTTP\/1\.1 200 OK\r\n/);
  // Node's server adds a Date header; the proxy's own does not.
  assert.match(got, /\r\nDate: /i);
});
