/**
 * The cluster cache: every object a source delivered, indexed the ways
 * lookups need (slices by service, services by cluster IP, pods by IP), and
 * the dependency keys each change touches, so only the subscriptions that
 * read a changed object are re-evaluated.
 *
 * Dependency keys:
 *   svc:<ns>/<name>   a Service or one of its EndpointSlices
 *   pod:<ns>/<name>   a Pod
 *   ip:<ip>           what a cluster IP or pod IP resolves to
 *   ns:<name>         a Namespace (annotations)
 *   sp:<ns>/<name>    a ServiceProfile
 *   policy:<ns>       any policy CRD in a namespace
 *   route:<ns>        an HTTPRoute or GRPCRoute in a namespace
 *   grant:<ns>        a ReferenceGrant in a namespace
 */
import { objectKey, SERVICE_NAME_LABEL, type EndpointSlice, type Kind, type KindMap, type ObjectSink, type Pod, type Service, type CustomObject, type Namespace, type PolicyKind, type RouteKind } from '../model.js';

export type ChangeListener = (keys: readonly string[]) => void;

export class ClusterCache implements ObjectSink {
  private readonly stores = new Map<Kind, Map<string, KindMap[Kind]>>();
  private readonly slicesByService = new Map<string, Map<string, EndpointSlice>>();
  private readonly servicesByIP = new Map<string, Set<string>>();
  private readonly podsByIP = new Map<string, Set<string>>();
  private readonly listeners = new Set<ChangeListener>();

  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  apply<K extends Kind>(kind: K, obj: KindMap[K]): void {
    const key = objectKey(obj.metadata);
    const store = this.store(kind);
    const old = store.get(key) as KindMap[K] | undefined;
    store.set(key, obj);
    this.reindex(kind, old, obj);
    this.emit(kind, old, obj);
  }

  delete<K extends Kind>(kind: K, obj: KindMap[K]): void {
    const key = objectKey(obj.metadata);
    const store = this.store(kind);
    const old = store.get(key) as KindMap[K] | undefined;
    if (!old) return;
    store.delete(key);
    this.reindex(kind, old, undefined);
    this.emit(kind, old, undefined);
  }

  service(namespace: string, name: string): Service | undefined {
    return this.store('Service').get(`${namespace}/${name}`) as Service | undefined;
  }

  pod(namespace: string, name: string): Pod | undefined {
    return this.store('Pod').get(`${namespace}/${name}`) as Pod | undefined;
  }

  namespace(name: string): Namespace | undefined {
    return this.store('Namespace').get(`/${name}`) as Namespace | undefined;
  }

  serviceProfile(namespace: string, name: string): CustomObject | undefined {
    return this.store('ServiceProfile').get(`${namespace}/${name}`) as CustomObject | undefined;
  }

  slicesOf(namespace: string, service: string): Iterable<EndpointSlice> {
    return this.slicesByService.get(`${namespace}/${service}`)?.values() ?? [];
  }

  /** The Service whose cluster IP is `ip` (several only by misconfiguration: the first wins). */
  serviceByClusterIP(ip: string): Service | undefined {
    const keys = this.servicesByIP.get(ip);
    if (!keys) return undefined;
    for (const k of keys) return this.store('Service').get(k) as Service | undefined;
    return undefined;
  }

  podsByAddress(ip: string): Pod[] {
    const keys = this.podsByIP.get(ip);
    if (!keys) return [];
    const out: Pod[] = [];
    for (const k of keys) {
      const p = this.store('Pod').get(k) as Pod | undefined;
      if (p) out.push(p);
    }
    return out;
  }

  /** Gateway API routes of a kind in a namespace (a Service's producer routes live in its namespace). */
  routes(kind: RouteKind, namespace: string): CustomObject[] {
    return this.inNamespace(kind, namespace);
  }

  referenceGrants(namespace: string): CustomObject[] {
    return this.inNamespace('ReferenceGrant', namespace);
  }

  private inNamespace(kind: Kind, namespace: string): CustomObject[] {
    const out: CustomObject[] = [];
    for (const o of this.store(kind).values()) if (o.metadata?.namespace === namespace) out.push(o as CustomObject);
    return out;
  }

  policies(kind: PolicyKind, namespace: string): CustomObject[] {
    const out: CustomObject[] = [];
    for (const o of this.store(kind).values()) if (o.metadata?.namespace === namespace) out.push(o as CustomObject);
    return out;
  }

  count(kind: Kind): number {
    return this.store(kind).size;
  }

