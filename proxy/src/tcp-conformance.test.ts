// Opaque TCP through two proxies (client outbound → mTLS → server inbound):
// the server half-closing first, server-speaks-first protocols on ports
// declared opaque (served at once; the detection timeout here is longer than
// the test's own timeout) — in the proxy's own config or in the destination's
// profile (its Service's or pod's config.weft.io/opaque-ports), there before
// the connection or arriving while it waits — or in the server's policy (a Server with proxyProtocol opaque),
// and on detected ports (forwarded once the detection
// timeout passed, counted in detect_timeout_total on both proxies), and a
// 1 GiB transfer whose bytes all arrive, in order, while the process's memory
// stays bounded (the whole test process: both proxies, client and server).
// Client-first half-close and 8 MiB transfers are in proxy-tcp.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { pino } from 'pino';
import { startMesh, metricValue, SERVER_ID, type Mesh } from './testing/mesh.js';
import { endpoint } from './discovery/discovery.js';
import { create } from '@bufbuild/protobuf';
import { destination } from '@weft/api';
import { StaticPolicies } from './policy/policies.js';
import { defaultPolicy } from './policy/server-policy.js';

// Made-up service IPs the tests' SO_ORIGINAL_DST stand-ins report.
const SERVICE_IP = '10.96.0.20';
const SMTP_PORT = 25;
/** Server-speaks-first ports declared opaque only by their profile: one known before the connection, one after. */
const PROFILE_PORT = 2525;
const LATE_PROFILE_PORT = 2526;
/** Declared opaque to the client proxy by its config, to the server proxy only by the port's Server (its policy). */
const SERVER_POLICY_PORT = 2527;
const HALF_PORT = 7000;
const SINK_PORT = 7001;
const GIB = 1024 * 1024 * 1024;
const CHUNK = 1024 * 1024;
/** Longer than any test here may take: a connection that waited for detection would fail its test. */
const LONG_DETECT_MS = 120_000;
/** The detected-port mesh: short, so the test observes the timeout and what follows it. */
const SHORT_DETECT_MS = 300;

let opaqueMesh: Mesh;
let detectMesh: Mesh;
/** The client proxy declares no port opaque: only profiles do. */
let profileMesh: Mesh;
let profileDst = PROFILE_PORT;
let serverPolicyMesh: Mesh;
let smtp: net.Server;
let half: net.Server;
let sink: net.Server;
let nextDst = SMTP_PORT;
/** What the half-closing server received after its own FIN. */
let afterServerFin = '';
/** Warnings the detected-port mesh logged (JSON lines). */
const warnings: Array<{ msg: string; direction: string; port: number }> = [];

const portOf = (s: net.Server): number => (s.address() as AddressInfo).port;

