import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { startMesh, testConfig, CLIENT_ID, SERVER_ID, type Mesh } from './testing/mesh.js';
import { startProxy } from './proxy.js';
import { createLogger } from '@weft/common/log';
import { StaticDiscovery, endpoint } from './discovery/discovery.js';
import { TestPki } from '@weft/common/testing/pki';
import { prng } from '@weft/common/testing/mutate';
import { runCommand } from './testing/commands.js';

let mesh: Mesh;
let app: http.Server;
/** Every path the application was asked for: smuggled requests must never show up here. */
const appPaths: string[] = [];

before(async () => {
  app = http.createServer((req, res) => {
    appPaths.push(req.url ?? '');
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  const appPort = (app.address() as AddressInfo).port;
  mesh = await startMesh({ appPort });
  mesh.discovery.set('web.test.svc:80', [endpoint('127.0.0.1', appPort, { identity: SERVER_ID, inboundPort: mesh.server.ports.inbound })]);
});

after(async () => {
  await mesh?.close();
  app?.close();
  app?.closeAllConnections();
});

/** Sends raw bytes, half-closes, and resolves with everything received before the proxy closed the connection. */
function raw(port: number, bytes: Buffer | string, halfClose = true): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: false });
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(got));
    socket.write(bytes);
    if (halfClose) socket.end();
  });
}

/** A valid request; resolves with the status, and the body when it is not 200 (to show why). */
function okRequest(port: number): Promise<number | string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/', agent: false, headers: { host: 'web.test.svc' } }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(res.statusCode === 200 ? 200 : `${res.statusCode} ${body}`));
      })
      .on('error', reject);
  });
}

test('a malformed HTTP/1 request gets 400 and the connection closes', { timeout: 60_000 }, async () => {
  const reply = await raw(mesh.client.ports.outbound, 'GET / HTTP/1.1\r\nHost: web.test.svc\r\nbad header line\r\n\r\n', false);
  assert.match(reply, /^HTTP\/1\.1 400 /);
  assert.equal(await okRequest(mesh.client.ports.outbound), 200);
});

test('oversized request headers get 431', { timeout: 60_000 }, async () => {
  const reply = await raw(mesh.client.ports.outbound, `GET / HTTP/1.1\r\nHost: web.test.svc\r\nx-big: ${'a'.repeat(80 * 1024)}\r\n\r\n`, false);
  assert.match(reply, /^HTTP\/1\.1 431 /);
});

test('TLS garbage and an untrusted client certificate close only that connection', { timeout: 60_000 }, async () => {
  // A TLS record header followed by junk.
  await raw(mesh.server.ports.inbound, Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x20]), Buffer.alloc(32, 0xab)]));
  // A well-formed handshake for our identity, but with a certificate from a CA the mesh does not trust.
  const stranger = new TestPki();
  try {
    const ca = stranger.cert({ subject: '/CN=evil root', ca: true });
    const leaf = stranger.cert({ subject: '/CN=evil', dns: ['evil.test.serviceaccount.identity.weft.cluster.local'], issuer: ca });
    const failed = await new Promise<boolean>((resolve) => {
      const s = tls.connect({ port: mesh.server.ports.inbound, host: '127.0.0.1', servername: SERVER_ID, ca: mesh.pki.root.cert, cert: leaf.cert, key: leaf.key, ALPNProtocols: ['weft.h2'], minVersion: 'TLSv1.3' });
      s.on('error', () => resolve(true));
      // TLS 1.3: the client learns of the rejected certificate after its own handshake completes, on the first read.
      s.on('secureConnect', () => s.write('x'));
      s.on('close', () => resolve(true));
      s.on('data', () => resolve(false));
    });
    assert.equal(failed, true);
  } finally {
    stranger.dispose();
  }
  assert.equal(await okRequest(mesh.server.ports.inbound), 200);
  assert.equal(await okRequest(mesh.client.ports.outbound), 200);
});

const SEEDS = [
  'GET / HTTP/1.1\r\nHost: web.test.svc\r\n\r\n',
  'POST /x HTTP/1.1\r\nHost: web.test.svc\r\nContent-Length: 5\r\n\r\nhello',
  'POST /x HTTP/1.1\r\nHost: web.test.svc\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  'GET /ws HTTP/1.1\r\nHost: web.test.svc\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
  'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00',
  '\x16\x03\x01\x00\x2a\x01\x00\x00\x26\x03\x03',
];
const TOKENS = ['\r\n', '\n', ':', ' ', '\x00', 'Content-Length: -1\r\n', 'Content-Length: 99999999999\r\n', 'Transfer-Encoding: chunked\r\n', 'Host:\r\n', 'zz\r\n', '\xff\xfe', 'HTTP/9.9', '%00', '0\r\n\r\n'];

