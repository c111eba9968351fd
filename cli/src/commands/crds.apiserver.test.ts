// The CRD version upgrade as a user goes through it, against the real
// kube-apiserver and etcd of the e2e environment (WEFT_E2E_KUBECONFIG and
// WEFT_E2E_STATE; skipped with the reason otherwise): the previous release's
// weft-crds chart (v1alpha1 only) is `helm install`ed and objects of every
// kind are written at v1alpha1; `helm upgrade` to this release's chart serves
// v1beta1 (storage) and v1alpha1 (deprecated); the objects read back at both
// versions while etcd still holds them as v1alpha1, `weft check` warns and the
// API server refuses a CRD without v1alpha1; `weft crds migrate` refuses a
// user who may not update, changing nothing; run as an admin it leaves every
// object stored as v1beta1 in etcd and storedVersions [v1beta1] (so a CRD
// without v1alpha1 is accepted), and a second run writes nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CRD_DEPRECATED_VERSION, CRD_VERSION, POLICY_GROUP, PROFILE_GROUP, WEFT_CRDS, type WeftCrd } from '@weft/api/names';
import { KUBECTL, ROOT, ensureTools, helm as helmRun } from '@weft/cdk8s/testing/helm';
import { crdName, storageVersionHash } from './crds-migrate.js';

const kubeconfig = process.env.WEFT_E2E_KUBECONFIG;
const statePath = process.env.WEFT_E2E_STATE;
const skip = kubeconfig && statePath ? undefined : 'WEFT_E2E_KUBECONFIG/WEFT_E2E_STATE are not set: run under `node test/e2e/run.mjs --control-plane-only --exec -- node --test cli/dist/commands/crds.apiserver.test.js`';
if (skip) console.log(`# crds migrate e2e skipped: ${skip}`);

const WEFT = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));
const RELEASE = 'weft-crds-migration';
const NS_A = 'weft-crds-migration-a';
const NS_B = 'weft-crds-migration-b';
const READER = 'weft-crds-migration-reader';
const dir = mkdtempSync(join(tmpdir(), 'weft-crds-migration-'));
let etcdUrl = '';

/** Objects of every kind, in two namespaces; three ServiceProfiles so `--page-size 2` takes two pages. */
const OBJECTS: Array<{ crd: WeftCrd; ns: string; name: string; spec: unknown }> = [
  { kind: 'ServiceProfile', ns: NS_A, name: `web.${NS_A}.svc.cluster.local`, spec: { routes: [{ name: 'GET /books', matches: [{ method: 'GET', path: { exact: '/books' } }], timeout: '100ms', isRetryable: true }], retryBudget: { retryRatio: 0.2, minRetriesPerSecond: 10, ttl: '10s' } } },
  { kind: 'ServiceProfile', ns: NS_A, name: `api.${NS_A}.svc.cluster.local`, spec: { routes: [{ name: 'any', matches: [{ path: { prefix: '/' } }] }] } },
  { kind: 'ServiceProfile', ns: NS_B, name: `web.${NS_B}.svc.cluster.local`, spec: { dstOverrides: [{ authority: `web-v2.${NS_B}.svc.cluster.local:80`, weight: 900 }] } },
  { kind: 'Server', ns: NS_A, name: 'web-http', spec: { podSelector: { matchLabels: { app: 'web' } }, port: 8080, proxyProtocol: 'HTTP/1' } },
  { kind: 'Server', ns: NS_B, name: 'grpc', spec: { podSelector: {}, port: 'grpc', proxyProtocol: 'gRPC' } },
  { kind: 'AuthorizationPolicy', ns: NS_A, name: 'web-authz', spec: { targetRef: { group: POLICY_GROUP, kind: 'Server', name: 'web-http' }, requiredAuthenticationRefs: [{ group: POLICY_GROUP, kind: 'MeshTLSAuthentication', name: 'web-clients' }] } },
  { kind: 'MeshTLSAuthentication', ns: NS_A, name: 'web-clients', spec: { identities: ['*'] } },
  { kind: 'NetworkAuthentication', ns: NS_A, name: 'cluster', spec: { networks: [{ cidr: '10.0.0.0/8', except: ['10.0.1.0/24'] }] } },
].map(({ kind, ...o }) => ({ crd: WEFT_CRDS.find((c) => c.kind === kind)!, ...o }));

