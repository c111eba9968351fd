/**
 * What the control-plane chart promises, on the synthesized objects (which
 * charts.test.ts proves equal to `helm template`): least-privilege RBAC,
 * hardened pods, HA shape, webhook settings and certificate wiring.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CHARTS, renderWithValues } from '../synth.js';
import { ROOT } from '../testing/helm.js';
import { controlPlaneChart } from './chart.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
// cert-manager creates the certificates unless a test says otherwise.
const anchor = { identityTrustAnchorsPEM: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n', certManager: { create: true } };
const issuerPems = { identity: { issuer: { tls: { crtPEM: '-----BEGIN CERTIFICATE-----\nI\n', keyPEM: '-----BEGIN PRIVATE KEY-----\nK\n' } } } };
const noCertManager = { certManager: { create: false } };
const render = (...files: unknown[]): Obj[] => renderWithValues(controlPlaneChart, [anchor, ...files], { name: 'weft', namespace: 'weft' });
const find = (objs: Obj[], kind: string, name: string): Obj | undefined => objs.find((o) => o.kind === kind && o.metadata.name === name);

function rulesOf(objs: Obj[], sa: string): string[] {
  const out: string[] = [];
  for (const binding of objs.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding')) {
    if (!binding.subjects.some((s: Obj) => s.name === sa)) continue;
    const role = find(objs, binding.roleRef.kind, binding.roleRef.name)!;
    for (const r of role.rules) {
      const names = r.resourceNames ? `/${[...r.resourceNames].sort().join(',')}` : '';
      for (const g of r.apiGroups) for (const res of r.resources) for (const verb of r.verbs) out.push(`${binding.kind === 'RoleBinding' ? 'ns:' : ''}${g}/${res}${names}:${verb}`);
    }
  }
  return out.sort();
}

test('RBAC is least privilege: exactly what each component needs', () => {
  const objs = render();
  assert.deepEqual(rulesOf(objs, 'weft-identity'), [
    'authentication.k8s.io/tokenreviews:create',
    'ns:/configmaps/weft-identity-trust-roots:get',
    'ns:/configmaps/weft-identity-trust-roots:list',
    'ns:/configmaps/weft-identity-trust-roots:watch',
    'ns:/secrets/weft-identity-issuer:get',
    'ns:/secrets/weft-identity-issuer:list',
    'ns:/secrets/weft-identity-issuer:watch',
  ]);
  const destination = rulesOf(objs, 'weft-destination');
  for (const res of ['/services', '/pods', '/namespaces', 'discovery.k8s.io/endpointslices', 'weft.io/serviceprofiles', 'policy.weft.io/servers', 'policy.weft.io/authorizationpolicies', 'policy.weft.io/meshtlsauthentications', 'policy.weft.io/networkauthentications']) {
    assert.ok(destination.includes(`${res}:list`) && destination.includes(`${res}:watch`), res);
  }
  // It only lists and watches, except the route status it writes (Gateway API, docs/routes.md).
  assert.ok(destination.every((r) => /:(list|watch)$/.test(r) || /^gateway\.networking\.k8s\.io\/(httproutes|grpcroutes)\/status:update$/.test(r)), `destination only lists and watches: ${destination.join(' ')}`);
  assert.deepEqual(rulesOf(objs, 'weft-injector'), ['/namespaces:get', '/namespaces:list', '/namespaces:watch']);
  for (const role of objs.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')) {
    for (const r of role.rules) assert.ok(![...r.verbs, ...r.resources, ...r.apiGroups].includes('*'), `${role.metadata.name} has no wildcard`);
  }
});

test("identity's Role names the issuer Secret and the trust-roots ConfigMap: no other Secret of its namespace is readable", () => {
  for (const values of [[], [noCertManager, issuerPems], [noCertManager, issuerPems, { identity: { externalCA: true } }]]) {
    const objs = render(...values);
    const role = find(objs, 'Role', 'weft-identity')!;
    assert.deepEqual(role.rules, [
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['weft-identity-issuer'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['configmaps'], resourceNames: ['weft-identity-trust-roots'], verbs: ['get', 'list', 'watch'] },
    ]);
    // Every Secret/ConfigMap rule bound to identity, Role or ClusterRole, is restricted by name.
    for (const binding of objs.filter((o) => (o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding') && o.subjects.some((s: Obj) => s.name === 'weft-identity'))) {
      for (const r of find(objs, binding.roleRef.kind, binding.roleRef.name)!.rules) {
        if (r.resources.includes('secrets') || r.resources.includes('configmaps')) assert.ok(r.resourceNames?.length, `${binding.roleRef.kind} ${binding.roleRef.name} reads ${r.resources} by name only`);
      }
    }
  }
  // The names identity is configured with are the names the Role grants.
  const env = Object.fromEntries(find(render(), 'Deployment', 'weft-identity')!.spec.template.spec.containers[0].env.map((e: Obj) => [e.name, e.value]));
  assert.equal(env.WEFT_IDENTITY_ISSUER_SECRET, 'weft-identity-issuer');
  assert.equal(env.WEFT_IDENTITY_TRUST_ROOTS_CONFIGMAP, 'weft-identity-trust-roots');
});

test('every pod of every chart runs hardened: non-root, read-only root fs, no privilege escalation, all capabilities dropped', () => {
  for (const def of CHARTS) {
    for (const d of renderWithValues(def, [anchor, { viz: { tapTls: { externalSecret: true } } }], { name: 'weft', namespace: 'weft' }).filter((o: Obj) => o.kind === 'Deployment') as Obj[]) {
      const pod = d.spec.template.spec;
      assert.equal(pod.securityContext.runAsNonRoot, true, d.metadata.name);
      assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
      for (const c of pod.containers) {
        assert.deepEqual(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, privileged: false, capabilities: { drop: ['ALL'] } }, `${d.metadata.name}/${c.name}`);
        assert.ok(c.livenessProbe && c.readinessProbe, `${d.metadata.name}/${c.name} has probes`);
      }
    }
  }
});

test('values-ha.yaml: three replicas, required anti-affinity and a PodDisruptionBudget per component', () => {
  const ha = parse(readFileSync(join(ROOT, 'charts/weft-control-plane/values-ha.yaml'), 'utf8')) as Record<string, unknown>;
  const objs = render(ha);
  for (const c of ['identity', 'destination', 'injector']) {
    const d = find(objs, 'Deployment', `weft-${c}`)!;
    assert.equal(d.spec.replicas, 3);
    const term = d.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0];
    assert.equal(term.topologyKey, 'kubernetes.io/hostname');
    assert.deepEqual(term.labelSelector.matchLabels, d.spec.selector.matchLabels);
    const pdb = find(objs, 'PodDisruptionBudget', `weft-${c}`)!;
    assert.deepEqual(pdb.spec.selector.matchLabels, d.spec.selector.matchLabels);
    assert.equal(pdb.spec.maxUnavailable, 1);
  }
  assert.equal(find(objs, 'MutatingWebhookConfiguration', 'weft-proxy-injector-webhook-config')!.webhooks[0].failurePolicy, 'Fail');
  const plain = render();
  assert.equal(plain.filter((o) => o.kind === 'PodDisruptionBudget').length, 0);
  assert.equal(find(plain, 'Deployment', 'weft-identity')!.spec.template.spec.affinity, undefined);
});

test('the webhook takes failurePolicy and namespaceSelector from values, its CA from cert-manager or caBundle', () => {
  const objs = render({ proxyInjector: { failurePolicy: 'Fail', namespaceSelector: { matchLabels: { mesh: 'on' }, matchExpressions: null } } });
  const mwc = find(objs, 'MutatingWebhookConfiguration', 'weft-proxy-injector-webhook-config')!;
  assert.equal(mwc.webhooks[0].failurePolicy, 'Fail');
  assert.deepEqual(mwc.webhooks[0].namespaceSelector, {
    matchLabels: { mesh: 'on' },
    matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'kube-public', 'kube-node-lease', 'cert-manager', 'weft'] }],
  });
  assert.equal(mwc.metadata.annotations['cert-manager.io/inject-ca-from'], 'weft/weft-injector');
  assert.equal(mwc.webhooks[0].clientConfig.caBundle, undefined);
  const manual = find(render({ proxyInjector: { externalSecret: true, caBundle: '-----BEGIN CERTIFICATE-----\nX\n' } }), 'MutatingWebhookConfiguration', 'weft-proxy-injector-webhook-config')!;
  assert.equal(manual.metadata.annotations, undefined);
  assert.equal(Buffer.from(manual.webhooks[0].clientConfig.caBundle, 'base64').toString(), '-----BEGIN CERTIFICATE-----\nX\n');
});

test("the webhook never sees kube-system, cert-manager's or the control plane's namespace, so failurePolicy Fail cannot deadlock them", () => {
  const selector = (values: unknown = {}): Obj => find(renderWithValues(controlPlaneChart, [anchor, values], { name: 'weft', namespace: 'mesh' }), 'MutatingWebhookConfiguration', 'weft-proxy-injector-webhook-config')!.webhooks[0].namespaceSelector;
  assert.deepEqual(selector(), {
    matchExpressions: [
      { key: 'weft.io/inject', operator: 'NotIn', values: ['disabled'] },
      { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'kube-public', 'kube-node-lease', 'cert-manager', 'mesh'] },
    ],
  });
  // A list of one's own replaces the default; the release namespace stays excluded.
  const own = selector({ proxyInjector: { excludedNamespaces: ['kube-system', 'certs'], namespaceSelector: { matchExpressions: null } } });
  assert.deepEqual(own, { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'certs', 'mesh'] }] });
  assert.deepEqual(selector({ proxyInjector: { excludedNamespaces: [] } }).matchExpressions.at(-1).values, ['mesh']);
});

test('config.weft.io/proxy-image is refused by the injector unless proxyInjector.allowProxyImageOverride', () => {
  const env = (values: unknown = {}): Record<string, string> =>
    Object.fromEntries(find(render(values), 'Deployment', 'weft-injector')!.spec.template.spec.containers[0].env.map((e: Obj) => [e.name, e.value]));
  assert.equal(env().WEFT_INJECTOR_ALLOW_PROXY_IMAGE_OVERRIDE, 'false');
  assert.equal(env({ proxyInjector: { allowProxyImageOverride: true } }).WEFT_INJECTOR_ALLOW_PROXY_IMAGE_OVERRIDE, 'true');
});

test('trust roots ConfigMap comes from identityTrustAnchorsPEM unless externalCA; the issuer Secret from values unless cert-manager writes it', () => {
  const objs = render();
  assert.equal(find(objs, 'ConfigMap', 'weft-identity-trust-roots')!.data['ca-bundle.crt'], anchor.identityTrustAnchorsPEM);
  assert.equal(find(objs, 'Secret', 'weft-identity-issuer'), undefined, 'cert-manager owns it with certManager.create');
  assert.equal(find(render({ identity: { externalCA: true } }), 'ConfigMap', 'weft-identity-trust-roots'), undefined);
  // Linkerd's names render the Secret whatever the scheme says.
  for (const scheme of ['weft.io/tls', 'kubernetes.io/tls']) {
    const secret = find(render(noCertManager, issuerPems, { identity: { issuer: { scheme } } }), 'Secret', 'weft-identity-issuer')!;
    assert.equal(secret.type, 'kubernetes.io/tls', scheme);
    assert.deepEqual(Object.keys(secret.stringData).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
    assert.equal(secret.stringData['tls.crt'], issuerPems.identity.issuer.tls.crtPEM);
  }
  assert.equal(find(render(noCertManager, { identity: { issuer: { scheme: 'kubernetes.io/tls' } }, destination: { tls: { certManager: true } } }), 'Secret', 'weft-identity-issuer'), undefined, 'an issuer maintained outside the chart');
});

test('certManager.create renders the issuer chain with the names identity, destination and the webhook use', () => {
  const objs = render({ certManager: { create: true } });
  const cert = (name: string) => find(objs, 'Certificate', name)!.spec;
  assert.equal(cert('weft-identity-issuer').secretName, 'weft-identity-issuer');
  assert.equal(cert('weft-identity-issuer').isCA, true);
  assert.equal(cert('weft-identity-issuer').issuerRef.name, 'weft-trust-anchor');
  assert.deepEqual(cert('weft-destination').dnsNames, ['weft-destination.weft.serviceaccount.identity.weft.cluster.local']);
  assert.equal(cert('weft-destination').secretName, 'weft-destination-tls');
  assert.deepEqual(cert('weft-injector').dnsNames, ['weft-injector.weft.svc']);
  assert.equal(cert('weft-injector').secretName, 'weft-injector-k8s-tls');
  assert.equal(find(objs, 'Issuer', 'weft-trust-anchor')!.spec.ca.secretName, 'weft-trust-anchor');
  assert.equal(render(noCertManager, issuerPems).filter((o) => o.apiVersion === 'cert-manager.io/v1').length, 0);
  // An issuer managed outside the chart (path b): only destination's Certificate and its CA Issuer.
  const b = render(noCertManager, { identity: { issuer: { scheme: 'kubernetes.io/tls' } }, destination: { tls: { certManager: true } } }).filter((o) => o.apiVersion === 'cert-manager.io/v1');
  assert.deepEqual(b.map((o) => `${o.kind}/${o.metadata.name}`).sort(), ['Certificate/weft-destination', 'Issuer/weft-identity-issuer']);
});

test('without cert-manager the chart renders the webhook and destination Secrets, generated at install time', () => {
  const objs = render(noCertManager, issuerPems);
  const webhookSecret = find(objs, 'Secret', 'weft-injector-k8s-tls')!;
  assert.deepEqual(Object.keys(webhookSecret.stringData).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
  assert.match(webhookSecret.stringData['tls.crt'], /generated:\$webhookCrt/);
  assert.match(webhookSecret.metadata.annotations['weft.io/not-after'], /generated/);
  const mwc = find(objs, 'MutatingWebhookConfiguration', 'weft-proxy-injector-webhook-config')!;
  assert.equal(mwc.metadata.annotations, undefined, 'no cainjector');
  assert.match(mwc.webhooks[0].clientConfig.caBundle, /generated/);
  const destination = find(objs, 'Secret', 'weft-destination-tls')!;
  assert.match(destination.stringData['tls.crt'], /generated:\$destinationCrt/);
  assert.ok(destination.metadata.annotations['weft.io/issuer-sha256']);
  // Generated certificates are followed through the mounted Secret, not by rolling the pods.
  for (const c of ['injector', 'destination']) {
    const ann = find(objs, 'Deployment', `weft-${c}`)!.spec.template.metadata.annotations;
    assert.equal(ann['checksum/webhook-tls'] ?? ann['checksum/tls'], undefined, c);
  }
});

test('combinations that would install and then wait are refused, naming what to set', () => {
  const refused = (files: unknown[], message: RegExp) => assert.throws(() => renderWithValues(controlPlaneChart, files, { name: 'weft', namespace: 'weft' }), message);
  const anchors = { identityTrustAnchorsPEM: anchor.identityTrustAnchorsPEM };
  refused([anchors], /identity\.issuer\.tls\.crtPEM is required: .*certManager\.create=true.*identity\.issuer\.scheme=kubernetes\.io\/tls/);
  refused([anchors, issuerPems, { certManager: { create: true } }], /both would write the Secret weft-identity-issuer/);
  refused([anchors, issuerPems, { proxyInjector: { externalSecret: true } }], /proxyInjector\.externalSecret=true: the webhook CA is unknown; set proxyInjector\.injectCaFrom/);
  refused([anchors, issuerPems, { proxyInjector: { tls: { crtPEM: '-----BEGIN CERTIFICATE-----\nW\n', keyPEM: '-----BEGIN PRIVATE KEY-----\nK\n' } } }], /proxyInjector\.caBundle is required/);
  refused([anchors, issuerPems, { destination: { tls: { crtPEM: '-----BEGIN CERTIFICATE-----\nD\n' } } }], /destination\.tls\.keyPEM is required/);
});

test('production values: digests, pull secrets in both shapes, proxy defaults and the webhook objectSelector reach the objects', () => {
  const digest = `sha256:${'c'.repeat(64)}`;
  const objs = render({
    imagePullSecrets: ['regcred', { name: 'linkerd-style' }],
    destination: { image: { digest } },
    deploymentStrategy: { rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
    proxy: { cpuLimit: '1', skipOutboundPorts: '5432', nativeSidecar: 'disabled', detectTimeout: '3s', awaitTimeout: '60s' },
    proxyInjector: { objectSelector: { matchLabels: { mesh: 'weft' } } },
  });
  const dep = (c: string) => find(objs, 'Deployment', `weft-${c}`)!;
  assert.equal(dep('destination').spec.template.spec.containers[0].image, `ghcr.io/weft-mesh/destination@${digest}`);
  assert.match(dep('identity').spec.template.spec.containers[0].image, /^ghcr\.io\/weft-mesh\/identity:/);
  assert.deepEqual(dep('identity').spec.template.spec.imagePullSecrets, [{ name: 'regcred' }, { name: 'linkerd-style' }]);
  assert.deepEqual(dep('identity').spec.strategy, { rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
  const env = Object.fromEntries(dep('injector').spec.template.spec.containers[0].env.map((e: Obj) => [e.name, e.value]));
  assert.equal(env.WEFT_INJECTOR_PROXY_CPU_LIMIT, '1');
  assert.equal(env.WEFT_INJECTOR_SKIP_OUTBOUND_PORTS, '5432');
  assert.equal(env.WEFT_INJECTOR_PROXY_NATIVE_SIDECAR, 'disabled');
  assert.equal(env.WEFT_INJECTOR_PROXY_DETECT_TIMEOUT, '3s');
  assert.equal(env.WEFT_INJECTOR_PROXY_AWAIT_TIMEOUT, '60s');
  const sel = find(objs, 'MutatingWebhookConfiguration', 'weft-proxy-injector-webhook-config')!.webhooks[0].objectSelector;
  assert.deepEqual(sel, { matchLabels: { mesh: 'weft' }, matchExpressions: [{ key: 'app.kubernetes.io/part-of', operator: 'NotIn', values: ['weft'] }] });
});