function mutate(rand: () => number): Buffer {
  let s = SEEDS[Math.floor(rand() * SEEDS.length)]!;
  const edits = 1 + Math.floor(rand() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rand() * (s.length + 1));
    const op = rand();
    if (op < 0.3) s = s.slice(0, at) + TOKENS[Math.floor(rand() * TOKENS.length)]! + s.slice(at);
    else if (op < 0.55) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rand() * 8));
    else if (op < 0.8) s = s.slice(0, at) + String.fromCharCode(Math.floor(rand() * 256)) + s.slice(at + 1);
    else s = s.slice(0, at);
  }
  return Buffer.from(s, 'latin1');
}

test('fuzz: 10,000 malformed requests never crash or wedge the proxy', { timeout: 150_000 }, async () => {
  const rand = prng(20261128);
  const cases = Array.from({ length: 10_000 }, () => mutate(rand));
  // Most cases hit a proxy with nothing behind it (inbound and outbound listeners: detection, TLS, HTTP/1 and
  // HTTP/2 parsing, error responses); every tenth goes through the whole mesh to the application.
  const lone = await startProxy({
    config: testConfig(SERVER_ID),
    identity: mesh.pki.identity(SERVER_ID),
    discovery: new StaticDiscovery(),
    originalDst: null,
    log: createLogger('fuzz', 'silent'),
    drainMs: 100,
    headersTimeoutMs: 1000,
  });
  const portOf = (i: number): number => (i % 10 === 0 ? mesh.client.ports.outbound : i % 2 === 0 ? lone.ports.inbound : lone.ports.outbound);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < cases.length) {
      const i = next++;
      await raw(portOf(i), cases[i]!);
    }
  };
  try {
    await Promise.all(Array.from({ length: 48 }, worker));
    assert.equal((await fetch(`http://127.0.0.1:${lone.ports.admin}/live`)).status, 200);
  } finally {
    await lone.shutdown();
  }
  assert.equal(next, cases.length);
  assert.equal(await okRequest(mesh.client.ports.outbound), 200);
  assert.equal(await okRequest(mesh.server.ports.inbound), 200);
  assert.equal((await fetch(`http://127.0.0.1:${mesh.client.ports.admin}/live`)).status, 200);
});

// HTTP/1 request smuggling: each pair hides a second request in what one party may read as the first one's body.
const SMUGGLE = 'GET /smuggled HTTP/1.1\r\nHost: web.test.svc\r\n\r\n';
const SMUGGLING: Record<string, string> = {
  'CL + TE': `POST / HTTP/1.1\r\nHost: web.test.svc\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLE}`,
  'TE + CL': `POST / HTTP/1.1\r\nHost: web.test.svc\r\nTransfer-Encoding: chunked\r\nContent-Length: 60\r\n\r\n0\r\n\r\n${SMUGGLE}`,
  'duplicate CL': `POST / HTTP/1.1\r\nHost: web.test.svc\r\nContent-Length: 0\r\nContent-Length: 47\r\n\r\n${SMUGGLE}`,
  'obfuscated TE (xchunked)': `POST / HTTP/1.1\r\nHost: web.test.svc\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n${SMUGGLE}`,
  'obfuscated TE (space before colon)': `POST / HTTP/1.1\r\nHost: web.test.svc\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n${SMUGGLE}`,
  'obfuscated TE (list)': `POST / HTTP/1.1\r\nHost: web.test.svc\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${SMUGGLE}`,
  'obfuscated TE (tab)': `POST / HTTP/1.1\r\nHost: web.test.svc\r\nTransfer-Encoding:\tchunked\r\nContent-Length: 47\r\n\r\n${SMUGGLE}`,
  'bare LF line ends': `POST / HTTP/1.1\nHost: web.test.svc\nContent-Length: 47\n\n${SMUGGLE}`,
  'bare LF inside the head': `POST / HTTP/1.1\r\nHost: web.test.svc\nTransfer-Encoding: chunked\r\nContent-Length: 47\r\n\r\n${SMUGGLE}`,
};

test('request smuggling pairs are refused (400) at every port and no hidden request reaches the application', { timeout: 120_000 }, async () => {
  for (const [name, bytes] of Object.entries(SMUGGLING)) {
    for (const [where, port] of [['outbound', mesh.client.ports.outbound], ['inbound', mesh.server.ports.inbound]] as const) {
      appPaths.length = 0;
      const reply = await raw(port, bytes, false);
      assert.match(reply, /^HTTP\/1\.1 400 /, `${name} at ${where}: ${reply.slice(0, 80)}`);
      assert.ok(!appPaths.includes('/smuggled'), `${name} at ${where}: the application saw the smuggled request`);
    }
  }
  assert.equal(await okRequest(mesh.client.ports.outbound), 200);
  assert.equal(await okRequest(mesh.server.ports.inbound), 200);
});