before(async () => {
  // Server speaks first: a greeting before the client sends anything (SMTP, MySQL, ...).
  smtp = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.write('220 smtp.test ready\r\n');
    socket.on('data', (d: Buffer) => {
      if (d.toString().startsWith('QUIT')) socket.end('221 bye\r\n');
    });
  });
  // Half-closes first, then keeps reading what the client still sends.
  half = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => undefined);
    socket.end('server-done');
    socket.on('data', (d: Buffer) => (afterServerFin += d.toString()));
    socket.on('end', () => socket.destroy());
  });
  // Counts and hashes everything; answers once the client half-closed.
  sink = net.createServer({ allowHalfOpen: true }, (socket) => {
    const hash = createHash('sha256');
    let n = 0;
    socket.on('data', (d: Buffer) => {
      n += d.length;
      hash.update(d);
    });
    socket.on('end', () => socket.end(`${n}:${hash.digest('hex')}`));
  });
  for (const s of [smtp, half, sink]) s.listen(0, '127.0.0.1');
  await Promise.all([smtp, half, sink].map((s) => once(s, 'listening')));
  const appPorts = [portOf(smtp), portOf(half), portOf(sink)];
  // Opaque on both sides, as the injector configures a port named in config.weft.io/opaque-ports.
  opaqueMesh = await startMesh({
    clientOriginalDst: () => ({ ip: SERVICE_IP, port: nextDst }),
    clientConfig: { opaquePorts: [SMTP_PORT, HALF_PORT, SINK_PORT], detectTimeoutMs: LONG_DETECT_MS },
    serverConfig: { opaquePorts: appPorts, detectTimeoutMs: LONG_DETECT_MS },
  });
  detectMesh = await startMesh({
    log: pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line)) }),
    clientOriginalDst: () => ({ ip: SERVICE_IP, port: SMTP_PORT }),
    clientConfig: { detectTimeoutMs: SHORT_DETECT_MS },
    serverConfig: { detectTimeoutMs: SHORT_DETECT_MS },
  });
  profileMesh = await startMesh({
    clientOriginalDst: () => ({ ip: SERVICE_IP, port: profileDst }),
    clientConfig: { detectTimeoutMs: LONG_DETECT_MS },
    // As the injector configures the server's pod from its own config.weft.io/opaque-ports.
    serverConfig: { opaquePorts: [portOf(smtp)], detectTimeoutMs: LONG_DETECT_MS },
  });
  const policies = new StaticPolicies(defaultPolicy('all-unauthenticated', SERVER_ID));
  policies.set(portOf(smtp), { ...defaultPolicy('all-unauthenticated', SERVER_ID), name: 'smtp', kind: 'server', opaque: true });
  serverPolicyMesh = await startMesh({
    clientOriginalDst: () => ({ ip: SERVICE_IP, port: SERVER_POLICY_PORT }),
    clientConfig: { opaquePorts: [SERVER_POLICY_PORT], detectTimeoutMs: LONG_DETECT_MS },
    serverConfig: { detectTimeoutMs: LONG_DETECT_MS },
    serverPolicies: policies,
  });
  profileMesh.profiles.set(`${SERVICE_IP}:${PROFILE_PORT}`, create(destination.DestinationProfileSchema, { opaqueProtocol: true }));
  for (const [m, port, app] of [
    [profileMesh, PROFILE_PORT, smtp],
    [profileMesh, LATE_PROFILE_PORT, smtp],
    [serverPolicyMesh, SERVER_POLICY_PORT, smtp],
    [opaqueMesh, SMTP_PORT, smtp],
    [opaqueMesh, HALF_PORT, half],
    [opaqueMesh, SINK_PORT, sink],
    [detectMesh, SMTP_PORT, smtp],
  ] as const) {
    m.discovery.set(`${SERVICE_IP}:${port}`, [endpoint('127.0.0.1', portOf(app), { identity: SERVER_ID, inboundPort: m.server.ports.inbound })]);
  }
});

after(async () => {
  await Promise.all([opaqueMesh?.close(), detectMesh?.close(), profileMesh?.close(), serverPolicyMesh?.close()]);
  for (const s of [smtp, half, sink]) s?.close();
});

/** An SMTP-style session: wait for the greeting without sending a byte, then QUIT. */
async function smtpSession(port: number, connected?: () => void): Promise<string> {
  const socket = net.connect(port, '127.0.0.1', connected);
  let got = '';
  socket.on('data', (d: Buffer) => (got += d.toString()));
  while (!got.includes('\r\n')) await once(socket, 'data');
  const greeting = got;
  socket.write('QUIT\r\n');
  await once(socket, 'end');
  socket.destroy();
  return `${greeting}${got.slice(greeting.length)}`;
}

async function metrics(m: Mesh, side: 'client' | 'server'): Promise<string> {
  return (await fetch(`http://127.0.0.1:${m[side].ports.admin}/metrics`)).text();
}

test('a server-speaks-first protocol on an opaque port gets its greeting at once (no detection wait)', { timeout: 60_000 }, async () => {
  nextDst = SMTP_PORT;
  assert.equal(await smtpSession(opaqueMesh.client.ports.outbound), '220 smtp.test ready\r\n221 bye\r\n');
  for (const side of ['client', 'server'] as const) {
    assert.equal(metricValue(await metrics(opaqueMesh, side), 'detect_timeout_total', {}), 0, `${side}: no detection involved`);
  }
});

test('a server-speaks-first protocol declared opaque by its destination\'s profile gets its greeting at once, the profile there before or after the connection', { timeout: 60_000 }, async () => {
  profileDst = PROFILE_PORT;
  assert.equal(await smtpSession(profileMesh.client.ports.outbound), '220 smtp.test ready\r\n221 bye\r\n');
  // No profile yet when the connection comes: it waits in detection (the client says nothing) until the profile
  // declares the port opaque.
  profileDst = LATE_PROFILE_PORT;
  const late = smtpSession(profileMesh.client.ports.outbound, () =>
    setTimeout(() => profileMesh.profiles.set(`${SERVICE_IP}:${LATE_PROFILE_PORT}`, create(destination.DestinationProfileSchema, { opaqueProtocol: true })), 200),
  );
  assert.equal(await late, '220 smtp.test ready\r\n221 bye\r\n');
  assert.equal(metricValue(await metrics(profileMesh, 'client'), 'detect_timeout_total', {}), 0, 'no detection waited out');
});