function run(file: string, args: readonly string[], input?: string, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(file, args, { encoding: 'utf8', input, env: { ...process.env, KUBECONFIG: kubeconfig ?? '', ...env }, timeout: 180_000, maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}
const kubectl = (args: readonly string[], input?: string) => run(KUBECTL, args, input);
const helm = (args: readonly string[]) => {
  const r = helmRun(args, { KUBECONFIG: kubeconfig });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
const weft = (args: readonly string[], kc = kubeconfig!) => run(process.execPath, [WEFT, ...args, '--kubeconfig', kc]);

function ok<T extends { code: number; stderr: string; stdout: string }>(r: T, what: string): T {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\n${r.stdout}${r.stderr}`);
  return r;
}

function getJson<T>(args: readonly string[]): T {
  return JSON.parse(ok(kubectl(['get', ...args, '-o', 'json']), `kubectl get ${args.join(' ')}`).stdout) as T;
}

/** A server-side dry run of the next step of the plan: the CRD without the deprecated version. */
function dropDeprecatedVersion(c: WeftCrd) {
  const crd = getJson<{ spec: { versions: Array<{ name: string }> } }>(['crd', crdName(c)]);
  crd.spec.versions = crd.spec.versions.filter((v) => v.name !== CRD_DEPRECATED_VERSION);
  return kubectl(['replace', '--dry-run=server', '-f', '-'], JSON.stringify(crd));
}

const discovery = (path: string) => JSON.parse(ok(kubectl(['get', '--raw', path]), `kubectl get --raw ${path}`).stdout) as { resources: Array<{ name: string; storageVersionHash?: string }> };

interface CrdObject {
  metadata: { resourceVersion: string };
  spec: { versions: Array<{ name: string; served: boolean; storage: boolean; deprecated?: boolean }> };
  status: { storedVersions: string[] };
}
const crdOf = (c: WeftCrd) => getJson<CrdObject>(['crd', crdName(c)]);

interface EtcdEntry { apiVersion: string; modRevision: string }

/**
 * Every object of `c` as etcd holds it, through etcd's v3 JSON gateway:
 * key `/registry/<group>/<plural>/<ns>/<name>` → the apiVersion its JSON value was encoded at.
 */
async function etcdObjects(c: WeftCrd): Promise<Map<string, EtcdEntry>> {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const prefix = `/registry/${c.group}/${c.plural}/`;
  // range_end: the prefix with its last byte incremented ('/' + 1 = '0') selects every key under it.
  const res = await fetch(`${etcdUrl}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: b64(prefix), range_end: b64(`${prefix.slice(0, -1)}0`) }) });
  assert.equal(res.status, 200, `etcd range ${prefix}: ${await res.clone().text()}`);
  const body = (await res.json()) as { kvs?: Array<{ key: string; value: string; mod_revision: string }> };
  const out = new Map<string, EtcdEntry>();
  for (const kv of body.kvs ?? []) {
    const value = Buffer.from(kv.value, 'base64').toString('utf8');
    const stored = JSON.parse(value) as { apiVersion: string };
    out.set(Buffer.from(kv.key, 'base64').toString('utf8').slice(prefix.length), { apiVersion: stored.apiVersion, modRevision: kv.mod_revision });
  }
  return out;
}

/** All weft objects in etcd: `<plural>/<ns>/<name>` → entry; checks each created object is there and nothing else. */
async function etcdAll(): Promise<Map<string, EtcdEntry>> {
  const all = new Map<string, EtcdEntry>();
  for (const c of WEFT_CRDS) for (const [k, v] of await etcdObjects(c)) all.set(`${c.plural}/${k}`, v);
  assert.deepEqual([...all.keys()].sort(), OBJECTS.map((o) => `${o.crd.plural}/${o.ns}/${o.name}`).sort(), 'etcd holds exactly the objects created');
  return all;
}