  list<K extends Kind>(kind: K): KindMap[K][] {
    return [...this.store(kind).values()] as KindMap[K][];
  }

  private store(kind: Kind): Map<string, KindMap[Kind]> {
    let s = this.stores.get(kind);
    if (!s) this.stores.set(kind, (s = new Map()));
    return s;
  }

  private reindex(kind: Kind, old: KindMap[Kind] | undefined, cur: KindMap[Kind] | undefined): void {
    if (kind === 'EndpointSlice') {
      if (old) this.sliceIndex(old as EndpointSlice, false);
      if (cur) this.sliceIndex(cur as EndpointSlice, true);
    } else if (kind === 'Service') {
      if (old) for (const ip of clusterIPs(old as Service)) removeFrom(this.servicesByIP, ip, objectKey(old.metadata));
      if (cur) for (const ip of clusterIPs(cur as Service)) addTo(this.servicesByIP, ip, objectKey(cur.metadata));
    } else if (kind === 'Pod') {
      if (old) for (const ip of podIPs(old as Pod)) removeFrom(this.podsByIP, ip, objectKey(old.metadata));
      if (cur) for (const ip of podIPs(cur as Pod)) addTo(this.podsByIP, ip, objectKey(cur.metadata));
    }
  }

  private sliceIndex(slice: EndpointSlice, add: boolean): void {
    const svc = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (!svc) return;
    const svcKey = `${slice.metadata?.namespace ?? ''}/${svc}`;
    const key = objectKey(slice.metadata);
    let m = this.slicesByService.get(svcKey);
    if (add) {
      if (!m) this.slicesByService.set(svcKey, (m = new Map()));
      m.set(key, slice);
    } else if (m) {
      m.delete(key);
      if (m.size === 0) this.slicesByService.delete(svcKey);
    }
  }

  private emit(kind: Kind, old: KindMap[Kind] | undefined, cur: KindMap[Kind] | undefined): void {
    if (this.listeners.size === 0) return;
    const keys = new Set<string>();
    for (const o of [old, cur]) if (o) dependencyKeys(kind, o, keys);
    const list = [...keys];
    for (const l of this.listeners) l(list);
  }
}

function dependencyKeys(kind: Kind, o: KindMap[Kind], out: Set<string>): void {
  const ns = o.metadata?.namespace ?? '';
  const name = o.metadata?.name ?? '';
  switch (kind) {
    case 'Service':
      out.add(`svc:${ns}/${name}`);
      for (const ip of clusterIPs(o as Service)) out.add(`ip:${ip}`);
      break;
    case 'EndpointSlice': {
      const svc = o.metadata?.labels?.[SERVICE_NAME_LABEL];
      if (svc) out.add(`svc:${ns}/${svc}`);
      break;
    }
    case 'Pod':
      out.add(`pod:${ns}/${name}`);
      for (const ip of podIPs(o as Pod)) out.add(`ip:${ip}`);
      break;
    case 'Namespace':
      out.add(`ns:${name}`);
      break;
    case 'ServiceProfile':
      out.add(`sp:${ns}/${name}`);
      break;
    case 'HTTPRoute':
    case 'GRPCRoute':
      out.add(`route:${ns}`);
      break;
    case 'ReferenceGrant':
      out.add(`grant:${ns}`);
      break;
    default:
      out.add(`policy:${ns}`);
  }
}

export function clusterIPs(svc: Service): string[] {
  const ips = svc.spec?.clusterIPs?.length ? svc.spec.clusterIPs : svc.spec?.clusterIP ? [svc.spec.clusterIP] : [];
  return ips.filter((ip) => ip && ip !== 'None');
}

export function podIPs(pod: Pod): string[] {
  // Host-network pods share the node's IP: an IP lookup must not resolve to them.
  if (pod.spec?.hostNetwork) return [];
  const ips = pod.status?.podIPs?.map((p) => p.ip).filter((ip): ip is string => !!ip) ?? [];
  if (ips.length === 0 && pod.status?.podIP) ips.push(pod.status.podIP);
  return ips;
}

function addTo(index: Map<string, Set<string>>, k: string, v: string): void {
  let s = index.get(k);
  if (!s) index.set(k, (s = new Set()));
  s.add(v);
}

function removeFrom(index: Map<string, Set<string>>, k: string, v: string): void {
  const s = index.get(k);
  if (!s) return;
  s.delete(v);
  if (s.size === 0) index.delete(k);
}
