// The identity service end to end: a proxy-like client generates a key and
// CSR, calls Certify over a real TLS gRPC connection, and gets a leaf openssl
// accepts; refusals arrive as gRPC statuses; the issuer rotates without a
// failed call and without forgetting a working issuer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { identity as api } from '@weft/api';
import { createGrpcClient } from '@weft/common/grpc';
import type { CertAndKey } from '@weft/common/testing/pki';
import { certify } from './client.js';
import type { IdentityService, IdentityServiceOptions } from './identity-service.js';
import { callOutcome, startTestIdentity, testFiles } from './testing/serve.js';
import { IssuerError, type IssuerMaterial } from './issuer.js';
import { LEVEL } from './testing/log-capture.js';
import { opensslCsr } from './testing/openssl-csr.js';

const { pki, services } = testFiles();

const WEB = 'web.demo.serviceaccount.identity.weft.cluster.local';
const material = (c: CertAndKey): IssuerMaterial => ({ certPem: c.cert, keyPem: c.key });

async function start(anchorPem: string, issuer: CertAndKey, now?: () => Date, extra: Omit<Partial<IdentityServiceOptions>, 'validator'> = {}) {
  const { service, validator, issuerSource, trustSource, records, registry } = await startTestIdentity({
    issuer: material(issuer),
    anchorPem,
    ...(now ? { now } : {}),
    ...extra,
  });
  services.push(service);
  const tokenFile = pki.file(`token-${services.length}`, validator.issue('demo', 'web'));
  const certifyWeb = () =>
    certify({ addr: `127.0.0.1:${service.port}`, serverName: service.serverName, trustAnchorsPem: service.trustAnchorsPem(), tokenFile, identity: WEB });
  return { service, validator, issuerSource, trustSource, records, registry, certifyWeb };
}

function verifyWithOpenssl(name: string, creds: { certPem: string; chainPem: string }, anchorsPem: string): void {
  const leaf = pki.file(`${name}-leaf.pem`, creds.certPem);
  const chain = pki.file(`${name}-chain.pem`, creds.chainPem);
  const anchors = pki.file(`${name}-anchors.pem`, anchorsPem);
  assert.match(pki.verify(leaf, anchors, chain, 'sslclient'), /: OK/);
  assert.match(pki.verify(leaf, anchors, chain, 'sslserver'), /: OK/);
}

/** The issuer of the certificate identity presents on a fresh TLS connection. */
function servingIssuer(service: IdentityService): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: service.port, servername: service.serverName, ca: service.trustAnchorsPem(), ALPNProtocols: ['h2'] }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.destroy();
      resolve(cert?.issuer ?? '');
    });
    socket.on('error', reject);
  });
}

function metric(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.split(' ')[1]) : 0;
}

test('a proxy-like client gets a leaf over TLS gRPC that openssl accepts for client and server use', async () => {
  const anchor = pki.cert({ subject: '/CN=root.weft', ca: true });
  const issuer = pki.cert({ subject: '/CN=issuer-1', ca: true, issuer: anchor });
  const { certifyWeb, registry } = await start(anchor.cert, issuer);
  const creds = await certifyWeb();
  verifyWithOpenssl('e2e', creds, anchor.cert);
  assert.equal(new X509Certificate(creds.certPem).subject, `CN=${WEB}`);
  assert.ok(creds.validUntil.getTime() > Date.now() + 23 * 3_600_000);
  assert.match(creds.keyPem, /BEGIN PRIVATE KEY/);
  const text = await registry.metrics();
  assert.equal(metric(text, 'weft_identity_certify_total{result="ok",component="identity-test"}'), 1);
  assert.ok(metric(text, 'weft_identity_issuer_expiry_timestamp_seconds{component="identity-test"}') > Date.now() / 1000);
});

test('identity serves with its own weft-identity leaf from the issuer', async () => {
  const anchor = pki.cert({ subject: '/CN=root.weft', ca: true });
  const issuer = pki.cert({ subject: '/CN=issuer-self', ca: true, issuer: anchor });
  const { service } = await start(anchor.cert, issuer);
  assert.equal(service.serverName, 'weft-identity.weft.serviceaccount.identity.weft.cluster.local');
  assert.equal(await servingIssuer(service), 'CN=issuer-self');
});

