import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { TestMeshPki } from '../testing/mesh.js';
import { ALPN_MUX, MAX_FRAME, MAX_STREAMS, MuxPool, MuxProtocolError, MuxSession, MuxStream, STREAM_WINDOW, type MuxSessionOptions } from './mux.js';
import { RefusedStreamError, neverConnected } from '../errors.js';
import { RESET_BURST } from './reset-budget.js';

interface Pair {
  readonly client: MuxSession;
  /** Server sessions, in the order they were accepted. */
  readonly servers: MuxSession[];
  /** Streams the server side was given, in order. */
  readonly accepted: MuxStream[];
  readonly errors: Error[];
  /** A raw mTLS connection to the server (ALPN weft.mux), for frames the session would never send. */
  raw(): Promise<tls.TLSSocket>;
}

/** A server that runs `onStream` for each stream and a client session to it, over real mTLS. */
async function pair(t: TestContext, onStream: (s: MuxStream) => void = () => undefined, clientOpts: MuxSessionOptions = {}): Promise<Pair> {
  const pki = new TestMeshPki();
  t.after(() => pki.dispose());
  const server = pki.leaf('server.test');
  const client = pki.leaf('client.test');
  const servers: MuxSession[] = [];
  const accepted: MuxStream[] = [];
  const errors: Error[] = [];
  const tlsServer = tls.createServer({ cert: server.cert, key: server.key, ca: pki.root.cert, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3', ALPNProtocols: [ALPN_MUX], allowHalfOpen: true }, (socket) => {
    servers.push(
      new MuxSession(socket, 'server', {
        onStream: (s) => {
          accepted.push(s);
          onStream(s);
        },
        onError: (err) => errors.push(err),
      }),
    );
  });
  tlsServer.listen(0, '127.0.0.1');
  await once(tlsServer, 'listening');
  const port = (tlsServer.address() as AddressInfo).port;
  const connect = (allowHalfOpen = true): tls.TLSSocket =>
    tls.connect({ host: '127.0.0.1', port, cert: client.cert, key: client.key, ca: pki.root.cert, servername: 'server.test', ALPNProtocols: [ALPN_MUX], minVersion: 'TLSv1.3', allowHalfOpen } as tls.ConnectionOptions);
  const session = new MuxSession(connect(), 'client', clientOpts);
  await once(session.socket, 'secureConnect');
  while (servers.length === 0) await new Promise((r) => setImmediate(r));
  t.after(() => {
    session.destroy();
    for (const s of servers) s.destroy();
    tlsServer.close();
  });
  return {
    client: session,
    servers,
    accepted,
    errors,
    raw: async () => {
      // Not half-open: when the server ends the connection, so does this side.
      const socket = connect(false);
      socket.on('error', () => undefined);
      await once(socket, 'secureConnect');
      t.after(() => socket.destroy());
      return socket;
    },
  };
}

function frame(type: number, id: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head[0] = type;
  head.writeUInt32BE(id, 1);
  head.writeUInt32BE(payload.length, 5);
  return Buffer.concat([head, payload]);
}

/** Everything the stream's readable side gives until its end (without destroying the stream, as `for await` would). */
function readAll(s: MuxStream | Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  return once(s, 'end').then(() => Buffer.concat(chunks));
}

/** Writes `stream i: hello i` on each stream, in two writes, and expects it back upper-cased. */
async function greetUpperCase(streams: (MuxStream | Socket)[]): Promise<void> {
  streams.forEach((s, i) => {
    s.write(`stream ${i}: `);
    s.end(`hello ${i}`);
  });
  const answers = await Promise.all(streams.map(readAll));
  assert.deepEqual(
    answers.map((b) => b.toString()),
    streams.map((_, i) => `STREAM ${i}: HELLO ${i}`),
  );
}

