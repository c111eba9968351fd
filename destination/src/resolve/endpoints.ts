/**
 * Resolves a lookup target into its current endpoint set, reading only the
 * cluster cache. The result lists the dependency keys it read so the
 * subscription is re-evaluated exactly when one of them changes.
 */
import type { ClusterCache } from '../watchers/cluster-cache.js';
import type { EndpointSlice, Pod, Service } from '../model.js';
import type { MeshSettings } from '../settings.js';
import type { Target } from './authority.js';
import { containerPort, declaresPort, isMeshed, opaquePorts, ownerLabels, podIdentity, proxyInboundPort, type TlsIdentityNames } from './workload.js';

export interface ResolvedEndpoint {
  readonly ip: string;
  readonly port: number;
  readonly weight: number;
  readonly identity: TlsIdentityNames | undefined;
  /** Present when the endpoint is meshed: how its proxy is reached. */
  readonly hint: { readonly protocol: 'h2' | 'opaque'; readonly inboundPort: number } | undefined;
  readonly labels: Readonly<Record<string, string>>;
}

export type EndpointState =
  | { readonly kind: 'endpoints'; readonly endpoints: ReadonlyMap<string, ResolvedEndpoint>; readonly setLabels: Readonly<Record<string, string>> }
  /** `exists`: the service (or pod) is known but has no ready endpoints. */
  | { readonly kind: 'none'; readonly exists: boolean };

export interface Resolution<S> {
  readonly state: S;
  readonly deps: readonly string[];
}

export function endpointKey(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export function resolveEndpointState(cache: ClusterCache, target: Target, settings: MeshSettings): Resolution<EndpointState> {
  const deps: string[] = [];
  const state = resolve(cache, target, settings, deps);
  return { state, deps };
}

function resolve(cache: ClusterCache, target: Target, settings: MeshSettings, deps: string[]): EndpointState {
  if (target.kind === 'external') return { kind: 'none', exists: false };
  if (target.kind === 'service') {
    deps.push(`svc:${target.namespace}/${target.name}`);
    const svc = cache.service(target.namespace, target.name);
    return svc ? serviceEndpoints(cache, svc, target.port, target.hostname, settings, deps) : { kind: 'none', exists: false };
  }
  deps.push(`ip:${target.ip}`);
  const svc = cache.serviceByClusterIP(target.ip);
  if (svc) {
    deps.push(`svc:${svc.metadata?.namespace}/${svc.metadata?.name}`);
    return serviceEndpoints(cache, svc, target.port, undefined, settings, deps);
  }
  const pod = podAt(cache, target.ip, target.port);
  if (!pod) return { kind: 'none', exists: false };
  deps.push(`pod:${pod.metadata?.namespace}/${pod.metadata?.name}`);
  if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return { kind: 'none', exists: true };
  const ep = endpointFor(pod, target.ip, target.port, settings);
  return { kind: 'endpoints', endpoints: new Map([[endpointKey(ep.ip, ep.port), ep]]), setLabels: { namespace: pod.metadata?.namespace ?? '' } };
}

/** Several pods may share an IP (the loopback demo): prefer the one that declares the port. */
function podAt(cache: ClusterCache, ip: string, port: number): Pod | undefined {
  const pods = cache.podsByAddress(ip);
  return pods.find((p) => declaresPort(p, port)) ?? pods[0];
}

function serviceEndpoints(cache: ClusterCache, svc: Service, port: number, hostname: string | undefined, settings: MeshSettings, deps: string[]): EndpointState {
  const ns = svc.metadata?.namespace ?? '';
  const name = svc.metadata?.name ?? '';
  const headless = svc.spec?.clusterIP === 'None';
  const svcPort = svc.spec?.ports?.find((p) => p.port === port);
  // A headless service has no proxying port mapping: clients dial the pod port they asked for.
  if (!svcPort && !headless) return { kind: 'none', exists: true };
  const svcOpaque = svcPort && opaquePorts(svc.metadata?.annotations).includes(svcPort.port);
  const endpoints = new Map<string, ResolvedEndpoint>();
  for (const slice of cache.slicesOf(ns, name)) {
    const slicePort = portOfSlice(slice, svcPort?.name);
    for (const e of slice.endpoints ?? []) {
      // Only ready endpoints take traffic; terminating ones are gone for new requests.
      if (e.conditions?.ready === false) continue;
      if (hostname !== undefined && e.hostname !== hostname && e.targetRef?.name !== hostname) continue;
      const ref = e.targetRef?.kind === 'Pod' && e.targetRef.name ? { namespace: e.targetRef.namespace ?? ns, name: e.targetRef.name } : undefined;
      const pod = ref ? cache.pod(ref.namespace, ref.name) : undefined;
      if (ref) deps.push(`pod:${ref.namespace}/${ref.name}`);
      // A slice naming a pod we do not (or no longer) know: skip it rather than
      // announce it without its identity, which would downgrade mTLS to plaintext.
      if (ref && !pod) continue;
      // A pod being deleted is terminating, as its slice will say too (ready: false), but only once the
      // EndpointSlice controller has written it: the pod's own update comes first, as the kubelet stops it. Its
      // address may be gone a moment later, and a caller still picking it would wait out a connect bound.
      if (pod?.metadata?.deletionTimestamp) continue;
      for (const ip of e.addresses ?? []) {
        const p = slicePort ?? targetPortOf(svcPort, pod) ?? port;
        const ep = pod ? endpointFor(pod, ip, p, settings, svcOpaque) : bareEndpoint(ip, p, settings);
        endpoints.set(endpointKey(ip, p), ep);
      }
    }
  }
  if (endpoints.size === 0) return { kind: 'none', exists: true };
  return { kind: 'endpoints', endpoints, setLabels: { namespace: ns, service: name } };
}

/** EndpointSlices carry the resolved target port per service port name (named target ports included). */
function portOfSlice(slice: EndpointSlice, portName: string | undefined): number | undefined {
  const want = portName ?? '';
  const p = slice.ports?.find((sp) => (sp.name ?? '') === want);
  return p?.port ?? undefined;
}

function targetPortOf(svcPort: { port: number; targetPort?: number | string } | undefined, pod: Pod | undefined): number | undefined {
  const tp = svcPort?.targetPort;
  if (typeof tp === 'number') return tp;
  if (typeof tp === 'string') {
    if (/^\d+$/.test(tp)) return Number(tp);
    return pod ? containerPort(pod, tp) : undefined;
  }
  return svcPort?.port;
}

function endpointFor(pod: Pod, ip: string, port: number, settings: MeshSettings, serviceOpaque = false): ResolvedEndpoint {
  const meshed = isMeshed(pod);
  const opaque = serviceOpaque || opaquePorts(pod.metadata?.annotations).includes(port);
  return {
    ip,
    port,
    weight: settings.endpointWeight,
    identity: meshed ? podIdentity(pod, settings) : undefined,
    hint: meshed ? { protocol: opaque ? 'opaque' : 'h2', inboundPort: proxyInboundPort(pod, settings) } : undefined,
    labels: ownerLabels(pod),
  };
}

function bareEndpoint(ip: string, port: number, settings: MeshSettings): ResolvedEndpoint {
  return { ip, port, weight: settings.endpointWeight, identity: undefined, hint: undefined, labels: {} };
}