function storedVersionsCheck(kc = kubeconfig!) {
  const r = weft(['check', '-o', 'json'], kc);
  const results = (JSON.parse(r.stdout) as { results: Array<{ description: string; status: string; message?: string; fix?: string }> }).results;
  return results.find((x) => /every weft custom resource is stored at/.test(x.description));
}

async function waitForGone(what: string, probe: () => boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} to be deleted`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

const anyWeftCrd = () => WEFT_CRDS.some((c) => kubectl(['get', 'crd', crdName(c)]).code === 0);

before(async () => {
  if (skip) return;
  ensureTools();
  const state = JSON.parse(readFileSync(statePath!, 'utf8')) as { etcdUrl?: string };
  assert.ok(state.etcdUrl, `${statePath} names no etcdUrl: the e2e environment (test/e2e/lib/cluster.mjs) records etcd's client URL there`);
  etcdUrl = state.etcdUrl;
  // The test starts from a cluster without weft's CRDs, as a user of the previous release installed them.
  await waitForGone("weft's CRDs left by an earlier test", anyWeftCrd);
});

after(async () => {
  if (!skip) {
    helm(['uninstall', RELEASE, '-n', 'default', '--timeout', '2m']);
    kubectl(['delete', 'namespace', NS_A, NS_B, '--wait=false', '--ignore-not-found']);
    kubectl(['delete', 'clusterrole,clusterrolebinding', READER, '--ignore-not-found']);
    // keepOnUninstall=false: the CRDs go with the release; later tests in this environment start without them.
    await waitForGone("weft's CRDs", anyWeftCrd).catch((err: Error) => console.log(`# ${err.message}`));
  }
  rmSync(dir, { recursive: true, force: true });
});

test('the previous release (weft-crds v1alpha1 only): objects of every kind are written and stored at v1alpha1', { skip }, async () => {
  const release = JSON.parse(readFileSync(join(ROOT, 'test/e2e/previous-release.json'), 'utf8')) as { version: string; commit: string };
  // The chart exactly as that commit has it.
  const archive = execFileSync('git', ['-C', ROOT, 'archive', release.commit, 'charts/weft-crds'], { maxBuffer: 64 << 20 });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  ok(helm(['install', RELEASE, join(dir, 'charts/weft-crds'), '-n', 'default', '--set', 'keepOnUninstall=false', '--wait', '--timeout', '3m']), `helm install weft-crds ${release.version}`);
  for (const c of WEFT_CRDS) {
    ok(kubectl(['wait', '--for=condition=Established', `crd/${crdName(c)}`, '--timeout=90s']), crdName(c));
    const crd = crdOf(c);
    assert.deepEqual(crd.spec.versions.map((v) => [v.name, v.storage]), [[CRD_DEPRECATED_VERSION, true]], `${crdName(c)} of weft ${release.version} has only ${CRD_DEPRECATED_VERSION}`);
    assert.deepEqual(crd.status.storedVersions, [CRD_DEPRECATED_VERSION]);
  }
  ok(kubectl(['create', 'namespace', NS_A]), NS_A);
  ok(kubectl(['create', 'namespace', NS_B]), NS_B);
  const manifests = OBJECTS.map((o) => JSON.stringify({ apiVersion: `${o.crd.group}/${CRD_DEPRECATED_VERSION}`, kind: o.crd.kind, metadata: { name: o.name, namespace: o.ns }, spec: o.spec }));
  ok(kubectl(['apply', '-f', '-'], manifests.join('\n---\n')), 'objects at v1alpha1');
  for (const [key, e] of await etcdAll()) assert.equal(e.apiVersion.split('/')[1], CRD_DEPRECATED_VERSION, key);
});

