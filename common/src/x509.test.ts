import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { TestPki } from './testing/pki.js';
import { ChainError, parseCertificateBundle, subjectAltNames, timeToExpiry, verifyChain } from './x509.js';
import { InvalidArgumentError } from './errors.js';

const pki = new TestPki();
after(() => pki.dispose());

for (const alg of ['ec', 'rsa'] as const) {
  test(`a leaf verifies through its issuer to the anchor (${alg}), and openssl agrees`, () => {
    const anchor = pki.cert({ subject: '/CN=root.weft', ca: true, alg });
    const issuer = pki.cert({ subject: '/CN=identity.weft.cluster.local', ca: true, alg, issuer: anchor });
    const leaf = pki.cert({ subject: '/CN=web', alg, issuer, dns: ['web.ns.serviceaccount.identity.weft.cluster.local'], uri: ['spiffe://cluster.local/ns/ns/sa/web'] });
    const path = verifyChain(new X509Certificate(leaf.cert), parseCertificateBundle(issuer.cert), parseCertificateBundle(anchor.cert));
    assert.equal(path.length, 3);
    assert.match(path[2]!.subject, /root\.weft/);
    assert.match(pki.verify(leaf.certPath, anchor.certPath, issuer.certPath, 'sslclient'), /OK/);
  });
}

test('SANs are extracted in DNS and URI form', () => {
  const anchor = pki.cert({ subject: '/CN=root', ca: true });
  const leaf = pki.cert({ subject: '/CN=web', issuer: anchor, dns: ['a.example', 'b.example'], uri: ['spiffe://cluster.local/ns/x/sa/y'] });
  const sans = subjectAltNames(new X509Certificate(leaf.cert));
  assert.deepEqual(sans.dns, ['a.example', 'b.example']);
  assert.deepEqual(sans.uri, ['spiffe://cluster.local/ns/x/sa/y']);
});

test('a leaf from another anchor does not verify', () => {
  const a = pki.cert({ subject: '/CN=root-a', ca: true });
  const b = pki.cert({ subject: '/CN=root-b', ca: true });
  const leaf = pki.cert({ subject: '/CN=web', issuer: b });
  assert.throws(() => verifyChain(new X509Certificate(leaf.cert), [], [new X509Certificate(a.cert)]), ChainError);
  assert.throws(() => pki.verify(leaf.certPath, a.certPath));
});

test('a bundle with several anchors verifies leaves of each (rotation)', () => {
  const oldRoot = pki.cert({ subject: '/CN=old-root', ca: true });
  const newRoot = pki.cert({ subject: '/CN=new-root', ca: true, alg: 'rsa' });
  const bundle = parseCertificateBundle(oldRoot.cert + newRoot.cert);
  assert.equal(bundle.length, 2);
  for (const root of [oldRoot, newRoot]) {
    const leaf = pki.cert({ subject: '/CN=w', issuer: root });
    assert.equal(verifyChain(new X509Certificate(leaf.cert), [], bundle).length, 2);
  }
});

test('a certificate signed by a non-CA does not verify', () => {
  const root = pki.cert({ subject: '/CN=root', ca: true });
  const notCa = pki.cert({ subject: '/CN=not-a-ca', issuer: root });
  const leaf = pki.cert({ subject: '/CN=web', issuer: notCa });
  assert.throws(() => verifyChain(new X509Certificate(leaf.cert), [new X509Certificate(notCa.cert)], [new X509Certificate(root.cert)]), ChainError);
});

test('an expired chain is refused, naming the expiry', () => {
  const root = pki.cert({ subject: '/CN=root', ca: true, days: 30 });
  const leaf = pki.cert({ subject: '/CN=web', issuer: root, days: 1 });
  const cert = new X509Certificate(leaf.cert);
  const later = new Date(Date.now() + 2 * 86_400_000);
  assert.throws(() => verifyChain(cert, [], [new X509Certificate(root.cert)], later), /expired at/);
  assert.ok(timeToExpiry(cert, later) < 0);
  assert.ok(timeToExpiry(cert) > 0);
});

test('malformed PEM is rejected with a clear error', () => {
  assert.throws(() => parseCertificateBundle('not pem at all', 'ca.crt'), (e: unknown) => e instanceof InvalidArgumentError && /ca\.crt holds no PEM CERTIFICATE block/.test(e.message));
  assert.throws(() => parseCertificateBundle('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', 'ca.crt'), /certificate #1 is not valid X\.509/);
});
