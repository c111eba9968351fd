// The shared gRPC server over real TLS: TLS 1.3 is the floor on every
// certificate it ever serves, not only the first one; a message over the
// size limit or a gzip bomb is RESOURCE_EXHAUSTED (or UNIMPLEMENTED when
// compression is off) and the server goes on serving; handlers see the
// caller's address.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { once } from 'node:events';
import tls from 'node:tls';
import { create, createFileRegistry, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { GenService } from '@bufbuild/protobuf/codegenv2';
import { BytesValueSchema, FileDescriptorProtoSchema, StringValueSchema, file_google_protobuf_wrappers } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type ConnectRouter } from '@connectrpc/connect';
import { createGrpcClient, peerAddress, peerCertificate, startGrpcServer, type GrpcServer, type GrpcServerLimits, type TlsMaterial } from './grpc.js';
import { gzipOfZeros, grpcEnvelope, rawGrpcCall } from './testing/grpc-wire.js';
import { TestPki } from './testing/pki.js';
import { silentPort } from './testing/silent-port.js';
import { vanish, vanishUnavailable } from './testing/vanish.js';

/** Why a peer cannot vanish for real here (iptables), or undefined. */
const cannotVanish = await vanishUnavailable();
const pki = new TestPki();
const servers: GrpcServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  pki.dispose();
});

const anchor = pki.cert({ subject: '/CN=root.weft', ca: true });
const SERVER_NAME = 'control.weft.serviceaccount.identity.weft.cluster.local';

function material(subject: string): TlsMaterial {
  const c = pki.cert({ subject, issuer: anchor, dns: [SERVER_NAME] });
  return { ca: anchor.cert, cert: c.cert, key: c.key };
}

async function start(tlsMaterial: TlsMaterial, limits?: Partial<GrpcServerLimits>): Promise<GrpcServer> {
  const server = await startGrpcServer({ host: '127.0.0.1', port: 0, tls: tlsMaterial, requireClientCert: false, routes: echoRoutes, ...(limits ? { limits } : {}) });
  servers.push(server);
  return server;
}

// A one-method test service, `weft.test.Echo/Echo(BytesValue) returns (StringValue)`, described in code so common needs no generated API.
const registry = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: 'weft/test/echo.proto',
    package: 'weft.test',
    dependency: ['google/protobuf/wrappers.proto'],
    syntax: 'proto3',
    service: [{ name: 'Echo', method: [{ name: 'Echo', inputType: '.google.protobuf.BytesValue', outputType: '.google.protobuf.StringValue' }] }],
  }),
  (name) => (name === 'google/protobuf/wrappers.proto' ? file_google_protobuf_wrappers : undefined),
);
const Echo = registry.getService('weft.test.Echo') as GenService<{ echo: { methodKind: 'unary'; input: typeof BytesValueSchema; output: typeof StringValueSchema } }>;
const ECHO_PATH = '/weft.test.Echo/Echo';

function echoRoutes(router: ConnectRouter): void {
  router.service(Echo, { echo: (req, ctx) => ({ value: `${req.value.length} bytes from ${peerAddress(ctx)}` }) });
}

async function echo(server: GrpcServer, bytes: number): Promise<string> {
  const client = createGrpcClient(Echo, { baseUrl: `https://127.0.0.1:${server.port}`, ca: anchor.cert, serverName: SERVER_NAME });
  return (await client.echo({ value: new Uint8Array(bytes) })).value;
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return Code[ConnectError.from(err).code];
  }
}

/** Handshakes with the given TLS version range; resolves with the negotiated version and the served certificate's subject. */
function handshake(port: number, versions: { minVersion: tls.SecureVersion; maxVersion: tls.SecureVersion }): Promise<{ protocol: string; subject: string }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: SERVER_NAME, ca: anchor.cert, ALPNProtocols: ['h2'], ...versions }, () => {
      const result = { protocol: socket.getProtocol() ?? '', subject: socket.getPeerX509Certificate()?.subject ?? '' };
      socket.destroy();
      resolve(result);
    });
    socket.on('error', reject);
  });
}

const TLS12_ONLY = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' } as const;
const TLS13 = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } as const;

