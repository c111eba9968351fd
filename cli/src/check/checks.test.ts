// `weft check` over in-memory cluster reads with real certificates made by
// openssl: a healthy install passes, and each fault is reported with its fix.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestPki, type CertAndKey } from '@weft/common/testing/pki';
import { failed, runChecks, type CheckOptions, type CheckResult } from './checks.js';
import type { ClusterReads, ControlPlaneDeployment, MeshedPod } from './cluster-reads.js';
import { CLI_VERSION } from '../version.js';

const pki = new TestPki();
let anchor: CertAndKey;
let issuer: CertAndKey;
let webhookCa: CertAndKey;
let webhookCert: CertAndKey;
let otherRoot: CertAndKey;

before(() => {
  anchor = pki.cert({ subject: '/CN=root.weft.cluster.local', ca: true, days: 3650 });
  issuer = pki.cert({ subject: '/CN=identity.weft.cluster.local', ca: true, issuer: anchor, days: 365 });
  webhookCa = pki.cert({ subject: '/CN=weft-webhook-ca', ca: true, days: 3650 });
  webhookCert = pki.cert({ subject: '/CN=weft-injector.weft.svc', issuer: webhookCa, dns: ['weft-injector.weft.svc'], days: 365 });
  otherRoot = pki.cert({ subject: '/CN=some-other-root', ca: true, days: 3650 });
});

after(() => pki.dispose());

interface Cluster {
  anchorsPem: string;
  issuerPem: string;
  webhookBundle: string;
  deployments: ControlPlaneDeployment[];
  pods: MeshedPod[];
  reachable: boolean;
}

function healthy(): Cluster {
  return {
    anchorsPem: anchor.cert,
    issuerPem: issuer.cert,
    webhookBundle: webhookCa.cert,
    deployments: ['weft-identity', 'weft-destination', 'weft-injector'].map((name) => ({ name, desired: 1, ready: 1, version: CLI_VERSION })),
    pods: [{ namespace: 'shop', name: 'web-1', proxyVersion: CLI_VERSION, proxyReady: true }],
    reachable: true,
  };
}

function reads(c: Cluster): ClusterReads {
  return {
    serverVersion: async () => {
      if (!c.reachable) throw new Error('connect ECONNREFUSED 127.0.0.1:6443');
      return { major: 1, minor: 31, gitVersion: 'v1.31.0' };
    },
    canI: async () => true,
    namespaceExists: async (ns) => ns === 'weft',
    deployments: async () => c.deployments,
    configMap: async (_ns, name) => (name === 'weft-identity-trust-roots' ? { 'ca-bundle.crt': c.anchorsPem } : undefined),
    secret: async (_ns, name): Promise<Record<string, string> | undefined> => {
      if (name === 'weft-identity-issuer') return { 'tls.crt': c.issuerPem, 'ca.crt': c.anchorsPem, 'tls.key': issuer.key };
      if (name === 'weft-injector-k8s-tls') return { 'tls.crt': webhookCert.cert, 'tls.key': webhookCert.key };
      return undefined;
    },
    webhookCaBundles: async (name) => (name === 'weft-proxy-injector-webhook-config' ? [c.webhookBundle] : undefined),
    meshedPods: async () => c.pods,
  };
}

const opts = (o: Partial<CheckOptions> = {}): CheckOptions => ({ controlNamespace: 'weft', pre: false, proxy: true, clientVersion: CLI_VERSION, now: new Date(), ...o });

function find(results: CheckResult[], description: RegExp): CheckResult {
  const r = results.find((x) => description.test(x.description));
  assert.ok(r, `no check matching ${description} in:\n${results.map((x) => x.description).join('\n')}`);
  return r;
}

test('a healthy install passes every check', async () => {
  const results = await runChecks(reads(healthy()), opts());
  assert.deepEqual(results.filter((r) => r.status !== 'ok'), []);
  assert.ok(results.length >= 12);
  assert.equal(failed(results), false);
});

test('an expired trust anchor fails and names the rotation', async () => {
  const shortAnchor = pki.cert({ subject: '/CN=short-root', ca: true, days: 30 });
  const shortIssuer = pki.cert({ subject: '/CN=short-issuer', ca: true, issuer: shortAnchor, days: 20 });
  const c = { ...healthy(), anchorsPem: shortAnchor.cert, issuerPem: shortIssuer.cert };
  const results = await runChecks(reads(c), opts({ now: new Date(Date.now() + 31 * 86_400_000) }));
  const r = find(results, /trust anchors are valid/);
  assert.equal(r.status, 'fail');
  assert.match(r.message!, /trust anchor "CN=short-root" expired at/);
  assert.match(r.fix!, /rotate the trust anchor/);
  assert.equal(failed(results), true);
});

