/**
 * Resolves the inbound policy of one port of one pod (docs/destination.md,
 * "Inbound policy resolution"): the Server selecting it with the
 * AuthorizationPolicies that target it, or the default policy from the pod,
 * namespace or cluster; plus the kubelet probe authorization.
 */
import { create } from '@bufbuild/protobuf';
import { isIP } from 'node:net';
import { policy } from '@weft/api';
import { GATEWAY_GROUP } from '@weft/api/names';
import { formatDnsIdentity, formatSpiffeIdentity } from '@weft/common/identity-name';
import type { ClusterCache } from '../watchers/cluster-cache.js';
import { ANNOTATION, type CustomObject, type Pod } from '../model.js';
import { DEFAULT_INBOUND_POLICIES, type DefaultInboundPolicy, type MeshSettings } from '../settings.js';
import type { Resolution } from './endpoints.js';
import { opaquePorts } from './workload.js';
import { compareMatchKeys, httpRouteMatches } from './gateway-routes.js';

export interface PolicyTarget {
  readonly namespace: string;
  readonly pod: string;
  readonly port: number;
}

const DETECT_TIMEOUT = { seconds: 10n, nanos: 0 };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function resolvePolicy(cache: ClusterCache, target: PolicyTarget, settings: MeshSettings): Resolution<policy.Server> {
  const { namespace: ns, pod: podName, port } = target;
  const deps = [`pod:${ns}/${podName}`, `ns:${ns}`, `policy:${ns}`];
  const pod = cache.pod(ns, podName);
  const server = pod ? selectServer(cache.policies('Server', ns), pod, port) : undefined;
  let result: policy.Server;
  if (server) {
    const authorizations = serverAuthorizations(cache, server, ns, settings, deps);
    result = create(policy.ServerSchema, {
      protocol: protocolOf((server.spec as Obj).proxyProtocol),
      authorizations,
      labels: { name: server.metadata.name ?? '', kind: 'server' },
      routes: inboundRoutes(cache, server, ns, settings, deps),
    });
  } else {
    const name = defaultPolicy(pod, cache.namespace(ns)?.metadata?.annotations, settings);
    const opaque = pod ? opaquePorts(pod.metadata?.annotations).includes(port) : false;
    result = create(policy.ServerSchema, {
      protocol: opaque ? { kind: { case: 'opaque', value: {} } } : { kind: { case: 'detect', value: { timeout: DETECT_TIMEOUT } } },
      authorizations: defaultAuthorizations(name, settings),
      labels: { name, kind: 'default' },
    });
  }
  const probe = pod ? probeAuthorization(pod, port) : undefined;
  if (probe) result.authorizations.push(probe);
  return { state: result, deps };
}

function defaultPolicy(
  pod: Pod | undefined,
  nsAnnotations: Record<string, string> | undefined,
  settings: MeshSettings,
): DefaultInboundPolicy {
  for (const v of [pod?.metadata?.annotations?.[ANNOTATION.defaultInboundPolicy], nsAnnotations?.[ANNOTATION.defaultInboundPolicy]]) {
    if (v && (DEFAULT_INBOUND_POLICIES as readonly string[]).includes(v)) return v as DefaultInboundPolicy;
  }
  return settings.defaultInboundPolicy;
}

export function defaultAuthorizations(name: DefaultInboundPolicy, settings: MeshSettings): policy.Authz[] {
  const labels = { name, kind: 'default' };
  switch (name) {
    case 'all-unauthenticated':
      return [create(policy.AuthzSchema, { authentication: { permit: { case: 'unauthenticated', value: {} } }, labels })];
    case 'all-authenticated':
      return [create(policy.AuthzSchema, { authentication: { permit: { case: 'meshTls', value: { identities: ['*'] } } }, labels })];
    case 'cluster-authenticated':
      return [
        create(policy.AuthzSchema, {
          networks: settings.clusterNetworks.map((net) => ({ net })),
          authentication: { permit: { case: 'meshTls', value: { suffixes: [settings.trustDomain] } } },
          labels,
        }),
      ];
    case 'deny':
      return [];
  }
}

