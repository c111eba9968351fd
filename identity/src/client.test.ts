// The proxy-side Certify helper against a running identity (local demo CA):
// it returns usable PEM credentials for a fresh ECDSA key, and refuses a
// server that is not identity or an answer it could not use.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { TestPki } from '@weft/common/testing/pki';
import { certify, type CertifyClientOptions } from './client.js';
import type { IdentityService } from './identity-service.js';
import { generateLocalCa, type LocalCa } from './local-ca.js';
import { startTestIdentity } from './testing/serve.js';

const pki = new TestPki();
const WEB = 'web.demo.serviceaccount.identity.weft.cluster.local';
let ca: LocalCa;
let service: IdentityService;
let opts: CertifyClientOptions;

before(async () => {
  ca = await generateLocalCa();
  const started = await startTestIdentity({ issuer: ca.issuer, anchorPem: ca.anchorPem });
  service = started.service;
  const validator = started.validator;
  opts = { addr: `127.0.0.1:${service.port}`, serverName: service.serverName, trustAnchorsPem: ca.anchorPem, tokenFile: pki.file('token', validator.issue('demo', 'web')), identity: WEB };
});

after(async () => {
  await service.close();
  pki.dispose();
});

test('certify returns a leaf, chain and matching ECDSA P-256 key that work for a real TLS handshake', async () => {
  const creds = await certify(opts);
  const key = createPrivateKey(creds.keyPem);
  assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.ok(new X509Certificate(creds.certPem).checkPrivateKey(key));
  assert.equal(creds.validUntil.getTime(), new Date(new X509Certificate(creds.certPem).validTo).getTime());
  // The credentials as a proxy uses them: serve with leaf + chain, a peer verifying against the anchor accepts it.
  const server = tls.createServer({ cert: creds.certPem + creds.chainPem, key: creds.keyPem }, (s) => s.end('hello'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const port = (server.address() as { port: number }).port;
    const greeting = await new Promise<string>((resolve, reject) => {
      const c = tls.connect({ host: '127.0.0.1', port, ca: ca.anchorPem, servername: WEB }, () => c.once('data', (d: Buffer) => resolve(d.toString())));
      c.on('error', reject);
    });
    assert.equal(greeting, 'hello');
  } finally {
    server.close();
  }
});

test('each call generates a new key', async () => {
  const [a, b] = await Promise.all([certify(opts), certify(opts)]);
  assert.notEqual(a.keyPem, b.keyPem);
});

test('a server that does not carry the expected identity name is refused', async () => {
  await assert.rejects(certify({ ...opts, serverName: 'weft-destination.weft.serviceaccount.identity.weft.cluster.local' }), /does not match certificate's altnames/);
});

test('a server not signed by our trust anchors is refused', async () => {
  const other = await generateLocalCa();
  await assert.rejects(certify({ ...opts, trustAnchorsPem: other.anchorPem }), /unable to get local issuer certificate/);
});

test('a missing token file is reported by path before any call', async () => {
  await assert.rejects(certify({ ...opts, tokenFile: '/nonexistent/weft-token' }), /\/nonexistent\/weft-token/);
});
