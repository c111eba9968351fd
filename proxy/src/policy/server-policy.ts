/**
 * Inbound authorization as the proxy applies it: a port's `Server` policy
 * (from destination's policy `Watch`, or a default policy) compiled into
 * ordered authorizations, and the decision for one connection or request.
 * An authorization admits a client when the client's address is in its
 * networks (any when none are listed, minus `except`), its authentication
 * permits the client (anyone; or a mesh identity listed in DNS or SPIFFE
 * form, `*` for any, or under a listed suffix) and, for probe-style
 * authorizations with HTTP paths, the request is HTTP with one of those
 * exact paths. The first authorization that admits wins; none: denied.
 * HTTPRoutes attached to the Server add per-route authorizations: a request
 * gets those of the first route it matches (Linkerd's route-level policy).
 */
import net from 'node:net';
import type { policy } from '@weft/api';
import { formatSpiffeIdentity, parseDnsIdentity } from '@weft/common/identity-name';
import type { INBOUND_POLICIES } from '../config.js';
import type { Headers } from '../svc.js';
import { compileMatch, type Matcher } from '../profile/route-table.js';

export type DefaultPolicyName = (typeof INBOUND_POLICIES)[number];

export type Authentication =
  | { readonly kind: 'unauthenticated' }
  | {
      readonly kind: 'meshTls';
      readonly anyIdentity: boolean;
      readonly identities: ReadonlySet<string>;
      readonly suffixes: readonly string[];
    };

export interface Authorization {
  readonly name: string;
  readonly kind: string;
  /** Undefined: any source address. */
  readonly networks: net.BlockList | undefined;
  readonly except: net.BlockList | undefined;
  readonly authentication: Authentication;
  /** When set, applies only to HTTP requests with exactly one of these paths (kubelet probes). */
  readonly httpPaths: ReadonlySet<string> | undefined;
}

export interface ServerPolicy {
  readonly name: string;
  readonly kind: string;
  /** Server-wide: every connection and request. */
  readonly authorizations: readonly Authorization[];
  /** HTTPRoutes attached to the Server, most specific first; absent or empty: none. */
  readonly routes?: readonly InboundRoute[];
  /** The Server declares its port opaque (`proxyProtocol: opaque`): its connections skip protocol detection. */
  readonly opaque?: boolean;
}

export interface InboundRoute {
  readonly name: string;
  readonly matches: readonly Matcher[];
  /** Apply, with the server-wide ones, to HTTP requests this route is the first to match. */
  readonly authorizations: readonly Authorization[];
}

/** What an HTTP request offers to authorization; undefined for opaque TCP. */
export interface HttpFacts {
  readonly method: string;
  readonly path: string;
  readonly headers: Headers;
}

export interface Client {
  readonly ip: string;
  /** The client's mesh identity (DNS form), undefined for plaintext. */
  readonly identity: string | undefined;
}

export type Decision = { readonly allowed: true; readonly authz: Authorization } | { readonly allowed: false; readonly reason: string };

function addNetwork(list: net.BlockList, cidr: string): boolean {
  const [addr, bits] = cidr.split('/');
  const type = net.isIPv6(addr ?? '') ? 'ipv6' : net.isIPv4(addr ?? '') ? 'ipv4' : undefined;
  if (!type) return false;
  const prefix = bits === undefined ? (type === 'ipv4' ? 32 : 128) : Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > (type === 'ipv4' ? 32 : 128)) return false;
  list.addSubnet(addr!, prefix, type);
  return true;
}

function compileAuthz(a: policy.Authz): Authorization {
  let networks: net.BlockList | undefined;
  let except: net.BlockList | undefined;
  if (a.networks.length > 0) {
    networks = new net.BlockList();
    for (const n of a.networks) {
      // A malformed CIDR admits nothing rather than everything.
      addNetwork(networks, n.net);
      for (const x of n.except) addNetwork((except ??= new net.BlockList()), x);
    }
  }
  const p = a.authentication?.permit;
  const authentication: Authentication =
    p?.case === 'meshTls'
      ? {
          kind: 'meshTls',
          anyIdentity: p.value.identities.includes('*') || (p.value.identities.length === 0 && p.value.suffixes.length === 0),
          identities: new Set(p.value.identities),
          suffixes: p.value.suffixes,
        }
      : p?.case === 'unauthenticated'
        ? { kind: 'unauthenticated' }
        : // No permit at all: only authenticated clients, the safer reading.
          { kind: 'meshTls', anyIdentity: true, identities: new Set(), suffixes: [] };
  return {
    name: a.labels.name ?? '',
    kind: a.labels.kind ?? '',
    networks,
    except,
    authentication,
    httpPaths: a.httpPaths.length > 0 ? new Set(a.httpPaths) : undefined,
  };
}