function selectServer(servers: CustomObject[], pod: Pod, port: number): CustomObject | undefined {
  const matching = servers.filter((s) => {
    const spec = s.spec;
    if (!isObj(spec)) return false;
    return selectorMatches(spec.podSelector, pod.metadata?.labels ?? {}) && portMatches(spec.port, pod, port);
  });
  matching.sort((a, b) => {
    const ta = a.metadata.creationTimestamp ? new Date(a.metadata.creationTimestamp).getTime() : 0;
    const tb = b.metadata.creationTimestamp ? new Date(b.metadata.creationTimestamp).getTime() : 0;
    return ta - tb || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');
  });
  return matching[0];
}

/** Kubernetes LabelSelector semantics; a missing selector selects nothing, `{}` selects everything. */
export function selectorMatches(selector: unknown, labels: Record<string, string>): boolean {
  if (!isObj(selector)) return false;
  const ml = selector.matchLabels;
  if (isObj(ml)) for (const [k, v] of Object.entries(ml)) if (labels[k] !== v) return false;
  const exprs = selector.matchExpressions;
  if (Array.isArray(exprs)) {
    for (const e of exprs) {
      if (!isObj(e) || typeof e.key !== 'string') return false;
      const values = Array.isArray(e.values) ? (e.values as unknown[]).map(String) : [];
      const has = Object.hasOwn(labels, e.key);
      const v = labels[e.key];
      const ok =
        e.operator === 'In'
          ? has && values.includes(v!)
          : e.operator === 'NotIn'
            ? !has || !values.includes(v!)
            : e.operator === 'Exists'
              ? has
              : e.operator === 'DoesNotExist'
                ? !has
                : false;
      if (!ok) return false;
    }
  }
  return true;
}

function portMatches(spec: unknown, pod: Pod, port: number): boolean {
  if (typeof spec === 'number') return spec === port;
  if (typeof spec === 'string') {
    if (/^\d+$/.test(spec)) return Number(spec) === port;
    return pod.spec?.containers?.some((c) => c.ports?.some((p) => p.name === spec && p.containerPort === port)) ?? false;
  }
  return false;
}

function protocolOf(v: unknown): policy.ProxyProtocol {
  switch (v) {
    case 'HTTP/1':
      return create(policy.ProxyProtocolSchema, { kind: { case: 'http1', value: {} } });
    case 'HTTP/2':
      return create(policy.ProxyProtocolSchema, { kind: { case: 'http2', value: {} } });
    case 'gRPC':
      return create(policy.ProxyProtocolSchema, { kind: { case: 'grpc', value: {} } });
    case 'opaque':
      return create(policy.ProxyProtocolSchema, { kind: { case: 'opaque', value: {} } });
    default:
      return create(policy.ProxyProtocolSchema, { kind: { case: 'detect', value: { timeout: DETECT_TIMEOUT } } });
  }
}

function serverAuthorizations(
  cache: ClusterCache,
  server: CustomObject,
  ns: string,
  settings: MeshSettings,
  deps: string[],
): policy.Authz[] {
  const out: policy.Authz[] = [];
  const aps = cache.policies('AuthorizationPolicy', ns).sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  for (const ap of aps) {
    const spec = ap.spec;
    if (!isObj(spec) || !isObj(spec.targetRef)) continue;
    const t = spec.targetRef;
    const targets =
      (t.kind === 'Server' && t.name === server.metadata.name) || (t.kind === 'Namespace' && (t.name === ns || t.name === undefined));
    if (!targets) continue;
    const authz = authorizationFor(cache, ap, ns, settings, deps);
    if (authz) out.push(authz);
  }
  return out;
}

