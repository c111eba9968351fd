// The storage migration procedure on an in-memory store that behaves like the
// API server where it matters: a write re-encodes at the storage version and a
// write that changes nothing is skipped; updates are guarded by
// resourceVersion (409); lists are paginated. The same procedure against the
// real API server and etcd: crds.apiserver.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CRD_DEPRECATED_VERSION, CRD_VERSION, POLICY_GROUP, PROFILE_GROUP, WEFT_CRDS, type WeftCrd } from '@weft/api/names';
import { PermissionDeniedError } from '@weft/common/errors';
import {
  ListExpiredError, crdName, describeMigration, migrateCrd, migrateCrds, migrationPermissions, storageVersionHash,
  type CrdState, type CrdStore, type StoredObject,
} from './crds-migrate.js';

const PROFILES = WEFT_CRDS.find((c) => c.kind === 'ServiceProfile')!;
const SERVERS = WEFT_CRDS.find((c) => c.kind === 'Server')!;
const OPTS = { pageSize: 2, attempts: 3, settleMs: 5000, sleep: async () => undefined };

interface Row { obj: StoredObject; storedAt: string; rv: number }

class MemoryApi implements CrdStore {
  readonly crds = new Map<string, { storage: string; storedVersions: string[]; rv: number }>();
  readonly objects = new Map<string, Map<string, Row>>();
  writes = 0;
  statusWrites = 0;
  rv = 100;
  /** Hooks a test sets to play another client or the API server refusing. */
  beforeReplace: (crd: WeftCrd, key: string) => void = () => undefined;
  beforeList: (token: string | undefined) => void = () => undefined;
  beforeStatus: () => void = () => undefined;

  install(crd: WeftCrd, storage = CRD_VERSION, storedVersions = [CRD_DEPRECATED_VERSION, CRD_VERSION]): void {
    this.crds.set(crdName(crd), { storage, storedVersions: [...storedVersions], rv: ++this.rv });
    this.objects.set(crdName(crd), new Map());
  }

  add(crd: WeftCrd, ns: string, name: string, storedAt = CRD_DEPRECATED_VERSION, spec: unknown = { n: name }): void {
    const rv = ++this.rv;
    this.objects.get(crdName(crd))!.set(`${ns}/${name}`, { obj: { apiVersion: `${crd.group}/${CRD_VERSION}`, kind: crd.kind, metadata: { name, namespace: ns, resourceVersion: String(rv) }, spec }, storedAt, rv });
  }

  /** Another client's write: new content, stored at the storage version. */
  change(crd: WeftCrd, key: string, spec: unknown): void {
    const row = this.objects.get(crdName(crd))!.get(key)!;
    row.rv = ++this.rv;
    row.storedAt = this.crds.get(crdName(crd))!.storage;
    row.obj = { ...row.obj, metadata: { ...row.obj.metadata, resourceVersion: String(row.rv) }, spec };
  }

  storedAt(crd: WeftCrd): string[] {
    return [...this.objects.get(crdName(crd))!.values()].map((r) => r.storedAt);
  }

  async crd(name: string): Promise<CrdState | undefined> {
    const c = this.crds.get(name);
    return c && { storageVersion: c.storage, storedVersions: [...c.storedVersions], resourceVersion: String(c.rv) };
  }

  /** Discovery lags a CRD update by this many reads (the API server applies CRD changes asynchronously). */
  discoveryLag = 0;

  async storageVersionHash(crd: WeftCrd): Promise<string | undefined> {
    if (this.discoveryLag > 0) {
      this.discoveryLag--;
      return storageVersionHash(crd.group, CRD_DEPRECATED_VERSION, crd.kind);
    }
    return storageVersionHash(crd.group, this.crds.get(crdName(crd))!.storage, crd.kind);
  }

  async list(crd: WeftCrd, token: string | undefined, limit: number) {
    this.beforeList(token);
    const rows = [...this.objects.get(crdName(crd))!.values()];
    const start = token ? Number(token) : 0;
    const next = start + limit;
    return { items: rows.slice(start, next).map((r) => structuredClone(r.obj)), continue: next < rows.length ? String(next) : undefined };
  }

  async get(crd: WeftCrd, ns: string, name: string) {
    const r = this.objects.get(crdName(crd))!.get(`${ns}/${name}`);
    return r && structuredClone(r.obj);
  }

  async replace(crd: WeftCrd, obj: StoredObject): Promise<'written' | 'conflict' | 'gone'> {
    const key = `${obj.metadata.namespace}/${obj.metadata.name}`;
    this.beforeReplace(crd, key);
    const row = this.objects.get(crdName(crd))!.get(key);
    if (!row) return 'gone';
    if (String(row.rv) !== obj.metadata.resourceVersion) return 'conflict';
    const storage = this.crds.get(crdName(crd))!.storage;
    // The API server skips a write whose encoding equals what etcd holds: same content, same version.
    if (row.storedAt === storage && JSON.stringify(row.obj) === JSON.stringify(obj)) return 'written';
    this.writes++;
    row.rv = ++this.rv;
    row.storedAt = storage;
    row.obj = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(row.rv) } };
    return 'written';
  }

  async setStoredVersions(name: string, versions: readonly string[], resourceVersion: string): Promise<'written' | 'conflict'> {
    this.beforeStatus();
    const c = this.crds.get(name)!;
    if (String(c.rv) !== resourceVersion) return 'conflict';
    this.statusWrites++;
    c.storedVersions = [...versions];
    c.rv = ++this.rv;
    return 'written';
  }
}

