import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { createLogger } from '@weft/common/log';
import { HttpServer } from './server.js';
import type { HttpRequest, HttpResponse } from '../svc.js';

const HEAD_TIMEOUT_MS = 150;

/** An HttpServer fed the connections of a loopback listener; `/slow` answers after `slowMs`. */
async function serve(slowMs: number): Promise<{ port: number; close(): void }> {
  const server = new HttpServer(
    async (req: HttpRequest): Promise<HttpResponse> => {
      if (req.path === '/slow') await new Promise((r) => setTimeout(r, slowMs));
      return { status: 200, headers: { 'content-length': String(req.path.length) }, body: Readable.from([Buffer.from(req.path)]), trailers: () => undefined, resetCode: () => undefined };
    },
    { log: createLogger('test', 'silent'), headersTimeoutMs: HEAD_TIMEOUT_MS, maxHeaderSize: 16 * 1024, onUpgrade: (_req, socket) => socket.destroy() },
  );
  const listener = net.createServer((socket) => {
    const local = { ip: '127.0.0.1', port: 0 };
    server.serveHttp1(socket, { direction: 'inbound', client: local, local, origDst: undefined, tls: { identity: undefined } });
  });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  return {
    port: (listener.address() as net.AddressInfo).port,
    close: () => {
      server.destroy();
      listener.close();
    },
  };
}

/** Sends `raw` on a new connection; resolves with everything received until the server closed it. */
function exchange(port: number, raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(raw));
    let got = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (got += d));
    socket.on('close', () => resolve(got));
    socket.on('error', reject);
  });
}

test('a pipelined request served for longer than the head timeout is answered; the idle connection is closed after it', async (t) => {
  const s = await serve(HEAD_TIMEOUT_MS * 4);
  t.after(() => s.close());
  const got = await exchange(s.port, 'GET /fast HTTP/1.1\r\nhost: a\r\n\r\nGET /slow HTTP/1.1\r\nhost: a\r\n\r\n');
  const statuses = got.match(/HTTP\/1\.1 200 OK/g) ?? [];
  assert.equal(statuses.length, 2, got);
  assert.ok(got.endsWith('/slow'), got);
});

test('a connection that never sends a head is closed by the head deadline', async (t) => {
  const s = await serve(0);
  t.after(() => s.close());
  assert.equal(await exchange(s.port, ''), '');
});

test('an idle keep-alive connection gets a whole head timeout after each response, then is closed', { timeout: 20_000 }, async (t) => {
  const s = await serve(0);
  t.after(() => s.close());
  const socket = net.connect(s.port, '127.0.0.1');
  socket.setEncoding('latin1');
  let got = '';
  const answers: string[] = [];
  socket.on('data', (d: string) => {
    got += d;
    for (let end = got.indexOf('/r'); end >= 0 && got.length >= end + 3; end = got.indexOf('/r')) {
      answers.push(got.slice(end, end + 3));
      got = got.slice(end + 3);
    }
  });
  const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(performance.now())));
  // Each request comes a third of the timeout after the answer before it: over the three, longer than one timeout.
  let lastSent = 0;
  for (let i = 0; i < 3; i++) {
    lastSent = performance.now();
    socket.write(`GET /r${i} HTTP/1.1\r\nhost: a\r\n\r\n`);
    while (answers.length <= i) {
      assert.ok(!socket.destroyed, `closed while waiting for the answer to request ${i}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, HEAD_TIMEOUT_MS / 3));
  }
  assert.deepEqual(answers, ['/r0', '/r1', '/r2']);
  // Never sooner than the timeout after the last response, which the server wrote after the last request was sent
  // (measured from there, so a late 'data' event cannot shorten it; the loop's clock counts whole milliseconds).
  assert.ok((await closed) - lastSent >= HEAD_TIMEOUT_MS - 1, 'closed before a whole head timeout passed');
});

test('a keep-alive connection serves request after request, each answered', async (t) => {
  const s = await serve(0);
  t.after(() => s.close());
  const requests = Array.from({ length: 5 }, (_, i) => `GET /r${i} HTTP/1.1\r\nhost: a\r\n\r\n`).join('');
  const got = await exchange(s.port, requests);
  for (let i = 0; i < 5; i++) assert.match(got, new RegExp(`\\r\\n\\r\\n/r${i}`));
});
