// The bounds on establishing a connection (connect-bound.ts), with real
// sockets on loopback: a connect nobody answers, a TCP peer that never
// speaks TLS, and connections that come up in time and must not be touched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { boundConnect, ConnectTimeoutError } from './connect-bound.js';
import { silentPort, type SilentPort } from './testing/silent-port.js';

const BOUNDS = { connectMs: 300, handshakeMs: 400, keepAliveMs: 10_000 };
let silent: SilentPort;
/** Accepts TCP and says nothing (a peer that never answers a ClientHello). */
let mute: net.Server;
const muted: net.Socket[] = [];

before(async () => {
  silent = await silentPort();
  mute = net.createServer((s) => {
    // A peer that never speaks still sees its clients give up: a client that closes while the peer holds its
    // connection can reset it. That is the client's business, not an error of this test's peer.
    s.on('error', () => undefined);
    muted.push(s);
  });
  await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
});

after(async () => {
  silent.close();
  for (const s of muted) s.destroy();
  await new Promise<void>((r) => mute.close(() => r()));
});

async function failure(socket: net.Socket): Promise<Error> {
  const [err] = (await once(socket, 'error')) as [Error];
  return err;
}

test('a TCP connect nobody answers ends with ConnectTimeoutError', async () => {
  const s = boundConnect(net.connect(silent.port, silent.host), 'silent', BOUNDS);
  const err = await failure(s);
  assert.ok(err instanceof ConnectTimeoutError, String(err));
  assert.equal(err.message, 'weft: no answer from silent within 300 ms (TCP connect)');
  assert.ok(s.destroyed);
});

test('the same over TLS: the TCP connect is bounded before any handshake', async () => {
  const s = boundConnect(tls.connect({ host: silent.host, port: silent.port, rejectUnauthorized: false }), 'silent tls', BOUNDS);
  const err = await failure(s);
  assert.ok(err instanceof ConnectTimeoutError, String(err));
  assert.match(err.message, /no answer from silent tls within 300 ms/);
});

test('TCP up but the TLS handshake never finishes: ConnectTimeoutError after the handshake bound', async () => {
  const port = (mute.address() as net.AddressInfo).port;
  const s = boundConnect(tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }), 'mute', BOUNDS);
  let connected = false;
  s.once('connect', () => (connected = true));
  const err = await failure(s);
  assert.ok(connected, 'the TCP connect itself succeeded');
  assert.ok(err instanceof ConnectTimeoutError, String(err));
  assert.equal(err.message, 'weft: mute did not finish the TLS handshake within 400 ms');
});

test('a connection that comes up in time is left alone after the bounds have passed', async () => {
  const port = (mute.address() as net.AddressInfo).port;
  const plain = boundConnect(net.connect(port, '127.0.0.1'), 'plain', BOUNDS);
  await once(plain, 'connect');
  // Past both bounds, the connected socket is still open and usable.
  await new Promise((r) => setTimeout(r, BOUNDS.connectMs + BOUNDS.handshakeMs + 100));
  assert.equal(plain.destroyed, false);
  assert.equal(plain.write('still here'), true);
  plain.destroy();
});
