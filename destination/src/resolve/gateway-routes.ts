/**
 * Gateway API routes attached to a Service (GAMMA): an HTTPRoute or GRPCRoute
 * whose `parentRefs` name a Service (group "" / kind Service, optionally one
 * port) gives that Service's outbound routes, as a ServiceProfile does.
 *
 * evaluateRoute() is the one place that decides what weft makes of a route:
 * per Service parent, whether it is Accepted and its references resolved
 * (the conditions the status writer publishes), and the proxy routes its
 * rules translate to. Precedence, supported features and the mapping are in
 * docs/routes.md.
 */
import { create } from '@bufbuild/protobuf';
import { destination } from '@weft/api';
import { GATEWAY_GROUP } from '@weft/api/names';
import type { ClusterCache } from '../watchers/cluster-cache.js';
import type { CustomObject, RouteKind } from '../model.js';
import type { MeshSettings } from '../settings.js';
import { durationMsg, grpcStatus } from './service-profile.js';

type DurationInit = { seconds: bigint; nanos: number };
interface TimeoutInit {
  timeout?: DurationInit;
  totalTimeout?: DurationInit;
}
interface RetryInit {
  isRetryable?: boolean;
  retryStatuses?: { min: number; max: number }[];
  retryGrpcStatuses?: number[];
}

/** How a route refers to its parent (Gateway API ParentReference). */
export interface ParentRef {
  readonly group?: string;
  readonly kind?: string;
  readonly namespace?: string;
  readonly name: string;
  readonly sectionName?: string;
  readonly port?: number;
}

export interface Condition {
  readonly type: 'Accepted' | 'ResolvedRefs';
  readonly status: 'True' | 'False';
  readonly reason: string;
  readonly message: string;
}

export interface ServiceParent {
  readonly ref: ParentRef;
  readonly namespace: string;
  readonly name: string;
  readonly port: number | undefined;
  readonly accepted: boolean;
  readonly conditions: readonly [Condition, Condition];
}

export interface WeightedBackend {
  readonly authority: string;
  readonly weight: number;
}

export interface RuleTranslation {
  /** One proxy route per match, in the order the route lists them. */
  readonly routes: destination.Route[];
  /** Resolved backends; empty means "the parent Service itself". */
  readonly backends: readonly WeightedBackend[];
  /** Precedence key of each route (see compareMatchKeys). */
  readonly keys: readonly MatchKey[];
  /** Cache keys the backends were resolved from (Services and ReferenceGrants they name). */
  readonly deps: readonly string[];
}

export interface RouteEvaluation {
  readonly kind: RouteKind;
  readonly route: CustomObject;
  /** The parentRefs that name a Service (other parents belong to other controllers). */
  readonly parents: readonly ServiceParent[];
  readonly rules: readonly RuleTranslation[];
}

/** Annotations carrying retry policy until the Gateway API's retry block reaches the standard channel. */
export const RETRY_ANNOTATIONS = { http: 'retry.weft.io/http', grpc: 'retry.weft.io/grpc' } as const;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

class Unsupported extends Error {}
class Invalid extends Error {}

export function evaluateRoute(cache: ClusterCache, kind: RouteKind, route: CustomObject, settings: MeshSettings): RouteEvaluation {
  const ns = route.metadata.namespace ?? '';
  const spec = isObj(route.spec) ? route.spec : {};
  let rules: RuleTranslation[] = [];
  let rulesProblem: Condition | undefined;
  let refsProblem: Condition | undefined;
  try {
    const translated = arr(spec.rules).map((rule, i) => translateRule(kind, route, rule, `spec.rules[${i}]`));
    rules = translated.map((t) => {
      const resolved = resolveBackends(cache, kind, ns, t.backendRefs, settings);
      if (resolved.problem && !refsProblem) refsProblem = resolved.problem;
      return { routes: t.routes, backends: resolved.backends, keys: t.keys, deps: resolved.deps };
    });
  } catch (err) {
    const reason = err instanceof Unsupported ? 'UnsupportedValue' : 'Invalid';
    rulesProblem = { type: 'Accepted', status: 'False', reason, message: (err as Error).message };
    rules = [];
  }
  const parents: ServiceParent[] = [];
  for (const raw of arr(spec.parentRefs)) {
    if (!isObj(raw) || typeof raw.name !== 'string') continue;
    const ref = raw as unknown as ParentRef;
    if ((ref.group ?? GATEWAY_GROUP) !== '' && ref.group !== 'core') continue;
    if ((ref.kind ?? 'Gateway') !== 'Service') continue;
    const parentNs = ref.namespace ?? ns;
    const accepted =
      acceptance(cache, ns, parentNs, ref, settings) ??
      rulesProblem ??
      ok('Accepted', 'Accepted', `weft routes this Service's traffic by this ${kind}`);
    const resolved = refsProblem ?? ok('ResolvedRefs', 'ResolvedRefs', 'every backendRef resolves');
    parents.push({
      ref,
      namespace: parentNs,
      name: ref.name,
      port: ref.port,
      accepted: accepted.status === 'True',
      conditions: [accepted, resolved],
    });
  }
  return { kind, route, parents, rules };
}

