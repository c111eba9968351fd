// The issuer Secret and trust-roots ConfigMap, read and watched through the
// real @kubernetes/client-node informer against a fake API server: identity
// starts from them, follows cert-manager's renewals, and survives a broken
// Secret.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { createRegistry } from '@weft/common/metrics';
import { WeftError } from '@weft/common/errors';
import { k8s, loadKubeConfig } from '@weft/common/k8s/client';
import { TestPki, type CertAndKey } from '@weft/common/testing/pki';
import { certify } from './client.js';
import { startIdentityService, type IdentityService } from './identity-service.js';
import { IssuerError } from './issuer.js';
import { anchorsFromConfigMap, configMapTrustSource, issuerFromSecret, secretIssuerSource } from './kubernetes-sources.js';
import { FakeApiServer } from './testing/fake-apiserver.js';
import { FakeTokenValidator } from './testing/fake-token-validator.js';
import { captureLog, LEVEL } from './testing/log-capture.js';
import { waitFor } from '@weft/common/poll';

const pki = new TestPki();
const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
  pki.dispose();
});

const b64 = (s: string) => Buffer.from(s).toString('base64');
const tlsSecret = (issuer: CertAndKey, anchor: CertAndKey, drop?: string) => {
  const data: Record<string, string> = { 'tls.crt': b64(issuer.cert), 'tls.key': b64(issuer.key), 'ca.crt': b64(anchor.cert) };
  if (drop) delete data[drop];
  return { metadata: { name: 'weft-identity-issuer', namespace: 'weft' }, type: 'kubernetes.io/tls', data };
};
const rootsConfigMap = (pem: string) => ({
  metadata: { name: 'weft-identity-trust-roots', namespace: 'weft' },
  data: { 'ca-bundle.crt': pem },
});

test('a Secret that is not kubernetes.io/tls or lacks a key is refused, naming it', () => {
  const anchor = pki.cert({ subject: '/CN=root', ca: true });
  assert.throws(() => issuerFromSecret(tlsSecret(anchor, anchor, 'tls.key')), /Secret weft\/weft-identity-issuer has no tls\.key/);
  assert.throws(() => issuerFromSecret({ ...tlsSecret(anchor, anchor), type: 'Opaque' }), /has type Opaque, expected kubernetes\.io\/tls/);
  assert.throws(
    () => anchorsFromConfigMap({ metadata: { name: 'weft-identity-trust-roots', namespace: 'weft' }, data: {} }),
    /has no ca-bundle\.crt/,
  );
  assert.deepEqual(issuerFromSecret(tlsSecret(anchor, anchor)), { certPem: anchor.cert, keyPem: anchor.key });
});

async function startFromKubernetes(api: FakeApiServer) {
  const { log, records } = captureLog();
  const validator = new FakeTokenValidator();
  const kc = api.kubeConfig;
  const service: IdentityService = await startIdentityService({
    host: '127.0.0.1',
    port: 0,
    trustDomain: 'cluster.local',
    controlNamespace: 'weft',
    validator,
    issuerSource: secretIssuerSource({ kc, namespace: 'weft', log }),
    trustSource: configMapTrustSource({ kc, namespace: 'weft', log }),
    log,
    registry: createRegistry('identity-test'),
  });
  cleanup.push(() => service.close());
  const tokenFile = pki.file(`k8s-token-${cleanup.length}`, validator.issue('demo', 'web'));
  const certifyWeb = () =>
    certify({
      addr: `127.0.0.1:${service.port}`,
      serverName: service.serverName,
      trustAnchorsPem: service.trustAnchorsPem(),
      tokenFile,
      identity: 'web.demo.serviceaccount.identity.weft.cluster.local',
    });
  return { service, records, certifyWeb };
}