test('helm upgrade to this release: v1beta1 is stored, v1alpha1 still served and deprecated; objects read at both versions, etcd still holds v1alpha1, weft check warns', { skip }, async () => {
  ok(helm(['upgrade', RELEASE, join(ROOT, 'charts/weft-crds'), '-n', 'default', '--reuse-values', '--wait', '--timeout', '3m']), 'helm upgrade weft-crds');
  for (const c of WEFT_CRDS) {
    const crd = crdOf(c);
    assert.deepEqual(
      crd.spec.versions.map((v) => [v.name, v.served, v.storage, v.deprecated ?? false]),
      [[CRD_VERSION, true, true, false], [CRD_DEPRECATED_VERSION, true, false, true]],
      crdName(c),
    );
    // The API server adds the new storage version; the old one stays until a migration removes it.
    assert.deepEqual(crd.status.storedVersions, [CRD_DEPRECATED_VERSION, CRD_VERSION], crdName(c));
  }
  for (const o of OBJECTS) {
    for (const version of [CRD_VERSION, CRD_DEPRECATED_VERSION]) {
      const r = ok(kubectl(['get', `${o.crd.plural}.${version}.${o.crd.group}`, o.name, '-n', o.ns, '-o', 'json']), `${o.crd.kind} ${o.name} at ${version}`);
      const got = JSON.parse(r.stdout) as { apiVersion: string; spec: unknown };
      assert.equal(got.apiVersion, `${o.crd.group}/${version}`);
      assert.deepEqual(got.spec, o.spec, `${o.crd.kind} ${o.ns}/${o.name} at ${version}: the spec reads back unchanged`);
      const warned = r.stderr.includes(`${o.crd.group}/${CRD_DEPRECATED_VERSION} ${o.crd.kind} is deprecated; use ${o.crd.group}/${CRD_VERSION} ${o.crd.kind}`);
      assert.equal(warned, version === CRD_DEPRECATED_VERSION, `deprecation warning at ${version}: ${r.stderr}`);
    }
  }
  for (const [key, e] of await etcdAll()) assert.equal(e.apiVersion.split('/')[1], CRD_DEPRECATED_VERSION, `${key}: the upgrade alone rewrites nothing`);
  for (const c of WEFT_CRDS) {
    const drop = dropDeprecatedVersion(c);
    assert.notEqual(drop.code, 0, `${crdName(c)}: dropping ${CRD_DEPRECATED_VERSION} before the migration must be refused`);
    assert.match(drop.stderr, new RegExp(`status\\.storedVersions\\[0\\]: Invalid value: "${CRD_DEPRECATED_VERSION}": missing from spec\\.versions`), crdName(c));
  }
  const check = storedVersionsCheck();
  assert.equal(check?.status, 'warn', JSON.stringify(check));
  assert.match(check!.message!, new RegExp(`serviceprofiles\\.${PROFILE_GROUP.replace('.', '\\.')} \\[v1alpha1, v1beta1\\]`));
  assert.match(check!.fix!, /^weft crds migrate/);
});

test("the storage version hash the migration waits for is the API server's discovery value", { skip }, () => {
  const pods = discovery('/api/v1');
  assert.equal(pods.resources.find((r) => r.name === 'pods')?.storageVersionHash, storageVersionHash('', 'v1', 'Pod'));
  for (const c of WEFT_CRDS) {
    const list = discovery(`/apis/${c.group}/${CRD_VERSION}`);
    assert.equal(list.resources.find((r) => r.name === c.plural)?.storageVersionHash, storageVersionHash(c.group, CRD_VERSION, c.kind), crdName(c));
  }
});

