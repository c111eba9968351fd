/**
 * The proxy's core vocabulary, modelled on linkerd2-proxy's tower stacks.
 *
 * A `Service` handles one request and resolves with its response. A `Layer`
 * wraps an inner service and adds exactly one behaviour (metrics, tap,
 * routing, retries, timeouts, authorization...). A `NewService` builds the
 * service for a target (`Logical` → `Concrete` → `Endpoint`), so layers read
 * typed parameters from the target instead of reaching into global config.
 * The stacks in `inbound/stack.ts` and `outbound/stack.ts` are literal lists:
 * `stack(...)` for the layers of one service, `newStack(...)` for the layers
 * of one stage (one target type), the first listed being the outermost.
 */
import type { Duplex, Readable } from 'node:stream';
import type { RetryBudgetParams, RouteParams } from './profile/route-table.js';
import type { RouteTargetMetrics } from './metrics/route-metrics.js';
import type { RequestSignal } from './http/request-signal.js';

/** Handles one request. Rejections carry a WeftError whose code maps to the HTTP/gRPC status. */
export type Service<Req, Rsp> = (req: Req) => Promise<Rsp>;

/** Wraps an inner service, adding one behaviour. */
export type Layer<InnerReq, InnerRsp, OuterReq = InnerReq, OuterRsp = InnerRsp> = (
  inner: Service<InnerReq, InnerRsp>,
) => Service<OuterReq, OuterRsp>;

/** Applies layers so the first listed is the outermost: it sees the request first. */
export function stack<Req, Rsp>(...layers: ReadonlyArray<Layer<Req, Rsp>>): (inner: Service<Req, Rsp>) => Service<Req, Rsp> {
  return (inner) => layers.reduceRight((svc, layer) => layer(svc), inner);
}

/** Builds (and usually caches) the service for one target. */
export type NewService<T, Req, Rsp> = (target: T) => Service<Req, Rsp>;

/** A layer over target-building services: `NewService<T>` in, `NewService<U>` out (a stage boundary when T ≠ U). */
export type NewLayer<TInner, TOuter, Req, Rsp> = (inner: NewService<TInner, Req, Rsp>) => NewService<TOuter, Req, Rsp>;

/**
 * The layers of one stage (one target type), first listed outermost. List the stage's cache first: the layers below
 * it then run once per target, when the target's service is built, and never per request.
 */
export function newStack<T, Req, Rsp>(
  ...layers: ReadonlyArray<NewLayer<T, T, Req, Rsp>>
): (inner: NewService<T, Req, Rsp>) => NewService<T, Req, Rsp> {
  return (inner) => layers.reduceRight((svc, layer) => layer(svc), inner);
}

/** A layer that does not read the target, in a stage's list: applied to each target's service once, as it is built. */
export function onService<T, Req, Rsp>(layer: Layer<Req, Rsp>): NewLayer<T, T, Req, Rsp> {
  return (inner) => (target) => layer(inner(target));
}

/** A layer built for each target from the target's parameters, in a stage's list. */
export function perTarget<T, Req, Rsp>(layerFor: (target: T) => Layer<Req, Rsp>): NewLayer<T, T, Req, Rsp> {
  return (inner) => (target) => layerFor(target)(inner(target));
}

// ---------------------------------------------------------------------------
// Addresses and identities

export interface SocketAddr {
  readonly ip: string;
  readonly port: number;
}

export type Direction = 'inbound' | 'outbound';

/**
 * What TLS told us about the peer of a connection. `identity` is the peer's
 * DNS identity (`<sa>.<ns>.serviceaccount.identity.<controlNs>.<trustDomain>`)
 * when the hop is mesh mTLS; undefined for plaintext (`tls="no_identity"`).
 */
export interface PeerTls {
  readonly identity: string | undefined;
}

/** Per-connection facts every request on the connection shares. */
export interface ConnMeta {
  readonly direction: Direction;
  /** The remote end of the accepted socket. */
  readonly client: SocketAddr;
  /** Our end of the accepted socket: inbound, the pod address the client reached (IPv4-mapped addresses unwrapped). */
  readonly local: SocketAddr;
  /** SO_ORIGINAL_DST (iptables) or, between proxies, the target port the peer named. */
  readonly origDst: SocketAddr | undefined;
  /** Inbound: the client's mesh identity. Outbound: always plaintext from the local app. */
  readonly tls: PeerTls;
}

