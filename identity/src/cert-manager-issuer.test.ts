// Real parts, end to end: cert-manager (the real controller of the e2e
// environment) writes the weft-identity-issuer Secret; identity loads it,
// reviews a real pod-bound token with the real API server, issues a leaf
// openssl accepts, and follows cert-manager's re-issue of the Secret. Runs only
// with WEFT_E2E_KUBECONFIG (node test/e2e/run.mjs --exec -- node ci/unit.mjs identity).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { createRegistry } from '@weft/common/metrics';
import { k8s, loadKubeConfig } from '@weft/common/k8s/client';
import { TestPki } from '@weft/common/testing/pki';
import { certify } from './client.js';
import { startIdentityService } from './identity-service.js';
import { configMapTrustSource, secretIssuerSource } from './kubernetes-sources.js';
import { KubernetesTokenValidator } from './kubernetes-token-validator.js';
import { captureLog } from './testing/log-capture.js';
import { waitFor } from '@weft/common/poll';

const e2eKubeconfig = process.env['WEFT_E2E_KUBECONFIG'];
const skipReason = e2eKubeconfig ? false : 'WEFT_E2E_KUBECONFIG is not set (no real API server or cert-manager)';
if (skipReason) console.log(`# skipping cert-manager issuer test: ${skipReason}`);

test(
  'identity issues from a cert-manager issuer Secret, with real tokens, and follows its re-issue',
  { skip: skipReason, timeout: 180_000 },
  async () => {
    const kc = loadKubeConfig({ kubeconfig: e2eKubeconfig! });
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const namespace = `weft-identity-cm-${randomBytes(4).toString('hex')}`;
    const pki = new TestPki();
    const { log, records } = captureLog();
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    const cm = (plural: string, body: object) =>
      custom.createNamespacedCustomObject({ group: 'cert-manager.io', version: 'v1', namespace, plural, body });
    const secret = async (name: string) => {
      try {
        const s = await core.readNamespacedSecret({ name, namespace });
        return s.data?.['tls.crt'] && s.data?.['tls.key'] ? s : undefined;
      } catch {
        return undefined;
      }
    };
    try {
      // The install.md shape: a self-signed anchor, a CA Issuer over it, and the identity issuer Certificate.
      await cm('issuers', { apiVersion: 'cert-manager.io/v1', kind: 'Issuer', metadata: { name: 'selfsigned' }, spec: { selfSigned: {} } });
      await cm('certificates', {
        apiVersion: 'cert-manager.io/v1',
        kind: 'Certificate',
        metadata: { name: 'weft-root' },
        spec: {
          isCA: true,
          commonName: 'root.identity.weft.cluster.local',
          secretName: 'weft-root',
          duration: '87600h',
          privateKey: { algorithm: 'ECDSA', size: 256 },
          issuerRef: { name: 'selfsigned', kind: 'Issuer' },
        },
      });
      await cm('issuers', {
        apiVersion: 'cert-manager.io/v1',
        kind: 'Issuer',
        metadata: { name: 'weft-root-ca' },
        spec: { ca: { secretName: 'weft-root' } },
      });
      await cm('certificates', {
        apiVersion: 'cert-manager.io/v1',
        kind: 'Certificate',
        metadata: { name: 'weft-identity-issuer' },
        spec: {
          isCA: true,
          commonName: 'identity.weft.cluster.local',
          secretName: 'weft-identity-issuer',
          duration: '2160h',
          renewBefore: '360h',
          privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
          usages: ['cert sign', 'crl sign', 'server auth', 'client auth'],
          issuerRef: { name: 'weft-root-ca', kind: 'Issuer' },
        },
      });
      await waitFor('cert-manager to write weft-identity-issuer', async () => (await secret('weft-identity-issuer')) !== undefined, {
        timeoutMs: 120_000,
      });
      const anchorPem = Buffer.from((await secret('weft-root'))!.data!['tls.crt']!, 'base64').toString();
      await core.createNamespacedConfigMap({
        namespace,
        body: { metadata: { name: 'weft-identity-trust-roots' }, data: { 'ca-bundle.crt': anchorPem } },
      });

      const validator = new KubernetesTokenValidator(kc, log);
      await validator.checkAccess();
      const service = await startIdentityService({
        host: '127.0.0.1',
        port: 0,
        trustDomain: 'cluster.local',
        controlNamespace: namespace,
        validator,
        issuerSource: secretIssuerSource({ kc, namespace, log }),
        trustSource: configMapTrustSource({ kc, namespace, log }),
        log,
        registry: createRegistry('identity-test'),
      });
      try {
        await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'web' } } });
        const pod = await core.createNamespacedPod({
          namespace,
          body: {
            metadata: { name: 'web-0' },
            spec: { serviceAccountName: 'web', containers: [{ name: 'app', image: 'registry.invalid/none' }] },
          },
        });
        const token = (
          await core.createNamespacedServiceAccountToken({
            namespace,
            name: 'web',
            body: {
              spec: {
                audiences: ['identity.weft.io'],
                expirationSeconds: 600,
                boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'web-0', uid: pod.metadata!.uid! },
              },
            },
          })
        ).status!.token;
        const identity = `web.${namespace}.serviceaccount.identity.${namespace}.cluster.local`;
        const opts = {
          addr: `127.0.0.1:${service.port}`,
          serverName: service.serverName,
          trustAnchorsPem: anchorPem,
          tokenFile: pki.file('token', token),
          identity,
        };
        const first = await certify(opts);
        const anchorPath = pki.file('anchor.pem', anchorPem);
        const verify = (name: string, c: { certPem: string; chainPem: string }) =>
          pki.verify(pki.file(`${name}.pem`, c.certPem), anchorPath, pki.file(`${name}-chain.pem`, c.chainPem), 'sslclient');
        assert.match(verify('first', first), /: OK/);

        // cert-manager re-issues a deleted Secret (install.md's forced renewal); identity switches without a restart.
        const firstSerial = service.issuer.current.issuer.cert.serialNumber;
        await core.deleteNamespacedSecret({ name: 'weft-identity-issuer', namespace });
        await waitFor('identity to load the re-issued issuer', () => service.issuer.current.issuer.cert.serialNumber !== firstSerial, {
          timeoutMs: 120_000,
        });
        assert.ok(
          records.some((r) => /was deleted/.test(String(r['err']))),
          'the deletion is reported, the old issuer kept meanwhile',
        );
        const second = await certify(opts);
        assert.notEqual(new X509Certificate(second.chainPem).serialNumber, new X509Certificate(first.chainPem).serialNumber);
        assert.match(verify('second', second), /: OK/);
        assert.match(verify('first-again', first), /: OK/);
      } finally {
        await service.close();
      }
    } finally {
      await core.deleteNamespace({ name: namespace });
      pki.dispose();
    }
  },
);