test('weft crds migrate as a user who may read but not update fails naming the permissions, and changes nothing', { skip }, async () => {
  const role = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: READER },
    rules: [
      { apiGroups: [PROFILE_GROUP, POLICY_GROUP], resources: ['*'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: ['get', 'list'] },
    ],
  };
  const binding = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: READER },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: READER },
    subjects: [{ kind: 'ServiceAccount', name: READER, namespace: NS_A }],
  };
  ok(kubectl(['create', 'serviceaccount', READER, '-n', NS_A]), 'reader ServiceAccount');
  ok(kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [role, binding] })), 'reader RBAC');
  const token = ok(kubectl(['create', 'token', READER, '-n', NS_A, '--duration=1h']), 'token').stdout.trim();
  const admin = JSON.parse(readFileSync(kubeconfig!, 'utf8')) as { clusters: unknown[] };
  const readerKc = join(dir, 'reader.kubeconfig');
  writeFileSync(readerKc, JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: admin.clusters, users: [{ name: READER, user: { token } }], contexts: [{ name: READER, context: { cluster: (admin.clusters[0] as { name: string }).name, user: READER } }], 'current-context': READER }));

  const before = await etcdAll();
  const crdsBefore = WEFT_CRDS.map((c) => crdOf(c).metadata.resourceVersion);
  const r = weft(['crds', 'migrate'], readerKc);
  assert.equal(r.code, 5, `exit code 5 (not authorized): ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, /weft crds migrate: the current user may not:/);
  assert.match(r.stderr, /update serviceprofiles\.weft\.io \(cluster-wide\)/);
  assert.match(r.stderr, /patch customresourcedefinitions\.apiextensions\.k8s\.io\/serviceprofiles\.weft\.io\/status \(cluster-wide\)/);
  assert.doesNotMatch(r.stderr, /list serviceprofiles/, 'what it may do is not listed');
  assert.match(r.stderr, /nothing was changed/);
  assert.equal(r.stdout, '');
  assert.deepEqual(await etcdAll(), before, 'no object was rewritten');
  assert.deepEqual(WEFT_CRDS.map((c) => crdOf(c).metadata.resourceVersion), crdsBefore, 'no CRD was touched');
  for (const c of WEFT_CRDS) assert.deepEqual(crdOf(c).status.storedVersions, [CRD_DEPRECATED_VERSION, CRD_VERSION]);
});

test('weft crds migrate rewrites every object so etcd stores it at v1beta1 and sets storedVersions to [v1beta1]; a second run writes nothing', { skip }, async () => {
  const r = ok(weft(['crds', 'migrate', '--page-size', '2']), 'weft crds migrate');
  const count = (c: WeftCrd) => OBJECTS.filter((o) => o.crd === c).length;
  for (const c of WEFT_CRDS) {
    assert.ok(r.stdout.includes(`${crdName(c)}: rewrote ${count(c)} object(s) at ${CRD_VERSION}; storedVersions [${CRD_DEPRECATED_VERSION}, ${CRD_VERSION}] -> [${CRD_VERSION}]\n`), r.stdout);
  }
  const migrated = await etcdAll();
  for (const [key, e] of migrated) assert.equal(e.apiVersion.split('/')[1], CRD_VERSION, `${key} is stored at ${CRD_VERSION}`);
  for (const c of WEFT_CRDS) assert.deepEqual(crdOf(c).status.storedVersions, [CRD_VERSION], crdName(c));
  // The specs survived the rewrite.
  for (const o of OBJECTS) assert.deepEqual(getJson<{ spec: unknown }>([`${o.crd.plural}.${CRD_VERSION}.${o.crd.group}`, o.name, '-n', o.ns]).spec, o.spec);
  assert.equal(storedVersionsCheck()?.status, 'ok');
  // What the migration unblocks: a later release's chart without v1alpha1.
  for (const c of WEFT_CRDS) ok(dropDeprecatedVersion(c), `${crdName(c)}: dropping ${CRD_DEPRECATED_VERSION} after the migration (dry run)`);

  const crdsBefore = WEFT_CRDS.map((c) => crdOf(c).metadata.resourceVersion);
  const again = ok(weft(['crds', 'migrate', '-o', 'json']), 'second run');
  const results = (JSON.parse(again.stdout) as { ok: boolean; results: Array<{ crd: string; outcome: string; rewritten: number }> });
  assert.equal(results.ok, true);
  assert.deepEqual(results.results.map((x) => [x.crd, x.outcome, x.rewritten]), WEFT_CRDS.map((c) => [crdName(c), 'current', 0]));
  assert.deepEqual(await etcdAll(), migrated, 'no etcd key was written again (same mod revisions)');
  assert.deepEqual(WEFT_CRDS.map((c) => crdOf(c).metadata.resourceVersion), crdsBefore, 'no CRD was written again');
});
