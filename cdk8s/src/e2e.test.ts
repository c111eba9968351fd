/**
 * Against the real kube-apiserver + cert-manager of test/e2e (when
 * WEFT_E2E_KUBECONFIG is set): every rendered object passes the API server's
 * server-side dry-run; weft-crds installs and its schemas admit the documented
 * resources and reject a wrong one; weft-control-plane `helm install`s with
 * cert-manager-issued certificates; then `helm upgrade` to changed values
 * (more replicas, extra labels, a second trust anchor as in a rotation)
 * succeeds and the live objects carry the new values; identity's credentials
 * reach its issuer Secret and trust roots (get, and list/watch by name as its
 * informers ask) and no other Secret; with failurePolicy Fail and no injector
 * running, pods of the excluded namespaces (cert-manager's) are still admitted.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CRD_VERSION, POLICY_GROUP, PROFILE_GROUP } from '@weft/api/names';
import { join } from 'node:path';
import { controlPlaneChart } from './control-plane/chart.js';
import { renderWithValues } from './synth.js';
import { KUBECTL, ROOT, ensureTools, helm, parseStream, scratch } from './testing/helm.js';
import { makeCa } from './testing/pki.js';

const kubeconfig = process.env.WEFT_E2E_KUBECONFIG;
const skip = kubeconfig ? undefined : 'WEFT_E2E_KUBECONFIG is not set: run under `node test/e2e/run.mjs --exec -- node ci/unit.mjs cdk8s`';
if (skip) console.log(`# cdk8s e2e skipped: ${skip}`);

const NS = 'weft-charts-e2e';
const CRDS = 'charts-e2e-crds';
const CP = 'charts-e2e-cp';
const dirs = scratch();
const env = { KUBECONFIG: kubeconfig ?? '' };
const installed: [string, string][] = [];

/** One of each weft resource, as docs/destination.md documents them. */
const SAMPLE_RESOURCES = `
apiVersion: ${PROFILE_GROUP}/${CRD_VERSION}
kind: ServiceProfile
metadata: { name: web.demo.svc.cluster.local }
spec:
  routes:
    - name: GET /books
      matches: [{ method: GET, path: { exact: /books }, headers: [{ name: x-canary, exact: "1" }] }]
      timeout: 100ms
      isRetryable: true
      retryStatuses: [{ min: 500, max: 599 }]
  retryBudget: { retryRatio: 0.2, minRetriesPerSecond: 10, ttl: 10s }
  dstOverrides: [{ authority: web-v2.demo.svc.cluster.local:80, weight: 900 }]
---
apiVersion: ${POLICY_GROUP}/${CRD_VERSION}
kind: Server
metadata: { name: web-http }
spec: { podSelector: { matchLabels: { app: web } }, port: 8080, proxyProtocol: HTTP/1 }
---
apiVersion: ${POLICY_GROUP}/${CRD_VERSION}
kind: AuthorizationPolicy
metadata: { name: web-authz }
spec:
  targetRef: { group: policy.weft.io, kind: Server, name: web-http }
  requiredAuthenticationRefs: [{ group: policy.weft.io, kind: MeshTLSAuthentication, name: web-clients }]
---
apiVersion: ${POLICY_GROUP}/${CRD_VERSION}
kind: MeshTLSAuthentication
metadata: { name: web-clients }
spec: { identities: ["*"] }
---
apiVersion: ${POLICY_GROUP}/${CRD_VERSION}
kind: NetworkAuthentication
metadata: { name: cluster }
spec: { networks: [{ cidr: 10.0.0.0/8, except: [10.0.1.0/24] }] }
`;

