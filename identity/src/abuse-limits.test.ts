// identity's Certify under attack, over the real gRPC server on TLS: an
// oversized message and a gzip bomb are refused without hurting the CA, a
// connection cannot hold more streams than the cap, and a flood from one
// source is cut off before it reaches the token validator; each time an
// honest Certify is served right after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { identity as api } from '@weft/api';
import { createGrpcClient } from '@weft/common/grpc';
import {
  FRAME,
  RawHttp2Connection,
  gzipOfZeros,
  grpcEnvelope,
  rawGrpcCall,
  splitEnvelopes,
  type GrpcTarget,
} from '@weft/common/testing/grpc-wire';
import { certify } from './client.js';
import { MAX_CSR_BYTES } from './csr.js';
import { CERTIFY_SERVER_LIMITS, type IdentityServiceOptions } from './identity-service.js';
import { generateLocalCa } from './local-ca.js';
import { FakeTokenValidator } from './testing/fake-token-validator.js';
import { callOutcome, startTestIdentity, testFiles } from './testing/serve.js';
import { opensslCsr } from './testing/openssl-csr.js';
import { waitFor } from '@weft/common/poll';
import { MAX_TOKEN_BYTES, type ServiceAccountToken } from './token-validator.js';

const { pki, services } = testFiles();

const WEB = 'web.demo.serviceaccount.identity.weft.cluster.local';
const CERTIFY_PATH = '/weft.identity.v1.Identity/Certify';
const REFUSED_STREAM = 0x7;
const MiB = 1024 * 1024;
const csr = opensslCsr(pki, { key: 'ec', subject: `/CN=${WEB}` }).der;

/** The fake validator, counting how often Certify got as far as asking it (a TokenReview in the cluster). */
class CountingValidator extends FakeTokenValidator {
  calls = 0;

  override validate(token: string): Promise<ServiceAccountToken> {
    this.calls++;
    return super.validate(token);
  }
}

async function start(extra: Omit<Partial<IdentityServiceOptions>, 'validator'> = {}) {
  const ca = await generateLocalCa();
  const { service, validator, registry } = await startTestIdentity({ ...extra, issuer: ca.issuer, anchorPem: ca.anchorPem, validator: new CountingValidator() });
  services.push(service);
  const token = validator.issue('demo', 'web');
  const target: GrpcTarget = { port: service.port, serverName: service.serverName, ca: ca.anchorPem };
  const client = createGrpcClient(api.Identity, {
    baseUrl: `https://127.0.0.1:${service.port}`,
    ca: ca.anchorPem,
    serverName: service.serverName,
  });
  const tokenFile = pki.file(`token-${services.length}`, token);
  const certifyWeb = () =>
    certify({ addr: `127.0.0.1:${service.port}`, serverName: service.serverName, trustAnchorsPem: ca.anchorPem, tokenFile, identity: WEB });
  /** An honest Certify request on the wire: the 5-byte prefix and the protobuf message. */
  const honestBody = grpcEnvelope(
    toBinary(
      api.CertifyRequestSchema,
      create(api.CertifyRequestSchema, { identity: WEB, token: new TextEncoder().encode(token), certificateSigningRequest: csr }),
    ),
  );
  return { service, validator, registry, target, client, certifyWeb, honestBody };
}

const code = callOutcome;

/** The subject of the leaf in a raw Certify answer. */
function leafSubject(body: Buffer | undefined): string {
  const [message] = splitEnvelopes(body ?? Buffer.alloc(0));
  assert.ok(message, 'no Certify response message');
  return new X509Certificate(fromBinary(api.CertifyResponseSchema, message).leafCertificate).subject;
}

test('a Certify message over 64 KiB is RESOURCE_EXHAUSTED before any token check, and the next honest Certify is served', async () => {
  const { client, validator, certifyWeb } = await start();
  const huge = new Uint8Array(CERTIFY_SERVER_LIMITS.maxMessageBytes);
  assert.equal(await code(client.certify({ identity: WEB, token: huge, certificateSigningRequest: csr })), 'ResourceExhausted');
  assert.equal(validator.calls, 0);
  assert.equal(new X509Certificate((await certifyWeb()).certPem).subject, `CN=${WEB}`);
});

test('the largest request the certifier reads (16 KiB token, 16 KiB CSR) still fits the message cap', async () => {
  const { client, validator } = await start();
  const token = new Uint8Array(MAX_TOKEN_BYTES).fill(0x61);
  assert.equal(
    await code(client.certify({ identity: WEB, token, certificateSigningRequest: new Uint8Array(MAX_CSR_BYTES) })),
    'Unauthenticated',
  );
  assert.equal(validator.calls, 1);
});

test('a gzip bomb (64 MiB of zeros) is refused without being inflated, and the next honest Certify is served', async () => {
  const { target, validator, certifyWeb } = await start();
  const bomb = grpcEnvelope(await gzipOfZeros(64 * MiB), true);
  // Watch the process's Buffer memory while identity handles the bomb: inflating it would add 64 MiB.
  const before = process.memoryUsage().arrayBuffers;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)), 1);
  const reply = await rawGrpcCall(target, CERTIFY_PATH, bomb, { 'grpc-encoding': 'gzip' });
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().arrayBuffers);
  assert.ok(peak - before < 16 * MiB, `Buffer memory grew by ${((peak - before) / MiB).toFixed(1)} MiB`);
  assert.ok(
    reply.grpcStatus === Code.Unimplemented || reply.grpcStatus === Code.ResourceExhausted,
    `status ${reply.grpcStatus} ${reply.grpcMessage}`,
  );
  assert.equal(validator.calls, 0);
  assert.equal(new X509Certificate((await certifyWeb()).certPem).subject, `CN=${WEB}`);
});

