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
  /** A Service (outbound routes) or a weft Server (inbound, route-level authorization: HTTPRoute only). */
  readonly kind: 'Service' | 'Server';
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
class IncompatibleFilters extends Error {}

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
    const reason = err instanceof Unsupported ? 'UnsupportedValue' : err instanceof IncompatibleFilters ? 'IncompatibleFilters' : 'Invalid';
    rulesProblem = { type: 'Accepted', status: 'False', reason, message: (err as Error).message };
    rules = [];
  }
  const parents: ServiceParent[] = [];
  for (const raw of arr(spec.parentRefs)) {
    if (!isObj(raw) || typeof raw.name !== 'string') continue;
    const ref = raw as unknown as ParentRef;
    if (kind === 'HTTPRoute' && ref.group === 'policy.weft.io' && ref.kind === 'Server') {
      parents.push(serverParent(cache, ns, ref, rulesProblem));
      continue;
    }
    if ((ref.group ?? GATEWAY_GROUP) !== '' && ref.group !== 'core') continue;
    if ((ref.kind ?? 'Gateway') !== 'Service') continue;
    const parentNs = ref.namespace ?? ns;
    const accepted =
      acceptance(cache, ns, parentNs, ref, settings) ??
      rulesProblem ??
      ok('Accepted', 'Accepted', `weft routes this Service's traffic by this ${kind}`);
    const resolved = refsProblem ?? ok('ResolvedRefs', 'ResolvedRefs', 'every backendRef resolves');
    parents.push({
      kind: 'Service',
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

/** A weft Server parent: the route scopes authorization on the Server's port (docs/destination.md). */
function serverParent(cache: ClusterCache, ns: string, ref: ParentRef, rulesProblem: Condition | undefined): ServiceParent {
  const parentNs = ref.namespace ?? ns;
  const no = (reason: string, message: string): Condition => ({ type: 'Accepted', status: 'False', reason, message });
  const accepted =
    parentNs !== ns
      ? no(
          'NotAllowedByListeners',
          `the route is in namespace ${ns} and its parent Server in ${parentNs}: a Server's routes live in its namespace`,
        )
      : !cache.policies('Server', ns).some((srv) => srv.metadata.name === ref.name)
        ? no('NoMatchingParent', `Server ${ns}/${ref.name} does not exist`)
        : (rulesProblem ??
          ok(
            'Accepted',
            'Accepted',
            `AuthorizationPolicies targeting this HTTPRoute apply to the requests it matches on Server ${ref.name}`,
          ));
  return {
    kind: 'Server',
    ref,
    namespace: parentNs,
    name: ref.name,
    port: undefined,
    accepted: accepted.status === 'True',
    conditions: [accepted, ok('ResolvedRefs', 'ResolvedRefs', 'an inbound route has no backendRefs to resolve')],
  };
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
  for (const [i, b] of arr(rule.backendRefs).entries()) {
    if (isObj(b) && arr(b.filters).length > 0)
      throw new Unsupported(`${path}.backendRefs[${i}].filters: backend filters are not supported`);
  }
  const name = typeof rule.name === 'string' && rule.name !== '' ? `${route.metadata.name}/${rule.name}` : (route.metadata.name ?? '');
  const rawFilters = arr(rule.filters);
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
    const filters = translateFilters(kind, rawFilters, match, `${path}.filters`, where);
    routes.push(create(destination.RouteSchema, { ...base, matches: [match], filters }));
    keys.push(key);
  }
  return { routes, backendRefs: arr(rule.backendRefs).filter(isObj) as unknown as BackendRef[], keys };
}

/** Filters weft applies (docs/routes.md); others make the route not Accepted, naming the filter. */
const SUPPORTED_FILTERS: Record<RouteKind, readonly string[]> = {
  HTTPRoute: ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite'],
  GRPCRoute: ['RequestHeaderModifier', 'ResponseHeaderModifier'],
};

/** Headers a route may not change: pseudo-headers, Host (the authority is URLRewrite's) and weft's own. */
const PROTECTED_HEADER = /^(:|host$|weft-)/i;

function translateFilters(
  kind: RouteKind,
  raw: unknown[],
  match: destination.RouteMatch,
  where: string,
  matchWhere: string,
): destination.RouteFilter[] {
  const types = raw.map((f, i) => {
    if (!isObj(f) || typeof f.type !== 'string') throw new Invalid(`${where}[${i}] needs a type`);
    return f.type;
  });
  for (const [i, t] of types.entries()) {
    if (!SUPPORTED_FILTERS[kind].includes(t))
      throw new Unsupported(`${where}[${i}]: filter ${t} is not supported by weft (supported: ${SUPPORTED_FILTERS[kind].join(', ')})`);
  }
  if (types.includes('RequestRedirect') && types.includes('URLRewrite'))
    throw new IncompatibleFilters(`${where}: RequestRedirect and URLRewrite cannot be used together`);
  for (const t of new Set(types)) {
    if (types.filter((x) => x === t).length > 1) throw new IncompatibleFilters(`${where}: ${t} is given more than once`);
  }
  return raw.map((f, i) => {
    const at = `${where}[${i}]`;
    const o = f as Record<string, unknown>;
    switch (o.type) {
      case 'RequestHeaderModifier':
        return create(destination.RouteFilterSchema, {
          kind: { case: 'requestHeaderModifier', value: headerModifier(o.requestHeaderModifier, `${at}.requestHeaderModifier`) },
        });
      case 'ResponseHeaderModifier':
        return create(destination.RouteFilterSchema, {
          kind: { case: 'responseHeaderModifier', value: headerModifier(o.responseHeaderModifier, `${at}.responseHeaderModifier`) },
        });
      case 'RequestRedirect': {
        const r = isObj(o.requestRedirect) ? o.requestRedirect : {};
        const scheme = typeof r.scheme === 'string' ? r.scheme : '';
        if (scheme !== '' && scheme !== 'http' && scheme !== 'https')
          throw new Invalid(`${at}.requestRedirect.scheme must be http or https`);
        const statusCode = r.statusCode === undefined ? 302 : Number(r.statusCode);
        if (statusCode !== 301 && statusCode !== 302)
          throw new Unsupported(`${at}.requestRedirect.statusCode ${statusCode}: only 301 and 302 are supported`);
        const port = r.port === undefined ? 0 : Number(r.port);
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Invalid(`${at}.requestRedirect.port must be a port number`);
        return create(destination.RouteFilterSchema, {
          kind: {
            case: 'requestRedirect',
            value: create(destination.RequestRedirectSchema, {
              scheme,
              hostname: typeof r.hostname === 'string' ? r.hostname : '',
              port,
              statusCode,
              path: pathModifier(r.path, match, `${at}.requestRedirect.path`, matchWhere),
            }),
          },
        });
      }
      default: {
        const r = isObj(o.urlRewrite) ? o.urlRewrite : {};
        return create(destination.RouteFilterSchema, {
          kind: {
            case: 'urlRewrite',
            value: create(destination.UrlRewriteSchema, {
              hostname: typeof r.hostname === 'string' ? r.hostname : '',
              path: pathModifier(r.path, match, `${at}.urlRewrite.path`, matchWhere),
            }),
          },
        });
      }
    }
  });
}

function headerModifier(v: unknown, where: string): destination.HeaderModifier {
  if (!isObj(v)) throw new Invalid(`${where} is missing`);
  const check = (n: unknown, at: string): string => {
    if (typeof n !== 'string' || !/^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/.test(n)) throw new Invalid(`${at}: "${String(n)}" is not a header name`);
    if (PROTECTED_HEADER.test(n)) throw new Unsupported(`${at}: weft does not let routes change ${n}`);
    return n.toLowerCase();
  };
  const values = (list: unknown, at: string) =>
    arr(list).map((h, i) => {
      if (!isObj(h) || typeof h.value !== 'string') throw new Invalid(`${at}[${i}] needs a name and a value`);
      return create(destination.HeaderValueSchema, { name: check(h.name, `${at}[${i}].name`), value: h.value });
    });
  return create(destination.HeaderModifierSchema, {
    set: values(v.set, `${where}.set`),
    add: values(v.add, `${where}.add`),
    remove: arr(v.remove).map((n, i) => check(n, `${where}.remove[${i}]`)),
  });
}

function pathModifier(v: unknown, match: destination.RouteMatch, where: string, matchWhere: string): destination.PathModifier | undefined {
  if (!isObj(v)) return undefined;
  if (v.type === 'ReplaceFullPath') {
    if (typeof v.replaceFullPath !== 'string' || !v.replaceFullPath.startsWith('/'))
      throw new Invalid(`${where}.replaceFullPath must be a path starting with /`);
    return create(destination.PathModifierSchema, { kind: { case: 'full', value: v.replaceFullPath } });
  }
  if (v.type === 'ReplacePrefixMatch') {
    if (typeof v.replacePrefixMatch !== 'string' || !v.replacePrefixMatch.startsWith('/'))
      throw new Invalid(`${where}.replacePrefixMatch must be a path starting with /`);
    if (match.path?.kind.case !== 'prefix') throw new Invalid(`${where}: ReplacePrefixMatch needs a PathPrefix match (${matchWhere})`);
    return create(destination.PathModifierSchema, { kind: { case: 'prefix', value: v.replacePrefixMatch } });
  }
  throw new Invalid(`${where}.type must be ReplaceFullPath or ReplacePrefixMatch`);
}

/**
 * The matches of an HTTPRoute's rules as proxy route matches, with their rule
 * names and precedence keys (inbound, route-level authorization: filters and
 * backends do not apply there). Throws what makes the route invalid.
 */
export function httpRouteMatches(route: CustomObject): { name: string; match: destination.RouteMatch; key: MatchKey; rule: number }[] {
  const spec = isObj(route.spec) ? route.spec : {};
  return arr(spec.rules).flatMap((rule, i) => {
    const path = `spec.rules[${i}]`;
    if (!isObj(rule)) throw new Invalid(`${path} must be an object`);
    const name = typeof rule.name === 'string' && rule.name !== '' ? `${route.metadata.name}/${rule.name}` : (route.metadata.name ?? '');
    const raw = arr(rule.matches);
    return (raw.length > 0 ? raw : [{ path: { type: 'PathPrefix', value: '/' } }]).map((m, j) => ({
      name,
      rule: i,
      ...httpMatch(m, `${path}.matches[${j}]`),
    }));
  });
}

/** What orders matches across a Service's routes (Gateway API precedence), most specific first. */
export interface MatchKey {
  /** 0 exact path, 1 prefix, 2 regex, 3 none. */
  readonly pathKind: number;
  readonly pathLength: number;
  readonly hasMethod: boolean;
  readonly headers: number;
  readonly queryParams: number;
}

function httpMatch(m: unknown, where: string): { match: destination.RouteMatch; key: MatchKey } {
  if (!isObj(m)) throw new Invalid(`${where} must be an object`);
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
  const queryParams = arr(m.queryParams).map((q, i) => queryParamMatch(q, `${where}.queryParams[${i}]`));
  const method = typeof m.method === 'string' ? m.method : '';
  return {
    match: create(destination.RouteMatchSchema, { method, path, headers, queryParams }),
    key: { pathKind, pathLength, hasMethod: method !== '', headers: headers.length, queryParams: queryParams.length },
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
    key: { pathKind, pathLength, hasMethod: false, headers: headers.length, queryParams: 0 },
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

function queryParamMatch(q: unknown, where: string): destination.QueryParamMatch {
  if (!isObj(q) || typeof q.name !== 'string' || typeof q.value !== 'string') throw new Invalid(`${where} needs a name and a value`);
  const type = q.type ?? 'Exact';
  if (type === 'Exact') return create(destination.QueryParamMatchSchema, { name: q.name, value: { case: 'exact', value: q.value } });
  if (type === 'RegularExpression')
    return create(destination.QueryParamMatchSchema, {
      name: q.name,
      value: { case: 'regex', value: checkRegex(q.value, `${where}.value`) },
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

/** Gateway API precedence: exact path, then longest prefix, then method, then most header matches, then most query matches. */
export function compareMatchKeys(a: MatchKey, b: MatchKey): number {
  if (a.pathKind !== b.pathKind) return a.pathKind - b.pathKind;
  if (a.pathLength !== b.pathLength) return b.pathLength - a.pathLength;
  if (a.hasMethod !== b.hasMethod) return a.hasMethod ? -1 : 1;
  if (a.headers !== b.headers) return b.headers - a.headers;
  return b.queryParams - a.queryParams;
}

export interface ServiceRoutes {
  /** Each with its rule's weighted backends when they are not the Service itself. */
  readonly routes: destination.Route[];
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
      if (
        !ev.parents.some(
          (p) => p.kind === 'Service' && p.accepted && p.namespace === ns && p.name === name && (p.port === undefined || p.port === port),
        )
      )
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
  // Each rule's backendRefs travel with its routes; the Service itself (or no backendRefs) needs no split.
  const self = `${name}.${ns}.svc.${settings.clusterDomain}:${port}`;
  const routes = flat.map(({ rule, route }) => {
    const bs = rule.backends;
    if (bs.length === 0 || (bs.length === 1 && bs[0]!.authority === self)) return route;
    return create(destination.RouteSchema, {
      ...route,
      backends: bs.map((b) => create(destination.WeightedDstSchema, { authority: b.authority, weight: b.weight })),
    });
  });
  return { routes, deps };
}