function kubectl(args: string[], input?: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(KUBECTL, args, { encoding: 'utf8', input, env: { ...process.env, ...env }, timeout: 120_000 });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/**
 * `kubectl wait --for=condition=<condition>` until it holds. kubectl fails at once, instead of waiting, while the
 * object has no `.status.conditions` yet ("accessor error: <nil>"), which is how a just-created CRD or Certificate
 * starts until its controller first writes its status: that answer is retried, any other failure is not.
 */
async function waitCondition(resource: string, condition: string, what: string, timeoutS: number, namespace?: string): Promise<void> {
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const left = Math.max(1, Math.ceil((deadline - Date.now()) / 1000));
    const r = kubectl([...(namespace ? ['-n', namespace] : []), 'wait', `--for=condition=${condition}`, resource, `--timeout=${left}s`]);
    if (r.status === 0) return;
    if (!/accessor error: <nil>/.test(r.stderr) || Date.now() >= deadline) ok(r, what);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function ok<T extends { status: number; stderr: string }>(r: T, what: string): T {
  assert.equal(r.status, 0, `${what}: ${r.stderr}`);
  return r;
}

async function poll<T>(what: string, probe: () => T | undefined, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function getJson(args: string[]): Record<string, unknown> | undefined {
  const r = kubectl(['get', ...args, '-o', 'json']);
  return r.status === 0 ? (JSON.parse(r.stdout) as Record<string, unknown>) : undefined;
}

before(() => {
  if (skip) return;
  ensureTools();
  const ns = kubectl(['create', 'namespace', NS]);
  if (ns.status !== 0 && !ns.stderr.includes('AlreadyExists')) assert.fail(ns.stderr);
});

after(() => {
  if (!skip) {
    for (const [release, ns] of installed.reverse()) helm(['uninstall', release, '-n', ns, '--timeout', '2m'], env);
    kubectl(['delete', 'namespace', NS, '--wait=false']);
  }
  dirs.cleanup();
});

test('the API server accepts every rendered object (server-side dry-run)', { skip }, () => {
  const pem = makeCa(dirs.dir, 'dry').crt;
  const values: Record<string, Record<string, unknown>> = {
    'weft-crds': {},
    'weft-control-plane': { identityTrustAnchorsPEM: pem, certManager: { create: true } },
    'weft-viz': { identityTrustAnchorsPEM: pem, viz: { tapTls: { issuerRef: { name: 'weft-trust-anchor' } } } },
  };
  for (const [chart, v] of Object.entries(values)) {
    const file = dirs.write(`dry-${chart}.yaml`, v);
    const r = ok(helm(['template', 'dry', join(ROOT, 'charts', chart), '-n', NS, '-f', file]), `helm template ${chart}`);
    const dry = kubectl(['apply', '--dry-run=server', '-n', NS, '-f', '-'], r.stdout);
    assert.equal(dry.status, 0, `${chart}: ${dry.stderr}`);
    assert.ok(parseStream(r.stdout).length > 0, `${chart} renders objects`);
  }
});

test('helm install with cert-manager certificates, then helm upgrade to changed values', { skip }, async () => {
  const root = makeCa(dirs.dir, 'root.e2e');
  ok(kubectl(['-n', NS, 'create', 'secret', 'tls', 'weft-trust-anchor', `--cert=${join(dirs.dir, 'root.e2e.crt')}`, `--key=${join(dirs.dir, 'root.e2e.key')}`]), 'trust anchor secret');

  const crdValues = dirs.write('crds.yaml', { keepOnUninstall: false });
  ok(helm(['install', CRDS, join(ROOT, 'charts', 'weft-crds'), '-n', NS, '-f', crdValues, '--timeout', '3m'], env), 'install weft-crds');
  installed.push([CRDS, NS]);
  for (const crd of ['serviceprofiles.weft.io', 'servers.policy.weft.io', 'authorizationpolicies.policy.weft.io', 'meshtlsauthentications.policy.weft.io', 'networkauthentications.policy.weft.io']) {
    await waitCondition(`crd/${crd}`, 'Established', `CRD ${crd}`, 90);
  }

  // The CRDs' OpenAPI schemas admit the documented resources and reject a wrong one naming the field.
  ok(kubectl(['apply', '-n', NS, '-f', '-'], SAMPLE_RESOURCES), 'documented weft resources');
  const columns = ok(kubectl(['get', 'servers.policy.weft.io', '-n', NS]), 'get servers').stdout.split('\n')[0]!;
  assert.match(columns, /NAME\s+PORT\s+PROTOCOL\s+AGE/);
  const bad = kubectl(['apply', '-n', NS, '-f', '-'], `apiVersion: ${POLICY_GROUP}/${CRD_VERSION}\nkind: Server\nmetadata: {name: bad}\nspec: {podSelector: {}, port: 80, proxyProtocol: HTTP/3}\n`);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /spec\.proxyProtocol/);

  const v1 = { identityTrustAnchorsPEM: root.crt, certManager: { create: true } };
  ok(helm(['install', CP, join(ROOT, 'charts', 'weft-control-plane'), '-n', NS, '-f', dirs.write('v1.yaml', v1), '--timeout', '3m'], env), 'install weft-control-plane');
  installed.push([CP, NS]);
  await waitCondition('certificate/weft-identity-issuer', 'Ready', 'identity issuer issued', 120, NS);
  const issuer = getJson(['-n', NS, 'secret', 'weft-identity-issuer'])!;
  assert.equal(issuer.type, 'kubernetes.io/tls');
  assert.equal(Buffer.from((issuer.data as Record<string, string>)['ca.crt']!, 'base64').toString().trim(), root.crt.trim(), 'signed by the trust anchor');
  await poll('cainjector to fill the webhook caBundle', () => {
    const mwc = getJson(['mutatingwebhookconfiguration', 'weft-proxy-injector-webhook-config']);
    const hooks = (mwc?.webhooks ?? []) as { clientConfig: { caBundle?: string } }[];
    return hooks.length > 0 && hooks.every((h) => h.clientConfig.caBundle) ? true : undefined;
  });
  const before = getJson(['-n', NS, 'deployment', 'weft-identity'])!;

  // Upgrade: a rotation's second anchor, more replicas, extra labels.
  const next = makeCa(dirs.dir, 'next.e2e');
  const v2 = { identityTrustAnchorsPEM: root.crt + next.crt, certManager: { create: true }, identity: { replicas: 2 }, commonLabels: { 'weft.io/e2e': 'upgraded' }, logLevel: 'debug' };
  ok(helm(['upgrade', CP, join(ROOT, 'charts', 'weft-control-plane'), '-n', NS, '-f', dirs.write('v2.yaml', v2), '--timeout', '3m'], env), 'upgrade weft-control-plane');
  const status = JSON.parse(ok(helm(['status', CP, '-n', NS, '-o', 'json'], env), 'status').stdout) as { version: number; info: { status: string } };
  assert.equal(status.info.status, 'deployed');
  assert.equal(status.version, 2);

  const expected = renderWithValues(controlPlaneChart, [v2], { name: CP, namespace: NS });
  for (const o of expected) {
    const md = o.metadata as { name: string; namespace?: string; labels: Record<string, string>; annotations?: Record<string, string> };
    // Hooks (the `helm test` Pod) are created by `helm test`, not by an upgrade.
    if (md.annotations?.['helm.sh/hook']) continue;
    const live = getJson([...(md.namespace ? ['-n', md.namespace] : []), `${String(o.kind).toLowerCase()}.${String(o.apiVersion).includes('/') ? String(o.apiVersion).split('/')[0] : ''}`.replace(/\.$/, ''), md.name]);
    assert.ok(live, `${String(o.kind)} ${md.name} exists after the upgrade`);
    const liveLabels = (live.metadata as { labels: Record<string, string> }).labels;
    assert.equal(liveLabels['weft.io/e2e'], 'upgraded', `${String(o.kind)} ${md.name} carries the new labels`);
  }
  const after = getJson(['-n', NS, 'deployment', 'weft-identity'])!;
  assert.equal((after.spec as { replicas: number }).replicas, 2);
  const annotations = (d: Record<string, unknown>) => (d.spec as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata.annotations;
  assert.notEqual(annotations(after)['checksum/trust-roots'], annotations(before)['checksum/trust-roots'], 'new anchors roll the pods');
  const roots = getJson(['-n', NS, 'configmap', 'weft-identity-trust-roots'])!;
  assert.equal((roots.data as Record<string, string>)['ca-bundle.crt'], root.crt + next.crt, 'both anchors published during the rotation');
  // The API server stored what the chart rendered (no server-side drift in the Deployment spec we set).
  const rendered = parseStream(ok(helm(['get', 'manifest', CP, '-n', NS], env), 'manifest').stdout).find((o) => o.kind === 'Deployment' && (o.metadata as { name: string }).name === 'weft-identity')!;
  assert.deepEqual(annotations(after), annotations(rendered));
});

/** What the API server's authorizer answers for `user` (a SubjectAccessReview, as identity's start-up check asks for itself). */
function allowed(user: { name: string; groups: string[] }, verb: string, resource: string, name?: string): boolean {
  const review = {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: { user: user.name, groups: user.groups, resourceAttributes: { namespace: NS, verb, group: '', resource, ...(name ? { name } : {}) } },
  };
  const r = ok(kubectl(['create', '-o', 'json', '-f', '-'], JSON.stringify(review)), `SubjectAccessReview ${verb} ${resource}/${name ?? '*'}`);
  return (JSON.parse(r.stdout) as { status: { allowed?: boolean } }).status.allowed === true;
}

test("identity's ServiceAccount reads its issuer Secret and trust roots by name, and no other Secret of the namespace", { skip }, () => {
  assert.ok(installed.some(([r]) => r === CP), 'needs the weft-control-plane release of the previous test');
  const sa = `system:serviceaccount:${NS}:weft-identity`;
  const user = { name: sa, groups: ['system:serviceaccounts', `system:serviceaccounts:${NS}`, 'system:authenticated'] };
  // With certManager.create the trust anchor's key sits in this namespace.
  assert.ok(getJson(['-n', NS, 'secret', 'weft-trust-anchor']), 'the trust anchor Secret exists');
  for (const verb of ['get', 'list', 'watch']) {
    assert.equal(allowed(user, verb, 'secrets', 'weft-identity-issuer'), true, `${verb} secrets/weft-identity-issuer`);
    assert.equal(allowed(user, verb, 'configmaps', 'weft-identity-trust-roots'), true, `${verb} configmaps/weft-identity-trust-roots`);
    assert.equal(allowed(user, verb, 'secrets', 'weft-trust-anchor'), false, `${verb} secrets/weft-trust-anchor`);
    assert.equal(allowed(user, verb, 'secrets', 'weft-injector-k8s-tls'), false, `${verb} secrets/weft-injector-k8s-tls`);
    assert.equal(allowed(user, verb, 'secrets'), false, `${verb} all secrets`);
    assert.equal(allowed(user, verb, 'configmaps'), false, `${verb} all configmaps`);
  }

  // The requests themselves, as identity's informers send them (list, then watch, with a
  // metadata.name field selector), made with identity's credentials by impersonation.
  const as = ['--as', sa, '--as-group', 'system:serviceaccounts', '--as-group', `system:serviceaccounts:${NS}`];
  const byName = (resource: string, name: string, watch: boolean) =>
    `/api/v1/namespaces/${NS}/${resource}?fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}${watch ? '&watch=true&timeoutSeconds=1' : ''}`;
  const list = JSON.parse(ok(kubectl(['get', '--raw', byName('secrets', 'weft-identity-issuer', false), ...as]), 'list the issuer by name').stdout) as { items: { metadata: { name: string } }[] };
  assert.deepEqual(list.items.map((i) => i.metadata.name), ['weft-identity-issuer']);
  assert.match(ok(kubectl(['get', '--raw', byName('secrets', 'weft-identity-issuer', true), ...as]), 'watch the issuer by name').stdout, /"type":"ADDED"/);
  assert.match(ok(kubectl(['get', '--raw', byName('configmaps', 'weft-identity-trust-roots', true), ...as]), 'watch the trust roots by name').stdout, /"type":"ADDED"/);
  for (const denied of [['get', 'secret', 'weft-trust-anchor'], ['get', 'secrets'], ['get', '--raw', byName('secrets', 'weft-trust-anchor', false)]]) {
    const r = kubectl(['-n', NS, ...denied, ...as]);
    assert.notEqual(r.status, 0, `${denied.join(' ')} is refused`);
    assert.match(r.stderr, /forbidden/i, denied.join(' '));
  }
});

test("with failurePolicy Fail and the injector down, pods of cert-manager's, kube-system's and the control plane's namespaces are still admitted", { skip }, async () => {
  assert.ok(installed.some(([r]) => r === CP), 'needs the weft-control-plane release of the previous test');
  const APP = 'weft-charts-e2e-app';
  const pod = (ns: string) => kubectl(['run', 'webhook-probe', '-n', ns, '--image=registry.invalid/probe:1', '--restart=Never', '--dry-run=server', '-o', 'name']);
  ok(kubectl(['create', 'namespace', APP]), 'app namespace');
  ok(helm(['upgrade', CP, join(ROOT, 'charts', 'weft-control-plane'), '-n', NS, '--reuse-values', '--set', 'proxyInjector.failurePolicy=Fail', '--timeout', '3m'], env), 'failurePolicy Fail');
  try {
    ok(kubectl(['-n', NS, 'scale', 'deployment', 'weft-injector', '--replicas=0']), 'stop the injector');
    // The webhook is really in the path: an ordinary namespace's pod is refused once no injector answers.
    const refused = await poll('pods of an ordinary namespace refused by the unreachable webhook', () => {
      const r = pod(APP);
      return r.status !== 0 && /weft-proxy-injector\.weft\.io/.test(r.stderr) ? r.stderr : undefined;
    });
    assert.match(refused, /failed calling webhook/);
    for (const ns of ['cert-manager', 'kube-system', NS]) ok(pod(ns), `a pod in ${ns} is admitted without the webhook`);
  } finally {
    helm(['upgrade', CP, join(ROOT, 'charts', 'weft-control-plane'), '-n', NS, '--reuse-values', '--set', 'proxyInjector.failurePolicy=Ignore', '--timeout', '3m'], env);
    kubectl(['delete', 'namespace', APP, '--wait=false']);
  }
});
