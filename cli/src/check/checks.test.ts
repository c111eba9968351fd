// `weft check` over in-memory cluster reads with real certificates made by
// openssl: a healthy install passes, and each fault is reported with its fix.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestPki, type CertAndKey } from '@weft/common/testing/pki';
import { failed, runChecks, type CheckOptions, type CheckResult } from './checks.js';
import type { ClusterReads, ControlPlaneDeployment, CrdVersions, MeshedPod } from './cluster-reads.js';
import { CRD_DEPRECATED_VERSION, CRD_VERSION, WEFT_CRDS } from '@weft/api/names';
import { CLI_VERSION } from '../version.js';

const pki = new TestPki();
let anchor: CertAndKey;
let issuer: CertAndKey;
let webhookCa: CertAndKey;
let webhookCert: CertAndKey;
let otherRoot: CertAndKey;
let destinationCert: CertAndKey;
let tapCert: CertAndKey;

before(() => {
  anchor = pki.cert({ subject: '/CN=root.weft.cluster.local', ca: true, days: 3650 });
  issuer = pki.cert({ subject: '/CN=identity.weft.cluster.local', ca: true, issuer: anchor, days: 365 });
  webhookCa = pki.cert({ subject: '/CN=weft-webhook-ca', ca: true, days: 3650 });
  webhookCert = pki.cert({ subject: '/CN=weft-injector.weft.svc', issuer: webhookCa, dns: ['weft-injector.weft.svc'], days: 365 });
  otherRoot = pki.cert({ subject: '/CN=some-other-root', ca: true, days: 3650 });
  destinationCert = pki.cert({ subject: '/CN=weft-destination', dns: ['weft-destination.weft.serviceaccount.identity.weft.cluster.local'], issuer, days: 300 });
  tapCert = pki.cert({ subject: '/CN=weft-viz', dns: ['weft-viz.weft-viz.serviceaccount.identity.weft.cluster.local'], issuer, days: 300 });
});

after(() => pki.dispose());

interface Cluster {
  anchorsPem: string;
  issuerPem: string;
  webhookBundle: string;
  deployments: ControlPlaneDeployment[];
  pods: MeshedPod[];
  reachable: boolean;
  /** tls.crt of weft-destination-tls (leaf + issuer), undefined = no Secret. */
  destinationPem: string | undefined;
  /** tls.crt of weft-viz-tap-tls, undefined = no Secret; vizInstalled = its namespace exists. */
  tapPem: string | undefined;
  vizInstalled: boolean;
  /** weft's CRDs by name; a missing name is not installed. */
  crds: Map<string, CrdVersions>;
}

const crdNames = WEFT_CRDS.map((c) => `${c.plural}.${c.group}`);
const crdsAt = (storageVersion: string, storedVersions: string[]) => new Map(crdNames.map((n) => [n, { storageVersion, storedVersions }]));

function healthy(): Cluster {
  return {
    anchorsPem: anchor.cert,
    issuerPem: issuer.cert,
    webhookBundle: webhookCa.cert,
    deployments: ['weft-identity', 'weft-destination', 'weft-injector'].map((name) => ({ name, desired: 1, ready: 1, version: CLI_VERSION })),
    pods: [{ namespace: 'shop', name: 'web-1', proxyVersion: CLI_VERSION, proxyReady: true }],
    reachable: true,
    destinationPem: destinationCert.cert + issuer.cert,
    tapPem: tapCert.cert + issuer.cert,
    vizInstalled: true,
    crds: crdsAt(CRD_VERSION, [CRD_VERSION]),
  };
}