// ---------------------------------------------------------------------------
// Targets, one per stage of the outbound stack

export type Protocol = 'http1' | 'http2' | 'opaque';

/** What the application asked for: a service authority (`name.ns.svc.cluster.local:80`) or an `ip:port`. */
export interface Logical {
  /** `host:port`, the key for discovery (destination `Get` / `GetProfile`). */
  readonly authority: string;
  readonly protocol: Protocol;
  /** The original destination of the connection, when iptables redirected it. */
  readonly origDst: SocketAddr | undefined;
}

/** One backend of a logical service, after traffic splitting (a split's leaf, or the logical itself). */
export interface Concrete {
  readonly logical: Logical;
  /** The backend's authority, resolved by discovery into endpoints. */
  readonly authority: string;
}

/** How to reach an endpoint's proxy, from discovery's protocol hint. */
export type EndpointHint = 'h2' | 'opaque' | 'unknown';

/** One pod (or any address) chosen by the balancer. */
export interface Endpoint {
  readonly addr: SocketAddr;
  /** The DNS identity the peer proxy must present; undefined for unmeshed endpoints (plaintext). */
  readonly identity: string | undefined;
  /** The peer proxy's inbound port (4143) when meshed. */
  readonly inboundPort: number | undefined;
  readonly hint: EndpointHint;
  /** Owner labels from discovery (`namespace`, `deployment`, `pod`, `service`, ...), for `dst_*` metric labels. */
  readonly labels: Readonly<Record<string, string>>;
  /** Relative weight from discovery (default 1). */
  readonly weight: number;
}

// ---------------------------------------------------------------------------
// HTTP

/** Lower-case header names; no pseudo-headers, no hop-by-hop headers. */
export type Headers = Record<string, string | string[]>;

export type HttpVersion = 'HTTP/1.1' | 'HTTP/2';

/**
 * A request as the stacks see it, independent of the wire version. HTTP/1 and
 * HTTP/2 servers produce it; endpoint clients consume it. The body is a
 * stream (backpressure is preserved end to end); trailers are read once the
 * body has ended.
 */
export interface HttpRequest {
  readonly method: string;
  readonly scheme: string;
  /** `host[:port]`, as the client sent it (Host or :authority), preserved to the application. */
  readonly authority: string;
  /** Path and query. */
  readonly path: string;
  readonly headers: Headers;
  /** The request body; already ended when the request had none. Request trailers are not forwarded. */
  readonly body: Readable;
  /** True when the client sent no body (HTTP/2 END_STREAM on HEADERS, or HTTP/1 without length). */
  readonly bodyless: boolean;
  /** The version the client spoke; restored at the far proxy (HTTP/1 is carried as HTTP/2 between proxies). */
  readonly version: HttpVersion;
  /** Aborted when the client cancels (HTTP/2 RST_STREAM or connection loss); inner calls stop. */
  readonly signal: RequestSignal;
  readonly conn: ConnMeta;
  /** Monotonic start time (performance.now()), for latency metrics and tap. */
  readonly startedAt: number;
  /** HTTP/1 `Upgrade` (e.g. `websocket`): the protocol the client asks to switch to; the response may carry the upgraded stream. */
  readonly upgrade?: string;
  /** The route the request matched, set by the route layer for the layers below it; absent: the default route. */
  readonly route?: MatchedRoute;
  /** The request's absolute deadline (performance.now() scale), set by the deadline layer; absent: none. */
  readonly deadline?: number;
  /** A copy of the body kept for replays by the retry layer; a not-delivered request is re-sent with it. */
  readonly replayable?: { readonly complete: boolean; replay(): Readable };
}

