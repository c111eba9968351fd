/**
 * The inbound proxy (port 4143): what arrives for the local application,
 * from peer proxies (mTLS) or unmeshed clients (plaintext). Each stage is a
 * literal list of layers, outermost first, as in the code below.
 *
 *   connection  accept ─ original destination ─ detect protocol
 *               ├ TLS, SNI = our identity ─ terminate mTLS, learn the client identity ─ tcp metrics (client_id)
 *               │   ├ ALPN weft.h2  ─ HTTP/2 preface? http server (HTTP/1 restored from weft-orig-proto) : GOAWAY PROTOCOL_ERROR
 *               │   ├ ALPN weft.tcp ─ port header ─ opaque port? opaque : detect again (HTTP/1 ─ http server, else opaque)
 *               │   └ ALPN weft.mux ─ per stream, as weft.tcp (transport/mux.ts); drained with the http server
 *               ├ TLS for someone else (the app's own TLS) ─ tcp metrics ─ opaque
 *               ├ HTTP/1, HTTP/2 (plaintext, unmeshed clients) ─ tcp metrics ─ http server
 *               └ opaque (silent for the detect timeout: counted in detect_timeout_total, logged once per port) ─ tcp metrics
 *   target (inbound/app-target.ts): the application port — never one of the proxy's own — on the pod address reached
 *   per request (HTTP/1 Upgrade too: on 101 the connections are joined)
 *               trace (server span) ─ authorize (port policy) ─ route (profile of the request's authority)
 *               ─ trace route (http.route on the server span) ─ route metrics ─ deadline (grpc-timeout) ─ http metrics (client_id) ─ tap ─ weft-client-id ─ forward to app
 *   opaque      authorize (port policy) ─ forward to app
 */
import type { Socket } from 'node:net';
import type { Logger } from '@weft/common/log';
import type { ConnMeta, HttpService, SocketAddr, TcpConn, TcpService } from '../svc.js';
import { stack } from '../svc.js';
import type { LocalIdentity } from '../identity/local-identity.js';
import type { ProxyMetrics, Labels } from '../metrics/proxy-metrics.js';
import type { TapHub } from '../tap/tap-hub.js';
import { HttpServer } from '../http/server.js';
import { H2_PREFACE_REFUSAL, readH2Preface } from '../transport/sniff.js';
import { writeUpgradeError, writeUpgradeResponse } from '../http/upgrade.js';
import type { H2Pool } from '../http/h2-client.js';
import type { Http1Client } from '../http/h1-client.js';
import { bindLast, httpMetrics } from '../layers/http-metrics.js';
import { tapLayer } from '../layers/tap.js';
import { traceLayer, traceRoute } from '../layers/trace.js';
import type { Tracer } from '../trace/tracer.js';
import { clientIdentity } from '../layers/client-identity.js';
import { forwardToApp } from '../layers/forward-to-app.js';
import { tcpForwardToApp } from '../layers/tcp-forward-to-app.js';
import { countConnection } from '../layers/tcp-metrics.js';
import { detectProtocol } from '../layers/detect.js';
import type { OpaqueHint } from '../transport/sniff.js';
import type { MuxSession } from '../transport/mux.js';
import { terminateMeshTls } from '../layers/tls-terminate.js';
import { authorizeHttp, authorizeTcp } from '../layers/authorize.js';
import { inboundRoute, measureRoute } from '../layers/route.js';
import { requestDeadline } from '../layers/timeout.js';
import type { InboundPolicies } from '../policy/policies.js';
import type { Profiles } from '../discovery/profiles.js';
import { authzMetrics } from '../metrics/authz-metrics.js';
import type { AppTargetOptions, ProxyPorts } from './app-target.js';
import { routeMetrics } from '../metrics/route-metrics.js';