function installAll(api: MemoryApi): void {
  for (const c of WEFT_CRDS) api.install(c);
}

test('every object of every CRD is rewritten across list pages, then storedVersions becomes [v1beta1]', async () => {
  const api = new MemoryApi();
  installAll(api);
  for (let i = 0; i < 5; i++) api.add(PROFILES, `ns${i % 2}`, `p${i}`);
  api.add(SERVERS, 'a', 'web');
  const results = await migrateCrds(api, OPTS);
  assert.deepEqual(results.map((r) => [r.crd, r.outcome, r.rewritten]), WEFT_CRDS.map((c) => [crdName(c), 'migrated', c === PROFILES ? 5 : c === SERVERS ? 1 : 0]));
  assert.deepEqual(api.storedAt(PROFILES), Array(5).fill(CRD_VERSION));
  assert.deepEqual(api.storedAt(SERVERS), [CRD_VERSION]);
  for (const c of WEFT_CRDS) assert.deepEqual(api.crds.get(crdName(c))!.storedVersions, [CRD_VERSION]);
  assert.equal(describeMigration(results[0]!), `serviceprofiles.${PROFILE_GROUP}: rewrote 5 object(s) at ${CRD_VERSION}; storedVersions [${CRD_DEPRECATED_VERSION}, ${CRD_VERSION}] -> [${CRD_VERSION}]`);
});

test('a second run writes nothing: storedVersions already names only the storage version', async () => {
  const api = new MemoryApi();
  installAll(api);
  api.add(PROFILES, 'a', 'p');
  await migrateCrds(api, OPTS);
  const [writes, statusWrites, rv] = [api.writes, api.statusWrites, api.rv];
  const again = await migrateCrds(api, OPTS);
  assert.deepEqual(again.map((r) => r.outcome), WEFT_CRDS.map(() => 'current'));
  assert.deepEqual([api.writes, api.statusWrites, api.rv], [writes, statusWrites, rv]);
  assert.equal(describeMigration(again[1]!), `servers.${POLICY_GROUP}: storedVersions is [${CRD_VERSION}]: nothing to migrate`);
});

test('an object changed by another client after the list is re-read and its newer content kept', async () => {
  const api = new MemoryApi();
  api.install(PROFILES);
  api.add(PROFILES, 'a', 'p');
  let once = false;
  api.beforeReplace = (crd, key) => {
    if (once) return;
    once = true;
    api.change(crd, key, { n: 'newer' });
  };
  const r = await migrateCrd(api, PROFILES, OPTS);
  assert.equal(r.outcome, 'migrated');
  assert.deepEqual((await api.get(PROFILES, 'a', 'p'))!.spec, { n: 'newer' });
  assert.deepEqual(api.storedAt(PROFILES), [CRD_VERSION]);
});

test('an object deleted between the list and its rewrite is skipped', async () => {
  const api = new MemoryApi();
  api.install(PROFILES);
  api.add(PROFILES, 'a', 'stays');
  api.add(PROFILES, 'a', 'goes');
  api.beforeReplace = (crd, key) => {
    if (key === 'a/goes') api.objects.get(crdName(crd))!.delete(key);
  };
  const r = await migrateCrd(api, PROFILES, OPTS);
  assert.deepEqual([r.outcome, r.rewritten, r.gone], ['migrated', 1, 1]);
  assert.match(describeMigration(r), /rewrote 1 object\(s\) at v1beta1 \(1 deleted meanwhile\)/);
  assert.deepEqual(api.crds.get(crdName(PROFILES))!.storedVersions, [CRD_VERSION]);
});

test('an object that keeps conflicting fails its CRD after the attempts, storedVersions untouched, other CRDs still migrated', async () => {
  const api = new MemoryApi();
  api.install(PROFILES);
  api.install(SERVERS);
  api.add(PROFILES, 'a', 'busy');
  api.add(PROFILES, 'a', 'calm');
  api.add(SERVERS, 'a', 'web');
  api.beforeReplace = (crd, key) => {
    if (key === 'a/busy') api.change(crd, key, { n: Math.random() });
  };
  const [profiles, servers] = await migrateCrds(api, OPTS, [PROFILES, SERVERS]);
  assert.equal(profiles!.outcome, 'failed');
  assert.match(profiles!.message!, /a\/busy: still conflicting after 3 attempts/);
  assert.match(profiles!.message!, /storedVersions left at \[v1alpha1, v1beta1\]/);
  assert.deepEqual(api.crds.get(crdName(PROFILES))!.storedVersions, [CRD_DEPRECATED_VERSION, CRD_VERSION]);
  assert.equal(servers!.outcome, 'migrated');
});