test('a TLS 1.2-only client is refused, before and after the served certificate rotates', async () => {
  const server = await start(material('/CN=first'));
  await assert.rejects(handshake(server.port, TLS12_ONLY), /protocol version|unsupported protocol|alert/i);
  server.setTls(material('/CN=second'));
  assert.deepEqual(await handshake(server.port, TLS13), { protocol: 'TLSv1.3', subject: 'CN=second' });
  await assert.rejects(handshake(server.port, TLS12_ONLY), /protocol version|unsupported protocol|alert/i);
});

test('a message over maxMessageBytes is RESOURCE_EXHAUSTED, and the server serves the next call', async () => {
  const server = await start(material('/CN=small'), { maxMessageBytes: 1024 });
  assert.equal(await code(echo(server, 4096)), 'ResourceExhausted');
  assert.equal(await echo(server, 1000), '1000 bytes from 127.0.0.1');
});

test('a gzip bomb stops inflating at maxMessageBytes: RESOURCE_EXHAUSTED, and the server serves the next call', async () => {
  const server = await start(material('/CN=gzip'), { maxMessageBytes: 64 * 1024, acceptGzip: true });
  // 16 MiB of zeros in a BytesValue: field 1, length-delimited; the zeros inflate from ~16 KiB of gzip.
  const bomb = await gzipOfZeros(16 * 1024 * 1024);
  const reply = await rawGrpcCall({ port: server.port, serverName: SERVER_NAME, ca: anchor.cert }, ECHO_PATH, grpcEnvelope(bomb, true), { 'grpc-encoding': 'gzip' });
  assert.equal(reply.grpcStatus, Code.ResourceExhausted, reply.grpcMessage);
  assert.match(reply.grpcMessage, /larger than configured readMaxBytes 65536 after decompression/);
  // The same wire path, honestly sized, is answered: the refusal is about size, not about hand-written calls.
  const small = toBinary(BytesValueSchema, create(BytesValueSchema, { value: new Uint8Array(10) }));
  const ok = await rawGrpcCall({ port: server.port, serverName: SERVER_NAME, ca: anchor.cert }, ECHO_PATH, grpcEnvelope(small));
  assert.equal(ok.grpcStatus, 0, ok.grpcMessage);
  assert.equal(fromBinary(StringValueSchema, ok.messages[0]!).value, '10 bytes from 127.0.0.1');
});

test('with acceptGzip false a compressed request is UNIMPLEMENTED and never inflated', async () => {
  const server = await start(material('/CN=nogzip'), { acceptGzip: false });
  const bomb = await gzipOfZeros(1024 * 1024);
  const reply = await rawGrpcCall({ port: server.port, serverName: SERVER_NAME, ca: anchor.cert }, ECHO_PATH, grpcEnvelope(bomb, true), { 'grpc-encoding': 'gzip' });
  assert.equal(reply.grpcStatus, Code.Unimplemented, reply.grpcMessage);
  assert.match(reply.grpcMessage, /unknown compression "gzip"/);
  assert.equal(await echo(server, 5), '5 bytes from 127.0.0.1');
});

test('the defaults keep gRPC\'s customary 4 MiB message cap', async () => {
  const server = await start(material('/CN=defaults'));
  assert.equal(await echo(server, 4 * 1024 * 1024 - 64), `${4 * 1024 * 1024 - 64} bytes from 127.0.0.1`);
  assert.equal(await code(echo(server, 4 * 1024 * 1024 + 1)), 'ResourceExhausted');
});

test('an untrusted client certificate never reaches a handler as the caller; a trusted one does', async () => {
  const Who = Echo;
  const server = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    tls: material('/CN=who'),
    requireClientCert: false,
    routes: (router) => router.service(Who, { echo: (_req, ctx) => ({ value: peerCertificate(ctx)?.subject ?? 'anonymous' }) }),
  });
  servers.push(server);
  const ask = async (client: { cert: string; key: string }) =>
    (await createGrpcClient(Who, { baseUrl: `https://127.0.0.1:${server.port}`, ca: anchor.cert, serverName: SERVER_NAME, ...client }).echo({ value: new Uint8Array(0) })).value;
  const trusted = pki.cert({ subject: '/CN=trusted-client', issuer: anchor });
  assert.match(await ask(trusted), /CN=trusted-client/);
  const strangerRoot = pki.cert({ subject: '/CN=stranger root', ca: true });
  const forged = pki.cert({ subject: '/CN=trusted-client', issuer: strangerRoot });
  assert.equal(await ask(forged), 'anonymous');
});

