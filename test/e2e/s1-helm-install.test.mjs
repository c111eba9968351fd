// Scenario 1: `helm install` of weft-crds and weft-control-plane (the `helm
// package` .tgz files, images from the node's registry) against the real API server, with the identity issuer issued and kept by the real
// cert-manager (the chart's `certManager.create` objects over a trust anchor
// cert-manager also made), the webhook CA injected by the real cainjector, and
// each component's ServiceAccount holding the permissions its component needs
// (checked as that ServiceAccount, with a TokenRequest token).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { loadEnv, notRunning, waitFor } from './lib/env.mjs';
import { Kube } from './lib/kube.mjs';
import { WEFT_NS, certificateReady, installWeft, uninstallWeft } from './lib/weft-install.mjs';

const NS = WEFT_NS;
const skip = notRunning;
if (skip) console.log(`# scenario 1 skipped: ${skip}`);

let env;
let installed = [];

before(async () => {
  if (skip) return;
  env = loadEnv();
});

after(async () => {
  if (!env) return;
  await uninstallWeft(env, installed);
  env.kube.close();
});

/** kind/name pairs of a release's manifest. */
function manifestObjects(release, ns) {
  const text = env.helm(['get', 'manifest', release, '-n', ns]);
  return text.split(/^---$/m).map((doc) => ({ kind: doc.match(/^kind:\s*(\S+)/m)?.[1], name: doc.match(/^metadata:\s*\n(?:\s+.*\n)*?\s+name:\s*(\S+)/m)?.[1] })).filter((o) => o.kind);
}

test('helm installs weft-crds and weft-control-plane with the identity issuer from cert-manager', { skip }, async () => {
  const { anchorPem, anchorFile, releases } = await installWeft(env);
  installed = releases;
  for (const [release, ns] of releases) {
    const chart = JSON.parse(env.helm(['get', 'metadata', release, '-n', ns, '-o', 'json']));
    console.log(`# ${release}: chart ${chart.chart} ${chart.version} (app ${chart.appVersion}) from the packaged .tgz`);
  }
  const crds = manifestObjects('weft-crds', 'default').filter((o) => o.kind === 'CustomResourceDefinition');
  assert.ok(crds.length > 0, 'weft-crds renders CustomResourceDefinitions');
  for (const crd of crds) {
    await waitFor(`CRD ${crd.name} Established`, async () => {
      const c = await env.kube.get(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.name}`);
      return c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True');
    }, { timeoutMs: 60_000 });
  }

  const status = JSON.parse(env.helm(['status', 'weft', '-n', NS, '-o', 'json']));
  assert.equal(status.info.status, 'deployed');

  // cert-manager issues the identity issuer into the Secret identity reads.
  const issuerCert = await certificateReady(env.kube, `/apis/cert-manager.io/v1/namespaces/${NS}/certificates/weft-identity-issuer`);
  assert.equal(issuerCert.spec.isCA, true);
  const issuer = await env.kube.get(`/api/v1/namespaces/${NS}/secrets/weft-identity-issuer`);
  assert.equal(issuer.type, 'kubernetes.io/tls');
  const d = (k) => Buffer.from(issuer.data[k], 'base64').toString();
  assert.equal(d('ca.crt'), anchorPem, 'ca.crt of the issuer Secret is the trust anchor');
  const issuerFile = env.writeFile('s1-issuer.pem', d('tls.crt'));
  assert.match(execFileSync('openssl', ['verify', '-CAfile', anchorFile, issuerFile], { encoding: 'utf8' }), /OK/);
  assert.match(execFileSync('openssl', ['x509', '-in', issuerFile, '-noout', '-ext', 'basicConstraints,subjectAltName'], { encoding: 'utf8' }), /CA:TRUE[\s\S]*DNS:identity\.weft\.cluster\.local/);

  // The chart publishes the anchors every proxy trusts.
  const roots = await env.kube.get(`/api/v1/namespaces/${NS}/configmaps/weft-identity-trust-roots`);
  assert.ok(roots.data['ca-bundle.crt'].includes(anchorPem.trim()), 'trust roots hold the anchor');

  // The webhook's CA bundle comes from cert-manager's cainjector.
  const webhooks = manifestObjects('weft', NS).filter((o) => o.kind === 'MutatingWebhookConfiguration');
  assert.equal(webhooks.length, 1, 'one MutatingWebhookConfiguration');
  await certificateReady(env.kube, `/apis/cert-manager.io/v1/namespaces/${NS}/certificates/weft-injector`);
  const webhookCa = await env.kube.get(`/api/v1/namespaces/${NS}/secrets/weft-webhook-ca`);
  await waitFor('cainjector to fill the webhook caBundle', async () => {
    const mwc = await env.kube.get(`/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${webhooks[0].name}`);
    return mwc.webhooks.every((w) => w.clientConfig.caBundle && Buffer.from(w.clientConfig.caBundle, 'base64').toString().includes(Buffer.from(webhookCa.data['tls.crt'], 'base64').toString().trim()));
  }, { timeoutMs: 90_000 });
});

/** What each component does with the API (ARCHITECTURE §3), checked as its own ServiceAccount. */
const NEEDS = {
  'weft-identity': [
    { group: 'authentication.k8s.io', resource: 'tokenreviews', verb: 'create' },
    ...['get', 'list', 'watch'].map((verb) => ({ resource: 'secrets', verb, namespace: NS, name: 'weft-identity-issuer' })),
    ...['get', 'list', 'watch'].map((verb) => ({ resource: 'configmaps', verb, namespace: NS, name: 'weft-identity-trust-roots' })),
  ],
  'weft-destination': ['list', 'watch'].flatMap((verb) => [
    { resource: 'services', verb },
    { resource: 'pods', verb },
    { group: 'discovery.k8s.io', resource: 'endpointslices', verb },
  ]),
};

test('each component ServiceAccount gets a TokenRequest kubeconfig that RBAC lets do its job', { skip }, async (t) => {
  if (!installed.some(([r]) => r === 'weft')) return t.skip('weft-control-plane was not installed (previous test failed)');
  for (const [sa, needs] of Object.entries(NEEDS)) {
    await waitFor(`ServiceAccount ${NS}/${sa}`, () => env.kube.getOrNull(`/api/v1/namespaces/${NS}/serviceaccounts/${sa}`), { timeoutMs: 30_000 });
    const kc = await env.serviceAccountKubeconfig(NS, sa);
    const asSa = Kube.fromKubeconfig(kc);
    try {
      const denied = [];
      for (const n of needs) {
        const r = await asSa.create('/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: { resourceAttributes: { group: n.group ?? '', resource: n.resource, verb: n.verb, namespace: n.namespace, name: n.name } },
        });
        if (!r.status.allowed) denied.push(`${n.verb} ${n.group ? `${n.group}/` : ''}${n.resource}${n.name ? `/${n.name}` : ''}${n.namespace ? ` in ${n.namespace}` : ''}`);
      }
      assert.deepEqual(denied, [], `${sa} is missing RBAC`);
      // And no more than it needs where it matters: a component never writes Secrets.
      const w = await asSa.create('/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
        apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { resource: 'secrets', verb: 'update', namespace: NS, name: 'weft-identity-issuer' } },
      });
      assert.equal(w.status.allowed, false, `${sa} must not be able to update the issuer Secret`);
    } finally {
      asSa.close();
    }
  }
});