test('a server-speaks-first protocol on a port its Server declares opaque gets its greeting at once from the server proxy', { timeout: 60_000 }, async () => {
  assert.equal(await smtpSession(serverPolicyMesh.client.ports.outbound), '220 smtp.test ready\r\n221 bye\r\n');
  assert.equal(metricValue(await metrics(serverPolicyMesh, 'server'), 'detect_timeout_total', {}), 0, 'no detection waited out');
});

test('a server-speaks-first protocol on a detected port works after the detection timeout, counted on both proxies and logged once', { timeout: 60_000 }, async () => {
  for (let i = 0; i < 2; i++) assert.equal(await smtpSession(detectMesh.client.ports.outbound), '220 smtp.test ready\r\n221 bye\r\n');
  // The client proxy waited for the client, then the server proxy (the port is detected there too) for the stream.
  assert.equal(metricValue(await metrics(detectMesh, 'client'), 'detect_timeout_total', { direction: 'outbound' }), 2);
  assert.equal(metricValue(await metrics(detectMesh, 'server'), 'detect_timeout_total', { direction: 'inbound' }), 2);
  // One warning per proxy and port, however many connections: it names the port and the fix.
  const detectWarnings = warnings.filter((w) => w.msg.includes('protocol detection timed out'));
  assert.deepEqual(detectWarnings.map((w) => w.direction).sort(), ['inbound', 'outbound']);
  assert.equal(detectWarnings.find((w) => w.direction === 'outbound')?.port, SMTP_PORT);
  for (const w of detectWarnings) assert.match(w.msg, /opaque-ports/);
});

test('half-close from the server: its FIN reaches the client, which can still send', { timeout: 60_000 }, async () => {
  nextDst = HALF_PORT;
  afterServerFin = '';
  const socket = net.connect({ port: opaqueMesh.client.ports.outbound, host: '127.0.0.1', allowHalfOpen: true });
  let got = '';
  socket.on('data', (d: Buffer) => (got += d.toString()));
  await once(socket, 'end');
  assert.equal(got, 'server-done');
  socket.end('client-after-server-fin');
  await once(socket, 'close');
  for (let i = 0; i < 400 && afterServerFin === ''; i++) await new Promise((r) => setTimeout(r, 25));
  assert.equal(afterServerFin, 'client-after-server-fin');
});

test('1 GiB through two proxies arrives whole and in order while memory stays bounded', { timeout: 600_000 }, async () => {
  nextDst = SINK_PORT;
  const hash = createHash('sha256');
  // Every chunk differs (its index and a fill byte), so a lost, repeated or reordered chunk changes the hash.
  const source = Readable.from(
    (function* () {
      for (let i = 0; i < GIB / CHUNK; i++) {
        const chunk = Buffer.allocUnsafe(CHUNK).fill(i & 0xff);
        chunk.writeUInt32BE(i, 0);
        hash.update(chunk);
        yield chunk;
      }
    })(),
  );
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  try {
    const socket = net.connect({ port: opaqueMesh.client.ports.outbound, host: '127.0.0.1', allowHalfOpen: true });
    let reply = '';
    socket.on('data', (d: Buffer) => (reply += d.toString()));
    source.pipe(socket);
    await once(socket, 'end');
    socket.destroy();
    assert.equal(reply, `${GIB}:${hash.digest('hex')}`);
  } finally {
    clearInterval(sampler);
  }
  const grewMiB = (peak - baseline) / 1024 / 1024;
  // Backpressure end to end: the process (two proxies, client and server) holds a bounded window, not the transfer.
  console.log(`# 1 GiB transfer: RSS ${Math.round(baseline / 1048576)} MiB → peak ${Math.round(peak / 1048576)} MiB (+${Math.round(grewMiB)} MiB)`);
  assert.ok(grewMiB < 256, `RSS grew by ${Math.round(grewMiB)} MiB during a 1024 MiB transfer`);
});
