// The local demo's throwaway CA has the shape cert-manager gives a cluster:
// an anchor, and an issuer openssl accepts as a CA under it that identity loads.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { TestPki } from '@weft/common/testing/pki';
import { IssuerCertificate } from './issuer.js';
import { generateLocalCa } from './local-ca.js';
import { TrustBundle } from './trust-bundle.js';

const pki = new TestPki();
after(() => pki.dispose());

test('the generated issuer is a CA under the generated anchor, for openssl and for identity', async () => {
  const ca = await generateLocalCa({ trustDomain: 'demo.local' });
  const anchorPath = pki.file('local-anchor.pem', ca.anchorPem);
  assert.match(pki.openssl(['verify', '-CAfile', anchorPath, '-x509_strict', pki.file('local-issuer.pem', ca.issuer.certPem)]), /: OK/);
  const issuer = await IssuerCertificate.load(ca.issuer, TrustBundle.parse(ca.anchorPem), new Date());
  assert.equal(issuer.key.type, 'ecdsa-p256');
  assert.match(issuer.subject, /CN=identity\.weft\.demo\.local/);
  assert.ok(new X509Certificate(ca.anchorPem).ca);
});

test('every call makes a new anchor, and the anchor key is not returned', async () => {
  const a = await generateLocalCa();
  const b = await generateLocalCa();
  assert.notEqual(a.anchorPem, b.anchorPem);
  assert.deepEqual(Object.keys(a).sort(), ['anchorPem', 'issuer']);
  assert.deepEqual(Object.keys(a.issuer).sort(), ['certPem', 'keyPem']);
});

test('the issuer lives half as long as the anchor, so it expires first', async () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const ca = await generateLocalCa({ now, lifetimeMs: 10 * 24 * 3_600_000 });
  assert.equal(new Date(new X509Certificate(ca.anchorPem).validTo).getTime(), now.getTime() + 10 * 24 * 3_600_000);
  assert.equal(new Date(new X509Certificate(ca.issuer.certPem).validTo).getTime(), now.getTime() + 5 * 24 * 3_600_000);
});
