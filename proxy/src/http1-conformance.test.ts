// HTTP/1 through the mesh as without it, with real clients (curl and Node's
// http, or raw bytes where a library would hide the case): trailers, Expect:
// 100-continue, HTTP/1.0 without keep-alive and close-delimited bodies,
// HEAD/204/304 without bodies, long and many headers within the limit (431
// beyond it), pipelined requests answered in order. Every case runs directly
// against the application (the reference), through one proxy (the client's
// outbound to an unmeshed application) and through two (outbound → mTLS →
// inbound).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { startMesh, SERVER_ID, type Mesh } from './testing/mesh.js';
import { endpoint } from './discovery/discovery.js';
import { runCommand } from './testing/commands.js';

let mesh: Mesh;
let app: http.Server;
let raw: net.Server;
let appPort: number;
let rawPort: number;

const VIAS = ['direct', 'one proxy', 'two proxies'] as const;
type Via = (typeof VIAS)[number];
const WEB: Record<Via, string> = { direct: 'web.test.svc:80', 'one proxy': 'web-1.test.svc:80', 'two proxies': 'web-2.test.svc:80' };
const RAW: Record<Via, string> = { direct: 'raw.test.svc:80', 'one proxy': 'raw-1.test.svc:80', 'two proxies': 'raw-2.test.svc:80' };
const portOf = (via: Via, direct: number): number => (via === 'direct' ? direct : mesh.client.ports.outbound);

before(async () => {
  app = http.createServer({ maxHeaderSize: 256 * 1024 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url!;
      if (url === '/trailers') {
        res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
        res.write('chunk-1;');
        res.write('chunk-2');
        res.addTrailers({ 'x-checksum': 'c0ffee' });
        res.end();
      } else if (url === '/head') {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '10' });
        res.end(req.method === 'HEAD' ? undefined : '0123456789');
      } else if (url === '/204') res.writeHead(204).end();
      else if (url === '/304') res.writeHead(304, { etag: '"v1"' }).end();
      else if (url.startsWith('/delay/')) setTimeout(() => res.end(url), Number(url.slice('/delay/'.length)));
      else {
        const body = Buffer.concat(chunks).toString();
        const headerBytes = req.rawHeaders.reduce((n, h) => n + h.length, 0);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ body, version: req.httpVersion, headers: req.rawHeaders.length / 2, headerBytes, long: String(req.headers['x-long'] ?? '').length }));
      }
    });
  });
  // An HTTP/1.0-style server: no length, no chunking; the body ends when the connection closes.
  raw = net.createServer((socket) => {
    let head = '';
    socket.on('data', (d: Buffer) => {
      head += d.toString('latin1');
      if (head.includes('\r\n\r\n')) socket.end('HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nbody delimited by close');
    });
    socket.on('error', () => undefined);
  });
  app.listen(0, '127.0.0.1');
  raw.listen(0, '127.0.0.1');
  await Promise.all([once(app, 'listening'), once(raw, 'listening')]);
  appPort = (app.address() as AddressInfo).port;
  rawPort = (raw.address() as AddressInfo).port;
  mesh = await startMesh();
  const inboundPort = mesh.server.ports.inbound;
  mesh.discovery.set(WEB['one proxy'], [endpoint('127.0.0.1', appPort)]);
  mesh.discovery.set(WEB['two proxies'], [endpoint('127.0.0.1', appPort, { identity: SERVER_ID, inboundPort })]);
  mesh.discovery.set(RAW['one proxy'], [endpoint('127.0.0.1', rawPort)]);
  mesh.discovery.set(RAW['two proxies'], [endpoint('127.0.0.1', rawPort, { identity: SERVER_ID, inboundPort })]);
});

after(async () => {
  await mesh?.close();
  app?.closeAllConnections();
  app?.close();
  raw?.close();
});

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  trailers: NodeJS.Dict<string>;
  body: string;
}

