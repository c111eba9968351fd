/** ClusterReads over the API server with @kubernetes/client-node (through common/k8s). */
import { PROXY_CONTAINER } from '@weft/api/names';
import { k8s } from '@weft/common/k8s/client';
import type { ClusterReads } from './cluster-reads.js';
import { PROXY_TRUST_ANCHORS_ENV } from './names.js';

function notFound(err: unknown): boolean {
  return (err as { code?: number }).code === 404;
}

async function orUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (notFound(err)) return undefined;
    throw err;
  }
}

export function kubernetesReads(kc: k8s.KubeConfig): ClusterReads {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const authz = kc.makeApiClient(k8s.AuthorizationV1Api);
  const admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
  const version = kc.makeApiClient(k8s.VersionApi);
  const apiext = kc.makeApiClient(k8s.ApiextensionsV1Api);
  return {
    async serverVersion() {
      const v = await version.getCode();
      return { major: Number(v.major.replace(/\D/g, '')), minor: Number(v.minor.replace(/\D/g, '')), gitVersion: v.gitVersion };
    },
    async canI(verb, group, resource, namespace) {
      const r = await authz.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { verb, group, resource, namespace } } } });
      return r.status?.allowed === true;
    },
    async namespaceExists(name) {
      return (await orUndefined(core.readNamespace({ name }))) !== undefined;
    },
    async deployments(namespace) {
      const list = await apps.listNamespacedDeployment({ namespace });
      return list.items.map((d) => ({
        name: d.metadata?.name ?? '',
        desired: d.spec?.replicas ?? 1,
        ready: d.status?.readyReplicas ?? 0,
        version: d.metadata?.labels?.['app.kubernetes.io/version'],
      }));
    },
    async configMap(namespace, name) {
      const cm = await orUndefined(core.readNamespacedConfigMap({ namespace, name }));
      return cm ? (cm.data ?? {}) : undefined;
    },
    async secret(namespace, name) {
      const s = await orUndefined(core.readNamespacedSecret({ namespace, name }));
      if (!s) return undefined;
      return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
    },
    async webhookCaBundles(name) {
      const w = await orUndefined(admission.readMutatingWebhookConfiguration({ name }));
      if (!w) return undefined;
      return (w.webhooks ?? []).map((h) => Buffer.from(h.clientConfig.caBundle ?? '', 'base64').toString('utf8'));
    },
    async meshedPods(controlNamespace) {
      const pods = await core.listPodForAllNamespaces({ labelSelector: `weft.io/control-plane-ns=${controlNamespace}` });
      return pods.items.map((p) => {
        const statuses = [...(p.status?.containerStatuses ?? []), ...(p.status?.initContainerStatuses ?? [])];
        return {
          namespace: p.metadata?.namespace ?? '',
          name: p.metadata?.name ?? '',
          proxyVersion: p.metadata?.annotations?.['weft.io/proxy-version'],
          proxyReady: statuses.find((c) => c.name === PROXY_CONTAINER)?.ready === true,
          trustAnchorsPem: [...(p.spec?.containers ?? []), ...(p.spec?.initContainers ?? [])].find((c) => c.name === PROXY_CONTAINER)?.env?.find((e) => e.name === PROXY_TRUST_ANCHORS_ENV)?.value,
        };
      });
    },
    async crd(name) {
      const crd = await orUndefined(apiext.readCustomResourceDefinition({ name }));
      if (!crd) return undefined;
      return { storageVersion: crd.spec.versions.find((v) => v.storage)?.name, storedVersions: crd.status?.storedVersions ?? [] };
    },
  };
}