test('slowloris: half-sent heads are closed by the header timeout while legitimate clients keep being served', { timeout: 120_000 }, async () => {
  const slow = Array.from({ length: 200 }, () => {
    const s = net.connect({ port: mesh.server.ports.inbound, host: '127.0.0.1' });
    s.on('error', () => undefined);
    s.write('GET / HTTP/1.1\r\nHost: web.test.svc\r\n');
    // One more header line now and then, never the end of the head.
    const drip = setInterval(() => s.write(`x-drip-${Math.floor(Math.random() * 1000)}: 1\r\n`), 200);
    const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
    return { s, drip, closed };
  });
  try {
    // Served while 200 slow heads are open.
    assert.equal(await okRequest(mesh.server.ports.inbound), 200);
    // The proxy closes every one of them (headersTimeoutMs is 2 s in this mesh); the test's own timeout is the bound.
    await Promise.all(slow.map((c) => c.closed));
  } finally {
    for (const c of slow) {
      clearInterval(c.drip);
      c.s.destroy();
    }
  }
  assert.equal(await okRequest(mesh.server.ports.inbound), 200);
});

test('an HPACK bomb (one large header referenced thousands of times) is refused and the proxy keeps serving', { timeout: 60_000 }, async () => {
  const { PREFACE, settings, frame, getHeaderBlock, hpackIncremental } = await import('./testing/h2-frames.js');
  // Insert a 4 KiB header into the dynamic table once, then reference it (index 62) 16,000 times: ~64 MiB decoded.
  const refs = Buffer.alloc(16_000, 0x80 | 62);
  const block = Buffer.concat([getHeaderBlock('web.test.svc'), hpackIncremental('x-bomb', 'b'.repeat(4000)), refs]);
  const chunks: Buffer[] = [];
  const max = 16_000;
  for (let off = 0, first = true; off < block.length; off += max, first = false) {
    const last = off + max >= block.length;
    chunks.push(frame(first ? 0x1 : 0x9, (last ? 0x4 : 0) | (first ? 0x1 : 0), 1, block.subarray(off, off + max)));
  }
  const reply = await raw(mesh.server.ports.inbound, Buffer.concat([PREFACE, settings(), ...chunks]));
  assert.ok(!reply.includes('HTTP/1.1 200'), 'the bomb was served');
  assert.ok(process.memoryUsage().rss < 2 * 1024 ** 3, 'memory blew up');
  assert.equal(await okRequest(mesh.server.ports.inbound), 200);
});

