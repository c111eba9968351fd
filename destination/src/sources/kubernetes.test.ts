// The Kubernetes source against the real kube-apiserver of the e2e
// environment (WEFT_E2E_KUBECONFIG): a Service and EndpointSlice created
// through the API appear on a Get stream; scaling the slice down is observed
// as a removal; ServiceProfile and policy objects created through the
// weft-crds chart's CRDs reach the resolvers with every field intact (no
// schema pruning). Skips, saying why, when no environment is running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parseAllDocuments, stringify } from 'yaml';
import { pino } from 'pino';
import type { destination } from '@weft/api';
import { CRD_VERSION, POLICY_GROUP, PROFILE_GROUP } from '@weft/api/names';
import { k8s, loadKubeConfig } from '@weft/common/k8s/client';
import { WatchHub } from '../watch-hub.js';
import { DEFAULT_SETTINGS } from '../settings.js';
import { KubernetesSource } from './kubernetes.js';

const kubeconfig = process.env['WEFT_E2E_KUBECONFIG'];
const skip = kubeconfig ? false : 'WEFT_E2E_KUBECONFIG is not set: no real API server (run under `node test/e2e/run.mjs --exec -- node ci/unit.mjs destination`)';
if (skip) console.log(`# destination kubernetes source test skipped: ${skip}`);

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function slice(ns: string, ips: string[]): k8s.V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'web-e2e', namespace: ns, labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
  };
}

test('a Service and EndpointSlice created in the API server stream as endpoints; scaling down streams the removal', { skip }, async (t) => {
  const kc = loadKubeConfig({ kubeconfig: kubeconfig! });
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const discoveryApi = kc.makeApiClient(k8s.DiscoveryV1Api);
  const ns = `weft-dst-${randomBytes(3).toString('hex')}`;
  const log = pino({ level: 'warn' });
  await core.createNamespace({ body: { metadata: { name: ns } } });
  const d = new WatchHub(DEFAULT_SETTINGS, log);
  const source = new KubernetesSource(kc, log);
  t.after(async () => {
    await source.stop();
    await core.deleteNamespace({ name: ns }).catch(() => undefined);
  });
  await source.start(d.cache);

  const updates: destination.Update[] = [];
  d.watchEndpoints(`web.${ns}.svc.cluster.local:80`, (u) => updates.push(u));
  assert.equal(updates[0]?.update.case, 'noEndpoints', 'nothing there yet');

  await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'web' }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 as never }] } } });
  await discoveryApi.createNamespacedEndpointSlice({ namespace: ns, body: slice(ns, ['10.244.0.10', '10.244.0.11']) });
  const addedIps = () =>
    updates.flatMap((u) => (u.update.case === 'add' ? u.update.value.addrs.map((a) => `${a.addr!.ip}:${a.addr!.port}`) : []));
  await until('both endpoints to stream', () => addedIps().length === 2);
  assert.deepEqual(addedIps().sort(), ['10.244.0.10:8080', '10.244.0.11:8080']);

  await discoveryApi.replaceNamespacedEndpointSlice({ name: 'web-e2e', namespace: ns, body: slice(ns, ['10.244.0.10']) });
  await until('the removal to stream', () => updates.some((u) => u.update.case === 'remove'));
  const removed = updates.find((u) => u.update.case === 'remove')!.update.value as destination.AddrSet;
  assert.deepEqual(removed.addrs.map((a) => a.ip), ['10.244.0.11']);
});

const helm = new URL('../../../.bin/helm', import.meta.url).pathname;
const kubectl = new URL('../../../.bin/kubectl', import.meta.url).pathname;
const chart = new URL('../../../charts/weft-crds', import.meta.url).pathname;
const crdSkip = skip || (!existsSync(helm) || !existsSync(kubectl) || !existsSync(chart) ? 'helm, kubectl or charts/weft-crds missing (run `node ci/tools.mjs`, `npm run synth`)' : false);

