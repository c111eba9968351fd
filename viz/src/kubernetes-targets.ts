/**
 * Proxy targets in a cluster: running pods with a `weft-proxy` container,
 * listed from the API server (cached for a few seconds; tap and identity
 * look-ups are rare).
 */
import { PROXY_CONTAINER, PROXY_PORTS } from '@weft/api/names';
import { formatDnsIdentity } from '@weft/common/identity-name';
import { k8s } from '@weft/common/k8s/client';
import type { ProxyTarget, TargetSource } from './targets.js';
import type { WorkloadKind } from './resource.js';

export interface KubernetesTargetOptions {
  readonly controlNamespace: string;
  readonly trustDomain: string;
  readonly cacheMs?: number;
}

/** The workload that owns a pod; a ReplicaSet's Deployment is its name minus the pod-template hash. */
export function workloadOf(pod: k8s.V1Pod): { kind: WorkloadKind; name: string } | undefined {
  const owner = pod.metadata?.ownerReferences?.find((o) => o.controller);
  if (!owner) return undefined;
  if (owner.kind === 'ReplicaSet') return { kind: 'deployment', name: owner.name.replace(/-[a-z0-9]{5,10}$/, '') };
  if (owner.kind === 'StatefulSet') return { kind: 'statefulset', name: owner.name };
  if (owner.kind === 'DaemonSet') return { kind: 'daemonset', name: owner.name };
  return undefined;
}

export class KubernetesTargetSource implements TargetSource {
  private readonly core: k8s.CoreV1Api;
  private cached: { at: number; targets: ProxyTarget[] } | undefined;

  constructor(kc: k8s.KubeConfig, private readonly opts: KubernetesTargetOptions) {
    this.core = kc.makeApiClient(k8s.CoreV1Api);
  }

  async list(): Promise<readonly ProxyTarget[]> {
    if (this.cached && Date.now() - this.cached.at < (this.opts.cacheMs ?? 5000)) return this.cached.targets;
    const pods = await this.core.listPodForAllNamespaces({ fieldSelector: 'status.phase=Running' });
    const targets: ProxyTarget[] = [];
    for (const pod of pods.items) {
      const hasProxy = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].some((c) => c.name === PROXY_CONTAINER);
      const workload = workloadOf(pod);
      const ip = pod.status?.podIP;
      if (!hasProxy || !workload || !ip || !pod.metadata?.name || !pod.metadata.namespace) continue;
      const host = ip.includes(':') ? `[${ip}]` : ip;
      targets.push({
        name: pod.metadata.name,
        namespace: pod.metadata.namespace,
        workload,
        adminAddr: `${host}:${PROXY_PORTS.admin}`,
        tapAddr: `${host}:${PROXY_PORTS.tap}`,
        identity: formatDnsIdentity({
          serviceAccount: pod.spec?.serviceAccountName ?? 'default',
          namespace: pod.metadata.namespace,
          controlNamespace: this.opts.controlNamespace,
          trustDomain: this.opts.trustDomain,
        }),
      });
    }
    this.cached = { at: Date.now(), targets };
    return targets;
  }
}
