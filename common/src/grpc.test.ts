// The shared gRPC server over real TLS: TLS 1.3 is the floor on every
// certificate it ever serves, not only the first one; a message over the
// size limit or a gzip bomb is RESOURCE_EXHAUSTED (or UNIMPLEMENTED when
// compression is off) and the server goes on serving; handlers see the
// caller's address.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { create, createFileRegistry, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { GenService } from '@bufbuild/protobuf/codegenv2';
import { BytesValueSchema, FileDescriptorProtoSchema, StringValueSchema, file_google_protobuf_wrappers } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type ConnectRouter } from '@connectrpc/connect';
import { createGrpcClient, peerAddress, peerCertificate, startGrpcServer, type GrpcServer, type GrpcServerLimits, type TlsMaterial } from './grpc.js';
import { gzipOfZeros, grpcEnvelope, rawGrpcCall } from './testing/grpc-wire.js';
import { TestPki } from './testing/pki.js';

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