test('refusals reach the client as UNAUTHENTICATED, PERMISSION_DENIED and INVALID_ARGUMENT, and are counted', async () => {
  const anchor = pki.cert({ subject: '/CN=root.weft', ca: true });
  const issuer = pki.cert({ subject: '/CN=issuer-1', ca: true, issuer: anchor });
  const { service, validator, registry } = await start(anchor.cert, issuer);
  const client = createGrpcClient(api.Identity, { baseUrl: `https://127.0.0.1:${service.port}`, ca: anchor.cert, serverName: service.serverName });
  const csr = opensslCsr(pki, { key: 'ec', subject: `/CN=${WEB}` }).der;
  const code = callOutcome;
  const token = (t: string) => new TextEncoder().encode(t);
  assert.equal(await code(client.certify({ identity: WEB, token: token('forged'), certificateSigningRequest: csr })), 'Unauthenticated');
  const adminToken = validator.issue('demo', 'admin');
  assert.equal(await code(client.certify({ identity: WEB, token: token(adminToken), certificateSigningRequest: csr })), 'PermissionDenied');
  const webToken = validator.issue('demo', 'web');
  assert.equal(await code(client.certify({ identity: WEB, token: token(webToken), certificateSigningRequest: new Uint8Array([1, 2, 3]) })), 'InvalidArgument');
  // The server is still up and certifies the honest request after the refusals.
  assert.equal(await code(client.certify({ identity: WEB, token: token(webToken), certificateSigningRequest: csr })), 'ok');
  const text = await registry.metrics();
  for (const result of ['unauthenticated', 'permission_denied', 'invalid_argument', 'ok']) {
    assert.equal(metric(text, `weft_identity_certify_total{result="${result}",component="identity-test"}`), 1, result);
  }
});

test('an expired issuer is refused at start, naming the problem', async () => {
  const anchor = pki.cert({ subject: '/CN=root.weft', ca: true, days: 3650 });
  const issuer = pki.cert({ subject: '/CN=expiring-issuer', ca: true, issuer: anchor, days: 1 });
  const later = new Date(Date.now() + 3 * 24 * 3_600_000);
  await assert.rejects(start(anchor.cert, issuer, () => later), (err: unknown) => err instanceof IssuerError && /"CN=expiring-issuer" expired at/.test(err.message));
});

test('identity is not ready while its issuer is expired, and ready again once a renewed issuer arrives', async () => {
  const anchor = pki.cert({ subject: '/CN=root.weft', ca: true, days: 3650 });
  const issuer = pki.cert({ subject: '/CN=short-issuer', ca: true, issuer: anchor, days: 1 });
  let nowMs = Date.now();
  const { service, issuerSource } = await start(anchor.cert, issuer, () => new Date(nowMs));
  assert.equal(service.notReadyReason(), undefined);
  nowMs += 2 * 24 * 3_600_000;
  assert.match(service.notReadyReason() ?? '', /^issuer certificate "CN=short-issuer" expired at \d{4}-\d\d-\d\dT/);
  issuerSource.set(material(pki.cert({ subject: '/CN=renewed-issuer', ca: true, issuer: anchor, days: 365 })));
  await service.issuer.settled();
  assert.equal(service.notReadyReason(), undefined);
});

test('an issuer expiring within 60 days starts with a warning', async () => {
  const anchor = pki.cert({ subject: '/CN=root.weft', ca: true, days: 3650 });
  const issuer = pki.cert({ subject: '/CN=soon-issuer', ca: true, issuer: anchor, days: 30 });
  const { records } = await start(anchor.cert, issuer);
  assert.ok(records.some((r) => r.level === LEVEL.warn && /expires within 60 days/.test(r.msg)));
  const fresh = pki.cert({ subject: '/CN=fresh-issuer', ca: true, issuer: anchor, days: 365 });
  const quiet = await start(anchor.cert, fresh);
  assert.ok(!quiet.records.some((r) => r.level === LEVEL.warn));
});

test('after the issuer rotates, new leaves chain to the new issuer and old leaves still verify against the bundle', async () => {
  const anchor = pki.cert({ subject: '/CN=root.weft', ca: true });
  const first = pki.cert({ subject: '/CN=issuer-first', ca: true, issuer: anchor });
  const { service, issuerSource, certifyWeb } = await start(anchor.cert, first);
  const before = await certifyWeb();
  issuerSource.set(material(pki.cert({ subject: '/CN=issuer-second', ca: true, alg: 'rsa', issuer: anchor })));
  await service.issuer.settled();
  const afterRotation = await certifyWeb();
  assert.equal(new X509Certificate(afterRotation.certPem).issuer, 'CN=issuer-second');
  assert.equal(new X509Certificate(before.certPem).issuer, 'CN=issuer-first');
  verifyWithOpenssl('rotated-new', afterRotation, anchor.cert);
  verifyWithOpenssl('rotated-old', before, anchor.cert);
  assert.equal(await servingIssuer(service), 'CN=issuer-second');
});