function reads(c: Cluster): ClusterReads {
  return {
    serverVersion: async () => {
      if (!c.reachable) throw new Error('connect ECONNREFUSED 127.0.0.1:6443');
      return { major: 1, minor: 31, gitVersion: 'v1.31.0' };
    },
    canI: async () => true,
    namespaceExists: async (ns) => ns === 'weft' || (ns === 'weft-viz' && c.vizInstalled),
    deployments: async () => c.deployments,
    configMap: async (_ns, name) => (name === 'weft-identity-trust-roots' ? { 'ca-bundle.crt': c.anchorsPem } : undefined),
    secret: async (_ns, name): Promise<Record<string, string> | undefined> => {
      if (name === 'weft-identity-issuer') return { 'tls.crt': c.issuerPem, 'ca.crt': c.anchorsPem, 'tls.key': issuer.key };
      if (name === 'weft-injector-k8s-tls') return { 'tls.crt': webhookCert.cert, 'tls.key': webhookCert.key };
      if (name === 'weft-destination-tls') return c.destinationPem === undefined ? undefined : { 'tls.crt': c.destinationPem };
      if (name === 'weft-viz-tap-tls') return c.tapPem === undefined ? undefined : { 'tls.crt': c.tapPem };
      return undefined;
    },
    webhookCaBundles: async (name) => (name === 'weft-proxy-injector-webhook-config' ? [c.webhookBundle] : undefined),
    meshedPods: async () => c.pods,
    crd: async (name) => c.crds.get(name),
  };
}

const opts = (o: Partial<CheckOptions> = {}): CheckOptions => ({ controlNamespace: 'weft', pre: false, proxy: true, clientVersion: CLI_VERSION, now: new Date(), vizNamespace: 'weft-viz', ...o });

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

test('a missing issuer Secret fails with the helm command that gives the chart the issuer', async () => {
  const c = healthy();
  const r0 = reads(c);
  const results = await runChecks({ ...r0, secret: async (ns, name) => (name === 'weft-identity-issuer' ? undefined : r0.secret(ns, name)) }, opts());
  const r = find(results, /issuer certificate is present/);
  assert.equal(r.status, 'fail');
  assert.match(r.message!, /Secret weft\/weft-identity-issuer does not exist/);
  assert.match(r.fix!, /helm upgrade weft weft-control-plane -n weft --reuse-values --set-file identity\.issuer\.tls\.crtPEM=issuer\.crt/);
});

