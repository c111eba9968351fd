// Loading the issuer refuses, naming the problem, everything that would
// otherwise make every proxy's certificate useless.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestPki } from '@weft/common/testing/pki';
import { IssuerCertificate, IssuerError } from './issuer.js';
import { TrustBundle } from './trust-bundle.js';

const pki = new TestPki();
after(() => pki.dispose());
const DAY = 24 * 3_600_000;

const anchor = pki.cert({ subject: '/CN=root.weft', ca: true, days: 3650 });
const trust = TrustBundle.parse(anchor.cert);

async function refused(material: { certPem: string; keyPem: string }, bundle: TrustBundle, now: Date, message: RegExp): Promise<void> {
  await assert.rejects(IssuerCertificate.load(material, bundle, now), (err: unknown) => {
    assert.ok(err instanceof IssuerError, String(err));
    assert.equal(err.code, 'FAILED_PRECONDITION');
    assert.match(err.message, message);
    return true;
  });
}

for (const alg of ['ec', 'rsa'] as const) {
  test(`an ${alg} issuer signed by the anchor loads`, async () => {
    const issuer = pki.cert({ subject: '/CN=issuer', ca: true, alg, issuer: anchor });
    const loaded = await IssuerCertificate.load({ certPem: issuer.cert, keyPem: issuer.key }, trust, new Date());
    assert.equal(loaded.key.type, alg === 'ec' ? 'ecdsa-p256' : 'rsa');
    assert.equal(loaded.chain.length, 1);
  });
}

test('an expired issuer is refused, naming the expiry', async () => {
  const issuer = pki.cert({ subject: '/CN=short-lived', ca: true, issuer: anchor, days: 1 });
  await refused({ certPem: issuer.cert, keyPem: issuer.key }, trust, new Date(Date.now() + 3 * DAY), /"CN=short-lived" expired at/);
});

test('an issuer that is not a CA is refused', async () => {
  const leaf = pki.cert({ subject: '/CN=not-a-ca', issuer: anchor });
  await refused({ certPem: leaf.cert, keyPem: leaf.key }, trust, new Date(), /"CN=not-a-ca" is not a CA/);
});

test('an issuer not signed by an anchor of the bundle is refused', async () => {
  const otherRoot = pki.cert({ subject: '/CN=other-root', ca: true });
  const issuer = pki.cert({ subject: '/CN=foreign-issuer', ca: true, issuer: otherRoot });
  await refused({ certPem: issuer.cert, keyPem: issuer.key }, trust, new Date(), /"CN=foreign-issuer" does not chain to an anchor/);
});

test('an issuer whose key does not match its certificate is refused', async () => {
  const a = pki.cert({ subject: '/CN=issuer-a', ca: true, issuer: anchor });
  const b = pki.cert({ subject: '/CN=issuer-b', ca: true, issuer: anchor });
  await refused({ certPem: a.cert, keyPem: b.key }, trust, new Date(), /key does not match/);
});

test('garbage certificate or key text is refused with a message, not a crash', async () => {
  const issuer = pki.cert({ subject: '/CN=issuer', ca: true, issuer: anchor });
  await refused({ certPem: 'not pem', keyPem: issuer.key }, trust, new Date(), /holds no PEM CERTIFICATE block/);
  await refused({ certPem: issuer.cert, keyPem: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }, trust, new Date(), /key: private key cannot be parsed/);
});

test('keys in the PKCS#1 and SEC1 forms cert-manager writes are accepted', async () => {
  for (const [alg, cmd] of [['rsa', 'rsa'], ['ec', 'ec']] as const) {
    const issuer = pki.cert({ subject: `/CN=issuer-${alg}`, ca: true, alg, issuer: anchor });
    const out = join(pki.dir, `traditional-${alg}.pem`);
    pki.openssl([cmd, '-in', issuer.keyPath, '-out', out, ...(alg === 'rsa' ? ['-traditional'] : [])]);
    const pem = readFileSync(out, 'utf8');
    assert.match(pem, alg === 'rsa' ? /BEGIN RSA PRIVATE KEY/ : /BEGIN EC PRIVATE KEY/);
    await IssuerCertificate.load({ certPem: issuer.cert, keyPem: pem }, trust, new Date());
  }
});

test('an issuer below an intermediate chains through it, and the anchor is not sent to proxies', async () => {
  const mid = pki.cert({ subject: '/CN=mid', ca: true, issuer: anchor });
  const issuer = pki.cert({ subject: '/CN=issuer-under-mid', ca: true, issuer: mid });
  const loaded = await IssuerCertificate.load({ certPem: issuer.cert + mid.cert + anchor.cert, keyPem: issuer.key }, trust, new Date());
  assert.deepEqual(loaded.chain.map((c) => c.subject), ['CN=issuer-under-mid', 'CN=mid']);
});

test('a bundle holding old and new anchors accepts issuers of either', async () => {
  const newRoot = pki.cert({ subject: '/CN=new-root', ca: true, alg: 'rsa' });
  const bundle = TrustBundle.parse(anchor.cert + newRoot.cert);
  for (const root of [anchor, newRoot]) {
    const issuer = pki.cert({ subject: '/CN=issuer', ca: true, issuer: root });
    await IssuerCertificate.load({ certPem: issuer.cert, keyPem: issuer.key }, bundle, new Date());
  }
});

test('a trust bundle with a non-CA certificate is refused', () => {
  const leaf = pki.cert({ subject: '/CN=leaf', issuer: anchor });
  assert.throws(() => TrustBundle.parse(anchor.cert + leaf.cert), /certificate #2 \("CN=leaf"\) is not a CA/);
});
