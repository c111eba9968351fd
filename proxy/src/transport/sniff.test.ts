import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { classify, clientHelloSni, sniff } from './sniff.js';

test('classifies HTTP/1 request lines, the HTTP/2 preface and opaque bytes', () => {
  assert.deepEqual(classify(Buffer.from('GET / HTTP/1.1\r\n')), { kind: 'http1' });
  assert.deepEqual(classify(Buffer.from('OPTIONS * HTTP/1.1\r\n')), { kind: 'http1' });
  assert.deepEqual(classify(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')), { kind: 'http2' });
  // A PostgreSQL SSLRequest: its length and code bytes include 0xd2, which no request line has.
  assert.deepEqual(classify(Buffer.from([0x00, 0x00, 0x00, 0x08, 0x04, 0xd2, 0x16, 0x2f])), { kind: 'opaque' });
  assert.deepEqual(classify(Buffer.from('hello world\r\n')), { kind: 'opaque' });
  // Binary bytes are opaque at the first one no request line has, without waiting for more.
  assert.deepEqual(classify(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1')), { kind: 'opaque' });
  assert.deepEqual(classify(Buffer.from('*1\r\n$4\r\nPING\r\n')), { kind: 'opaque' });
  assert.deepEqual(classify(Buffer.from('get key\r\n')), { kind: 'opaque' });
});

test('whatever some HTTP/1 server reads as a request is HTTP/1, never opaque', () => {
  const http1 = [
    // RFC 9112 §2.2: empty lines before the request line (Node's server skips them).
    '\r\nGET /admin HTTP/1.1\r\n',
    '\n\n\r\nGET /admin HTTP/1.1\r\n',
    // Lenient servers: any token as the method (Go's), words split at any whitespace (Python's http.server).
    'get /admin HTTP/1.1\r\n',
    'G3T_X /admin HTTP/1.1\r\n',
    ' GET /admin HTTP/1.1\r\n',
    '\tGET\t/admin\tHTTP/1.1\r\n',
    '\xa0GET\x85/admin\x0bHTTP/1.1 \r\n',
    'GET /a\x00b HTTP/1.1\r\n',
    'GET /admin HTTP/01.10\n',
    // Netty's: any ISO control character before the request line, 22 (a TLS record's first byte) included.
    '\x00\x01\x7f\x9fGET /admin HTTP/1.1\r\n',
    '\x16GET /admin HTTP/1.1\r\n',
    '\x16\x03\x01\x00\x05GET /admin HTTP/1.1\r\n',
  ];
  for (const line of http1) assert.deepEqual(classify(Buffer.from(line, 'latin1')), { kind: 'http1' }, JSON.stringify(line));
  // Until the line ends it may still become a request line: wait.
  for (const part of ['\r\n', '\r\nGE', 'get', 'hello world', ' GET /admin HTTP/1.', '\x00\x01\x02', '\x16']) {
    assert.equal(classify(Buffer.from(part, 'latin1')), undefined, JSON.stringify(part));
  }
});

test('a request line without an HTTP/1.x version is invalid, not HTTP/1 or opaque (e.g. a bad HTTP/2 preface)', () => {
  assert.deepEqual(classify(Buffer.from('INVALID CONNECTION PREFACE\r\n\r\n')), { kind: 'invalid' });
  assert.deepEqual(classify(Buffer.from('GET /\r\n')), { kind: 'invalid' });
  assert.deepEqual(classify(Buffer.from('GET / HTTP/1.0\n')), { kind: 'http1' });
  // Until the line ends, more bytes are needed; a line longer than any request line is left to the HTTP/1 server.
  assert.equal(classify(Buffer.from('GET /long-path')), undefined);
  assert.deepEqual(classify(Buffer.from(`GET /${'a'.repeat(9000)}`)), { kind: 'http1' });
});

test('waits for more bytes while the prefix is still ambiguous', () => {
  assert.equal(classify(Buffer.from('PRI * HT')), undefined);
  assert.equal(classify(Buffer.from('GE')), undefined);
  assert.equal(classify(Buffer.from([0x16, 0x03])), undefined);
});

/** Captures a real ClientHello from Node's TLS client. */
async function clientHello(servername: string | undefined): Promise<Buffer> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const got = new Promise<Buffer>((resolve) => server.once('connection', (s) => s.once('data', (d: Buffer) => (s.destroy(), resolve(d)))));
  const c = tls.connect({ port, host: '127.0.0.1', ...(servername ? { servername } : {}), rejectUnauthorized: false });
  c.on('error', () => undefined);
  const hello = await got;
  c.destroy();
  server.close();
  return hello;
}

test('reads the SNI from a real TLS ClientHello, and none when absent', { timeout: 60_000 }, async () => {
  const withSni = await clientHello('web.ns.serviceaccount.identity.weft.cluster.local');
  assert.deepEqual(classify(withSni), { kind: 'tls', sni: 'web.ns.serviceaccount.identity.weft.cluster.local' });
  const without = await clientHello(undefined);
  assert.equal(clientHelloSni(without), undefined);
  // Truncated or corrupt hellos never throw.
  assert.equal(clientHelloSni(withSni.subarray(0, 60)), undefined);
  assert.equal(clientHelloSni(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0xff, 0xff, 0xff, 0xff])), undefined);
});

test('a silent client is opaque after the detection timeout, and the bytes read are put back', { timeout: 60_000 }, async () => {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection');
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const [socket] = (await accepted) as [net.Socket];
  assert.deepEqual(await sniff(socket, 50), { kind: 'opaque', timedOut: true }, 'said nothing for the whole timeout');
  // Bytes that arrive during detection are not lost.
  const second = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const [s2] = (await once(server, 'connection')) as [net.Socket];
  second.write('GET /x HTTP/1.1\r\n');
  assert.deepEqual(await sniff(s2, 5000), { kind: 'http1' });
  s2.resume();
  const [data] = (await once(s2, 'data')) as [Buffer];
  assert.equal(data.toString(), 'GET /x HTTP/1.1\r\n');
  for (const s of [client, second, socket, s2]) s.destroy();
  server.close();
});

test('after the timeout, bytes that may still become a request line are HTTP/1; a partial ClientHello is opaque', { timeout: 60_000 }, async () => {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const cases: Array<[string | Buffer, string]> = [
    // A client that stops inside its method (no space yet), or after empty lines, must not get an opaque path to
    // the application for the rest of its request.
    ['GET', 'http1'],
    ['\r\n', 'http1'],
    ['get /admin', 'http1'],
    [Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]), 'opaque'],
    // Too short to be told from control bytes before a request line (Netty's server skips them).
    [Buffer.from([0x16, 0x03, 0x01]), 'http1'],
  ];
  for (const [bytes, kind] of cases) {
    const accepted = once(server, 'connection');
    const client = net.connect(port, '127.0.0.1');
    const [socket] = (await accepted) as [net.Socket];
    client.write(bytes);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(await sniff(socket, 100), { kind }, JSON.stringify(bytes.toString('latin1')));
    client.destroy();
    socket.destroy();
  }
  server.close();
});

