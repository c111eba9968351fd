/**
 * What destination tells peers about a pod: whether it is meshed, the TLS
 * identity its proxy presents, its owner labels, its opaque ports.
 */
import { parsePortList } from '@weft/common/config';
import { formatDnsIdentity, formatSpiffeIdentity } from '@weft/common/identity-name';
import { PROXY_CONTAINER } from '@weft/api/names';
import { ANNOTATION, type Pod } from '../model.js';
import type { MeshSettings } from '../settings.js';

/** A pod runs weft's proxy when it has the proxy container (regular or native sidecar) or the injector's annotation. */
export function isMeshed(pod: Pod): boolean {
  if (pod.metadata?.annotations?.[ANNOTATION.proxyVersion]) return true;
  const has = (cs: { name: string }[] | undefined): boolean => cs?.some((c) => c.name === PROXY_CONTAINER) ?? false;
  return has(pod.spec?.containers) || has(pod.spec?.initContainers);
}

export interface TlsIdentityNames {
  readonly dnsName: string;
  readonly spiffeUri: string;
}

/** The identity a meshed pod's proxy holds: derived from its ServiceAccount. Undefined when the names are invalid. */
export function podIdentity(pod: Pod, settings: MeshSettings): TlsIdentityNames | undefined {
  const id = {
    serviceAccount: pod.spec?.serviceAccountName || 'default',
    namespace: pod.metadata?.namespace ?? '',
    controlNamespace: settings.controlNamespace,
    trustDomain: settings.trustDomain,
  };
  try {
    return { dnsName: formatDnsIdentity(id), spiffeUri: formatSpiffeIdentity(id) };
  } catch {
    return undefined;
  }
}

/** The proxy's inbound port: the default, unless the pod says otherwise (local demo on loopback). */
export function proxyInboundPort(pod: Pod, settings: MeshSettings): number {
  const raw = pod.metadata?.annotations?.[ANNOTATION.proxyInboundPort];
  const n = raw ? Number(raw) : NaN;
  return Number.isInteger(n) && n > 0 && n < 65536 ? n : settings.proxyInboundPort;
}

/**
 * Owner labels for metrics: namespace, pod, serviceaccount and the workload
 * (`deployment` from a ReplicaSet owner by stripping its pod-template-hash,
 * `statefulset`, `daemonset`, `job`, `replicaset`).
 */
export function ownerLabels(pod: Pod): Record<string, string> {
  const labels: Record<string, string> = {
    namespace: pod.metadata?.namespace ?? '',
    pod: pod.metadata?.name ?? '',
    serviceaccount: pod.spec?.serviceAccountName || 'default',
  };
  const owner = pod.metadata?.ownerReferences?.find((o) => o.controller) ?? pod.metadata?.ownerReferences?.[0];
  if (!owner) return labels;
  switch (owner.kind) {
    case 'ReplicaSet': {
      const hash = pod.metadata?.labels?.['pod-template-hash'];
      if (hash && owner.name.endsWith(`-${hash}`)) labels.deployment = owner.name.slice(0, -hash.length - 1);
      else labels.replicaset = owner.name;
      break;
    }
    case 'StatefulSet':
    case 'DaemonSet':
    case 'Job':
    case 'ReplicationController':
      labels[owner.kind.toLowerCase()] = owner.name;
      break;
  }
  return labels;
}

/** Ports listed in an object's `config.weft.io/opaque-ports` annotation; a bad value counts as none. */
export function opaquePorts(annotations: Record<string, string> | undefined): number[] {
  const raw = annotations?.[ANNOTATION.opaquePorts];
  if (!raw) return [];
  try {
    return parsePortList(raw);
  } catch {
    return [];
  }
}

/** Resolves a named container port of a pod. */
export function containerPort(pod: Pod, name: string): number | undefined {
  for (const c of pod.spec?.containers ?? []) for (const p of c.ports ?? []) if (p.name === name) return p.containerPort;
  return undefined;
}

export function declaresPort(pod: Pod, port: number): boolean {
  return pod.spec?.containers?.some((c) => c.ports?.some((p) => p.containerPort === port)) ?? false;
}
