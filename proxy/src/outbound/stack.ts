/**
 * The outbound proxy (port 4140): what the local application sends out.
 * Each stage is a literal list of layers, outermost first; the code below
 * builds the stages from the endpoint up, and each list is this drawing.
 *
 *   connection   accept ─ original destination (SO_ORIGINAL_DST) ─ tcp metrics (peer=src) ─ detect protocol
 *                ├ HTTP/1, HTTP/2 ─ http server ─ per request
 *                └ TLS from the app, opaque (silent for the detect timeout: detect_timeout_total), Upgrade (WebSocket)
 *                    ─ opaque per Concrete
 *   per request  trace (client span, our span the parent downstream) ─ logical target (orig dst, else Host/:authority)
 *   per Logical  cache ─ route (profile; the match rides on req.route) ─ route metrics ─ route filters
 *                ─ deadline (total timeout, grpc-timeout) ─ retry (budget) ─ attempt timeout (per attempt, idle)
 *                ─ split (weighted Concrete backend)
 *   per Concrete cache ─ balance (discovery, P2C peak-EWMA) ─ failure accrual (outcome of each pick;
 *                a request that was not delivered is sent again on another endpoint)
 *   per Endpoint cache ─ trace endpoint (peer, attempts) ─ http metrics (server_id, dst_*) ─ tap
 *                ─ endpoint client (mTLS HTTP/2 to the peer proxy, or plaintext)
 *   opaque, per Concrete  cache ─ balance ─ failure accrual (connection level)
 *   opaque, per Endpoint  cache ─ tcp endpoint (mTLS weft.tcp or plain; tcp metrics peer=dst)
 */
import type { MuxPool } from '../transport/mux.js';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '@weft/common/log';
import type { Concrete, ConnMeta, Endpoint, HttpRequest, HttpResponse, HttpService, Logical, NewEndpointBalancer, NewHttp, NewTcp, SocketAddr, TcpConn, TcpService } from '../svc.js';
import { newStack, onService, perTarget, stack } from '../svc.js';
import type { Discovery } from '../discovery/discovery.js';
import type { Profiles } from '../discovery/profiles.js';
import type { OpaqueHint } from '../transport/sniff.js';
import type { LocalIdentity } from '../identity/local-identity.js';
import { dstLabels, type Labels, type ProxyMetrics } from '../metrics/proxy-metrics.js';
import type { TapHub } from '../tap/tap-hub.js';
import { HttpServer } from '../http/server.js';
import type { H2Pool } from '../http/h2-client.js';
import type { Http1Client } from '../http/h1-client.js';
import { cache, DEFAULT_CACHE_LIMITS } from '../layers/cache.js';
import { logicalFromRequest, normalizeAuthority } from '../layers/logical.js';
import { measureRoute, outboundRoute, routeFilters } from '../layers/route.js';
import { requestDeadline, attemptTimeout } from '../layers/timeout.js';
import { retry } from '../layers/retry.js';
import { split } from '../layers/split.js';
import { routeMetrics } from '../metrics/route-metrics.js';
import { balance, failureAccrual } from '../layers/balance.js';
import { bindLast, httpMetrics } from '../layers/http-metrics.js';
import { tapLayer } from '../layers/tap.js';
import { traceEndpoint, traceLayer } from '../layers/trace.js';
import type { Tracer } from '../trace/tracer.js';
import { endpointClient, httpRedispatch, type MeshHttp1 } from '../layers/endpoint-client.js';
import { tcpEndpoint } from '../layers/tcp-endpoint.js';
import type { ConnectionSettings } from '../transport/connections.js';
import { countConnection } from '../layers/tcp-metrics.js';
import { detectProtocol } from '../layers/detect.js';
import { BadRequestError, NoOriginalDstError } from '../errors.js';
import { upgradeHead, writeUpgradeError } from '../http/upgrade.js';