test('an anchor expiring within 60 days is warned about', async () => {
  const soon = pki.cert({ subject: '/CN=soon-root', ca: true, days: 45 });
  const iss = pki.cert({ subject: '/CN=iss', ca: true, issuer: soon, days: 40 });
  const results = await runChecks(reads({ ...healthy(), anchorsPem: soon.cert, issuerPem: iss.cert }), opts());
  const r = find(results, /trust anchors are valid/);
  assert.equal(r.status, 'warn');
  assert.match(r.message!, /expires in 4[45] days/);
});

test('an issuer not signed by any anchor fails', async () => {
  const stranger = pki.cert({ subject: '/CN=stranger-issuer', ca: true, issuer: otherRoot, days: 365 });
  const results = await runChecks(reads({ ...healthy(), issuerPem: stranger.cert }), opts());
  const r = find(results, /issuer certificate is signed by a trust anchor/);
  assert.equal(r.status, 'fail');
  assert.match(r.message!, /"CN=stranger-issuer" is not signed by any anchor/);
  assert.match(r.fix!, /re-issue weft\/weft-identity-issuer/);
  assert.equal(failed(results), true);
});

test('an issuer expiring within 60 days is warned about, not failed', async () => {
  const soon = pki.cert({ subject: '/CN=soon-issuer', ca: true, issuer: anchor, days: 30 });
  const results = await runChecks(reads({ ...healthy(), issuerPem: soon.cert }), opts());
  const r = find(results, /issuer certificate is a valid CA/);
  assert.equal(r.status, 'warn');
  assert.match(r.message!, /issuer "CN=soon-issuer" expires in (29|30) days/);
  assert.match(r.fix!, /renew the issuer/);
  assert.equal(failed(results), false);
});

test('a webhook CA bundle that does not match the injector certificate fails', async () => {
  const results = await runChecks(reads({ ...healthy(), webhookBundle: otherRoot.cert }), opts());
  const r = find(results, /webhook CA bundle matches/);
  assert.equal(r.status, 'fail');
  assert.match(r.message!, /the API server would not trust the injector/);
  assert.match(r.fix!, /caBundle/);
});

test('a control plane that is not ready fails naming the Deployment', async () => {
  const c = healthy();
  c.deployments = c.deployments.map((d) => (d.name === 'weft-destination' ? { ...d, ready: 0 } : d));
  const results = await runChecks(reads(c), opts());
  const r = find(results, /weft-destination is running and ready/);
  assert.equal(r.status, 'fail');
  assert.match(r.message!, /0\/1 ready replicas/);
  assert.match(r.fix!, /kubectl -n weft describe deploy\/weft-destination/);
  const missing = await runChecks(reads({ ...healthy(), deployments: [] }), opts());
  assert.match(find(missing, /weft-identity is running/).message!, /does not exist/);
});

test('proxies at another version than the control plane are reported as skew', async () => {
  const c = healthy();
  c.pods = [...c.pods, { namespace: 'shop', name: 'books-1', proxyVersion: '0.0.9', proxyReady: true }];
  const results = await runChecks(reads(c), opts());
  const r = find(results, /proxies run the control plane version/);
  assert.equal(r.status, 'warn');
  assert.match(r.message!, /shop\/books-1 \(0\.0\.9\)/);
  assert.match(r.fix!, /rollout restart/);
});

test('an unreachable API server fails first and stops the other checks', async () => {
  const results = await runChecks(reads({ ...healthy(), reachable: false }), opts());
  assert.equal(results.length, 1);
  assert.equal(results[0]!.status, 'fail');
  assert.match(results[0]!.message!, /ECONNREFUSED/);
});

test('garbage in the trust roots ConfigMap is a clear failure', async () => {
  const results = await runChecks(reads({ ...healthy(), anchorsPem: 'not a certificate' }), opts());
  const r = find(results, /trust anchors are present/);
  assert.equal(r.status, 'fail');
  assert.match(r.message!, /holds no PEM CERTIFICATE block/);
});

test('pre-install checks refuse an existing control plane namespace', async () => {
  const results = await runChecks(reads(healthy()), opts({ pre: true }));
  const r = find(results, /does not already exist/);
  assert.equal(r.status, 'fail');
  assert.ok(results.some((x) => /can create customresourcedefinitions/.test(x.description) && x.status === 'ok'));
});