/**
 * HTTPRoutes whose parentRefs name this Server (`group: policy.weft.io`,
 * `kind: Server`), with the AuthorizationPolicies that target each route, in
 * Gateway API precedence order. A route that does not translate is left out:
 * its authorizations never apply (fail closed).
 */
function inboundRoutes(
  cache: ClusterCache,
  server: CustomObject,
  ns: string,
  settings: MeshSettings,
  deps: string[],
): policy.InboundRoute[] {
  deps.push(`route:${ns}`);
  const attached = cache.routes('HTTPRoute', ns).filter((r) => {
    const parents = isObj(r.spec) && Array.isArray(r.spec.parentRefs) ? (r.spec.parentRefs as unknown[]) : [];
    return parents.some(
      (p) =>
        isObj(p) && p.group === 'policy.weft.io' && p.kind === 'Server' && p.name === server.metadata.name && (p.namespace ?? ns) === ns,
    );
  });
  if (attached.length === 0) return [];
  const aps = cache.policies('AuthorizationPolicy', ns).sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  const entries = attached.flatMap((route) => {
    let matches: ReturnType<typeof httpRouteMatches>;
    try {
      matches = httpRouteMatches(route);
    } catch {
      return [];
    }
    const authorizations: policy.Authz[] = [];
    for (const ap of aps) {
      const t = isObj(ap.spec) && isObj(ap.spec.targetRef) ? ap.spec.targetRef : undefined;
      if (t?.group !== GATEWAY_GROUP || t.kind !== 'HTTPRoute' || t.name !== route.metadata.name) continue;
      const authz = authorizationFor(cache, ap, ns, settings, deps);
      if (authz) authorizations.push(authz);
    }
    return matches.map((m) => ({ route, ...m, authorizations }));
  });
  const created = (o: CustomObject) => String(o.metadata.creationTimestamp ?? '');
  entries.sort(
    (a, b) =>
      compareMatchKeys(a.key, b.key) ||
      created(a.route).localeCompare(created(b.route)) ||
      (a.route.metadata.name ?? '').localeCompare(b.route.metadata.name ?? '') ||
      a.rule - b.rule,
  );
  return entries.map((e) => create(policy.InboundRouteSchema, { name: e.name, matches: [e.match], authorizations: e.authorizations }));
}

/** One AuthorizationPolicy → one Authz; undefined (no access) when a referenced authentication is missing or invalid. */
function authorizationFor(
  cache: ClusterCache,
  ap: CustomObject,
  ns: string,
  settings: MeshSettings,
  deps: string[],
): policy.Authz | undefined {
  const spec = ap.spec as Obj;
  const refs = spec.requiredAuthenticationRefs === undefined ? [] : spec.requiredAuthenticationRefs;
  if (!Array.isArray(refs)) return undefined;
  const networks: { net: string; except: string[] }[] = [];
  const identities: string[] = [];
  const suffixes: string[] = [];
  let meshTls = false;
  for (const ref of refs) {
    if (!isObj(ref) || typeof ref.name !== 'string') return undefined;
    const refNs = typeof ref.namespace === 'string' ? ref.namespace : ns;
    if (refNs !== ns) deps.push(`policy:${refNs}`);
    if (ref.kind === 'ServiceAccount') {
      meshTls = true;
      const id = saIdentity(ref.name, refNs, settings);
      if (!id) return undefined;
      identities.push(...id);
    } else if (ref.kind === 'MeshTLSAuthentication') {
      const m = cache.policies('MeshTLSAuthentication', refNs).find((o) => o.metadata.name === ref.name);
      const parsed = m && meshTlsOf(m, refNs, settings);
      if (!parsed) return undefined;
      meshTls = true;
      identities.push(...parsed.identities);
      suffixes.push(...parsed.suffixes);
    } else if (ref.kind === 'NetworkAuthentication') {
      const n = cache.policies('NetworkAuthentication', refNs).find((o) => o.metadata.name === ref.name);
      const parsed = n && networksOf(n);
      if (!parsed) return undefined;
      networks.push(...parsed);
    } else {
      return undefined;
    }
  }
  return create(policy.AuthzSchema, {
    networks,
    authentication: meshTls
      ? { permit: { case: 'meshTls', value: { identities, suffixes } } }
      : { permit: { case: 'unauthenticated', value: {} } },
    labels: { name: ap.metadata.name ?? '', kind: 'authorizationpolicy' },
  });
}