export interface OutboundDeps {
  readonly log: Logger;
  readonly identity: LocalIdentity;
  readonly discovery: Discovery;
  /** Routing profiles per logical authority (GetProfile), for the route/retry/timeout/split layers of issue 9. */
  readonly profiles: Profiles;
  readonly newBalancer: NewEndpointBalancer;
  readonly metrics: ProxyMetrics;
  readonly tap: TapHub;
  readonly h1: Http1Client;
  readonly h2: H2Pool;
  readonly mux: MuxPool;
  /** Bounds, keepalive and the user timeout of the connections to endpoints and peer proxies. */
  readonly connections: ConnectionSettings;
  /** This proxy's own labels (namespace, pod, workload) for tap events. */
  readonly localMeta: Record<string, string>;
  readonly detectTimeoutMs: number;
  /** How HTTP/1 requests travel to peer proxies (endpoint-client.ts). */
  readonly meshHttp1: MeshHttp1;
  readonly opaquePorts: ReadonlySet<number>;
  readonly headersTimeoutMs: number;
  readonly maxHeaderSize: number;
  /** Undefined: tracing is off (no trace layer in the path). */
  readonly tracer?: Tracer;
}

export interface OutboundStack {
  /** Handles one accepted connection, given its original destination (undefined in explicit mode). */
  accept(socket: Socket, origDst: SocketAddr | undefined): void;
  readonly server: HttpServer;
}

const endpointKey = (ep: Endpoint): string => `${ep.addr.ip}:${ep.addr.port}|${ep.identity ?? ''}`;

export function outboundStack(d: OutboundDeps): OutboundStack {
  const dstTcpMetrics = (ep: Endpoint) => d.metrics.forTcp(`out-dst|${endpointKey(ep)}`, () => ({ ...endpointLabels(ep), peer: 'dst' }));

  // ── HTTP ────────────────────────────────────────────────────────────────
  // The pooled mTLS sessions to peer proxies are not counted in tcp_* yet (endpointClient's `bindTcp`):
  // the netns test pins tcp_open_total{peer="dst"} to the opaque connection alone.
  // per Endpoint
  const endpoint: NewHttp<Endpoint> = newStack<Endpoint, HttpRequest, HttpResponse>(
    cache(endpointKey, DEFAULT_CACHE_LIMITS, { reusedTargets: true }),
    perTarget((ep) => traceEndpoint(d.tracer, ep)),
    perTarget((ep) => {
      const key = `out|${endpointKey(ep)}|`;
      return httpMetrics(bindLast((authority) => d.metrics.forHttp(key + authority, () => endpointLabels(ep, authority))));
    }),
    onService(tapLayer({ hub: d.tap, localIdentity: d.identity.name, localMeta: d.localMeta })),
  )(endpointClient({ h1: d.h1, h2: d.h2, mux: d.mux, identity: d.identity, meshHttp1: d.meshHttp1, connections: d.connections }));

  // per Concrete: balance and failure accrual are the stage boundary to per Endpoint (a pick per request).
  const concrete: NewHttp<Concrete> = newStack<Concrete, HttpRequest, HttpResponse>(
    cache((c) => c.authority),
  )(
    balance<HttpRequest, HttpResponse>({ discovery: d.discovery, newBalancer: d.newBalancer })(
      failureAccrual<HttpRequest, HttpResponse>({ isFailure: (rsp) => rsp.status >= 500, clientGone: (req) => req.signal.aborted, redispatch: httpRedispatch })(endpoint),
    ),
  );

  // per Logical: split is the stage boundary to per Concrete.
  const logical: NewHttp<Logical> = newStack<Logical, HttpRequest, HttpResponse>(
    cache((l) => l.authority),
    outboundRoute({ profiles: d.profiles, metrics: routeMetrics(d.metrics.registry) }),
    onService(measureRoute()),
    onService(routeFilters()),
    onService(requestDeadline({ routeTimeouts: true })),
    retry(),
    onService(attemptTimeout()),
  )(split(d.profiles)(concrete));

  // per request: the logical target is the stage boundary to per Logical.
  const http: HttpService = stack(
    traceLayer({ tracer: d.tracer, kind: 'client', localIdentity: d.identity.name }),
  )(logicalFromRequest(logical));

  // ── Opaque TCP (and HTTP/1 Upgrade, which leaves HTTP) ──────────────────
  const tcpEndpointOf: NewTcp<Endpoint> = newStack<Endpoint, TcpConn, void>(
    cache(endpointKey),
  )(tcpEndpoint({ identity: d.identity, bind: dstTcpMetrics, connections: d.connections }));

  const tcpConcrete: NewTcp<Concrete> = newStack<Concrete, TcpConn, void>(
    cache((c) => c.authority),
  )(
    balance<TcpConn, void>({ discovery: d.discovery, newBalancer: d.newBalancer })(
      failureAccrual<TcpConn, void>({ connectionLevel: true })(tcpEndpointOf),
    ),
  );
  const tcpLogical = (authority: string, origDst: SocketAddr | undefined): TcpService =>
    tcpConcrete({ logical: { authority, protocol: 'opaque', origDst }, authority });

  const tcp = (conn: TcpConn): void => {
    const orig = conn.meta.origDst;
    if (!orig) {
      d.log.error({ client: conn.meta.client }, new NoOriginalDstError('not redirected by iptables, or SO_ORIGINAL_DST unavailable').message);
      conn.socket.destroy();
      return;
    }
    tcpLogical(addrAuthority(orig), orig)(conn).catch((err: unknown) => {
      d.log.debug({ err }, 'outbound TCP failed');
      conn.socket.destroy();
    });
  };

  // An upgrade leaves HTTP here: its head (weft-* dropped by the server) goes to the endpoint as the first bytes of an
  // opaque connection; a meshed endpoint's inbound proxy parses it again as HTTP/1 and applies its HTTP policy.
  const upgrade = (req: HttpRequest, socket: Duplex): void => {
    const meta = req.conn;
    const authority = meta.origDst ? addrAuthority(meta.origDst) : req.authority ? normalizeAuthority(req.authority) : '';
    if (!authority) {
      writeUpgradeError(socket, new BadRequestError('weft: upgrade request without Host'));
      return;
    }
    socket.unshift(Buffer.from(upgradeHead(req), 'latin1'));
    tcpLogical(authority, meta.origDst)({ socket, meta }).catch((err: unknown) => writeUpgradeError(socket, err));
  };

  const server = new HttpServer(http, { log: d.log, headersTimeoutMs: d.headersTimeoutMs, maxHeaderSize: d.maxHeaderSize, onUpgrade: upgrade });

  // ── Connections ─────────────────────────────────────────────────────────
  const srcMetrics = d.metrics.forTcp('out-src', () => ({ direction: 'outbound', peer: 'src', tls: 'no_identity' }));
  const detect = detectProtocol(
    {
      timeoutMs: d.detectTimeoutMs,
      opaquePorts: d.opaquePorts,
      log: d.log,
      direction: 'outbound',
      timeouts: d.metrics.detectTimeoutTotal.labels('outbound'),
      declaredOpaque: (meta) => declaredOpaque(d.profiles, meta),
    },
    {
      http1: (s, m) => server.serveHttp1(s, m),
      http2: (s, m) => server.serveHttp2(s, m),
      // The application's own TLS (e.g. HTTPS to the outside) is opaque to us.
      tls: (s, m) => tcp({ socket: s, meta: m }),
      opaque: tcp,
    },
  );
  return {
    server,
    accept(socket, origDst) {
      countConnection(socket, srcMetrics);
      const meta: ConnMeta = {
        direction: 'outbound',
        client: { ip: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 },
        local: { ip: socket.localAddress ?? '', port: socket.localPort ?? 0 },
        origDst,
        tls: NO_TLS,
      };
      detect(socket, meta);
    },
  };
}