test('streams carry bytes both ways on one mTLS connection, each ending on its own (half-close)', { timeout: 20_000 }, async (t) => {
  // The server answers each stream with its bytes upper-cased, once the client has ended its side.
  const p = await pair(t, (s) => void readAll(s).then((b) => s.end(b.toString('latin1').toUpperCase())));
  const streams = [p.client.openStream(), p.client.openStream(), p.client.openStream()];
  await greetUpperCase(streams);
  assert.equal(p.servers.length, 1, 'all three streams on one connection');
  assert.deepEqual(
    p.accepted.map((s) => s.bytesRead),
    [17, 17, 17],
  );
  await Promise.all(streams.map((s) => (s.closed ? undefined : once(s, 'close'))));
  assert.equal(p.client.size, 0, 'both sides ended: the streams are gone');
});

test('a slow reader holds back its own stream only: the writer waits at the window, another stream goes on, every byte arrives in order', { timeout: 20_000 }, async (t) => {
  const p = await pair(t);
  const big = p.client.openStream();
  const blocks = Array.from({ length: 64 }, () => randomBytes(32 * 1024));
  const sent = createHash('sha256');
  for (const b of blocks) sent.update(b);
  let written = 0;
  const writing = (async () => {
    for (const b of blocks) {
      if (!big.write(b)) await once(big, 'drain');
      written += b.length;
    }
    big.end();
  })();
  while (p.accepted.length === 0) await new Promise((r) => setImmediate(r));
  const slow = p.accepted[0]!;
  slow.pause();
  // Nobody reads the server's side: the writer stops once the window and the buffers are full.
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(written < 2 * 1024 * 1024, `the writer waited (${written} bytes written)`);
  assert.ok(slow.bytesRead <= STREAM_WINDOW, `the receiver holds at most the window (${slow.bytesRead})`);
  // Meanwhile another stream on the same connection works.
  const other = p.client.openStream();
  other.end('ping');
  while (p.accepted.length < 2) await new Promise((r) => setImmediate(r));
  assert.equal((await readAll(p.accepted[1]!)).toString(), 'ping');
  // Now the slow reader reads: everything arrives, in order.
  const got = createHash('sha256');
  let n = 0;
  slow.on('data', (c: Buffer) => {
    got.update(c);
    n += c.length;
  });
  slow.resume();
  await once(slow, 'end');
  await writing;
  assert.equal(n, 64 * 32 * 1024);
  assert.equal(got.digest('hex'), sent.digest('hex'));
});

test('onread: bytes land in the reader buffer; its false pauses the stream until resume', { timeout: 20_000 }, async (t) => {
  const p = await pair(t, (s) => s.end(Buffer.alloc(100_000, 7)));
  const buffer = Buffer.alloc(4096);
  const seen: number[] = [];
  let paused = false;
  const stream = p.client.openStream({
    buffer,
    callback: (n: number) => {
      seen.push(n);
      // Pause once, after the first read.
      if (seen.length === 1) {
        paused = true;
        return false;
      }
      return true;
    },
  });
  stream.end('go');
  while (!paused) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(seen.length, 1, 'nothing delivered while paused');
  const ended = once(stream, 'end');
  stream.resume();
  await ended;
  assert.equal(
    seen.reduce((a, b) => a + b, 0),
    100_000,
  );
  assert.ok(seen.every((n) => n <= buffer.length));
});

test('a destroyed stream resets at the peer; the session goes on', { timeout: 20_000 }, async (t) => {
  const p = await pair(t);
  const a = p.client.openStream();
  a.write('first');
  while (p.accepted.length === 0) await new Promise((r) => setImmediate(r));
  const peer = p.accepted[0]!;
  // (events.once would reject at the 'error' that comes first.)
  const closed = new Promise((resolve) => peer.once('close', resolve));
  let peerErr: NodeJS.ErrnoException | undefined;
  peer.on('error', (err) => (peerErr = err));
  a.destroy();
  await closed;
  assert.equal(peerErr?.code, 'ECONNRESET');
  const b = p.client.openStream();
  b.write('hello');
  const echoed = new Promise<string>((resolve) => b.once('data', (d: Buffer) => resolve(d.toString())));
  while (p.accepted.length < 2) await new Promise((r) => setImmediate(r));
  p.accepted[1]!.write('still here');
  assert.equal(await echoed, 'still here');
});