test('ServiceProfile and policy objects under the weft-crds CRDs reach the resolvers intact', { skip: crdSkip }, async (t) => {
  const kc = loadKubeConfig({ kubeconfig: kubeconfig! });
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const log = pino({ level: 'silent' });
  const crds = parseAllDocuments(execFileSync(helm, ['template', 'weft-crds', chart], { encoding: 'utf8' }))
    .map((d) => d.toJS() as k8s.V1CustomResourceDefinition)
    .filter((d) => d?.kind === 'CustomResourceDefinition');
  assert.equal(crds.length, 5, 'the chart renders the five CRDs');
  // Create only the CRDs that are missing, and remove exactly those afterwards,
  // so a helm-installed weft-crds in the same environment is left alone.
  // kubectl sends the manifests as written (the typed client would drop the
  // schema's `x-kubernetes-*` keys it has no model field for).
  const kubectlRun = (args: string[], input?: string) => execFileSync(kubectl, ['--kubeconfig', kubeconfig!, ...args], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
  const created: string[] = [];
  for (const crd of crds) {
    const name = crd.metadata!.name!;
    try {
      kubectlRun(['get', 'crd', name]);
    } catch {
      kubectlRun(['create', '-f', '-'], stringify(crd));
      created.push(name);
    }
  }
  const ns = `weft-dst-${randomBytes(3).toString('hex')}`;
  await core.createNamespace({ body: { metadata: { name: ns, annotations: { 'config.weft.io/default-inbound-policy': 'deny' } } } });
  const d = new WatchHub(DEFAULT_SETTINGS, log);
  const source = new KubernetesSource(kc, log);
  t.after(async () => {
    await source.stop();
    await core.deleteNamespace({ name: ns }).catch(() => undefined);
    for (const name of created) {
      try {
        kubectlRun(['delete', 'crd', name, '--wait=false']);
      } catch {
        /* already gone */
      }
    }
  });
  kubectlRun(['wait', '--for=condition=Established', '--timeout=60s', ...crds.map((c) => `crd/${c.metadata!.name!}`)]);
  await source.start(d.cache);

  const profiles: destination.DestinationProfile[] = [];
  d.watchProfile(`web.${ns}.svc.cluster.local:80`, (p) => profiles.push(p));
  await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'web' }, spec: { ports: [{ port: 80 }] } } });
  await custom.createNamespacedCustomObject({
    group: PROFILE_GROUP,
    version: CRD_VERSION,
    namespace: ns,
    plural: 'serviceprofiles',
    body: {
      apiVersion: `${PROFILE_GROUP}/${CRD_VERSION}`,
      kind: 'ServiceProfile',
      metadata: { name: `web.${ns}.svc.cluster.local` },
      spec: {
        routes: [{ name: 'books', matches: [{ method: 'GET', path: { prefix: '/books' }, headers: [{ name: 'x-canary', exact: '1' }] }], timeout: '100ms', isRetryable: true }],
        retryBudget: { retryRatio: 0.5, minRetriesPerSecond: 3, ttl: '5s' },
        dstOverrides: [{ authority: `web-v2.${ns}.svc.cluster.local:80`, weight: 9 }],
      },
    },
  });
  await until('the profile to stream', () => profiles.some((p) => p.routes.length === 1));
  const p = profiles.find((x) => x.routes.length === 1)!;
  assert.deepEqual(p.routes[0]!.matches[0]!.path?.kind, { case: 'prefix', value: '/books' });
  assert.equal(p.routes[0]!.matches[0]!.headers[0]!.name, 'x-canary');
  assert.equal(p.routes[0]!.timeout?.nanos, 100_000_000);
  assert.equal(p.retryBudget?.minRetriesPerSecond, 3);
  assert.deepEqual(p.dstOverrides.map((o) => o.weight), [9]);

  const objects: [string, string, unknown][] = [
    ['servers', 'Server', { podSelector: { matchLabels: { app: 'web' } }, port: 'http', proxyProtocol: 'HTTP/1' }],
    ['meshtlsauthentications', 'MeshTLSAuthentication', { identities: ['*'] }],
    ['networkauthentications', 'NetworkAuthentication', { networks: [{ cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] }] }],
    ['authorizationpolicies', 'AuthorizationPolicy', { targetRef: { group: 'policy.weft.io', kind: 'Server', name: 'web' }, requiredAuthenticationRefs: [{ group: 'policy.weft.io', kind: 'MeshTLSAuthentication', name: 'web' }] }],
  ];
  for (const [plural, kind, spec] of objects) {
    await custom.createNamespacedCustomObject({ group: POLICY_GROUP, version: CRD_VERSION, namespace: ns, plural, body: { apiVersion: `${POLICY_GROUP}/${CRD_VERSION}`, kind, metadata: { name: 'web' }, spec } });
  }
  await until('the policy objects to reach the cache', () => objects.every(([, kind]) => d.cache.policies(kind as never, ns).length === 1));
  for (const [, kind, spec] of objects) assert.deepEqual(d.cache.policies(kind as never, ns)[0]!.spec, spec, `${kind} spec survives the CRD schema`);
  assert.equal(d.cache.namespace(ns)?.metadata?.annotations?.['config.weft.io/default-inbound-policy'], 'deny');
});