test('an object the API server refuses fails its CRD with the object named and the server message', async () => {
  const api = new MemoryApi();
  api.install(PROFILES);
  api.add(PROFILES, 'a', 'bad');
  api.beforeReplace = () => {
    throw new Error('a/bad: ServiceProfile.weft.io "bad" is invalid: spec.routes: Required value');
  };
  const r = await migrateCrd(api, PROFILES, OPTS);
  assert.equal(r.outcome, 'failed');
  assert.match(describeMigration(r), /FAILED: 1 object\(s\) not rewritten.*a\/bad: .*Required value/);
  assert.equal(api.statusWrites, 0);
});

test('a permission denied on a write stops the migration and leaves storedVersions alone', async () => {
  const api = new MemoryApi();
  installAll(api);
  api.add(PROFILES, 'a', 'p');
  api.beforeReplace = () => {
    throw new PermissionDeniedError('the current user may not update serviceprofiles.weft.io in namespace a');
  };
  await assert.rejects(migrateCrds(api, OPTS), PermissionDeniedError);
  assert.equal(api.statusWrites, 0);
  assert.deepEqual(api.crds.get(crdName(PROFILES))!.storedVersions, [CRD_DEPRECATED_VERSION, CRD_VERSION]);
});

test('a CRD still storing v1alpha1 (weft-crds not upgraded) or missing is not migrated, and says what to do', async () => {
  const api = new MemoryApi();
  api.install(PROFILES, CRD_DEPRECATED_VERSION, [CRD_DEPRECATED_VERSION]);
  api.add(PROFILES, 'a', 'p');
  const [old, missing] = await migrateCrds(api, OPTS, [PROFILES, SERVERS]);
  assert.equal(old!.outcome, 'failed');
  assert.match(old!.message!, /stores objects at v1alpha1, not v1beta1: upgrade the weft-crds chart/);
  assert.equal(missing!.outcome, 'failed');
  assert.match(missing!.message!, /CRD servers\.policy\.weft\.io is not installed/);
  assert.deepEqual([api.writes, api.statusWrites], [0, 0]);
});

test('an expired list continue token starts the listing over', async () => {
  const api = new MemoryApi();
  api.install(PROFILES);
  for (let i = 0; i < 5; i++) api.add(PROFILES, 'a', `p${i}`);
  let expired = false;
  api.beforeList = (token) => {
    if (token && !expired) {
      expired = true;
      throw new ListExpiredError('410 Gone: the provided continue parameter is too old');
    }
  };
  const r = await migrateCrd(api, PROFILES, OPTS);
  assert.ok(expired);
  assert.deepEqual([r.outcome, r.rewritten], ['migrated', 5]);
  assert.deepEqual(api.storedAt(PROFILES), Array(5).fill(CRD_VERSION));
});

test('a CRD changed while storedVersions is being set is re-read and the write retried', async () => {
  const api = new MemoryApi();
  api.install(PROFILES);
  let bumped = false;
  api.beforeStatus = () => {
    if (!bumped) {
      bumped = true;
      api.crds.get(crdName(PROFILES))!.rv = ++api.rv;
    }
  };
  const r = await migrateCrd(api, PROFILES, OPTS);
  assert.equal(r.outcome, 'migrated');
  assert.equal(api.statusWrites, 1);
  assert.deepEqual(api.crds.get(crdName(PROFILES))!.storedVersions, [CRD_VERSION]);
});

test('the permissions the migration needs: get and status patch of each CRD, list/get/update of its objects', () => {
  const perms = migrationPermissions([PROFILES]);
  assert.deepEqual(perms, [
    { verb: 'get', group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions', name: 'serviceprofiles.weft.io' },
    { verb: 'patch', group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions', subresource: 'status', name: 'serviceprofiles.weft.io' },
    { verb: 'list', group: 'weft.io', resource: 'serviceprofiles' },
    { verb: 'get', group: 'weft.io', resource: 'serviceprofiles' },
    { verb: 'update', group: 'weft.io', resource: 'serviceprofiles' },
  ]);
  assert.equal(migrationPermissions().length, 5 * WEFT_CRDS.length);
});

test('rewrites wait until discovery shows the new storage version, and give up with advice when it never does', async () => {
  const api = new MemoryApi();
  api.install(PROFILES);
  api.add(PROFILES, 'a', 'p');
  api.discoveryLag = 3;
  let slept = 0;
  const r = await migrateCrd(api, PROFILES, { ...OPTS, sleep: async () => void slept++ });
  assert.deepEqual([r.outcome, slept, api.storedAt(PROFILES)], ['migrated', 3, [CRD_VERSION]]);

  const stuck = new MemoryApi();
  stuck.install(SERVERS);
  stuck.add(SERVERS, 'a', 'web');
  stuck.discoveryLag = 1000;
  const s = await migrateCrd(stuck, SERVERS, OPTS);
  assert.equal(s.outcome, 'failed');
  assert.match(s.message!, /does not yet report v1beta1 as the storage version of servers\.policy\.weft\.io.*run the migration again/);
  assert.deepEqual([stuck.writes, stuck.statusWrites], [0, 0]);
});
