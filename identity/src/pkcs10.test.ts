// The proxy's CSR, written with node:crypto: openssl reads it and verifies its
// self-signature, identity's own CSR check accepts it for the identity it
// names and refuses it for another, and a name a CSR cannot carry is refused
// before any key is made.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { TestPki } from '@weft/common/testing/pki';
import { InvalidArgumentError } from '@weft/common/errors';
import { verifyCsr } from './csr.js';
import { ecdsaCsr } from './pkcs10.js';

const pki = new TestPki();
after(() => pki.dispose());

const WEB = 'web.demo.serviceaccount.identity.weft.cluster.local';

/** `openssl req -verify -text` on a DER CSR: its text and its verdict (OpenSSL 3 exits 0 either way, the verdict is on stderr). */
function opensslReq(name: string, der: Buffer): { text: string; verdict: string } {
  const path = pki.file(name, `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`);
  const r = spawnSync('openssl', ['req', '-in', path, '-noout', '-verify', '-text'], { encoding: 'utf8' });
  return { text: r.stdout, verdict: r.stderr };
}

test('openssl verifies the CSR and reads the identity as CN and as the only DNS SAN, on a P-256 key', async () => {
  const csr = await ecdsaCsr(WEB);
  const { text, verdict } = opensslReq('web.csr', csr.der);
  assert.match(verdict, /verify OK/);
  assert.match(text, new RegExp(`Subject: CN\\s?=\\s?${WEB.replace(/\./g, '\\.')}\\n`));
  assert.match(text, /ASN1 OID: prime256v1/);
  assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
  assert.match(text, new RegExp(`X509v3 Subject Alternative Name: ?\\n\\s+DNS:${WEB.replace(/\./g, '\\.')}\\n`));
  const pub = createPublicKey({ key: csr.publicKeySpki, format: 'der', type: 'spki' });
  assert.ok(pub.equals(createPublicKey(csr.privateKey)));
  // The same request with one signature byte changed: openssl's check is a real one.
  const tampered = Buffer.from(csr.der);
  tampered[tampered.length - 5]! ^= 0xff;
  assert.match(opensslReq('tampered.csr', tampered).verdict, /verify failure/);
});

test('identity accepts the CSR for the identity it names and refuses it for another', async () => {
  const csr = await ecdsaCsr(WEB);
  const verified = await verifyCsr(csr.der, { dns: WEB, spiffe: 'spiffe://cluster.local/ns/demo/sa/web' });
  assert.equal(verified.keyType, 'ecdsa-p256');
  await assert.rejects(
    verifyCsr(csr.der, { dns: 'api.demo.serviceaccount.identity.weft.cluster.local', spiffe: 'spiffe://cluster.local/ns/demo/sa/api' }),
    InvalidArgumentError,
  );
});

test('a long identity (lengths in two-byte DER form) still gives a CSR openssl and identity accept', async () => {
  const long = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(50)}.serviceaccount.identity.weft.cluster.local`;
  const csr = await ecdsaCsr(long);
  assert.ok(csr.der.length > 255);
  const { text, verdict } = opensslReq('long.csr', csr.der);
  assert.match(verdict, /verify OK/);
  assert.match(text, new RegExp(`DNS:${long.replace(/\./g, '\\.')}`));
  assert.equal((await verifyCsr(csr.der, { dns: long, spiffe: 'spiffe://cluster.local/ns/x/sa/y' })).keyType, 'ecdsa-p256');
});

test('an identity a CSR cannot carry as a DNS name is refused with a clear error', async () => {
  for (const bad of ['', 'wéb.demo', 'web demo', 'x'.repeat(254)]) {
    await assert.rejects(ecdsaCsr(bad), (err: Error) => err instanceof InvalidArgumentError && /not a DNS name a CSR can carry/.test(err.message));
  }
});