function ok(type: Condition['type'], reason: string, message: string): Condition {
  return { type, status: 'True', reason, message };
}

/** Why a Service parent does not accept the route, or undefined when it does. */
function acceptance(cache: ClusterCache, routeNs: string, parentNs: string, ref: ParentRef, settings: MeshSettings): Condition | undefined {
  const no = (reason: string, message: string): Condition => ({ type: 'Accepted', status: 'False', reason, message });
  if (parentNs !== routeNs) {
    return no(
      'UnsupportedValue',
      `the route is in namespace ${routeNs} and its parent Service in ${parentNs}: weft applies producer routes only (route and Service in one namespace)`,
    );
  }
  const svc = cache.service(parentNs, ref.name);
  if (!svc) return no('NoMatchingParent', `Service ${parentNs}/${ref.name} does not exist`);
  if (ref.port !== undefined && !(svc.spec?.ports ?? []).some((p) => p.port === ref.port)) {
    return no('NoMatchingParent', `Service ${parentNs}/${ref.name} has no port ${ref.port}`);
  }
  const fqdn = `${ref.name}.${parentNs}.svc.${settings.clusterDomain}`;
  if (cache.serviceProfile(parentNs, fqdn)) {
    return no('Overridden', `ServiceProfile ${parentNs}/${fqdn} exists for this Service and takes precedence over Gateway API routes`);
  }
  return undefined;
}

interface BackendRef {
  readonly group?: string;
  readonly kind?: string;
  readonly name: string;
  readonly namespace?: string;
  readonly port?: number;
  readonly weight?: number;
}

interface RawRule {
  readonly routes: destination.Route[];
  readonly backendRefs: readonly BackendRef[];
  readonly keys: MatchKey[];
}

function translateRule(kind: RouteKind, route: CustomObject, rule: unknown, path: string): RawRule {
  if (!isObj(rule)) throw new Invalid(`${path} must be an object`);
  if (arr(rule.filters).length > 0) {
    const types = arr(rule.filters).map((f) => (isObj(f) ? String(f.type) : '?'));
    throw new Unsupported(`${path}.filters (${types.join(', ')}): filters are not supported by weft's proxy yet`);
  }
  for (const [i, b] of arr(rule.backendRefs).entries()) {
    if (isObj(b) && arr(b.filters).length > 0)
      throw new Unsupported(`${path}.backendRefs[${i}].filters: backend filters are not supported`);
  }
  const name = typeof rule.name === 'string' && rule.name !== '' ? `${route.metadata.name}/${rule.name}` : (route.metadata.name ?? '');
  const base = {
    name,
    metricsLabels: { route_kind: kind },
    ...timeouts(rule.timeouts, `${path}.timeouts`),
    ...retries(route.metadata.annotations ?? {}),
  };
  const rawMatches = arr(rule.matches);
  const matches = rawMatches.length > 0 ? rawMatches : [kind === 'HTTPRoute' ? { path: { type: 'PathPrefix', value: '/' } } : {}];
  const routes: destination.Route[] = [];
  const keys: MatchKey[] = [];
  for (const [i, m] of matches.entries()) {
    const where = `${path}.matches[${i}]`;
    const { match, key } = kind === 'HTTPRoute' ? httpMatch(m, where) : grpcMatch(m, where);
    routes.push(create(destination.RouteSchema, { ...base, matches: [match] }));
    keys.push(key);
  }
  return { routes, backendRefs: arr(rule.backendRefs).filter(isObj) as unknown as BackendRef[], keys };
}

/** What orders matches across a Service's routes (Gateway API precedence), most specific first. */
export interface MatchKey {
  /** 0 exact path, 1 prefix, 2 regex, 3 none. */
  readonly pathKind: number;
  readonly pathLength: number;
  readonly hasMethod: boolean;
  readonly headers: number;
}

