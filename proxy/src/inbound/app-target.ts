/**
 * Where an inbound request or connection goes inside the pod. Decided by one
 * function per protocol, so the authorize layer (which picks the port's
 * policy) and the forwarding layer (which connects) cannot disagree.
 *
 * - Port: the one the peer proxy named (`weft-dst-port`, or the `weft.tcp`
 *   header, already folded into `origDst` by tls-terminate), else the
 *   original destination (iptables), else the configured default port.
 * - Never one of the proxy's own ports: a peer naming our outbound port would
 *   make this pod's outbound proxy call a third service with this pod's
 *   identity; the admin and tap ports are not the application's either.
 * - Host: the pod address the connection arrived on, so an application port
 *   bound only to 127.0.0.1 stays as unreachable from other pods as it is
 *   without the mesh. Connections that arrived on loopback (explicit mode,
 *   no iptables) go to the configured application host.
 */
import type { ConnMeta, HttpRequest, SocketAddr } from '../svc.js';
import { DST_PORT } from '../http/headers.js';
import { isLoopback } from '../transport/loopback.js';

/** The ports this proxy listens on; filled as listeners bind (tests use ephemeral ports). */
export class ProxyPorts {
  private readonly ports = new Set<number>();

  constructor(configured: readonly number[]) {
    for (const p of configured) if (p > 0) this.ports.add(p);
  }

  add(port: number): void {
    this.ports.add(port);
  }

  has(port: number): boolean {
    return this.ports.has(port);
  }
}

export interface AppTargetOptions {
  /** Where to reach the application for connections that arrived on loopback. */
  readonly appHost: string;
  /** Explicit mode: the application port for connections without an original destination. */
  readonly defaultAppPort: number | undefined;
  readonly proxyPorts: ProxyPorts;
}

export type AppTarget = { readonly addr: SocketAddr; readonly refused?: undefined } | { readonly addr?: undefined; readonly refused: string };

export function httpAppTarget(req: HttpRequest, o: AppTargetOptions): AppTarget {
  const named = req.headers[DST_PORT];
  if (named !== undefined) {
    // Only peer proxies can set it (the server drops weft-* headers from anyone else); one decimal port, nothing else.
    if (typeof named !== 'string' || !/^[0-9]{1,5}$/.test(named)) return { refused: `bad ${DST_PORT} header` };
    return target(Number(named), req.conn, o);
  }
  return target(req.conn.origDst?.port ?? o.defaultAppPort, req.conn, o);
}

export function tcpAppTarget(meta: ConnMeta, o: AppTargetOptions): AppTarget {
  return target(meta.origDst?.port ?? o.defaultAppPort, meta, o);
}

function target(port: number | undefined, conn: ConnMeta, o: AppTargetOptions): AppTarget {
  if (port === undefined) return { refused: 'no application port (no original destination and no default)' };
  if (port < 1 || port > 65535) return { refused: `port ${port} is not a port` };
  if (o.proxyPorts.has(port)) return { refused: `port ${port} is the proxy's own port` };
  return appTarget(conn.local.ip === '' || isLoopback(conn.local.ip) ? o.appHost : conn.local.ip, port);
}

/**
 * The same target object for the same address every time: the HTTP clients key their connection pools by the
 * address object first (no per-request key string or pool lookup), and nothing is allocated per request. The pod
 * has one or two addresses and a few application ports; past the cap targets are simply not shared.
 */
const targets = new Map<string, Map<number, AppTarget>>();
const MAX_SHARED_TARGETS = 4096;
let shared = 0;

function appTarget(ip: string, port: number): AppTarget {
  let byPort = targets.get(ip);
  let t = byPort?.get(port);
  if (t !== undefined) return t;
  t = { addr: { ip, port } };
  if (shared < MAX_SHARED_TARGETS) {
    if (byPort === undefined) targets.set(ip, (byPort = new Map()));
    byPort.set(port, t);
    shared++;
  }
  return t;
}