test('drain: the server sends GOAWAY, its streams finish, new ones are refused as never delivered, then the connection ends', { timeout: 20_000 }, async (t) => {
  const p = await pair(t);
  const inFlight = p.client.openStream();
  inFlight.write('request');
  while (p.accepted.length === 0) await new Promise((r) => setImmediate(r));
  p.servers[0]!.drain();
  while (p.client.open) await new Promise((r) => setImmediate(r));
  assert.throws(() => p.client.openStream(), /takes no new streams/);
  // The stream already taken finishes.
  const answer = readAll(inFlight);
  p.accepted[0]!.end('response');
  inFlight.end();
  assert.equal((await answer).toString(), 'response');
  await once(p.client.socket, 'close');
});

test('a stream opened as the server drains is refused, with an error that counts as never delivered', { timeout: 20_000 }, async (t) => {
  const p = await pair(t);
  p.servers[0]!.drain();
  // Opened before the GOAWAY arrives: the server took no stream, so this one was never read.
  const late = p.client.openStream();
  late.write('request');
  const [err] = (await once(late, 'error')) as [Error];
  assert.ok(err instanceof RefusedStreamError);
  assert.ok(neverConnected(err));
  assert.equal(p.accepted.length, 0);
  await once(p.client.socket, 'close');
});

test('the server refuses streams past MAX_STREAMS', { timeout: 20_000 }, async (t) => {
  const p = await pair(t);
  const raw = await p.raw();
  const frames = Array.from({ length: MAX_STREAMS + 1 }, (_, i) => frame(0, i + 1, Buffer.from('x')));
  raw.write(Buffer.concat(frames));
  let got = Buffer.alloc(0);
  const refused = frame(2, MAX_STREAMS + 1, Buffer.from([0, 0, 0, 1]));
  while (!got.includes(refused)) got = Buffer.concat([got, ((await once(raw, 'data')) as [Buffer])[0]]);
  assert.equal(p.accepted.length, MAX_STREAMS);
});

for (const [what, bytes, message] of [
  ['garbage', Buffer.from('GET / HTTP/1.1\r\nhost: x\r\n\r\n'), /frame of \d+ bytes|unknown frame type/],
  ['a frame larger than MAX_FRAME', frame(0, 1, Buffer.alloc(MAX_FRAME + 1)), /frame of 65537 bytes/],
  ['DATA past the window', Buffer.concat(Array.from({ length: STREAM_WINDOW / MAX_FRAME + 1 }, () => frame(0, 1, Buffer.alloc(MAX_FRAME)))), /past its window/],
  ['an unknown frame type', frame(9, 1), /unknown frame type 9/],
  ['a WINDOW that opens a stream', frame(3, 1, Buffer.from([0, 0, 0, 1])), /opens stream 1/],
  ['a stream frame on stream 0', frame(0, 0, Buffer.from('x')), /stream 0/],
  ['GOAWAY from the client', frame(4, 0, Buffer.from([0, 0, 0, 0])), /bad GOAWAY/],
  ['a PING on a stream', frame(5, 1, Buffer.alloc(8)), /bad PING/],
  ['a PING of 4 bytes', frame(5, 0, Buffer.alloc(4)), /bad PING/],
  ['a PONG from the client', frame(6, 0, Buffer.alloc(8)), /bad PONG/],
] as const) {
  test(`bad input (${what}) ends that session with a clear error; the server goes on`, { timeout: 20_000 }, async (t) => {
    // Nobody reads the streams: no credit is returned, so the window is what the session granted at the start.
    const p = await pair(t);
    const raw = await p.raw();
    const closed = new Promise((resolve) => raw.once('close', resolve));
    raw.write(bytes);
    await closed;
    assert.equal(p.errors.length, 1);
    assert.ok(p.errors[0] instanceof MuxProtocolError);
    assert.match(p.errors[0].message, message);
    // Another session on the same server works.
    const before = p.accepted.length;
    const s = p.client.openStream();
    const echoed = new Promise<string>((resolve) => s.once('data', (d: Buffer) => resolve(d.toString())));
    s.write('hi');
    while (p.accepted.length === before) await new Promise((r) => setImmediate(r));
    p.accepted.at(-1)!.write('ok');
    assert.equal(await echoed, 'ok');
  });
}