function httpMatch(m: unknown, where: string): { match: destination.RouteMatch; key: MatchKey } {
  if (!isObj(m)) throw new Invalid(`${where} must be an object`);
  if (arr(m.queryParams).length > 0)
    throw new Unsupported(`${where}.queryParams: query parameter matches are not supported by weft's proxy yet`);
  let path: destination.PathMatch | undefined;
  let pathKind = 3;
  let pathLength = 0;
  if (isObj(m.path)) {
    const type = m.path.type ?? 'PathPrefix';
    const value = String(m.path.value ?? '/');
    pathLength = value.length;
    if (type === 'Exact') {
      path = create(destination.PathMatchSchema, { kind: { case: 'exact', value } });
      pathKind = 0;
    } else if (type === 'PathPrefix') {
      path = create(destination.PathMatchSchema, { kind: { case: 'prefix', value } });
      pathKind = 1;
    } else if (type === 'RegularExpression') {
      path = create(destination.PathMatchSchema, { kind: { case: 'regex', value: checkRegex(value, `${where}.path.value`) } });
      pathKind = 2;
    } else throw new Unsupported(`${where}.path.type ${String(type)} is not supported`);
  }
  const headers = arr(m.headers).map((h, i) => headerMatch(h, `${where}.headers[${i}]`));
  const method = typeof m.method === 'string' ? m.method : '';
  return {
    match: create(destination.RouteMatchSchema, { method, path, headers }),
    key: { pathKind, pathLength, hasMethod: method !== '', headers: headers.length },
  };
}

/** GRPCRoute method matches become paths (`/<service>/<method>`); every gRPC call is a POST. */
function grpcMatch(m: unknown, where: string): { match: destination.RouteMatch; key: MatchKey } {
  if (!isObj(m)) throw new Invalid(`${where} must be an object`);
  const headers = arr(m.headers).map((h, i) => headerMatch(h, `${where}.headers[${i}]`));
  let path: destination.PathMatch | undefined;
  let pathKind = 3;
  let pathLength = 0;
  if (isObj(m.method)) {
    const service = typeof m.method.service === 'string' ? m.method.service : undefined;
    const method = typeof m.method.method === 'string' ? m.method.method : undefined;
    const type = m.method.type ?? 'Exact';
    if (!service && !method) throw new Invalid(`${where}.method needs a service or a method`);
    if (type === 'Exact') {
      const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      if (service && method) path = create(destination.PathMatchSchema, { kind: { case: 'exact', value: `/${service}/${method}` } });
      else if (service) path = create(destination.PathMatchSchema, { kind: { case: 'prefix', value: `/${service}/` } });
      else path = create(destination.PathMatchSchema, { kind: { case: 'regex', value: `^/[^/]+/${esc(method!)}$` } });
      pathKind = service && method ? 0 : service ? 1 : 2;
    } else if (type === 'RegularExpression') {
      if (service) checkRegex(service, `${where}.method.service`);
      if (method) checkRegex(method, `${where}.method.method`);
      path = create(destination.PathMatchSchema, {
        kind: { case: 'regex', value: `^/(?:${service ?? '[^/]+'})/(?:${method ?? '[^/]+'})$` },
      });
      pathKind = 2;
    } else throw new Unsupported(`${where}.method.type ${String(type)} is not supported`);
    pathLength = (service ?? '').length + (method ?? '').length;
  }
  return {
    match: create(destination.RouteMatchSchema, { method: 'POST', path, headers }),
    key: { pathKind, pathLength, hasMethod: false, headers: headers.length },
  };
}

function headerMatch(h: unknown, where: string): destination.HeaderMatch {
  if (!isObj(h) || typeof h.name !== 'string' || typeof h.value !== 'string') throw new Invalid(`${where} needs a name and a value`);
  const type = h.type ?? 'Exact';
  if (type === 'Exact')
    return create(destination.HeaderMatchSchema, { name: h.name.toLowerCase(), value: { case: 'exact', value: h.value } });
  if (type === 'RegularExpression')
    return create(destination.HeaderMatchSchema, {
      name: h.name.toLowerCase(),
      value: { case: 'regex', value: checkRegex(h.value, `${where}.value`) },
    });
  throw new Unsupported(`${where}.type ${String(type)} is not supported`);
}

function checkRegex(value: string, where: string): string {
  try {
    new RegExp(value);
  } catch (err) {
    throw new Invalid(`${where}: invalid regular expression: ${(err as Error).message}`);
  }
  return value;
}

