/**
 * Storage migration of weft's CRDs (docs/crds.md). Objects written while an
 * older version was the storage version stay encoded at it in etcd, and the
 * CRD's `status.storedVersions` keeps naming it, which is what stops the API
 * server from ever dropping that version. For each CRD this rewrites every
 * object unchanged (the API server re-encodes a write at the current storage
 * version; a write of an object already stored at it changes nothing), then
 * sets `status.storedVersions` to the storage version alone, only when every
 * rewrite succeeded.
 *
 * The API calls sit behind `CrdStore`, so the procedure runs on in-memory
 * objects in unit tests and on the API server for users (crds-kubernetes.ts).
 */
import { createHash } from 'node:crypto';
import { CRD_VERSION, WEFT_CRDS, type WeftCrd } from '@weft/api/names';
import type { Permission } from '@weft/common/k8s/access-review';

export interface CrdState {
  /** The version new writes are encoded at (`spec.versions[].storage`). */
  readonly storageVersion: string | undefined;
  readonly storedVersions: readonly string[];
  readonly resourceVersion: string;
}

export interface StoredObject {
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly resourceVersion?: string };
  readonly [field: string]: unknown;
}

export interface ListPage {
  readonly items: readonly StoredObject[];
  /** Token of the next page; absent on the last. */
  readonly continue?: string;
}

/** A continue token the API server no longer honours (410 Gone after etcd compaction): list again from the start. */
export class ListExpiredError extends Error {}

/** The API calls of a migration. 403s surface as PermissionDeniedError; other failures as errors naming the call. */
export interface CrdStore {
  /** The CRD `name`, or undefined when it is not installed. */
  crd(name: string): Promise<CrdState | undefined>;
  /** The `storageVersionHash` API discovery gives for `crd`'s resource at CRD_VERSION (undefined when not listed). */
  storageVersionHash(crd: WeftCrd): Promise<string | undefined>;
  /** One page of every object of `crd`, all namespaces, read at CRD_VERSION. */
  list(crd: WeftCrd, continueToken: string | undefined, limit: number): Promise<ListPage>;
  /** The object as it is now, or undefined when it was deleted. */
  get(crd: WeftCrd, namespace: string, name: string): Promise<StoredObject | undefined>;
  /** An update with `obj` as it was read (its resourceVersion guards against a concurrent change). */
  replace(crd: WeftCrd, obj: StoredObject): Promise<'written' | 'conflict' | 'gone'>;
  /** Sets `status.storedVersions` through the `/status` subresource, guarded by the CRD's resourceVersion. */
  setStoredVersions(name: string, versions: readonly string[], resourceVersion: string): Promise<'written' | 'conflict'>;
}

export interface MigrationOptions {
  /** Objects per list page. */
  readonly pageSize: number;
  /** Attempts per object (and for the CRD status) when a write conflicts. */
  readonly attempts: number;
  /** How long to wait for the API server to take up a new storage version (see storageVersionHash). */
  readonly settleMs: number;
  readonly sleep: (ms: number) => Promise<void>;
}