/** A TCP relay to a server; `freeze()` stops forwarding on the connections it holds, leaving them open (a peer that vanished). */
async function relayTo(port: number): Promise<{ port: number; freeze(): void; close(): Promise<void> }> {
  const pairs: [net.Socket, net.Socket][] = [];
  const sockets: net.Socket[] = [];
  const relay = net.createServer((c) => {
    const u = net.connect(port, '127.0.0.1');
    c.pipe(u);
    u.pipe(c);
    c.on('error', () => u.destroy());
    u.on('error', () => c.destroy());
    pairs.push([c, u]);
    sockets.push(c, u);
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  return {
    port: (relay.address() as net.AddressInfo).port,
    freeze() {
      for (const [c, u] of pairs.splice(0)) {
        c.unpipe(u);
        u.unpipe(c);
        c.pause();
        u.pause();
      }
    },
    close: () =>
      new Promise<void>((r) => {
        relay.close(() => r());
        for (const s of sockets) s.destroy();
      }),
  };
}

const FAST = { pingIntervalMs: 200, pingTimeoutMs: 300, connect: { connectMs: 300, handshakeMs: 300, keepAliveMs: 10_000 } };

test('a connection whose server went silent (open, nothing answered) fails its call after the keepalive PING goes unanswered; the next call opens a new one', { timeout: 30_000 }, async () => {
  const server = await start(material('/CN=control'));
  const relay = await relayTo(server.port);
  try {
    const client = createGrpcClient(Echo, { baseUrl: `https://127.0.0.1:${relay.port}`, ca: anchor.cert, serverName: SERVER_NAME, liveness: FAST });
    assert.match((await client.echo({ value: new Uint8Array(3) })).value, /^3 bytes from /);
    relay.freeze();
    // Sent at once on the frozen connection (used just now, so not verified first): only the PING can find it dead.
    const err = await client.echo({ value: new Uint8Array(4) }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    assert.ok(err, 'the call on the silent connection failed instead of waiting for good');
    assert.match(err.message, /PING|ping/, err.message);
    assert.match((await client.echo({ value: new Uint8Array(5) })).value, /^5 bytes from /, 'a new connection serves the next call');
  } finally {
    await relay.close();
  }
});

test('a server address whose connects go unanswered fails the call at the connect bound, saying so', { timeout: 30_000 }, async () => {
  const silent = await silentPort();
  try {
    const client = createGrpcClient(Echo, { baseUrl: `https://${silent.host}:${silent.port}`, ca: anchor.cert, serverName: SERVER_NAME, liveness: FAST });
    const err = await client.echo({ value: new Uint8Array(1) }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    assert.ok(err);
    assert.equal(Code[err.code], 'Unavailable');
    assert.match(err.message, new RegExp(`no answer from ${silent.host.replace(/\./g, '\\.')}:${silent.port} within 300 ms`));
  } finally {
    silent.close();
  }
});

test('a client whose node vanished (no FIN, no RST: iptables drops its packets) loses its connection to the server after TCP keepalive, not never', { timeout: 60_000, skip: cannotVanish }, async (t) => {
  const server = await start(material('/CN=control'));
  const arrived = once(server.server, 'session') as Promise<[http2.ServerHttp2Session]>;
  const client = http2.connect(`https://127.0.0.1:${server.port}`, { ca: anchor.cert, servername: SERVER_NAME, minVersion: 'TLSv1.3' });
  client.on('error', () => undefined);
  t.after(() => client.destroy());
  const [[session]] = await Promise.all([arrived, once(client, 'connect')]);
  // Settled: the handshake and the SETTINGS exchange acknowledged, nothing in flight either way.
  await new Promise((r) => setTimeout(r, 500));
  const gone = await vanish(server.port);
  t.after(() => gone.restore());
  const failed = new Promise<NodeJS.ErrnoException>((resolve) => session.once('error', resolve));
  const closed = new Promise((resolve) => session.once('close', resolve));
  // Idle 10 s, then ten probes a second apart (connect-bound.ts KEEPALIVE_MS): the server closes it on its own.
  await closed;
  assert.equal((await failed).code, 'ETIMEDOUT');
});
