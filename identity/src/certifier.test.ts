// Certify without the wire: who may get which certificate, what the leaf
// looks like, and that openssl accepts it for both TLS client and server use.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestPki, type KeyAlgorithm } from '@weft/common/testing/pki';
import { subjectAltNames, toPem } from '@weft/common/x509';
import { WeftError } from '@weft/common/errors';
import { Certifier, type CertifyRequest } from './certifier.js';
import { IssuerCertificate } from './issuer.js';
import { DEFAULT_LEAF_POLICY } from './leaf.js';
import { px509 } from './pki-keys.js';
import { TrustBundle } from './trust-bundle.js';
import { FakeTokenValidator } from './testing/fake-token-validator.js';
import { opensslCsr } from './testing/openssl-csr.js';

const pki = new TestPki();
after(() => pki.dispose());

const WEB = 'web.demo.serviceaccount.identity.weft.cluster.local';
const WEB_SPIFFE = 'spiffe://cluster.local/ns/demo/sa/web';

async function setup(alg: KeyAlgorithm = 'ec', now = () => new Date()) {
  const anchor = pki.cert({ subject: '/CN=root.weft', ca: true, alg });
  const issuerPem = pki.cert({ subject: '/CN=identity.weft.cluster.local', ca: true, alg, issuer: anchor });
  const trust = TrustBundle.parse(anchor.cert);
  const issuer = await IssuerCertificate.load({ certPem: issuerPem.cert, keyPem: issuerPem.key }, trust, new Date());
  const validator = new FakeTokenValidator();
  const certifier = new Certifier({ validator, issuer: () => issuer, controlNamespace: 'weft', trustDomain: 'cluster.local', policy: DEFAULT_LEAF_POLICY, now });
  return { anchor, issuerPem, issuer, validator, certifier };
}

function request(token: string, csr: Uint8Array, identity = WEB): CertifyRequest {
  return { identity, token: new TextEncoder().encode(token), csr };
}