test('a session whose connection never came up fails its streams with the connect error (never delivered)', { timeout: 20_000 }, async (t) => {
  const pki = new TestMeshPki();
  t.after(() => pki.dispose());
  const leaf = pki.leaf('client.test');
  // A port nobody listens on.
  const probe = tls.createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = (probe.address() as AddressInfo).port;
  probe.close();
  await once(probe, 'close');
  const socket = tls.connect({ host: '127.0.0.1', port, cert: leaf.cert, key: leaf.key, ca: pki.root.cert, ALPNProtocols: [ALPN_MUX] });
  const session = new MuxSession(socket as Socket, 'client');
  const s = session.openStream();
  const [err] = (await once(s, 'error')) as [NodeJS.ErrnoException];
  assert.equal(err.code, 'ECONNREFUSED');
  assert.ok(neverConnected(err));
});

test('a stream closed before it sent anything does not exist at the peer: no RESET goes out, the session goes on', { timeout: 20_000 }, async (t) => {
  const p = await pair(t, (s) => void readAll(s).then((b) => s.end(b)));
  const unused = p.client.openStream();
  unused.destroy();
  await once(unused, 'close');
  const s = p.client.openStream();
  s.end('after');
  assert.equal((await readAll(s)).toString(), 'after');
  assert.deepEqual(p.errors, [], 'the server saw no frame for a stream it never had');
  assert.equal(p.accepted.length, 1);
});

test('a peer of an earlier release (weft.tcp, no weft.mux): each stream runs over a weft.tcp connection of its own, bytes both ways; then the pool asks for weft.tcp only', { timeout: 20_000 }, async (t) => {
  const pki = new TestMeshPki();
  t.after(() => pki.dispose());
  const server = pki.leaf('server.test');
  const client = pki.leaf('client.test');
  // What each client offered, and the connections (an earlier release's inbound: it knows weft.h2 and weft.tcp).
  const offered: string[][] = [];
  let connections = 0;
  const legacy = tls.createServer(
    {
      cert: server.cert,
      key: server.key,
      ca: pki.root.cert,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
      allowHalfOpen: true,
      ALPNCallback: ({ protocols }) => {
        offered.push(protocols);
        return ['weft.h2', 'weft.tcp'].find((p) => protocols.includes(p));
      },
    },
    (socket) => {
      connections++;
      assert.equal(socket.alpnProtocol, 'weft.tcp');
      void readAll(socket).then((b) => socket.end(b.toString('latin1').toUpperCase()));
    },
  );
  legacy.listen(0, '127.0.0.1');
  await once(legacy, 'listening');
  const port = (legacy.address() as AddressInfo).port;
  const pool = new MuxPool();
  t.after(() => {
    pool.close();
    legacy.close();
  });
  const connect = (alpn: readonly string[]): Socket =>
    tls.connect({ host: '127.0.0.1', port, cert: client.cert, key: client.key, ca: pki.root.cert, servername: 'server.test', ALPNProtocols: [...alpn], minVersion: 'TLSv1.3', allowHalfOpen: true } as tls.ConnectionOptions);

  // Three streams opened and written before the handshake says what the peer speaks.
  const streams = [0, 1, 2].map(() => pool.open('peer', connect));
  for (const s of streams) assert.ok(s instanceof MuxStream);
  await greetUpperCase(streams);
  assert.equal(connections, 3, 'one weft.tcp connection per stream (the first is the one that asked for weft.mux)');
  assert.deepEqual(offered, [['weft.mux', 'weft.tcp'], ['weft.tcp'], ['weft.tcp']]);
  assert.deepEqual(
    streams.map((s) => (s as MuxStream).bytesWritten),
    [17, 17, 17],
  );

  // The pool remembers: the next stream is a weft.tcp connection, asked for as such.
  const next = pool.open('peer', connect);
  assert.ok(next instanceof tls.TLSSocket);
  next.end('again');
  assert.equal((await readAll(next)).toString(), 'AGAIN');
  assert.deepEqual(offered.at(-1), ['weft.tcp']);
});