test('a client that half-closes after bytes that decided nothing is opaque, its bytes handed over (its ended stream cannot take them back)', { timeout: 60_000 }, async () => {
  const server = net.createServer({ allowHalfOpen: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection');
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const [socket] = (await accepted) as [net.Socket];
  client.end('hello opaque world');
  const d = await sniff(socket, 60_000);
  assert.equal(d?.kind, 'opaque');
  assert.equal(d?.kind === 'opaque' ? d.head?.toString() : undefined, 'hello opaque world');
  // The socket still writes back (half-open), and reads as ended.
  assert.equal(socket.readableEnded, true);
  socket.end('reply');
  const [reply] = (await once(client, 'data')) as [Buffer];
  assert.equal(reply.toString(), 'reply');
  // A client that closes without a byte: nothing to forward.
  const second = once(server, 'connection');
  const quiet = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const [s2] = (await second) as [net.Socket];
  quiet.end();
  assert.equal(await sniff(s2, 60_000), undefined);
  for (const s of [client, socket, quiet, s2]) s.destroy();
  server.close();
});

test('a hint that the destination is declared opaque ends the wait; it is listened to only while sniffing, and bytes are kept', { timeout: 60_000 }, async () => {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const connect = async (): Promise<[net.Socket, net.Socket]> => {
    const accepted = once(server, 'connection');
    const client = net.connect(port, '127.0.0.1');
    const [socket] = (await accepted) as [net.Socket];
    return [client, socket];
  };
  /** A hint whose `declare` the test calls, counting who listens. */
  const hint = () => {
    const h = { listening: 0, declare: (): void => undefined };
    const fn = (declared: () => void): (() => void) => {
      h.listening++;
      h.declare = declared;
      return () => h.listening--;
    };
    return Object.assign(h, { fn });
  };
  // Silent client, declared opaque while sniffing: opaque at once (not a timeout), and no longer listened to.
  const [c1, s1] = await connect();
  const h1 = hint();
  const d1 = sniff(s1, 60_000, h1.fn);
  assert.equal(h1.listening, 1);
  h1.declare();
  assert.deepEqual(await d1, { kind: 'opaque' });
  assert.equal(h1.listening, 0);
  // Declared while a partial request line is in: still opaque, and the bytes are put back.
  const [c2, s2] = await connect();
  const h2 = hint();
  c2.write('GET /par');
  const d2 = sniff(s2, 60_000, h2.fn);
  await new Promise((r) => setTimeout(r, 50));
  h2.declare();
  assert.deepEqual(await d2, { kind: 'opaque' });
  s2.resume();
  const [data] = (await once(s2, 'data')) as [Buffer];
  assert.equal(data.toString(), 'GET /par');
  // Decided by the bytes first: the hint stops being listened to, and a late declaration changes nothing.
  const [c3, s3] = await connect();
  const h3 = hint();
  c3.write('GET / HTTP/1.1\r\n');
  assert.deepEqual(await sniff(s3, 60_000, h3.fn), { kind: 'http1' });
  assert.equal(h3.listening, 0);
  h3.declare();
  // Declared before sniffing starts listening (the hint calls back at once): opaque, nothing left listening.
  const [c4, s4] = await connect();
  let stopped = 0;
  assert.deepEqual(await sniff(s4, 60_000, (declared) => (declared(), () => stopped++)), { kind: 'opaque' });
  assert.equal(stopped, 1);
  for (const s of [c1, s1, c2, s2, c3, s3, c4, s4]) s.destroy();
  server.close();
});