test('without list/watch RBAC the source refuses to start, naming every missing permission; the chart ClusterRole suffices', { skip }, async (t) => {
  const admin = loadKubeConfig({ kubeconfig: kubeconfig! });
  const core = admin.makeApiClient(k8s.CoreV1Api);
  const ns = `weft-dst-${randomBytes(3).toString('hex')}`;
  await core.createNamespace({ body: { metadata: { name: ns } } });
  t.after(() => core.deleteNamespace({ name: ns }).catch(() => undefined));
  await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'no-rbac' } } });
  const tr = await core.createNamespacedServiceAccountToken({ name: 'no-rbac', namespace: ns, body: { spec: { audiences: [], expirationSeconds: 600 } } });
  const cluster = admin.getCurrentCluster()!;
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: 'no-rbac', token: tr.status!.token }],
    contexts: [{ name: 'no-rbac', cluster: cluster.name, user: 'no-rbac' }],
    currentContext: 'no-rbac',
  });
  const source = new KubernetesSource(kc, pino({ level: 'silent' }));
  t.after(() => source.stop());
  await assert.rejects(source.start(new WatchHub(DEFAULT_SETTINGS, pino({ level: 'silent' })).cache), (err: Error) => {
    for (const m of ['list services (cluster-wide)', 'watch endpointslices.discovery.k8s.io', 'list pods', 'watch namespaces', 'weft-destination ClusterRole']) {
      assert.ok(err.message.includes(m), `missing "${m}" in: ${err.message}`);
    }
    return err.name === 'FailedPreconditionError';
  });

  // The weft-control-plane chart's ClusterRole is exactly enough: bound to the same account, the source starts.
  if (!existsSync(helm) || !existsSync(new URL('../../../charts/weft-control-plane', import.meta.url).pathname)) return;
  const rendered = execFileSync(helm, ['template', 'weft', new URL('../../../charts/weft-control-plane', import.meta.url).pathname, '--set', 'certManager.create=true', '--set', 'identity.externalCA=true', '--show-only', 'templates/destination-rbac.yaml'], { encoding: 'utf8' });
  const role = parseAllDocuments(rendered).map((d) => d.toJS() as k8s.V1ClusterRole).find((o) => o?.kind === 'ClusterRole');
  assert.ok(role, 'the chart renders the destination ClusterRole');
  const rbac = admin.makeApiClient(k8s.RbacAuthorizationV1Api);
  const roleName = `weft-destination-${ns}`;
  await rbac.createClusterRole({ body: { metadata: { name: roleName }, rules: role.rules } });
  t.after(() => rbac.deleteClusterRole({ name: roleName }).catch(() => undefined));
  await rbac.createClusterRoleBinding({
    body: { metadata: { name: roleName }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roleName }, subjects: [{ kind: 'ServiceAccount', name: 'no-rbac', namespace: ns }] },
  });
  t.after(() => rbac.deleteClusterRoleBinding({ name: roleName }).catch(() => undefined));
  const warnings: string[] = [];
  const withRole = new KubernetesSource(kc, pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) }));
  t.after(() => withRole.stop());
  await withRole.start(new WatchHub(DEFAULT_SETTINGS, pino({ level: 'silent' })).cache);
  assert.ok(!warnings.some((w) => w.includes('no access to some weft CRDs')), `the chart role covers the CRDs too: ${warnings.join('')}`);
});