export interface InboundDeps {
  readonly log: Logger;
  readonly identity: LocalIdentity;
  readonly metrics: ProxyMetrics;
  /** Authorization policy per application port (policy Watch, else the default policy). */
  readonly policies: InboundPolicies;
  /** Routing profiles, for inbound route metrics. */
  readonly profiles: Profiles;
  readonly tap: TapHub;
  readonly h1: Http1Client;
  readonly h2: H2Pool;
  readonly localMeta: Record<string, string>;
  readonly appHost: string;
  readonly defaultAppPort: number | undefined;
  /** The proxy's own listening ports: never an application target. */
  readonly proxyPorts: ProxyPorts;
  readonly detectTimeoutMs: number;
  readonly opaquePorts: ReadonlySet<number>;
  readonly headersTimeoutMs: number;
  readonly maxHeaderSize: number;
  /** Undefined: tracing is off (no trace layer in the path). */
  readonly tracer?: Tracer;
}

export interface InboundStack {
  accept(socket: Socket, origDst: SocketAddr | undefined): void;
  readonly server: HttpServer;
}

export function inboundStack(d: InboundDeps): InboundStack {
  const target: AppTargetOptions = { appHost: d.appHost, defaultAppPort: d.defaultAppPort, proxyPorts: d.proxyPorts };
  const authz = { policies: d.policies, metrics: authzMetrics(d.metrics.registry), target };
  // ── HTTP ────────────────────────────────────────────────────────────────
  const http: HttpService = stack(
    traceLayer({ tracer: d.tracer, kind: 'server', localIdentity: d.identity.name }),
    authorizeHttp(authz),
    inboundRoute({ profiles: d.profiles, metrics: routeMetrics(d.metrics.registry) }),
    traceRoute(d.tracer),
    measureRoute(),
    requestDeadline({ routeTimeouts: false }),
    httpMetrics(bindLast((authority, id) => d.metrics.forHttp(`in|${authority}|${id ?? ''}`, () => httpLabels(authority, id)))),
    tapLayer({ hub: d.tap, localIdentity: d.identity.name, localMeta: d.localMeta }),
    clientIdentity(),
  )(forwardToApp({ target, h1: d.h1, h2: d.h2 }));

  // ── Opaque TCP ──────────────────────────────────────────────────────────
  const toApp: TcpService = stack(
    authorizeTcp(authz),
  )(tcpForwardToApp(target));
  const tcp = (conn: TcpConn): void => {
    toApp(conn).catch((err: unknown) => d.log.debug({ err }, 'inbound TCP failed'));
  };

  const server = new HttpServer(http, {
    log: d.log,
    headersTimeoutMs: d.headersTimeoutMs,
    maxHeaderSize: d.maxHeaderSize,
    // Upgrades (WebSocket) go through the same HTTP stack as any request: policy, metrics, tap, weft-client-id.
    onUpgrade: (req, socket) => {
      http(req).then(
        (rsp) => writeUpgradeResponse(socket, rsp),
        (err: unknown) => writeUpgradeError(socket, err),
      );
    },
  });

  // ── Connections ─────────────────────────────────────────────────────────
  const plainMetrics = d.metrics.forTcp('in-src|', () => ({ direction: 'inbound', peer: 'src', tls: 'no_identity' }));
  const meshMetrics = (id: string | undefined) =>
    d.metrics.forTcp(`in-src|${id ?? ''}`, (): Labels => (id ? { direction: 'inbound', peer: 'src', tls: 'true', client_id: id } : { direction: 'inbound', peer: 'src', tls: 'no_identity' }));
  const counted = <A extends unknown[]>(route: (socket: Socket, meta: ConnMeta, ...rest: A) => void) =>
    (socket: Socket, meta: ConnMeta, ...rest: A): void => {
      countConnection(socket, meta.tls.identity ? meshMetrics(meta.tls.identity) : plainMetrics);
      route(socket, meta, ...rest);
    };
  // A peer's weft.tcp stream to a port not declared opaque is detected again: HTTP/1 in it (an upgrade, or bytes a
  // client wrote straight into weft.tcp) must meet HTTP policy and header stripping, not reach the app raw.
  // A port is opaque by the pod's list (WEFT_PROXY_OPAQUE_PORTS) or by its Server's `proxyProtocol: opaque`; only a
  // connection that reached an application port (an original destination) asks: one to the inbound port itself
  // carries the mesh's TLS, which is detected.
  const detectOptions = {
    timeoutMs: d.detectTimeoutMs,
    opaquePorts: d.opaquePorts,
    log: d.log,
    direction: 'inbound' as const,
    timeouts: d.metrics.detectTimeoutTotal.labels('inbound'),
    declaredOpaque: (meta: ConnMeta) => (meta.origDst === undefined ? undefined : serverOpaque(d.policies, meta.origDst.port)),
  };
  const detectInMesh = detectProtocol(detectOptions, {
    http1: (s, m) => server.serveHttp1(s, m),
    http2: (s, m) => server.serveHttp2(s, m),
    tls: (s, m) => tcp({ socket: s, meta: m }),
    opaque: tcp,
  });
  const opaque = (conn: TcpConn): void => {
    countConnection(conn.socket, meshMetrics(conn.meta.tls.identity));
    detectInMesh(conn.socket as Socket, conn.meta);
  };
  // ALPN weft.h2 skips detection, so the preface is checked here: Node's own answer to a wrong one is GOAWAY
  // INTERNAL_ERROR, where HTTP/2 requires PROTOCOL_ERROR (or a close).
  const meshHttp2 = (socket: Socket, meta: ConnMeta): void => {
    void readH2Preface(socket, d.detectTimeoutMs).then((ok) => {
      if (ok) server.serveHttp2(socket, meta);
      else if (!socket.destroyed) {
        socket.end(H2_PREFACE_REFUSAL);
        setTimeout(() => socket.destroy(), 1000).unref();
      }
    });
  };
  const plainOpaque = (conn: TcpConn): void => {
    countConnection(conn.socket, plainMetrics);
    tcp(conn);
  };
  // weft.mux sessions stop taking streams when the server drains (their streams drain as its HTTP/1 connections).
  const muxSessions = new Set<MuxSession>();
  let draining = false;
  server.alsoStop({
    drain: () => {
      draining = true;
      for (const s of muxSessions) s.drain();
    },
    destroy: () => {
      for (const s of muxSessions) s.destroy();
    },
  });
  const onMuxSession = (s: MuxSession): void => {
    muxSessions.add(s);
    s.socket.once('close', () => muxSessions.delete(s));
    if (draining) s.drain();
  };
  const mtls = terminateMeshTls(
    { identity: d.identity, headerTimeoutMs: d.detectTimeoutMs, log: d.log, onMuxSession },
    { http2: counted((s, m) => meshHttp2(s, m)), opaque },
    plainOpaque,
  );
  const detect = detectProtocol(
    detectOptions,
    {
      http1: counted((s, m) => server.serveHttp1(s, m)),
      http2: counted((s, m) => server.serveHttp2(s, m)),
      tls: mtls,
      opaque: plainOpaque,
    },
  );
  return {
    server,
    accept(socket, origDst) {
      detect(socket, { direction: 'inbound', client: { ip: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 }, local: localAddr(socket), origDst, tls: NO_TLS });
    },
  };
}

const NO_TLS = { identity: undefined };

/** Whether the port's Server declares it opaque: known now, or (a watched port awaiting its first policy) once it arrives. */
function serverOpaque(policies: InboundPolicies, port: number): boolean | OpaqueHint {
  const p = policies.policyFor(port);
  if (!(p instanceof Promise)) return p.opaque === true;
  return (declared) => {
    let listening = true;
    void p.then((policy) => {
      if (listening && policy.opaque === true) declared();
    });
    return () => {
      listening = false;
    };
  };
}

function localAddr(socket: Socket): SocketAddr {
  const ip = socket.localAddress ?? '';
  return { ip: ip.startsWith('::ffff:') ? ip.slice(7) : ip, port: socket.localPort ?? 0 };
}

function httpLabels(authority: string, clientId: string | undefined): Labels {
  return clientId
    ? { direction: 'inbound', authority, tls: 'true', client_id: clientId }
    : { direction: 'inbound', authority, tls: 'no_identity' };
}