test('streams past the cap, opened before the client acknowledged it, are REFUSED_STREAM; the connection survives and serves the rest', async () => {
  // 17 Certify calls from 127.0.0.1 in this test: above the default per-source burst, which is not under test here.
  const { target, honestBody } = await start({ certifyRateLimit: { burst: 100, perMinute: 60 } });
  const cap = CERTIFY_SERVER_LIMITS.maxConcurrentStreams;
  const conn = await RawHttp2Connection.open(target);
  try {
    // Client stream ids are odd: 1, 3, 5, ... All HEADERS go out at once, bodies held back, so every stream stays open.
    const ids = Array.from({ length: cap + 4 }, (_, i) => 1 + 2 * i);
    for (const id of ids) conn.openGrpcStream(id, CERTIFY_PATH);
    await waitFor('the streams past the cap to be refused', () => conn.resets().size >= 4 || conn.isClosed);
    assert.deepEqual(
      [...conn.resets()],
      ids.slice(cap).map((id) => [id, REFUSED_STREAM]),
    );
    conn.ackSettings();
    const open = ids.slice(0, cap);
    for (const id of open) conn.sendBody(id, honestBody);
    await waitFor('answers on the streams within the cap', () => open.every((id) => conn.responseBody(id) !== undefined) || conn.isClosed);
    for (const id of open) assert.equal(leafSubject(conn.responseBody(id)), `CN=${WEB}`, `stream ${id}`);
    // Slots are free again: a new stream on the same connection is served.
    const next = ids.at(-1)! + 2;
    conn.openGrpcStream(next, CERTIFY_PATH);
    conn.sendBody(next, honestBody);
    await waitFor('an answer on a new stream', () => conn.responseBody(next) !== undefined || conn.isClosed);
    assert.equal(leafSubject(conn.responseBody(next)), `CN=${WEB}`);
    assert.ok(!conn.isClosed);
    assert.ok(!conn.frames.some((f) => f.type === FRAME.GOAWAY));
  } finally {
    conn.close();
  }
});

test('a client that opens more streams than the cap it acknowledged loses its connection; identity keeps serving others', async () => {
  const { target, certifyWeb } = await start();
  const conn = await RawHttp2Connection.open(target);
  try {
    await waitFor("identity's SETTINGS", () => conn.frames.some((f) => f.type === FRAME.SETTINGS && f.flags === 0));
    conn.ackSettings();
    for (let i = 0; i <= CERTIFY_SERVER_LIMITS.maxConcurrentStreams; i++) conn.openGrpcStream(1 + 2 * i, CERTIFY_PATH);
    // nghttp2 treats a stream past an acknowledged limit as a protocol error of the connection.
    await waitFor('identity to react to the extra stream', () => conn.isClosed || conn.resets().size > 0);
    await waitFor('identity to close the connection', () => conn.isClosed);
  } finally {
    conn.close();
  }
  assert.equal(new X509Certificate((await certifyWeb()).certPem).subject, `CN=${WEB}`);
});

test('a Certify flood from one source is RESOURCE_EXHAUSTED past the burst; the token validator sees at most the burst', async () => {
  let nowMs = Date.now();
  const { client, validator, certifyWeb, registry } = await start({
    certifyRateLimit: { burst: 3, perMinute: 6 },
    now: () => new Date(nowMs),
  });
  const token = new TextEncoder().encode('flood');
  const results: string[] = [];
  // Two waves of ten concurrent calls on one connection (under the stream cap, which is tested above).
  for (let wave = 0; wave < 2; wave++)
    results.push(
      ...(await Promise.all(
        Array.from({ length: 10 }, () => code(client.certify({ identity: WEB, token, certificateSigningRequest: csr }))),
      )),
    );
  assert.equal(results.filter((r) => r === 'Unauthenticated').length, 3);
  assert.equal(results.filter((r) => r === 'ResourceExhausted').length, 17);
  assert.equal(validator.calls, 3);
  const refused = await client
    .certify({ identity: WEB, token, certificateSigningRequest: csr })
    .catch((err: unknown) => ConnectError.from(err));
  assert.match(
    String((refused as ConnectError).rawMessage),
    /^too many Certify calls from 127\.0\.0\.1 \(at most 3 at once, then 6 a minute\); retry in 10s$/,
  );
  assert.match(await registry.metrics(), /weft_identity_certify_total\{result="resource_exhausted",component="identity-test"\} 18/);
  // Ten seconds later (6 a minute) the source has one call again, and an honest proxy on it is served.
  nowMs += 10_000;
  assert.equal(new X509Certificate((await certifyWeb()).certPem).subject, `CN=${WEB}`);
  assert.equal(validator.calls, 4);
  assert.equal(await code(certifyWeb()), 'ResourceExhausted');
});
