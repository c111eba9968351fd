/** AdmissionReview request bodies as the API server sends them, for webhook tests. */
import { parse } from 'yaml';
import { k8s } from '@weft/common/k8s/client';
import type { PodLike } from '../inject.js';

/** A Pod built with the Kubernetes API types, serialized to its wire form as the API server sends it. */
export function wirePod(): PodLike {
  const pod = new k8s.V1Pod();
  pod.apiVersion = 'v1';
  pod.kind = 'Pod';
  pod.metadata = {
    generateName: 'web-7d4b9c-',
    namespace: 'meshed',
    labels: { app: 'web', 'pod-template-hash': '7d4b9c' },
    annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-01-01T00:00:00Z' },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d4b9c', uid: '6a2b', controller: true, blockOwnerDeletion: true }],
  };
  pod.spec = {
    serviceAccountName: 'web',
    containers: [{ name: 'app', image: 'nginx:1.27', ports: [{ containerPort: 80, protocol: 'TCP' }], resources: {} }],
    restartPolicy: 'Always',
    dnsPolicy: 'ClusterFirst',
  };
  // dumpYaml runs the client's ObjectSerializer: the field names and shapes of the wire form.
  return parse(k8s.dumpYaml(pod)) as PodLike;
}

export const REVIEW_UID = '705ab4f5-6393-11e8-b7cc-42010a800002';

/** An AdmissionReview v1 body for a Pod CREATE in `namespace`. */
export function review(object: unknown, namespace: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: REVIEW_UID,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace,
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:serviceaccounts'] },
      object,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
      ...extra,
    },
  });
}
