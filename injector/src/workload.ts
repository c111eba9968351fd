/**
 * Where a workload keeps its pod template, and which workload owns a pod.
 * `weft inject` walks manifests with the first; the webhook labels metrics
 * with the second.
 */
import type { k8s } from '@weft/common/k8s/client';
import type { PodLike } from './inject.js';

export interface ManifestObject {
  apiVersion?: string;
  kind?: string;
  metadata?: k8s.V1ObjectMeta;
  spec?: Record<string, unknown>;
  items?: unknown[];
  [key: string]: unknown;
}

/** Kinds with a pod template, and the path to it. A Pod is its own template. */
const TEMPLATE_PATHS: Readonly<Record<string, readonly string[]>> = {
  Pod: [],
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

export function isWorkloadKind(kind: string | undefined): boolean {
  return kind !== undefined && Object.hasOwn(TEMPLATE_PATHS, kind);
}

/** The pod template of a workload object, or undefined when it has none. */
export function podTemplate(obj: ManifestObject): PodLike | undefined {
  const path = obj.kind !== undefined ? TEMPLATE_PATHS[obj.kind] : undefined;
  if (!path) return undefined;
  let node: unknown = obj;
  for (const key of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return typeof node === 'object' && node !== null ? (node as PodLike) : undefined;
}

/** Returns a copy of the workload with its pod template replaced. */
export function withPodTemplate<T extends ManifestObject>(obj: T, template: PodLike): T {
  const path = TEMPLATE_PATHS[obj.kind!]!;
  if (path.length === 0) return template as T;
  const out = structuredClone(obj);
  let node = out as Record<string, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
  node[path[path.length - 1]!] = template;
  return out;
}

/**
 * The workload that owns a pod, from its owner references. A Deployment's
 * pods are owned by a ReplicaSet named `<deployment>-<pod-template-hash>`.
 */
export function owningWorkload(pod: PodLike): { kind: string; name: string } | undefined {
  const owner = pod.metadata?.ownerReferences?.find((o) => o.controller) ?? pod.metadata?.ownerReferences?.[0];
  if (!owner) return pod.metadata?.name ? { kind: 'pod', name: pod.metadata.name } : undefined;
  const hash = pod.metadata?.labels?.['pod-template-hash'];
  if (owner.kind === 'ReplicaSet' && hash && owner.name.endsWith(`-${hash}`)) {
    return { kind: 'deployment', name: owner.name.slice(0, -hash.length - 1) };
  }
  return { kind: owner.kind.toLowerCase(), name: owner.name };
}