/** Gateway API durations (GEP-2257): `1h`, `10s`, `500ms`, `1m30s`; `0s` turns a timeout off. */
export function parseGatewayDuration(raw: string): number {
  if (!/^([0-9]{1,5}(h|m|s|ms)){1,4}$/.test(raw)) throw new Invalid(`"${raw}" is not a Gateway API duration (e.g. 10s, 500ms, 1m30s)`);
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  let ms = 0;
  for (const m of raw.matchAll(/([0-9]+)(ms|h|m|s)/g)) ms += Number(m[1]) * unit[m[2]!]!;
  return ms;
}

/** `request` bounds the whole exchange (retries included); `backendRequest` each attempt. */
function timeouts(v: unknown, where: string): TimeoutInit {
  if (!isObj(v)) return {};
  const out: TimeoutInit = {};
  for (const [field, key] of [
    ['request', 'totalTimeout'],
    ['backendRequest', 'timeout'],
  ] as const) {
    const raw = v[field];
    if (raw === undefined) continue;
    let ms: number;
    try {
      ms = parseGatewayDuration(String(raw));
    } catch (err) {
      throw new Invalid(`${where}.${field}: ${(err as Error).message}`);
    }
    if (ms > 0) out[key] = durationMsg(ms);
  }
  return out;
}

/** `retry.weft.io/http: 5xx` (or codes and ranges: `502,503-504`), `retry.weft.io/grpc: unavailable,cancelled`. */
function retries(annotations: Record<string, string>): RetryInit {
  const http = annotations[RETRY_ANNOTATIONS.http];
  const grpc = annotations[RETRY_ANNOTATIONS.grpc];
  if (http === undefined && grpc === undefined) return {};
  const retryStatuses = (http ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      if (/^[1-5]xx$/i.test(s)) return { min: Number(s[0]) * 100, max: Number(s[0]) * 100 + 99 };
      const m = /^(\d{3})(?:-(\d{3}))?$/.exec(s);
      if (!m || Number(m[1]) < 100 || Number(m[2] ?? m[1]) > 599 || Number(m[1]) > Number(m[2] ?? m[1])) {
        throw new Invalid(`annotation ${RETRY_ANNOTATIONS.http}: "${s}" is not 5xx, a status code or a range like 502-504`);
      }
      return { min: Number(m[1]), max: Number(m[2] ?? m[1]) };
    });
  const retryGrpcStatuses = (grpc ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      try {
        return grpcStatus(s.replace(/-/g, '_'), `annotation ${RETRY_ANNOTATIONS.grpc}`);
      } catch (err) {
        throw new Invalid((err as Error).message);
      }
    });
  return { isRetryable: true, retryStatuses, retryGrpcStatuses };
}

function resolveBackends(
  cache: ClusterCache,
  kind: RouteKind,
  routeNs: string,
  refs: readonly BackendRef[],
  settings: MeshSettings,
): { backends: WeightedBackend[]; problem?: Condition; deps: string[] } {
  const backends: WeightedBackend[] = [];
  const deps: string[] = [];
  let problem: Condition | undefined;
  const fail = (reason: string, message: string) => (problem ??= { type: 'ResolvedRefs', status: 'False', reason, message });
  for (const ref of refs) {
    if ((ref.group ?? '') !== '' && ref.group !== 'core') {
      fail('InvalidKind', `backendRef ${ref.group}/${ref.kind ?? 'Service'} ${ref.name}: only core Services are supported`);
      continue;
    }
    if ((ref.kind ?? 'Service') !== 'Service') {
      fail('InvalidKind', `backendRef kind ${ref.kind} ${ref.name}: only Services are supported`);
      continue;
    }
    const ns = ref.namespace ?? routeNs;
    deps.push(`svc:${ns}/${ref.name}`, `grant:${ns}`);
    if (ns !== routeNs && !granted(cache, kind, routeNs, ns, ref.name)) {
      fail(
        'RefNotPermitted',
        `backendRef Service ${ns}/${ref.name} is in another namespace and no ReferenceGrant in ${ns} allows ${kind}s from ${routeNs}`,
      );
      continue;
    }
    if (!cache.service(ns, ref.name)) {
      fail('BackendNotFound', `backendRef Service ${ns}/${ref.name} does not exist`);
      continue;
    }
    if (ref.port === undefined) {
      fail('UnsupportedValue', `backendRef Service ${ns}/${ref.name} needs a port`);
      continue;
    }
    const weight = ref.weight ?? 1;
    if (weight > 0) backends.push({ authority: `${ref.name}.${ns}.svc.${settings.clusterDomain}:${ref.port}`, weight });
  }
  return { backends, problem, deps };
}