/** Compiles a policy `Watch` message. */
export function compileServer(s: policy.Server): ServerPolicy {
  return {
    name: s.labels.name ?? '',
    kind: s.labels.kind ?? '',
    authorizations: s.authorizations.map(compileAuthz),
    routes: s.routes.map((r) => ({
      name: r.name,
      matches: r.matches.map(compileMatch),
      authorizations: r.authorizations.map(compileAuthz),
    })),
    opaque: s.protocol?.kind.case === 'opaque',
  };
}

const ANY_MESH: Authentication = { kind: 'meshTls', anyIdentity: true, identities: new Set(), suffixes: [] };

/**
 * A default policy built locally, used for ports the proxy does not watch and
 * while the policy service has not answered (or is unreachable).
 * `cluster-authenticated` admits identities of this proxy's own mesh (same
 * control namespace and trust domain); the proxy does not know the cluster
 * networks, so any source address qualifies.
 */
export function defaultPolicy(name: DefaultPolicyName, localIdentity: string): ServerPolicy {
  const authz = (authentication: Authentication): Authorization => ({
    name,
    kind: 'default',
    networks: undefined,
    except: undefined,
    authentication,
    httpPaths: undefined,
  });
  let authorizations: Authorization[];
  switch (name) {
    case 'all-unauthenticated':
      authorizations = [authz({ kind: 'unauthenticated' })];
      break;
    case 'all-authenticated':
      authorizations = [authz(ANY_MESH)];
      break;
    case 'cluster-authenticated': {
      const i = localIdentity.indexOf('.serviceaccount.identity.');
      const mesh = i >= 0 ? localIdentity.slice(i + '.serviceaccount.identity.'.length) : '';
      authorizations = [
        authz(mesh ? { kind: 'meshTls', anyIdentity: false, identities: new Set(), suffixes: [`identity.${mesh}`] } : ANY_MESH),
      ];
      break;
    }
    case 'deny':
      authorizations = [];
      break;
  }
  return { name, kind: 'default', authorizations };
}

function spiffeOf(identity: string): string | undefined {
  try {
    return formatSpiffeIdentity(parseDnsIdentity(identity));
  } catch {
    return undefined;
  }
}

function permits(a: Authentication, identity: string | undefined): boolean {
  if (a.kind === 'unauthenticated') return true;
  if (identity === undefined) return false;
  if (a.anyIdentity || a.identities.has(identity)) return true;
  if (a.identities.size > 0) {
    const spiffe = spiffeOf(identity);
    if (spiffe !== undefined && a.identities.has(spiffe)) return true;
  }
  return a.suffixes.some((s) => identity === s || identity.endsWith(`.${s}`));
}

function inNetworks(a: Authorization, ip: string): boolean {
  if (!a.networks) return true;
  const v4mapped = ip.startsWith('::ffff:') && net.isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
  const type = net.isIPv4(v4mapped) ? 'ipv4' : 'ipv6';
  if (!net.isIP(v4mapped)) return false;
  return a.networks.check(v4mapped, type) && !(a.except?.check(v4mapped, type) ?? false);
}

/**
 * Decides one connection (`http` undefined: opaque TCP) or one HTTP request.
 * An HTTP request on a Server with HTTPRoutes is matched to the first route
 * that matches; that route's authorizations are tried first, then the
 * server-wide ones.
 */
export function authorize(p: ServerPolicy, client: Client, http: HttpFacts | undefined): Decision {
  let route: InboundRoute | undefined;
  if (http && p.routes && p.routes.length > 0) {
    route = p.routes.find((r) => r.matches.some((m) => m(http.method, http.path, http.headers)));
    if (route) {
      const r = firstAdmitting(route.authorizations, client, http.path);
      if (r) return { allowed: true, authz: r };
    }
  }
  const a = firstAdmitting(p.authorizations, client, http?.path);
  if (a) return { allowed: true, authz: a };
  const who = client.identity ? `client ${client.identity}` : `unauthenticated client ${client.ip}`;
  const on = route ? ` on route "${route.name}"` : '';
  return { allowed: false, reason: `${who} is not authorized by ${p.kind === 'default' ? 'default policy' : 'server'} "${p.name}"${on}` };
}

function firstAdmitting(list: readonly Authorization[], client: Client, httpPath: string | undefined): Authorization | undefined {
  let pathOnly: string | undefined;
  for (const a of list) {
    if (a.httpPaths) {
      if (httpPath === undefined) continue;
      pathOnly ??= httpPath.split('?', 1)[0]!;
      if (!a.httpPaths.has(pathOnly)) continue;
    }
    if (inNetworks(a, client.ip) && permits(a.authentication, client.identity)) return a;
  }
  return undefined;
}