test('identity starts from the issuer Secret and follows its renewal through the watch', async () => {
  const api = await new FakeApiServer().start();
  cleanup.push(() => api.close());
  const anchor = pki.cert({ subject: '/CN=root.weft', ca: true });
  api.put('configmaps', rootsConfigMap(anchor.cert));
  api.put('secrets', tlsSecret(pki.cert({ subject: '/CN=issuer-v1', ca: true, issuer: anchor }), anchor));
  const { service, records, certifyWeb } = await startFromKubernetes(api);
  assert.equal(new X509Certificate((await certifyWeb()).certPem).issuer, 'CN=issuer-v1');

  await waitFor('both informers to watch', () => api.watching >= 2);
  api.put('secrets', tlsSecret(pki.cert({ subject: '/CN=issuer-v2', ca: true, issuer: anchor }), anchor));
  await waitFor('the renewed issuer to be in use', () => service.issuer.current.issuer.subject === 'CN=issuer-v2');
  assert.equal(new X509Certificate((await certifyWeb()).certPem).issuer, 'CN=issuer-v2');

  // cert-manager never writes this, but an operator might: identity keeps the working issuer.
  api.put('secrets', tlsSecret(pki.cert({ subject: '/CN=issuer-v3', ca: true, issuer: anchor }), anchor, 'tls.key'));
  await waitFor('the broken Secret to be reported', () =>
    records.some((r) => r.level === LEVEL.error && /has no tls\.key/.test(String(r.err))),
  );
  api.remove('secrets', 'weft', 'weft-identity-issuer');
  await waitFor('the deletion to be reported', () => records.some((r) => r.level === LEVEL.error && /was deleted/.test(String(r.err))));
  assert.equal(new X509Certificate((await certifyWeb()).certPem).issuer, 'CN=issuer-v2');
});

test('identity refuses to start when the issuer Secret or the trust roots do not exist', async () => {
  const api = await new FakeApiServer().start();
  cleanup.push(() => api.close());
  const anchor = pki.cert({ subject: '/CN=root.weft', ca: true });
  await assert.rejects(
    startFromKubernetes(api),
    (err: unknown) => err instanceof IssuerError && /ConfigMap weft\/weft-identity-trust-roots does not exist/.test(err.message),
  );
  api.put('configmaps', rootsConfigMap(anchor.cert));
  await assert.rejects(
    startFromKubernetes(api),
    (err: unknown) => err instanceof WeftError && /Secret weft\/weft-identity-issuer does not exist/.test(err.message),
  );
  api.put('secrets', tlsSecret(pki.cert({ subject: '/CN=issuer-ok', ca: true, issuer: anchor }), anchor));
  await startFromKubernetes(api);
});

// Real parts: the e2e environment's kube-apiserver stores and streams the Secret and ConfigMap.
const e2eKubeconfig = process.env['WEFT_E2E_KUBECONFIG'];
const skipReason = e2eKubeconfig ? false : 'WEFT_E2E_KUBECONFIG is not set (no real API server to watch)';
if (skipReason) console.log(`# skipping real Secret watch test: ${skipReason}`);

test('against a real API server, identity follows a renewed issuer Secret', { skip: skipReason }, async () => {
  const kc = loadKubeConfig({ kubeconfig: e2eKubeconfig! });
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const namespace = `weft-identity-${randomBytes(4).toString('hex')}`;
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  const { log } = captureLog();
  try {
    const anchor = pki.cert({ subject: '/CN=root.weft', ca: true });
    const inNs = <T extends { metadata: { namespace: string } }>(o: T): T => ({ ...o, metadata: { ...o.metadata, namespace } });
    await core.createNamespacedConfigMap({ namespace, body: inNs(rootsConfigMap(anchor.cert)) });
    await core.createNamespacedSecret({
      namespace,
      body: inNs(tlsSecret(pki.cert({ subject: '/CN=real-issuer-v1', ca: true, issuer: anchor }), anchor)),
    });
    const service = await startIdentityService({
      host: '127.0.0.1',
      port: 0,
      trustDomain: 'cluster.local',
      controlNamespace: namespace,
      validator: new FakeTokenValidator(),
      issuerSource: secretIssuerSource({ kc, namespace, log }),
      trustSource: configMapTrustSource({ kc, namespace, log }),
      log,
      registry: createRegistry('identity-test'),
    });
    try {
      assert.equal(service.issuer.current.issuer.subject, 'CN=real-issuer-v1');
      await core.replaceNamespacedSecret({
        namespace,
        name: 'weft-identity-issuer',
        body: inNs(tlsSecret(pki.cert({ subject: '/CN=real-issuer-v2', ca: true, issuer: anchor }), anchor)),
      });
      await waitFor('the renewed issuer from the real watch', () => service.issuer.current.issuer.subject === 'CN=real-issuer-v2');
    } finally {
      await service.close();
    }
  } finally {
    await core.deleteNamespace({ name: namespace });
  }
});