/** A profile route as the layers below the route layer read it: bound once per route of the current profile. */
export interface MatchedRoute {
  readonly params: RouteParams;
  /** The route's `route_*` metrics; undefined for unnamed routes. */
  readonly metrics: RouteTargetMetrics | undefined;
  /** The logical service's retry budget (from the same profile). */
  readonly budget: RetryBudgetParams;
}

/** A weighted choice of logical backends (`host:port` authorities); `totalWeight` > 0. */
export interface WeightedBackends {
  readonly list: readonly { readonly authority: string; readonly weight: number }[];
  readonly totalWeight: number;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: Headers;
  /**
   * The response body. weft's HTTP/1 client makes it on first read when the whole body came with the head (check
   * `wholeBody(rsp)` in http/whole-body.ts before reading it), and says when a streamed one arrived whole (`arrivedWhole`).
   * It may be a getter, which a spread does not copy: a layer copying a response names it, `{ ...rsp, body: rsp.body }`.
   */
  readonly body: Readable;
  /** Response trailers (gRPC status lives here); valid once `body` ended. */
  trailers(): Headers | undefined;
  /** The server side reset the stream with this HTTP/2 error code (valid once `body` errored); propagated to the client. */
  resetCode(): number | undefined;
  /**
   * Valid once `body` ended: the end was a reset that cut the response off (Node's HTTP/2 client ends a stream reset
   * with CANCEL as if it were complete). Absent: never.
   */
  cutOff?(): boolean;
  /** A `101 Switching Protocols` answer to an upgrade: the application's connection, bytes it already sent after its head. */
  readonly upgraded?: { readonly socket: Duplex; readonly head: Buffer };
  /** The `weft-proxy-error` header the HTTP/2 peer answered with (dropped from `headers`); trusted only from a meshed peer proxy. */
  readonly proxyError?: string;
}

/**
 * A body stream that knows when all of it has arrived: `arrived` turns true as its last bytes are pushed and its end
 * is queued, so they all wait in the stream's buffer until read (weft's HTTP/1 client's response bodies).
 */
export interface ArrivingBody {
  readonly arrived: boolean;
}

/**
 * True when every byte of `body` is buffered in it and its end follows: a server may then write the response in one
 * go instead of following the stream. A body a layer wrapped (another stream) does not say so, and is followed.
 */
export function arrivedWhole(body: Readable): boolean {
  return (body as Partial<ArrivingBody>).arrived === true && !body.destroyed;
}

/**
 * Balances requests or connections over a concrete service's discovered endpoints (the stack's view; the P2C
 * peak-EWMA `Balancer` of proxy/src/balance is adapted to it in outbound/p2c.ts).
 */
export interface EndpointBalancer {
  /** Replaces the endpoint set (a discovery update). */
  update(endpoints: readonly Endpoint[]): void;
  /** Chooses an endpoint, or undefined when none is available (none ready, or all ejected by failure accrual). */
  pick(avoid?: ReadonlySet<string>): EndpointLease | undefined;
}

/** One pick; report the outcome exactly once (latency is measured from the pick). */
export interface EndpointLease {
  readonly endpoint: Endpoint;
  /** Connection-level use: the connection is up (the connect time is the latency sample). */
  connected(): void;
  /** Finished; `ok` false (connection failure, 5xx) counts toward failure accrual. */
  done(ok: boolean): void;
}

export type NewEndpointBalancer = () => EndpointBalancer;

export type HttpService = Service<HttpRequest, HttpResponse>;
export type HttpLayer = Layer<HttpRequest, HttpResponse>;
export type NewHttp<T> = NewService<T, HttpRequest, HttpResponse>;

// ---------------------------------------------------------------------------
// Opaque TCP

/** An accepted connection, possibly after TLS termination and detection. */
export interface TcpConn {
  readonly socket: Duplex;
  readonly meta: ConnMeta;
  /**
   * Bytes the client sent before it half-closed while protocol detection was still reading them: its stream has
   * ended and cannot take them back, so they go upstream first (transport/pipe.ts).
   */
  readonly head?: Buffer;
}

/** Proxies one connection; resolves when both halves are closed. */
export type TcpService = Service<TcpConn, void>;
export type NewTcp<T> = NewService<T, TcpConn, void>;