async function refusal(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof WeftError, `expected a WeftError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

function writeLeaf(name: string, der: Uint8Array, chain: Uint8Array[]): { leafPath: string; chainPath: string } {
  const leafPath = join(pki.dir, `${name}-leaf.pem`);
  const chainPath = join(pki.dir, `${name}-chain.pem`);
  writeFileSync(leafPath, toPem(der));
  writeFileSync(chainPath, chain.map((c) => toPem(c)).join(''));
  return { leafPath, chainPath };
}

for (const alg of ['ec', 'rsa'] as const) {
  test(`a leaf from an ${alg} issuer passes openssl verify as TLS client and server`, async () => {
    const { anchor, validator, certifier } = await setup(alg);
    const csr = opensslCsr(pki, { key: 'ec', subject: `/CN=${WEB}`, dns: [WEB] });
    const res = await certifier.certify(request(validator.issue('demo', 'web'), csr.der));
    const { leafPath, chainPath } = writeLeaf(`leaf-${alg}`, res.leafDer, res.intermediatesDer);
    assert.match(pki.verify(leafPath, anchor.certPath, chainPath, 'sslclient'), /: OK/);
    assert.match(pki.verify(leafPath, anchor.certPath, chainPath, 'sslserver'), /: OK/);
    // Without the issuer as intermediate the leaf does not verify: the response must carry it.
    assert.throws(() => pki.verify(leafPath, anchor.certPath));
  });
}

test('the leaf names the workload in DNS and SPIFFE form, is not a CA, and lives 24h from a back-dated NotBefore', async () => {
  const now = new Date('2026-06-01T12:00:00Z');
  const anchor = pki.cert({ subject: '/CN=root.weft', ca: true, days: 3650 });
  const issuerPem = pki.cert({ subject: '/CN=issuer', ca: true, issuer: anchor, days: 3650 });
  const { validator } = await setup();
  const issuer = await IssuerCertificate.load({ certPem: issuerPem.cert, keyPem: issuerPem.key }, TrustBundle.parse(anchor.cert), new Date());
  const certifier = new Certifier({ validator, issuer: () => issuer, controlNamespace: 'weft', trustDomain: 'cluster.local', policy: DEFAULT_LEAF_POLICY, now: () => now });
  const csr = opensslCsr(pki, { key: 'ec', subject: `/CN=${WEB}` });
  const res = await certifier.certify(request(validator.issue('demo', 'web'), csr.der));
  const leaf = new X509Certificate(res.leafDer);
  assert.deepEqual(subjectAltNames(leaf).dns, [WEB]);
  assert.deepEqual(subjectAltNames(leaf).uri, [WEB_SPIFFE]);
  assert.equal(leaf.ca, false);
  assert.equal(new Date(leaf.validFrom).getTime(), now.getTime() - 20_000);
  assert.equal(new Date(leaf.validTo).getTime(), now.getTime() + 24 * 3_600_000);
  assert.equal(res.validUntil.getTime(), now.getTime() + 24 * 3_600_000);
  assert.ok(leaf.checkIssued(issuer.cert) && leaf.verify(issuer.cert.publicKey));
  const parsed = new px509.X509Certificate(res.leafDer);
  const ku = parsed.getExtension(px509.KeyUsagesExtension)!;
  assert.equal(ku.usages, px509.KeyUsageFlags.digitalSignature, 'ECDSA leaves only sign');
  assert.deepEqual([...parsed.getExtension(px509.ExtendedKeyUsageExtension)!.usages], [px509.ExtendedKeyUsage.serverAuth, px509.ExtendedKeyUsage.clientAuth]);
  assert.equal(parsed.getExtension(px509.BasicConstraintsExtension)!.ca, false);
  assert.equal(res.intermediatesDer.length, 1);
  assert.ok(Buffer.from(res.intermediatesDer[0]!).equals(issuer.cert.raw));
});

test('an RSA 2048 CSR is accepted and its leaf also allows key encipherment', async () => {
  const { validator, certifier } = await setup();
  const csr = opensslCsr(pki, { key: 'rsa2048', subject: `/CN=${WEB}` });
  const res = await certifier.certify(request(validator.issue('demo', 'web'), csr.der));
  const ku = new px509.X509Certificate(res.leafDer).getExtension(px509.KeyUsagesExtension)!;
  assert.equal(ku.usages, px509.KeyUsageFlags.digitalSignature | px509.KeyUsageFlags.keyEncipherment);
});

test('a token of ServiceAccount a asking for identity b is refused with PERMISSION_DENIED', async () => {
  const { validator, certifier } = await setup();
  const other = 'b.demo.serviceaccount.identity.weft.cluster.local';
  const csr = opensslCsr(pki, { key: 'ec', subject: `/CN=${other}` });
  await refusal(certifier.certify(request(validator.issue('demo', 'a'), csr.der, other)), 'PERMISSION_DENIED', /demo\/a may only be certified as "a\.demo/);
});

test('the same ServiceAccount name in another namespace, control namespace or trust domain is refused', async () => {
  const { validator, certifier } = await setup();
  const token = validator.issue('demo', 'web');
  for (const identity of [
    'web.prod.serviceaccount.identity.weft.cluster.local',
    'web.demo.serviceaccount.identity.other.cluster.local',
    'web.demo.serviceaccount.identity.weft.example.org',
  ]) {
    const csr = opensslCsr(pki, { key: 'ec', subject: `/CN=${identity}` });
    await refusal(certifier.certify(request(token, csr.der, identity)), 'PERMISSION_DENIED');
  }
});

test('a malformed requested identity is refused with INVALID_ARGUMENT', async () => {
  const { validator, certifier } = await setup();
  const csr = opensslCsr(pki, { key: 'ec', subject: `/CN=${WEB}` });
  await refusal(certifier.certify(request(validator.issue('demo', 'web'), csr.der, 'not an identity')), 'INVALID_ARGUMENT', /is not a weft identity/);
});

test('an unknown, empty or non-UTF-8 token is refused with UNAUTHENTICATED', async () => {
  const { certifier } = await setup();
  const csr = opensslCsr(pki, { key: 'ec', subject: `/CN=${WEB}` });
  await refusal(certifier.certify(request('garbage', csr.der)), 'UNAUTHENTICATED');
  await refusal(certifier.certify(request('', csr.der)), 'UNAUTHENTICATED', /no ServiceAccount token/);
  await refusal(certifier.certify({ identity: WEB, token: new Uint8Array([0xff, 0xfe, 0x00]), csr: csr.der }), 'UNAUTHENTICATED', /UTF-8/);
});

test('a malformed, empty or tampered CSR is refused with INVALID_ARGUMENT', async () => {
  const { validator, certifier } = await setup();
  const token = validator.issue('demo', 'web');
  await refusal(certifier.certify(request(token, new Uint8Array([0x30, 0x03, 0x02, 0x01]))), 'INVALID_ARGUMENT', /not DER PKCS#10/);
  await refusal(certifier.certify(request(token, new Uint8Array())), 'INVALID_ARGUMENT', /empty/);
  await refusal(certifier.certify(request(token, new TextEncoder().encode('-----BEGIN CERTIFICATE REQUEST-----'))), 'INVALID_ARGUMENT');
  const good = opensslCsr(pki, { key: 'ec', subject: `/CN=${WEB}` }).der;
  const tampered = Uint8Array.from(good);
  // Flip a bit inside the signature (the last bytes of the DER): the request no longer proves key possession.
  tampered[tampered.length - 3] = tampered[tampered.length - 3]! ^ 0x01;
  await refusal(certifier.certify(request(token, tampered)), 'INVALID_ARGUMENT', /signature/);
});

test('an RSA 1024 or ECDSA P-384 CSR is refused with INVALID_ARGUMENT', async () => {
  const { validator, certifier } = await setup();
  const token = validator.issue('demo', 'web');
  await refusal(certifier.certify(request(token, opensslCsr(pki, { key: 'rsa1024', subject: `/CN=${WEB}` }).der)), 'INVALID_ARGUMENT', /1024 bits is too short/);
  await refusal(certifier.certify(request(token, opensslCsr(pki, { key: 'ec384', subject: `/CN=${WEB}` }).der)), 'INVALID_ARGUMENT', /secp384r1 is not supported/);
});

test('a CSR whose CN or DNS SAN names another workload is refused with INVALID_ARGUMENT', async () => {
  const { validator, certifier } = await setup();
  const token = validator.issue('demo', 'web');
  const admin = 'admin.demo.serviceaccount.identity.weft.cluster.local';
  await refusal(certifier.certify(request(token, opensslCsr(pki, { key: 'ec', subject: `/CN=${admin}` }).der)), 'INVALID_ARGUMENT', /CN "admin/);
  await refusal(certifier.certify(request(token, opensslCsr(pki, { key: 'ec', subject: `/CN=${WEB}`, dns: [WEB, admin] }).der)), 'INVALID_ARGUMENT', /dns:admin/);
});

test('a CSR without names is certified with the token identity', async () => {
  const { validator, certifier } = await setup();
  const res = await certifier.certify(request(validator.issue('demo', 'web'), opensslCsr(pki, { key: 'ec', subject: '/O=weft' }).der));
  assert.deepEqual(subjectAltNames(new X509Certificate(res.leafDer)).dns, [WEB]);
});

test('an issuer that expired while running is refused with UNAVAILABLE instead of issuing dead leaves', async () => {
  let now = new Date();
  const { validator, certifier, issuer } = await setup('ec', () => now);
  now = new Date(issuer.notAfter.getTime() + 1000);
  await refusal(certifier.certify(request(validator.issue('demo', 'web'), opensslCsr(pki, { key: 'ec', subject: `/CN=${WEB}` }).der)), 'UNAVAILABLE', /expired/);
});

test('a leaf never outlives its issuer', async () => {
  let now = new Date();
  const { validator, certifier, issuer } = await setup('ec', () => now);
  now = new Date(issuer.notAfter.getTime() - 3_600_000);
  const res = await certifier.certify(request(validator.issue('demo', 'web'), opensslCsr(pki, { key: 'ec', subject: `/CN=${WEB}` }).der));
  assert.equal(res.validUntil.getTime(), issuer.notAfter.getTime());
});