test('an anchor rotation works whichever of issuer Secret and trust bundle changes first', async () => {
  const oldRoot = pki.cert({ subject: '/CN=old-root', ca: true });
  const newRoot = pki.cert({ subject: '/CN=new-root', ca: true });
  const { service, issuerSource, trustSource, certifyWeb } = await start(oldRoot.cert, pki.cert({ subject: '/CN=old-issuer', ca: true, issuer: oldRoot }));
  const oldLeaf = await certifyWeb();
  // The Secret arrives first: its issuer does not chain to the current bundle yet, so it is held back.
  issuerSource.set(material(pki.cert({ subject: '/CN=new-issuer', ca: true, issuer: newRoot })));
  await service.issuer.settled();
  assert.equal(service.issuer.current.issuer.subject, 'CN=old-issuer');
  trustSource.set(oldRoot.cert + newRoot.cert);
  await service.issuer.settled();
  assert.equal(service.issuer.current.issuer.subject, 'CN=new-issuer');
  const newLeaf = await certifyWeb();
  const bundle = oldRoot.cert + newRoot.cert;
  verifyWithOpenssl('anchor-new', newLeaf, bundle);
  verifyWithOpenssl('anchor-old', oldLeaf, bundle);
});

test('a broken rotated Secret is logged and ignored; identity keeps signing with the working issuer', async () => {
  const anchor = pki.cert({ subject: '/CN=root.weft', ca: true });
  const { service, issuerSource, records, registry, certifyWeb } = await start(anchor.cert, pki.cert({ subject: '/CN=working-issuer', ca: true, issuer: anchor }));
  const stranger = pki.cert({ subject: '/CN=stranger', ca: true });
  for (const broken of [
    { certPem: 'garbage', keyPem: 'garbage' },
    material(pki.cert({ subject: '/CN=leaf-not-ca', issuer: anchor })),
    material(pki.cert({ subject: '/CN=unanchored', ca: true, issuer: stranger })),
  ]) {
    issuerSource.set(broken);
    await service.issuer.settled();
  }
  issuerSource.fail(new Error('Secret weft/weft-identity-issuer has no tls.key'));
  const errors = records.filter((r) => r.level === LEVEL.error);
  assert.equal(errors.length, 4);
  assert.ok(errors.every((r) => r.keeping === 'CN=working-issuer'));
  assert.match(String(errors[1]!.err), /not a CA/);
  assert.equal(metric(await registry.metrics(), 'weft_identity_issuer_reloads_total{result="rejected",component="identity-test"}'), 4);
  const leaf = await certifyWeb();
  assert.equal(new X509Certificate(leaf.certPem).issuer, 'CN=working-issuer');
});

test('Certify calls in flight during a rotation all succeed', async () => {
  const anchor = pki.cert({ subject: '/CN=root.weft', ca: true });
  // Twelve proxies at once, all on 127.0.0.1 here: above the default per-source burst, which is not under test.
  const { service, issuerSource, certifyWeb } = await start(anchor.cert, pki.cert({ subject: '/CN=swap-a', ca: true, issuer: anchor }), undefined, { certifyRateLimit: { burst: 100, perMinute: 60 } });
  const next = pki.cert({ subject: '/CN=swap-b', ca: true, issuer: anchor });
  const calls = Array.from({ length: 12 }, (_, i) => {
    if (i === 6) issuerSource.set(material(next));
    return certifyWeb();
  });
  const results = await Promise.allSettled(calls);
  assert.deepEqual(results.map((r) => r.status), Array(12).fill('fulfilled'));
  await service.issuer.settled();
  const issuers = new Set(results.map((r) => (r.status === 'fulfilled' ? new X509Certificate(r.value.certPem).issuer : '')));
  for (const i of issuers) assert.ok(i === 'CN=swap-a' || i === 'CN=swap-b', i);
  assert.equal(new X509Certificate((await certifyWeb()).certPem).issuer, 'CN=swap-b');
});
