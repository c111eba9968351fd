// H2Pool's PINGs to peer proxies, counted by the peer: a real Node HTTP/2 server that answers them (the peer's
// inbound is one), and a peer that sends bytes all along, which needs none. Whether an unanswered PING ends the session is tested with a peer that really vanishes
// (peer-liveness.test.ts, iptables).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { once } from 'node:events';
import { testRequest } from '../testing/request.js';
import { H2Pool, type H2Peer } from './h2-client.js';
import { DEFAULT_CONNECTIONS } from '../transport/connections.js';

const PING_MS = 100;
/** How often the dripping peer sends a byte: a tenth of the interval its client session checks at (DRIP_PING_MS). */
const DRIP_MS = 50;
const DRIP_PING_MS = 10 * DRIP_MS;

/** A peer answering `/<ms>` after ms, and `/drip/<ms>` with a byte every DRIP_MS for ms; counts the PINGs it receives. */
async function peer(): Promise<{ port: number; pings: () => number; close(): void }> {
  let pings = 0;
  const server = http2.createServer();
  server.on('session', (session) => session.on('ping', () => pings++));
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    const path = String(headers[':path']);
    if (path.startsWith('/drip/')) {
      stream.respond({ ':status': 200 });
      const drip = setInterval(() => stream.write('.'), DRIP_MS);
      setTimeout(() => {
        clearInterval(drip);
        stream.end();
      }, Number(path.slice(6)));
      return;
    }
    setTimeout(() => {
      if (stream.destroyed) return;
      stream.respond({ ':status': 200 });
      stream.end('done');
    }, Number(String(headers[':path']).slice(1)));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  return { port, pings: () => pings, close: () => server.close() };
}


async function call(pool: H2Pool, to: H2Peer, path: string): Promise<number> {
  const rsp = await pool.request(to, testRequest(path, { authority: 'peer.test', version: 'HTTP/2' }));
  for await (const _ of rsp.body) void _;
  return rsp.status;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('a session to a peer proxy PINGs it while it carries streams, and not while it is idle', { timeout: 30_000 }, async (t) => {
  const p = await peer();
  t.after(() => p.close());
  const pool = new H2Pool({ connections: { ...DEFAULT_CONNECTIONS, peerPingMs: PING_MS } });
  t.after(() => pool.close());
  // `connect` makes it a session to a peer proxy (mTLS in the proxy; cleartext is enough for the PINGs).
  const to: H2Peer = { key: 'peer', label: 'peer', origin: `http://127.0.0.1:${p.port}`, connect: () => net.connect(p.port, '127.0.0.1') };
  // A stream open for ten intervals in which the peer sends nothing: a PING after each silent interval (every other
  // one: its answer is heard in the next), and the answers keep the session, so the stream completes.
  assert.equal(await call(pool, to, `/${10 * PING_MS}`), 200);
  // A PING sent as the stream ended may still be on its way; two intervals later the session is idle for sure.
  await sleep(2 * PING_MS);
  const whileBusy = p.pings();
  assert.ok(whileBusy >= 3, `${whileBusy} PINGs while a stream was open for ten intervals`);
  // Idle for ten more intervals: no PING.
  await sleep(10 * PING_MS);
  assert.equal(p.pings(), whileBusy, 'no PING while the session carries no stream');
  // The next stream starts the checks again.
  assert.equal(await call(pool, to, `/${5 * PING_MS}`), 200);
  assert.ok(p.pings() > whileBusy, 'PINGs again once a stream is open');
});

test('a session whose peer keeps sending bytes needs no PING', { timeout: 30_000 }, async (t) => {
  const p = await peer();
  t.after(() => p.close());
  // Checks far apart compared with the drips, so only a stall of this process longer than DRIP_PING_MS could make one
  // find nothing read since the last.
  const pool = new H2Pool({ connections: { ...DEFAULT_CONNECTIONS, peerPingMs: DRIP_PING_MS } });
  t.after(() => pool.close());
  const to: H2Peer = { key: 'peer', label: 'peer', origin: `http://127.0.0.1:${p.port}`, connect: () => net.connect(p.port, '127.0.0.1') };
  assert.equal(await call(pool, to, `/drip/${5 * DRIP_PING_MS}`), 200);
  assert.equal(p.pings(), 0);
});

test('a session to an application (h2c, no `connect`) is never PINGed', { timeout: 30_000 }, async (t) => {
  const p = await peer();
  t.after(() => p.close());
  const pool = new H2Pool({ connections: { ...DEFAULT_CONNECTIONS, peerPingMs: PING_MS } });
  t.after(() => pool.close());
  const to: H2Peer = { key: 'app', label: 'app', origin: `http://127.0.0.1:${p.port}` };
  assert.equal(await call(pool, to, `/${10 * PING_MS}`), 200);
  assert.equal(p.pings(), 0);
});