function saIdentity(sa: string, ns: string, settings: MeshSettings): string[] | undefined {
  try {
    const id = { serviceAccount: sa, namespace: ns, controlNamespace: settings.controlNamespace, trustDomain: settings.trustDomain };
    return [formatDnsIdentity(id), formatSpiffeIdentity(id)];
  } catch {
    return undefined;
  }
}

function meshTlsOf(m: CustomObject, ns: string, settings: MeshSettings): { identities: string[]; suffixes: string[] } | undefined {
  const spec = m.spec;
  if (!isObj(spec)) return undefined;
  const identities: string[] = [];
  const suffixes: string[] = [];
  if (Array.isArray(spec.identities)) for (const i of spec.identities) if (typeof i === 'string' && i) identities.push(i);
  if (Array.isArray(spec.identityRefs)) {
    for (const r of spec.identityRefs) {
      if (!isObj(r) || typeof r.name !== 'string') return undefined;
      const rns = typeof r.namespace === 'string' ? r.namespace : ns;
      if (r.kind === 'ServiceAccount') {
        const id = saIdentity(r.name, rns, settings);
        if (!id) return undefined;
        identities.push(...id);
      } else if (r.kind === 'Namespace') {
        // Every ServiceAccount of the namespace: the DNS identity ends with this suffix.
        suffixes.push(`${r.name}.serviceaccount.identity.${settings.controlNamespace}.${settings.trustDomain}`);
      } else return undefined;
    }
  }
  return identities.length || suffixes.length ? { identities, suffixes } : undefined;
}

function networksOf(n: CustomObject): { net: string; except: string[] }[] | undefined {
  const spec = n.spec;
  if (!isObj(spec) || !Array.isArray(spec.networks) || spec.networks.length === 0) return undefined;
  const out: { net: string; except: string[] }[] = [];
  for (const net of spec.networks) {
    if (!isObj(net) || !isCidr(net.cidr)) return undefined;
    const except = Array.isArray(net.except) ? net.except : [];
    if (!except.every(isCidr)) return undefined;
    out.push({ net: net.cidr as string, except: except as string[] });
  }
  return out;
}

export function isCidr(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  const [ip, bits, ...rest] = v.split('/');
  const fam = isIP(ip ?? '');
  if (!fam || rest.length) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d+$/.test(bits) && n <= (fam === 4 ? 32 : 128);
}

/** Kubelet HTTP probes on this port stay allowed from the pod's node, for their paths only. */
function probeAuthorization(pod: Pod, port: number): policy.Authz | undefined {
  const paths = new Set<string>();
  for (const c of pod.spec?.containers ?? []) {
    for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
      const get = probe?.httpGet;
      if (!get) continue;
      const p =
        typeof get.port === 'number'
          ? get.port
          : /^\d+$/.test(String(get.port))
            ? Number(get.port)
            : c.ports?.find((cp) => cp.name === get.port)?.containerPort;
      if (p === port) paths.add(get.path || '/');
    }
  }
  if (paths.size === 0) return undefined;
  const host = pod.status?.hostIP;
  const fam = host ? isIP(host) : 0;
  return create(policy.AuthzSchema, {
    networks: fam ? [{ net: `${host}/${fam === 4 ? 32 : 128}` }] : [],
    authentication: { permit: { case: 'unauthenticated', value: {} } },
    labels: { name: 'probe', kind: 'default' },
    httpPaths: [...paths].sort(),
  });
}