function request(via: Via, opts: http.RequestOptions & { body?: string[]; trailers?: Record<string, string> }, agent: http.Agent | false = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers = { host: WEB[via], ...opts.headers };
    const req = http.request({ host: '127.0.0.1', port: portOf(via, appPort), agent, ...opts, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, trailers: res.trailers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    for (const part of opts.body ?? []) req.write(part);
    if (opts.trailers) req.addTrailers(opts.trailers);
    req.end();
  });
}

/** curl through `via`; `-w` appends the status. A hang fails the test through curl's own --max-time. */
async function curl(via: Via, path: string, args: string[] = [], input?: string): Promise<{ code: number; out: string; err: string }> {
  const r = await runCommand(
    ['curl', '-sS', '--max-time', '20', '-H', `Host: ${WEB[via]}`, ...args, '-w', '\n%{http_code}', `http://127.0.0.1:${portOf(via, appPort)}${path}`],
    { timeoutMs: 30_000, ...(input !== undefined ? { input } : {}) },
  );
  return { code: r.code, out: r.stdout, err: r.stderr };
}

/** Writes `bytes` in one packet and reads until the server closes (or the socket idles `idleMs`). */
async function rawExchange(port: number, bytes: string, idleMs = 5000): Promise<{ text: string; closedByServer: boolean }> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.setNoDelay(true);
  socket.write(bytes);
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  socket.setTimeout(idleMs);
  return new Promise((resolve) => {
    socket.once('timeout', () => {
      socket.destroy();
      resolve({ text, closedByServer: false });
    });
    socket.once('end', () => {
      socket.destroy();
      resolve({ text, closedByServer: true });
    });
    socket.on('error', () => resolve({ text, closedByServer: true }));
  });
}