/** A ReferenceGrant in the backend's namespace lets routes of this kind from `fromNs` refer to the Service. */
function granted(cache: ClusterCache, kind: RouteKind, fromNs: string, toNs: string, service: string): boolean {
  return cache.referenceGrants(toNs).some((g) => {
    const spec = isObj(g.spec) ? g.spec : {};
    const from = arr(spec.from).some((f) => isObj(f) && f.group === GATEWAY_GROUP && f.kind === kind && f.namespace === fromNs);
    const to = arr(spec.to).some(
      (t) => isObj(t) && (t.group ?? '') === '' && t.kind === 'Service' && (t.name === undefined || t.name === service),
    );
    return from && to;
  });
}

/** Gateway API precedence: exact path, then longest prefix, then method, then most header matches. */
export function compareMatchKeys(a: MatchKey, b: MatchKey): number {
  if (a.pathKind !== b.pathKind) return a.pathKind - b.pathKind;
  if (a.pathLength !== b.pathLength) return b.pathLength - a.pathLength;
  if (a.hasMethod !== b.hasMethod) return a.hasMethod ? -1 : 1;
  return b.headers - a.headers;
}

export interface ServiceRoutes {
  readonly routes: destination.Route[];
  readonly dstOverrides: destination.WeightedDst[];
  /** Why some accepted routes could not be applied together (left out). */
  readonly problem?: string;
  readonly deps: string[];
}

/**
 * The routes of a Service port from its accepted HTTPRoutes and GRPCRoutes,
 * most specific match first (ties: the older route, then namespace/name, then
 * rule order). Undefined when no route attaches to the Service. The caller
 * depends on `route:<ns>` (and `sp:` for precedence) itself.
 */
export function gatewayRoutesFor(
  cache: ClusterCache,
  ns: string,
  name: string,
  port: number,
  settings: MeshSettings,
): ServiceRoutes | undefined {
  const deps: string[] = [];
  const attached: { ev: RouteEvaluation; rule: RuleTranslation; ruleIndex: number }[] = [];
  for (const kind of ['HTTPRoute', 'GRPCRoute'] as const) {
    for (const route of cache.routes(kind, ns)) {
      const ev = evaluateRoute(cache, kind, route, settings);
      if (!ev.parents.some((p) => p.accepted && p.namespace === ns && p.name === name && (p.port === undefined || p.port === port)))
        continue;
      ev.rules.forEach((rule, ruleIndex) => attached.push({ ev, rule, ruleIndex }));
      for (const rule of ev.rules) deps.push(...rule.deps);
    }
  }
  if (attached.length === 0) return undefined;
  const flat = attached.flatMap(({ ev, rule, ruleIndex }) =>
    rule.routes.map((route, i) => ({ ev, rule, ruleIndex, route, key: rule.keys[i]! })),
  );
  const created = (o: CustomObject) => String(o.metadata.creationTimestamp ?? '');
  flat.sort(
    (a, b) =>
      compareMatchKeys(a.key, b.key) ||
      created(a.ev.route).localeCompare(created(b.ev.route)) ||
      `${a.ev.route.metadata.namespace}/${a.ev.route.metadata.name}`.localeCompare(
        `${b.ev.route.metadata.namespace}/${b.ev.route.metadata.name}`,
      ) ||
      a.ruleIndex - b.ruleIndex,
  );
  // The proxy splits per Service, not per route: one backend set serves all rules.
  const sets = new Map<string, readonly WeightedBackend[]>();
  for (const { rule } of attached) sets.set(JSON.stringify(rule.backends), rule.backends);
  const self = `${name}.${ns}.svc.${settings.clusterDomain}:${port}`;
  const nonTrivial = [...sets.values()].filter((bs) => !(bs.length === 0 || (bs.length === 1 && bs[0]!.authority === self)));
  let dstOverrides: destination.WeightedDst[] = [];
  let problem: string | undefined;
  if (nonTrivial.length === 1 && sets.size === 1) {
    dstOverrides = nonTrivial[0]!.map((b) => create(destination.WeightedDstSchema, { authority: b.authority, weight: b.weight }));
  } else if (nonTrivial.length > 0) {
    problem = `rules of Service ${ns}/${name} send to different backend sets; weft splits per Service, so the backendRefs are ignored and traffic goes to the Service itself`;
  }
  return { routes: flat.map((f) => f.route), dstOverrides, problem, deps };
}