export const DEFAULT_MIGRATION_OPTIONS: MigrationOptions = {
  pageSize: 500,
  attempts: 5,
  settleMs: 30_000,
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

/**
 * Discovery's `storageVersionHash` of a resource stored at group/version
 * (k8s.io/apiserver's discovery.StorageVersionHash): the first 8 bytes of
 * sha256("<group>/<version>/<kind>"), base64.
 */
export function storageVersionHash(group: string, version: string, kind: string): string {
  return createHash('sha256').update(`${group}/${version}/${kind}`).digest().subarray(0, 8).toString('base64');
}

export interface CrdMigration {
  /** `<plural>.<group>`. */
  readonly crd: string;
  /** migrated: objects rewritten and storedVersions set; current: storedVersions was already [CRD_VERSION], nothing written; failed: see message. */
  readonly outcome: 'migrated' | 'current' | 'failed';
  readonly rewritten: number;
  /** Deleted between the list and their rewrite. */
  readonly gone: number;
  readonly storedVersionsBefore: readonly string[];
  readonly storedVersionsAfter: readonly string[];
  /** Why it failed (outcome failed) and what to do. */
  readonly message?: string;
}

export const crdName = (c: WeftCrd): string => `${c.plural}.${c.group}`;

/** What the migration needs the caller to be allowed, for a start-up access review naming every gap. */
export function migrationPermissions(crds: readonly WeftCrd[] = WEFT_CRDS): Permission[] {
  return crds.flatMap((c) => [
    { verb: 'get', group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions', name: crdName(c) },
    { verb: 'patch', group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions', subresource: 'status', name: crdName(c) },
    ...(['list', 'get', 'update'] as const).map((verb) => ({ verb, group: c.group, resource: c.plural })),
  ]);
}

const list = (v: readonly string[]) => `[${v.join(', ')}]`;

/** True when every object of the CRD is known to be stored at `version`. */
export const storedOnlyAt = (s: CrdState, version: string = CRD_VERSION): boolean => s.storedVersions.length === 1 && s.storedVersions[0] === version;

/** Rewrites one object, re-reading it after each conflict. */
async function rewrite(store: CrdStore, crd: WeftCrd, first: StoredObject, attempts: number): Promise<'written' | 'gone'> {
  let obj: StoredObject | undefined = first;
  const ns = first.metadata.namespace ?? '';
  for (let i = 0; i < attempts; i++) {
    const r = await store.replace(crd, obj);
    if (r !== 'conflict') return r;
    // Changed since the list: the newer object is what gets rewritten (someone else's write may already have re-encoded it; one more write costs nothing).
    obj = await store.get(crd, ns, first.metadata.name);
    if (!obj) return 'gone';
  }
  throw new Error(`${ns}/${first.metadata.name}: still conflicting after ${attempts} attempts (the object is being changed continuously); run the migration again`);
}

export async function migrateCrd(store: CrdStore, crd: WeftCrd, o: MigrationOptions = DEFAULT_MIGRATION_OPTIONS): Promise<CrdMigration> {
  const name = crdName(crd);
  const state = await store.crd(name);
  const result = (outcome: CrdMigration['outcome'], fields: Partial<CrdMigration> = {}): CrdMigration => ({
    crd: name,
    outcome,
    rewritten: 0,
    gone: 0,
    storedVersionsBefore: state?.storedVersions ?? [],
    storedVersionsAfter: state?.storedVersions ?? [],
    ...fields,
  });
  if (!state) return result('failed', { message: `CRD ${name} is not installed: install the weft-crds chart of this release first` });
  if (state.storageVersion !== CRD_VERSION) {
    return result('failed', {
      message: `CRD ${name} stores objects at ${state.storageVersion ?? 'no version'}, not ${CRD_VERSION}: upgrade the weft-crds chart to this release first (helm upgrade), then run the migration`,
    });
  }
  if (storedOnlyAt(state)) return result('current');

  // The API server applies a CRD update asynchronously: until discovery shows
  // the new storage version's hash, a rewrite could still be encoded at the old one.
  const want = storageVersionHash(crd.group, CRD_VERSION, crd.kind);
  for (let waited = 0; (await store.storageVersionHash(crd)) !== want; waited += 1000) {
    if (waited >= o.settleMs) {
      return result('failed', { message: `the API server does not yet report ${CRD_VERSION} as the storage version of ${name} (discovery's storageVersionHash is not ${want}): run the migration again in a minute` });
    }
    await o.sleep(1000);
  }

  let rewritten = 0;
  let gone = 0;
  const failures: string[] = [];
  for (let listing = 0; ; listing++) {
    rewritten = gone = 0;
    failures.length = 0;
    try {
      let token: string | undefined;
      do {
        const page = await store.list(crd, token, o.pageSize);
        for (const obj of page.items) {
          try {
            if ((await rewrite(store, crd, obj, o.attempts)) === 'written') rewritten++;
            else gone++;
          } catch (err) {
            if ((err as { code?: string }).code === 'PERMISSION_DENIED') throw err;
            failures.push((err as Error).message);
          }
        }
        token = page.continue;
      } while (token);
      break;
    } catch (err) {
      // Rewriting an object twice is harmless, so an expired listing starts over.
      if (!(err instanceof ListExpiredError) || listing >= 2) throw err;
    }
  }
  if (failures.length > 0) {
    return result('failed', {
      rewritten,
      gone,
      message: `${failures.length} object(s) not rewritten, storedVersions left at ${list(state.storedVersions)}: ${failures.slice(0, 5).join('; ')}${failures.length > 5 ? '; …' : ''}`,
    });
  }

  for (let i = 0; i < o.attempts; i++) {
    const now = await store.crd(name);
    if (!now) return result('failed', { rewritten, gone, message: `CRD ${name} was deleted during the migration` });
    if (now.storageVersion !== CRD_VERSION) {
      return result('failed', { rewritten, gone, message: `CRD ${name}'s storage version changed to ${now.storageVersion ?? 'none'} during the migration: run it again` });
    }
    if ((await store.setStoredVersions(name, [CRD_VERSION], now.resourceVersion)) === 'written') {
      return result('migrated', { rewritten, gone, storedVersionsBefore: now.storedVersions, storedVersionsAfter: [CRD_VERSION] });
    }
  }
  return result('failed', { rewritten, gone, message: `CRD ${name} kept changing while storedVersions was being set: run the migration again` });
}

/** Migrates every weft CRD in turn; a failed one does not stop the others. */
export async function migrateCrds(store: CrdStore, o: MigrationOptions = DEFAULT_MIGRATION_OPTIONS, crds: readonly WeftCrd[] = WEFT_CRDS): Promise<CrdMigration[]> {
  const out: CrdMigration[] = [];
  for (const crd of crds) out.push(await migrateCrd(store, crd, o));
  return out;
}

/** One line per CRD, for the table output. */
export function describeMigration(m: CrdMigration): string {
  switch (m.outcome) {
    case 'current':
      return `${m.crd}: storedVersions is ${list(m.storedVersionsAfter)}: nothing to migrate`;
    case 'migrated':
      return `${m.crd}: rewrote ${m.rewritten} object(s) at ${CRD_VERSION}${m.gone ? ` (${m.gone} deleted meanwhile)` : ''}; storedVersions ${list(m.storedVersionsBefore)} -> ${list(m.storedVersionsAfter)}`;
    case 'failed':
      return `${m.crd}: FAILED${m.rewritten || m.gone ? ` after rewriting ${m.rewritten} object(s)` : ''}: ${m.message}`;
  }
}