const NO_TLS = { identity: undefined };

/**
 * Whether the original destination is declared opaque: its profile (destination's GetProfile by address: the
 * Service's `config.weft.io/opaque-ports` for a cluster IP, the pod's for a pod IP). Known at once when the profile
 * is here; otherwise detection starts and listens for it. Explicit mode (no original destination) asks nothing.
 */
function declaredOpaque(profiles: Profiles, meta: ConnMeta): boolean | OpaqueHint | undefined {
  if (meta.origDst === undefined) return undefined;
  const watch = profiles.watch(addrAuthority(meta.origDst));
  const profile = watch.current();
  if (profile !== undefined) return profile.opaqueProtocol;
  return (declared) =>
    watch.subscribe((p) => {
      if (p.opaqueProtocol) declared();
    });
}

function addrAuthority(a: SocketAddr): string {
  return a.ip.includes(':') ? `[${a.ip}]:${a.port}` : `${a.ip}:${a.port}`;
}

function endpointLabels(ep: Endpoint, authority?: string): Labels {
  const l: Labels = { direction: 'outbound', tls: ep.identity ? 'true' : 'no_identity', target_addr: addrAuthority(ep.addr), ...dstLabels(ep.labels) };
  if (authority !== undefined) l.authority = authority;
  if (ep.identity) l.server_id = ep.identity;
  return l;
}
