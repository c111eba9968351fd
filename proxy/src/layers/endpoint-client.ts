/**
 * Outbound, last layer: sends a request to the chosen endpoint. A meshed
 * endpoint (discovery gave an identity) is reached through its proxy's
 * inbound port over mTLS: HTTP/2 (and gRPC) on one multiplexed HTTP/2 session
 * per peer (ALPN `weft.h2`, the application port in `weft-dst-port`); HTTP/1
 * requests as HTTP/1.1 on a keep-alive pool of `weft.tcp` connections per
 * peer and application port (the port in the connection's header; the peer's
 * inbound detects HTTP/1 and serves it with the client's identity), or, with
 * `meshHttp1: 'http2'`, on the HTTP/2 session marked
 * `weft-orig-proto: HTTP/1.1`. Unmeshed endpoints get plaintext in the
 * client's own HTTP version. `httpRedispatch` below says which failed
 * attempts never reached an application (balance.ts re-sends them on another
 * endpoint).
 */
import type { Endpoint, Headers, HttpRequest, HttpResponse, NewHttp } from '../svc.js';
import type { LocalIdentity } from '../identity/local-identity.js';
import type { H2Pool, H2Peer } from '../http/h2-client.js';
import type { H1Target, Http1Client } from '../http/h1-client.js';
import { DST_PORT, ORIG_PROTO } from '../http/headers.js';
import type net from 'node:net';
import type tls from 'node:tls';
import { ALPN_H2, ALPN_TCP, connectMesh, type MeshAlpn } from '../transport/tls.js';
import type { MuxPool } from '../transport/mux.js';
import type { ConnectionSettings } from '../transport/connections.js';
import { encodeOpaqueHeader } from '../transport/opaque-header.js';
import { UnavailableError } from '@weft/common/errors';
import { APP_UNREACHABLE, neverConnected } from '../errors.js';
import type { Redispatch } from './balance.js';
import { now } from './timeout.js';
import type { TcpTargetMetrics } from '../metrics/proxy-metrics.js';
import { countConnection } from './tcp-metrics.js';

export interface EndpointClientDeps {
  readonly h2: H2Pool;
  readonly h1: Http1Client;
  /** The weft.mux sessions to peers (`meshHttp1: 'mux'`). */
  readonly mux: MuxPool;
  readonly identity: LocalIdentity;
  /** TCP metrics (`peer="dst"`) for the mTLS connections to peer proxies. */
  readonly bindTcp?: (ep: Endpoint) => TcpTargetMetrics;
  /** How HTTP/1 requests travel to a peer proxy: as HTTP/1.1 over pooled `weft.tcp` mTLS (default), or inside the HTTP/2 session. */
  readonly meshHttp1?: MeshHttp1;
  /** For the mTLS connections to peer proxies (h1 and h2 bound plaintext connects with their own). */
  readonly connections: ConnectionSettings;
}

/** How HTTP/1 requests travel between proxies (`WEFT_PROXY_MESH_HTTP1`). */
export type MeshHttp1 = 'http1' | 'http2' | 'mux';

export function endpointClient(deps: EndpointClientDeps): NewHttp<Endpoint> {
  return (ep) => {
    const { ip, port } = ep.addr;
    const host = ip.includes(':') ? `[${ip}]` : ip;
    if (ep.identity !== undefined && ep.inboundPort !== undefined) {
      const identity = ep.identity;
      const inboundPort = ep.inboundPort;
      const toPeer = (alpn: MeshAlpn | readonly MeshAlpn[], onread?: net.OnReadOpts): tls.TLSSocket =>
        connectMesh({ host: ip, port: inboundPort, identity, alpn, creds: deps.identity.current()!, anchors: deps.identity.trustAnchors, connections: deps.connections }, onread);
      const peer: H2Peer = {
        key: `${host}:${inboundPort}|${identity}`,
        label: `${host}:${inboundPort} (${identity})`,
        origin: `https://${host}:${inboundPort}`,
        connect: () => {
          const socket = toPeer(ALPN_H2);
          if (deps.bindTcp) countConnection(socket, deps.bindTcp(ep));
          return socket;
        },
      };
      const asH2: Headers = { [DST_PORT]: String(port) };
      const asH1: Headers = { [DST_PORT]: String(port), [ORIG_PROTO]: 'HTTP/1.1' };
      const h1Peer: H1Target | undefined =
        deps.meshHttp1 === 'http2'
          ? undefined
          : {
              key: `mesh:${host}:${inboundPort}|${identity}|${port}`,
              label: `${host}:${inboundPort} (${identity})`,
              connect: (onread) => {
                // A stream of the peer's weft.mux session carries what a weft.tcp connection would (or is one, to a
                // peer of an earlier release).
                const socket =
                  deps.meshHttp1 === 'mux'
                    ? (deps.mux.open(peer.key, toPeer, onread) as net.Socket)
                    : toPeer(ALPN_TCP, onread);
                // Written ahead of the first request, and sent with it once the handshake is done.
                socket.write(encodeOpaqueHeader(port));
                return socket;
              },
            };
      return (req) => {
        if (!deps.identity.current()) return Promise.reject(new UnavailableError('weft: no certificate yet; cannot reach meshed endpoints'));
        if (req.version === 'HTTP/2') return deps.h2.request(peer, req, asH2);
        return h1Peer ? deps.h1.requestVia(h1Peer, req) : deps.h2.request(peer, req, asH1);
      };
    }
    const h2c: H2Peer = { key: `h2c:${host}:${port}`, label: `${host}:${port}`, origin: `http://${host}:${port}` };
    return (req) => (req.version === 'HTTP/2' ? deps.h2.request(h2c, req) : deps.h1.request(ep.addr, req));
  };
}

/** Attempts after the first, at most, for a request that was not delivered (its own bound; not the route's retries). */
export const MAX_REDISPATCH = 2;

/**
 * HTTP requests that never reached an application are sent again on another endpoint, on every route and for
 * every method: the connection to the endpoint (or its proxy) could not be made, so nothing was sent; or a meshed
 * peer proxy (its answer came over mTLS) said `weft-proxy-error: app-unreachable`, i.e. it could not connect to its
 * application. An unmeshed endpoint's own `weft-proxy-error` is not believed. The request must be replayable: no
 * body, or a body the retry layer kept whole (up to MAX_REPLAY_BYTES); and its deadline must not have passed.
 */
export const httpRedispatch: Redispatch<HttpRequest, HttpResponse> = {
  max: MAX_REDISPATCH,
  notDelivered(ep: Endpoint, rsp: HttpResponse | undefined, err: unknown): boolean {
    if (rsp === undefined) return neverConnected(err);
    return rsp.status === 503 && rsp.proxyError === APP_UNREACHABLE && ep.identity !== undefined && ep.inboundPort !== undefined;
  },
  again(req: HttpRequest): HttpRequest | undefined {
    if (req.signal.aborted) return undefined;
    if (req.deadline !== undefined && now() >= req.deadline) return undefined;
    if (req.bodyless) return req;
    const body = req.replayable;
    return body?.complete ? { ...req, body: body.replay() } : undefined;
  },
  discard(rsp: HttpResponse): void {
    rsp.body.on('error', () => undefined);
    rsp.body.destroy();
  },
  counted(req: HttpRequest): void {
    req.route?.metrics?.retries.inc();
  },
};