test('rapid reset: a client that resets more than RESET_BURST streams before their answers loses its session with a clear error', { timeout: 20_000 }, async (t) => {
  // The server never answers: every stream is reset while its request waits.
  const p = await pair(t);
  for (let i = 0; i < RESET_BURST + 20; i++) {
    const s = p.client.openStream();
    s.on('error', () => undefined);
    s.write('GET / HTTP/1.1\r\n\r\n');
    s.destroy();
  }
  await once(p.client.socket, 'close');
  assert.equal(p.errors.length, 1);
  assert.ok(p.errors[0] instanceof MuxProtocolError);
  assert.match(p.errors[0].message, /resets too many streams before their answers/);
  assert.ok(p.accepted.length > RESET_BURST, `the budget was spent first (${p.accepted.length} streams)`);
});

test('streams reset after their answers (idle connections the client closes) spend no reset budget', { timeout: 30_000 }, async (t) => {
  const p = await pair(t, (s) => s.on('data', () => s.write('answer')));
  for (let batch = 0; batch < 5; batch++) {
    const streams = Array.from({ length: RESET_BURST / 4 }, () => p.client.openStream());
    for (const s of streams) s.write('request');
    await Promise.all(streams.map((s) => once(s, 'data')));
    for (const s of streams) s.destroy();
  }
  const last = p.client.openStream();
  last.write('request');
  const [answer] = (await once(last, 'data')) as [Buffer];
  assert.equal(answer.toString(), 'answer');
  assert.deepEqual(p.errors, []);
  assert.equal(p.servers.length, 1, 'the same session served all of them');
  assert.equal(p.accepted.length, (RESET_BURST / 4) * 5 + 1);
});

/** Opens a stream with a request, lets `peer` do something to the server's end once it has it, and returns the stream's error. */
async function streamErrorAfter(p: Pair, peer: (server: MuxSession) => void): Promise<NodeJS.ErrnoException> {
  const s = p.client.openStream();
  s.write('request');
  while (p.accepted.length === 0) await new Promise((r) => setImmediate(r));
  peer(p.servers[0]!);
  const [err] = (await once(s, 'error')) as [NodeJS.ErrnoException];
  return err;
}

test('a peer that ends the connection itself (its process exited) fails the streams still open, which do not hang', { timeout: 20_000 }, async (t) => {
  // A FIN, no frame: what the kernel sends for a proxy that exited.
  const err = await streamErrorAfter(await pair(t), (server) => server.socket.end());
  assert.equal(err.code, 'ECONNRESET');
  assert.match(err.message, /weft\.mux connection closed/);
});

test('a peer that goes silent (its node went away, the connection never closed): the PING goes unanswered, the session ends, its streams fail with ETIMEDOUT', { timeout: 20_000 }, async (t) => {
  // The server reads no more: no PONG, no byte (TCP still acknowledges, as a peer's kernel may not).
  const err = await streamErrorAfter(await pair(t, undefined, { pingMs: 100 }), (server) => server.socket.pause());
  assert.equal(err.code, 'ETIMEDOUT');
  assert.match(err.message, /answered nothing, not even a PING, for 200 ms/);
  assert.equal(neverConnected(err), false, 'the request may have been delivered: not sent elsewhere');
});

test('a live peer with a slow answer: PINGs are answered, the stream waits for its answer', { timeout: 20_000 }, async (t) => {
  // The answer comes after ten PING intervals.
  const p = await pair(t, (s) => void readAll(s).then(() => setTimeout(() => s.end('late answer'), 500)), { pingMs: 50 });
  const s = p.client.openStream();
  s.end('request');
  assert.equal((await readAll(s)).toString(), 'late answer');
  assert.deepEqual(p.errors, []);
});