test("destination's serving certificate: missing, or not chaining to an anchor, fails with the fix", async () => {
  const missing = find(await runChecks(reads({ ...healthy(), destinationPem: undefined }), opts()), /destination serving certificate/);
  assert.equal(missing.status, 'fail');
  assert.match(missing.message!, /weft\/weft-destination-tls is missing/);
  assert.match(missing.fix!, /--set-file identity\.issuer\.tls\.crtPEM/);
  const strangerIssuer = pki.cert({ subject: '/CN=stranger', ca: true, issuer: otherRoot, days: 365 });
  const stranger = pki.cert({ subject: '/CN=d', dns: ['weft-destination.weft.serviceaccount.identity.weft.cluster.local'], issuer: strangerIssuer, days: 100 });
  const foreign = find(await runChecks(reads({ ...healthy(), destinationPem: stranger.cert + strangerIssuer.cert }), opts()), /destination serving certificate/);
  assert.equal(foreign.status, 'fail');
  assert.match(foreign.message!, /proxies would not trust destination's certificate/);
  const wrongName = pki.cert({ subject: '/CN=d', dns: ['web.shop.serviceaccount.identity.weft.cluster.local'], issuer, days: 100 });
  const named = find(await runChecks(reads({ ...healthy(), destinationPem: wrongName.cert + issuer.cert }), opts()), /destination serving certificate/);
  assert.match(named.message!, /does not name weft-destination\.weft\.serviceaccount\.identity\.weft\./);
});

test("viz's tap certificate: missing fails, expiring within 60 days warns; no viz, no check", async () => {
  const missing = find(await runChecks(reads({ ...healthy(), tapPem: undefined }), opts()), /tap client certificate/);
  assert.equal(missing.status, 'fail');
  assert.match(missing.message!, /weft-viz\/weft-viz-tap-tls is missing/);
  assert.match(missing.fix!, /helm upgrade weft-viz .*identity\.issuer\.tls\.crtPEM.*viz\.tapTls\.issuerRef\.name/);
  const soon = pki.cert({ subject: '/CN=viz-soon', dns: ['weft-viz.weft-viz.serviceaccount.identity.weft.cluster.local'], issuer, days: 20 });
  const expiring = find(await runChecks(reads({ ...healthy(), tapPem: soon.cert + issuer.cert }), opts()), /tap client certificate/);
  assert.equal(expiring.status, 'warn');
  assert.match(expiring.message!, /tap certificate "CN=viz-soon" expires in (19|20) days/);
  const none = await runChecks(reads({ ...healthy(), vizInstalled: false, tapPem: undefined }), opts());
  assert.ok(!none.some((r) => /tap client certificate/.test(r.description)), 'viz not installed: not checked');
  assert.equal(failed(none), false);
});

test('anchor rotation phases: proxies missing the new anchor, then proxies still trusting the removed one, are reported', async () => {
  const next = pki.cert({ subject: '/CN=next-root', ca: true, days: 3650 });
  const pod = (name: string, pem: string): MeshedPod => ({ namespace: 'shop', name, proxyVersion: CLI_VERSION, proxyReady: true, trustAnchorsPem: pem });
  // Step 2: the bundle holds old + new; a proxy started before knows only the old one.
  const step2 = { ...healthy(), anchorsPem: anchor.cert + next.cert, pods: [pod('old-1', anchor.cert), pod('new-1', anchor.cert + next.cert)] };
  const r2 = find(await runChecks(reads(step2), opts()), /proxies trust the current trust anchors/);
  assert.equal(r2.status, 'warn');
  assert.match(r2.message!, /1 proxies do not trust every current anchor.*shop\/old-1/);
  assert.match(r2.fix!, /rollout restart/);
  // Step 4: the old anchor is gone from the bundle; a proxy still carries it.
  const step4 = { ...healthy(), anchorsPem: anchor.cert, pods: [pod('stale-1', anchor.cert + otherRoot.cert), pod('fresh-1', anchor.cert)] };
  const r4 = find(await runChecks(reads(step4), opts()), /proxies trust the current trust anchors/);
  assert.equal(r4.status, 'warn');
  assert.match(r4.message!, /1 proxies still trust an anchor that was removed: shop\/stale-1/);
  // All in step: ok.
  const done = find(await runChecks(reads({ ...healthy(), pods: [pod('a', anchor.cert)] }), opts()), /proxies trust the current trust anchors/);
  assert.equal(done.status, 'ok');
});

test('CRDs whose storedVersions still name v1alpha1 are warned about, with the migration command as the fix', async () => {
  const c = { ...healthy(), crds: crdsAt(CRD_VERSION, [CRD_DEPRECATED_VERSION, CRD_VERSION]) };
  c.crds.set('servers.policy.weft.io', { storageVersion: CRD_VERSION, storedVersions: [CRD_VERSION] });
  const results = await runChecks(reads(c), opts());
  const r = find(results, /every weft custom resource is stored at v1beta1/);
  assert.equal(r.status, 'warn');
  assert.match(r.message!, /serviceprofiles\.weft\.io \[v1alpha1, v1beta1\]/);
  assert.doesNotMatch(r.message!, /servers\.policy\.weft\.io/);
  assert.match(r.message!, /may still be stored at v1alpha1 in etcd/);
  assert.match(r.fix!, /^weft crds migrate/);
  assert.equal(failed(results), false, 'a warning, not a failure');
  assert.equal(find(results, /weft CRDs are installed and store new objects at v1beta1/).status, 'ok');
});

test('CRDs missing, or still storing at v1alpha1 (weft-crds not upgraded), fail with the helm command', async () => {
  const c = healthy();
  c.crds.delete('networkauthentications.policy.weft.io');
  const missing = find(await runChecks(reads(c), opts()), /weft CRDs are installed/);
  assert.equal(missing.status, 'fail');
  assert.match(missing.message!, /CRDs not installed: networkauthentications\.policy\.weft\.io$/);
  assert.match(missing.fix!, /helm install weft-crds/);
  const old = await runChecks(reads({ ...healthy(), crds: crdsAt(CRD_DEPRECATED_VERSION, [CRD_DEPRECATED_VERSION]) }), opts());
  const r = find(old, /weft CRDs are installed/);
  assert.equal(r.status, 'fail');
  assert.match(r.message!, /serviceprofiles\.weft\.io stores at v1alpha1.*this release reads and writes v1beta1/);
  assert.match(r.fix!, /helm upgrade weft-crds/);
  assert.ok(!old.some((x) => /every weft custom resource is stored/.test(x.description)), 'no migration advice before the upgrade');
});