for (const via of VIAS) {
  test(`${via}: chunked response trailers reach the client (node http)`, { timeout: 60_000 }, async () => {
    const r = await request(via, { path: '/trailers' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'chunk-1;chunk-2');
    assert.equal(r.headers['transfer-encoding'], 'chunked');
    assert.equal(r.trailers['x-checksum'], 'c0ffee');
  });

  test(`${via}: a chunked request with trailers delivers its whole body (curl and node http)`, { timeout: 60_000 }, async () => {
    const r = await request(via, { method: 'POST', path: '/echo', body: ['part-a;', 'part-b'], trailers: { 'x-sum': '42' } });
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).body, 'part-a;part-b');
    const c = await curl(via, '/echo', ['-H', 'Transfer-Encoding: chunked', '--data-binary', 'curl-chunked-body']);
    assert.equal(c.code, 0, c.err);
    const [json, status] = c.out.split('\n');
    assert.equal(status, '200');
    assert.equal(JSON.parse(json!).body, 'curl-chunked-body');
  });

  test(`${via}: Expect: 100-continue (curl) gets the body through`, { timeout: 60_000 }, async () => {
    const body = 'x'.repeat(300_000);
    const c = await curl(via, '/echo', ['-H', 'Expect: 100-continue', '--data-binary', '@-', '-v'], body);
    assert.equal(c.code, 0, c.err);
    assert.match(c.err, /HTTP\/1\.1 100 Continue/, 'the client saw the interim response');
    const [json, status] = c.out.split('\n');
    assert.equal(status, '200');
    assert.equal(JSON.parse(json!).body.length, body.length);
  });

  test(`${via}: curl --http2 on an http:// URL (an h2c upgrade offer) gets its answer over HTTP/1.1`, { timeout: 60_000 }, async () => {
    const c = await curl(via, '/echo', ['--http2', '-v']);
    assert.equal(c.code, 0, c.err);
    assert.match(c.err, /Upgrade: h2c/i, 'curl offered h2c');
    assert.match(c.err, /< HTTP\/1\.1 200/, 'answered over HTTP/1.1');
    assert.equal(c.out.split('\n').at(-1), '200');
  });

  test(`${via}: HTTP/1.0 without keep-alive gets its response and the connection closes`, { timeout: 60_000 }, async () => {
    const r = await rawExchange(portOf(via, appPort), `GET /echo HTTP/1.0\r\nHost: ${WEB[via]}\r\n\r\n`);
    assert.ok(r.closedByServer, 'the server closed the connection after the response');
    assert.match(r.text, /^HTTP\/1\.[01] 200 /);
    const body = r.text.slice(r.text.indexOf('\r\n\r\n') + 4);
    assert.equal(JSON.parse(body).body, '', 'a complete body, no chunk framing an HTTP/1.0 client cannot read');
    const c = await curl(via, '/echo', ['--http1.0']);
    assert.equal(c.code, 0, c.err);
    assert.equal(c.out.split('\n')[1], '200');
  });

  test(`${via}: a response body delimited by the server closing the connection arrives whole`, { timeout: 60_000 }, async () => {
    const r = await runCommand(['curl', '-sS', '--max-time', '20', '-H', `Host: ${RAW[via]}`, `http://127.0.0.1:${portOf(via, rawPort)}/`], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'body delimited by close');
  });

  test(`${via}: HEAD, 204 and 304 carry no body, and the connection serves the next request`, { timeout: 60_000 }, async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const head = await request(via, { method: 'HEAD', path: '/head' }, agent);
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], '10', 'HEAD keeps the GET length');
      assert.equal(head.body, '');
      const noContent = await request(via, { path: '/204' }, agent);
      assert.equal(noContent.status, 204);
      assert.equal(noContent.body, '');
      const notModified = await request(via, { path: '/304' }, agent);
      assert.equal(notModified.status, 304);
      assert.equal(notModified.headers.etag, '"v1"');
      assert.equal(notModified.body, '');
      // No bogus body left on the connection: the next response on it is the right one.
      const get = await request(via, { path: '/head' }, agent);
      assert.equal(get.body, '0123456789');
    } finally {
      agent.destroy();
    }
    const c = await curl(via, '/head', ['-I']);
    assert.equal(c.code, 0, c.err);
    assert.match(c.out, /content-length: 10/i);
  });

  test(`${via}: a 32 KiB header and 200 headers are accepted; a head over 64 KiB gets 431`, { timeout: 60_000 }, async () => {
    const long = await request(via, { path: '/echo', headers: { 'x-long': 'a'.repeat(32 * 1024) } });
    assert.equal(long.status, 200);
    assert.equal(JSON.parse(long.body).long, 32 * 1024);
    const many: Record<string, string> = {};
    for (let i = 0; i < 200; i++) many[`x-h-${i}`] = `value-${i}`;
    const r = await request(via, { path: '/echo', headers: many });
    assert.equal(r.status, 200);
    assert.ok(JSON.parse(r.body).headers >= 200, 'every header reached the application');
    // Direct, the application's own (larger) limit applies; the proxy's is 64 KiB.
    if (via !== 'direct') {
      const over = await curl(via, '/echo', ['-H', '@-'], `x-long: ${'b'.repeat(70 * 1024)}\n`);
      assert.equal(over.out.split('\n').at(-1), '431');
    }
  });

  test(`${via}: pipelined requests written in one packet are answered in order`, { timeout: 60_000 }, async () => {
    const paths = ['/delay/150', '/delay/0', '/delay/50', '/delay/0'];
    const bytes = paths.map((p, i) => `GET ${p} HTTP/1.1\r\nHost: ${WEB[via]}\r\n${i === paths.length - 1 ? 'Connection: close\r\n' : ''}\r\n`).join('');
    const r = await rawExchange(portOf(via, appPort), bytes);
    const bodies = [...r.text.matchAll(/\r\n\r\n(?:[0-9a-f]+\r\n)?(\/delay\/\d+)/g)].map((m) => m[1]);
    assert.deepEqual(bodies, paths, r.text);
    assert.equal([...r.text.matchAll(/HTTP\/1\.1 200 /g)].length, paths.length);
  });
}
