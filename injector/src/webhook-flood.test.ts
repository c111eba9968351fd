/**
 * Floods against the real webhook server over HTTPS: oversized bodies,
 * more reviews than it takes at once, more connections than it keeps. Each
 * attack is refused quickly and visibly (413, 429, a closed connection) and
 * a legitimate AdmissionReview is admitted right after.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import tls from 'node:tls';
import { TestPki, type CertAndKey } from '@weft/common/testing/pki';
import { createLogger } from '@weft/common/log';
import { DEFAULT_WEBHOOK_LIMITS, startWebhookServer, type WebhookLimits, type WebhookServer } from './webhook-server.js';
import { testMesh } from './testing/test-mesh.js';
import { review, wirePod } from './testing/admission-review.js';

const mesh = testMesh();
let pki: TestPki;
let ca: CertAndKey;
let leaf: CertAndKey;
const servers: WebhookServer[] = [];
const results: string[] = [];

before(() => {
  pki = new TestPki();
  ca = pki.cert({ subject: '/CN=webhook-ca', ca: true });
  leaf = pki.cert({ subject: '/CN=weft-injector.weft.svc', dns: ['localhost'], issuer: ca });
});

after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  pki?.dispose();
});

async function start(limits: Partial<WebhookLimits> = {}): Promise<WebhookServer> {
  const server = await startWebhookServer({
    host: '127.0.0.1',
    port: 0,
    certFile: leaf.certPath,
    keyFile: leaf.keyPath,
    certPollMs: 60_000,
    admission: { mesh: () => mesh, namespaceAnnotations: async () => ({ 'weft.io/inject': 'enabled' }) },
    notReadyReason: () => undefined,
    log: createLogger('injector-test', 'silent'),
    limits,
    onAdmission: (r) => results.push(r),
  });
  servers.push(server);
  return server;
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request on its own connection; `body` is sent by the caller through `send` (or ended right away when given as a string). */
function open(port: number, headers: Record<string, string>, onContinue?: () => void): { req: ReturnType<typeof https.request>; reply: Promise<Reply> } {
  let req!: ReturnType<typeof https.request>;
  const reply = new Promise<Reply>((resolve, reject) => {
    req = https.request({ host: '127.0.0.1', port, servername: 'localhost', ca: ca.cert, agent: false, method: 'POST', path: '/inject', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (onContinue) req.on('continue', onContinue);
  });
  return { req, reply };
}

function post(port: number, body: string): Promise<Reply> {
  const { req, reply } = open(port, {});
  req.end(body);
  return reply;
}

/**
 * Writes up to `total` bytes in chunks, as fast as the server reads them, and
 * never ends the request; stops early once the server has answered.
 */
async function stream(req: ReturnType<typeof https.request>, total: number, reply: Promise<Reply>): Promise<void> {
  let answered = false;
  const stop = reply.then(() => (answered = true), () => (answered = true));
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  for (let sent = 0; sent < total && !answered; sent += chunk.length) {
    if (!req.write(chunk)) await Promise.race([new Promise((r) => req.once('drain', r)), stop]);
  }
}

async function admitted(port: number): Promise<void> {
  const res = await post(port, review(wirePod(), 'meshed'));
  assert.equal(res.status, 200, res.body);
  const out = JSON.parse(res.body) as { response: { allowed: boolean; patch?: string } };
  assert.equal(out.response.allowed, true);
  assert.ok(out.response.patch, 'the pod is injected');
}

test('a body announced larger than the limit gets 413 before it is sent; the server keeps admitting', async () => {
  const server = await start();
  const { req, reply } = open(server.port, { 'content-length': String(512 * 1024 * 1024) });
  req.write(Buffer.alloc(64 * 1024, 0x20));
  const res = await reply;
  req.destroy();
  assert.equal(res.status, 413);
  assert.equal(res.headers.connection, 'close');
  assert.match(res.body, new RegExp(`body larger than ${DEFAULT_WEBHOOK_LIMITS.maxBodyBytes} bytes`));
  assert.ok(results.includes('too-large'));
  await admitted(server.port);
});

test('bodies streamed past the limit with no length, many at once, get 413 each; a review is admitted right after', async () => {
  const server = await start();
  const floods = Array.from({ length: 8 }, async () => {
    const { req, reply } = open(server.port, {}); // chunked: the size is only known while reading
    await stream(req, 4 * DEFAULT_WEBHOOK_LIMITS.maxBodyBytes, reply);
    const res = await reply;
    req.destroy();
    return res;
  });
  for (const res of await Promise.all(floods)) {
    assert.equal(res.status, 413);
    assert.match(res.body, /body larger than/);
  }
  await admitted(server.port);
});

test('reviews beyond maxConcurrentReviews get 429 at once instead of waiting; slots come back when reviews finish or clients leave', async () => {
  const server = await start({ maxConcurrentReviews: 2 });
  const body = review(wirePod(), 'meshed');
  // Two reviews the server has started (it answered 100-continue) but whose bodies have not come yet.
  const holders = await Promise.all(
    [0, 1].map(
      () =>
        new Promise<ReturnType<typeof open>>((resolve) => {
          const h = open(server.port, { expect: '100-continue', 'content-length': String(Buffer.byteLength(body)) }, () => resolve(h));
        }),
    ),
  );
  const flood = await Promise.all(Array.from({ length: 20 }, () => post(server.port, body)));
  for (const res of flood) {
    assert.equal(res.status, 429);
    assert.equal(res.headers['retry-after'], '1');
    assert.match(res.body, /more than 2 admission reviews in progress/);
  }
  assert.equal(results.filter((r) => r === 'overloaded').length, 20);

  // The first holder finishes its review: it is admitted, and its slot is free again.
  holders[0]!.req.end(body);
  assert.equal((await holders[0]!.reply).status, 200);
  await admitted(server.port);

  // The second holder goes away mid-request: its slot is released too (the server learns of the reset asynchronously).
  holders[1]!.reply.catch(() => undefined);
  holders[1]!.req.destroy();
  for (let attempt = 0; ; attempt++) {
    const both = await Promise.all([post(server.port, body), post(server.port, body)]);
    if (both.every((r) => r.status === 200)) break;
    assert.ok(attempt < 200, 'the aborted review never gave its slot back');
    await new Promise((r) => setTimeout(r, 10));
  }
});

test('connections beyond maxConnections are closed; the webhook serves again once clients leave', async () => {
  const server = await start({ maxConnections: 3 });
  const connect = (): Promise<tls.TLSSocket | undefined> =>
    new Promise((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: server.port, servername: 'localhost', ca: ca.cert }, () => resolve(s));
      s.on('error', () => resolve(undefined));
      s.on('close', () => resolve(undefined));
    });
  const idle = [await connect(), await connect(), await connect()];
  assert.ok(idle.every(Boolean), 'three connections are accepted');
  assert.equal(await connect(), undefined, 'the fourth is closed without a handshake');
  for (const s of idle) s!.destroy();
  for (let attempt = 0; ; attempt++) {
    try {
      await admitted(server.port);
      break;
    } catch (err) {
      assert.ok(attempt < 200, `never served again: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
});
