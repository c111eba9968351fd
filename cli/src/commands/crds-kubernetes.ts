/** CrdStore over the API server with @kubernetes/client-node (through common/k8s). */
import { CRD_VERSION, type WeftCrd } from '@weft/api/names';
import { PermissionDeniedError } from '@weft/common/errors';
import { k8s } from '@weft/common/k8s/client';
import { ListExpiredError, crdName, type CrdStore, type StoredObject } from './crds-migrate.js';

const status = (err: unknown): number | undefined => (err as { code?: number }).code;

/** The API server's own message (its Status body), else the client's. */
function reason(err: unknown): string {
  const body = (err as { body?: unknown }).body;
  try {
    const parsed = (typeof body === 'string' ? JSON.parse(body) : body) as { message?: string } | undefined;
    if (parsed?.message) return parsed.message;
  } catch {
    /* not JSON */
  }
  return (err as Error).message;
}

/** Rethrows `err` as what the caller can act on: 403 names the permission, anything else the call. */
function fail(err: unknown, what: string, permission: string): never {
  if (status(err) === 403) {
    throw new PermissionDeniedError(`the current user may not ${permission}: ${reason(err)} (the migration needs the permissions docs/crds.md lists; run it as a cluster admin)`, { cause: err });
  }
  throw new Error(`${what}: ${reason(err)}`, { cause: err });
}

export function kubernetesCrdStore(kc: k8s.KubeConfig): CrdStore {
  const apiext = kc.makeApiClient(k8s.ApiextensionsV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
  const ref = (c: WeftCrd) => ({ group: c.group, version: CRD_VERSION, plural: c.plural });
  return {
    async crd(name) {
      try {
        const crd = await apiext.readCustomResourceDefinition({ name });
        return {
          storageVersion: crd.spec.versions.find((v) => v.storage)?.name,
          storedVersions: crd.status?.storedVersions ?? [],
          resourceVersion: crd.metadata?.resourceVersion ?? '',
        };
      } catch (err) {
        if (status(err) === 404) return undefined;
        fail(err, `reading CRD ${name}`, `get customresourcedefinitions/${name}`);
      }
    },
    async storageVersionHash(c) {
      try {
        const r = await custom.getAPIResources({ group: c.group, version: CRD_VERSION });
        return r.resources.find((x) => x.name === c.plural)?.storageVersionHash;
      } catch (err) {
        if (status(err) === 404) return undefined;
        fail(err, `discovery of ${c.group}/${CRD_VERSION}`, `get /apis/${c.group}/${CRD_VERSION}`);
      }
    },
    async list(c, token, limit) {
      try {
        const r = (await custom.listClusterCustomObject({ ...ref(c), limit, _continue: token })) as { items?: StoredObject[]; metadata?: { continue?: string } };
        return { items: r.items ?? [], continue: r.metadata?.continue || undefined };
      } catch (err) {
        if (status(err) === 410) throw new ListExpiredError(`listing ${crdName(c)}: ${reason(err)}`);
        fail(err, `listing ${crdName(c)}`, `list ${crdName(c)} (cluster-wide)`);
      }
    },
    async get(c, namespace, name) {
      try {
        return (await custom.getNamespacedCustomObject({ ...ref(c), namespace, name })) as StoredObject;
      } catch (err) {
        if (status(err) === 404) return undefined;
        fail(err, `reading ${crdName(c)} ${namespace}/${name}`, `get ${crdName(c)} in namespace ${namespace}`);
      }
    },
    async replace(c, obj) {
      const namespace = obj.metadata.namespace ?? '';
      try {
        await custom.replaceNamespacedCustomObject({ ...ref(c), namespace, name: obj.metadata.name, body: obj });
        return 'written';
      } catch (err) {
        if (status(err) === 409) return 'conflict';
        if (status(err) === 404) return 'gone';
        fail(err, `${namespace}/${obj.metadata.name}`, `update ${crdName(c)} in namespace ${namespace}`);
      }
    },
    async setStoredVersions(name, versions, resourceVersion) {
      try {
        // A merge patch replaces the list whole; the resourceVersion makes it fail (409) if the CRD changed since it was read.
        await apiext.patchCustomResourceDefinitionStatus({ name, body: { metadata: { resourceVersion }, status: { storedVersions: versions } } }, mergePatch);
        return 'written';
      } catch (err) {
        if (status(err) === 409) return 'conflict';
        fail(err, `setting status.storedVersions of CRD ${name}`, `patch customresourcedefinitions/${name}/status`);
      }
    },
  };
}
