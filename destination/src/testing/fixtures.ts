/** Kubernetes-shaped test objects, as an API server would deliver them. For tests and the benchmark. */
import type { k8s } from '@weft/common/k8s/client';
import type { EndpointSlice, Pod, Service } from '../model.js';
import { SERVICE_NAME_LABEL } from '../model.js';

export interface PodOptions {
  readonly ip: string;
  readonly namespace?: string;
  readonly serviceAccount?: string;
  readonly meshed?: boolean;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
  /** `deployment/web`, `statefulset/db`, `daemonset/agent`. */
  readonly owner?: string;
  readonly ports?: { name?: string; containerPort: number }[];
  readonly hostIP?: string;
  readonly probes?: { port: number | string; path: string }[];
  /** Set when the pod is being deleted (terminating). */
  readonly deletionTimestamp?: Date;
}

export function pod(name: string, o: PodOptions): Pod {
  const labels = { ...o.labels };
  let ownerReferences: k8s.V1OwnerReference[] = [];
  if (o.owner) {
    const [kind, owner] = o.owner.split('/') as [string, string];
    if (kind === 'deployment') {
      labels['pod-template-hash'] = '5d8f7c';
      ownerReferences = [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${owner}-5d8f7c`, uid: 'u1', controller: true }];
    } else {
      const k = { statefulset: 'StatefulSet', daemonset: 'DaemonSet', job: 'Job' }[kind] ?? kind;
      ownerReferences = [{ apiVersion: 'apps/v1', kind: k, name: owner, uid: 'u2', controller: true }];
    }
  }
  const probe = o.probes?.[0];
  return {
    metadata: { name, namespace: o.namespace ?? 'demo', labels, annotations: { ...o.annotations }, ownerReferences, deletionTimestamp: o.deletionTimestamp },
    spec: {
      serviceAccountName: o.serviceAccount ?? 'default',
      containers: [
        {
          name: 'app',
          ports: o.ports ?? [],
          ...(probe ? { readinessProbe: { httpGet: { port: probe.port as never, path: probe.path } } } : {}),
          ...(o.probes?.[1] ? { livenessProbe: { httpGet: { port: o.probes[1].port as never, path: o.probes[1].path } } } : {}),
        },
        ...(o.meshed ? [{ name: 'weft-proxy' }] : []),
      ],
    },
    status: { phase: 'Running', podIP: o.ip, podIPs: [{ ip: o.ip }], ...(o.hostIP ? { hostIP: o.hostIP } : {}) },
  };
}

export interface ServiceOptions {
  readonly namespace?: string;
  readonly clusterIP?: string;
  readonly ports: { name?: string; port: number; targetPort?: number | string }[];
  readonly annotations?: Record<string, string>;
}

export function service(name: string, o: ServiceOptions): Service {
  return {
    metadata: { name, namespace: o.namespace ?? 'demo', annotations: { ...o.annotations } },
    spec: { clusterIP: o.clusterIP ?? 'None', ports: o.ports.map((p) => ({ ...p, targetPort: p.targetPort as never })) },
  };
}

export interface SliceEndpoint {
  readonly ip: string;
  readonly pod?: string;
  readonly ready?: boolean;
  readonly hostname?: string;
}

export function slice(name: string, svc: string, ports: { name?: string; port: number }[], endpoints: SliceEndpoint[], namespace = 'demo'): EndpointSlice {
  return {
    addressType: 'IPv4',
    metadata: { name, namespace, labels: { [SERVICE_NAME_LABEL]: svc } },
    ports: ports.map((p) => ({ name: p.name ?? '', port: p.port, protocol: 'TCP' })),
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: e.ready ?? true },
      ...(e.hostname ? { hostname: e.hostname } : {}),
      ...(e.pod ? { targetRef: { kind: 'Pod', name: e.pod, namespace } } : {}),
    })),
  };
}

/** Lets the subscription index flush its coalesced re-evaluations. */
export function settle(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