test('a forged weft-client-id never reaches the application: requests dressed as opaque bytes (empty lines or control bytes first, a lenient form, a pause inside the method), the underscore spelling CGI-style servers read as the same name', { timeout: 120_000 }, async () => {
  // The application records the bytes it receives, as a lenient HTTP server would read them, and answers each head.
  const received: string[] = [];
  const rawApp = net.createServer((socket) => {
    let got = '';
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.includes('\r\n\r\n')) socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
    });
    socket.on('close', () => received.push(got));
  });
  rawApp.listen(0, '127.0.0.1');
  await once(rawApp, 'listening');
  const appPort = (rawApp.address() as AddressInfo).port;
  const DETECT_MS = 300;
  const SERVICE = { ip: '10.96.7.7', port: 8080 };
  const m = await startMesh({
    appPort,
    clientOriginalDst: () => SERVICE,
    clientConfig: { detectTimeoutMs: DETECT_MS },
    serverConfig: { detectTimeoutMs: DETECT_MS },
  });
  m.discovery.set(`${SERVICE.ip}:${SERVICE.port}`, [endpoint('127.0.0.1', appPort, { identity: SERVER_ID, inboundPort: m.server.ports.inbound })]);
  const FORGED = 'forged.other.serviceaccount.identity.weft.cluster.local';
  const request = (start: string): string => `${start} /smuggled HTTP/1.1\r\nHost: web\r\nweft-client-id: ${FORGED}\r\nConnection: close\r\n\r\n`;
  /** Writes the parts with a pause between them; resolves with the reply once the proxy closed the connection. */
  const send = (port: number, parts: string[], pauseMs: number): Promise<string> =>
    new Promise((resolve) => {
      const socket = net.connect({ port, host: '127.0.0.1' });
      let got = '';
      socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(got));
      const next = (i: number): void => {
        if (i === parts.length) return;
        socket.write(Buffer.from(parts[i]!, 'latin1'));
        setTimeout(() => next(i + 1), pauseMs);
      };
      next(0);
      setTimeout(() => socket.destroy(), 10_000).unref();
    });
  const dressed: Array<[string, string[], number]> = [
    // RFC 9112 lets a server skip empty lines before the request line: Node's does.
    ['empty lines first', ['\r\n' + request('GET')], 0],
    ['an empty LF line first', ['\n' + request('GET')], 0],
    // Lenient servers: a lowercase method (Go's), words split at any whitespace (Python's).
    ['a lowercase method', [request('get')], 0],
    ['a leading space', [request(' GET')], 0],
    ['a leading NBSP', [request('\xa0GET')], 0],
    // Netty's server skips every control character first, a TLS record's first bytes included.
    ['control bytes first', ['\x00\x16' + request('GET')], 0],
    ['a TLS record header first', ['\x16\x03\x01\x00\x05' + request('GET')], 0],
    // A pause inside the method, past the detection timeout.
    ['a pause inside the method', ['GE', request('T')], DETECT_MS * 2],
    ['a pause after an empty line', ['\r\n', request('GET')], DETECT_MS * 2],
    // WSGI, Rack and PHP read weft_client_id as HTTP_WEFT_CLIENT_ID, the name of the vouched-for identity.
    ['the underscore spelling', [request('GET').replace('weft-client-id', 'weft_client_id')], 0],
    ['a mixed spelling', [request('GET').replace('weft-client-id', 'Weft_Client-Id')], 0],
  ];
  try {
    for (const [via, port] of [['a plaintext client at the inbound', m.server.ports.inbound], ['a meshed client through its outbound', m.client.ports.outbound]] as const) {
      for (const [what, parts, pauseMs] of dressed) {
        const before = received.length;
        const reply = await send(port, parts, pauseMs);
        assert.match(reply, /^HTTP\/1\.1 (200|400) /, `${via}, ${what}: ${JSON.stringify(reply.slice(0, 80))}`);
        await new Promise((r) => setTimeout(r, 50));
        for (const bytes of received.slice(before)) {
          assert.ok(!bytes.includes(FORGED), `${via}, ${what}: the application received the forged identity: ${JSON.stringify(bytes.slice(0, 200))}`);
          if (bytes.length > 0) assert.match(bytes, /^GET \/smuggled HTTP\/1\.1\r\n/, `${via}, ${what}: the proxy forwarded bytes it did not parse`);
        }
      }
    }
    // The forms HTTP allows were served, as HTTP: the meshed caller's own identity reached the application.
    assert.ok(received.some((b) => b.toLowerCase().includes(`weft-client-id: ${CLIENT_ID}`)), 'no request was served over the mesh');
  } finally {
    await m.close();
    rawApp.close();
  }
});

test('CONNECT (a tunnel through a forward proxy) is answered 501 naming the way through, at both ports, and reaches no application', { timeout: 60_000 }, async () => {
  const before = appPaths.length;
  for (const port of [mesh.client.ports.outbound, mesh.server.ports.inbound]) {
    const reply = await raw(port, 'CONNECT db.example:5432 HTTP/1.1\r\nHost: db.example:5432\r\n\r\n', false);
    assert.match(reply, /^HTTP\/1\.1 501 /, reply);
    assert.match(reply, /weft: CONNECT db\.example:5432: tunnels are not proxied; declare the forward proxy's port opaque/);
    // curl as an application using the proxy port as its HTTPS proxy: it reports the refusal.
    const c = await runCommand(['curl', '-sS', '--max-time', '20', '--proxytunnel', '-x', `http://127.0.0.1:${port}`, 'https://db.example:5432/'], { timeoutMs: 30_000 });
    assert.notEqual(c.code, 0);
    assert.match(c.stderr, /501/, c.stderr);
  }
  assert.equal(appPaths.length, before, 'a tunnel reached the application');
  assert.equal(await okRequest(mesh.client.ports.outbound), 200);
});

test('binary garbage on every listener closes only that connection', { timeout: 60_000 }, async () => {
  const rand = prng(7);
  const tapPort = await mesh.server.tapPort;
  for (const port of [mesh.client.ports.outbound, mesh.server.ports.inbound, mesh.server.ports.admin, tapPort]) {
    for (let i = 0; i < 20; i++) await raw(port, Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 4096) }, () => Math.floor(rand() * 256))));
  }
  assert.equal(await okRequest(mesh.client.ports.outbound), 200);
  assert.equal(await okRequest(mesh.server.ports.inbound), 200);
});
