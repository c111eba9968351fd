/**
 * gRPC over mutually authenticated TLS for weft's control-plane APIs:
 * standard gRPC wire protocol on HTTP/2 (connect-node), so any gRPC client can
 * talk to weft. The server exposes the client's certificate and address to
 * handlers, and bounds what one caller can make it read and hold (limits).
 */
import http2 from 'node:http2';
import tls, { type SecureContextOptions, type TLSSocket } from 'node:tls';
import { listen } from './listen.js';
import { boundConnect, KEEPALIVE_MS, type ConnectBounds } from './connect-bound.js';
import type { DescService } from '@bufbuild/protobuf';
import { createClient, createContextKey, createContextValues, type Client, type ConnectRouter, type HandlerContext } from '@connectrpc/connect';
import { compressionGzip, connectNodeAdapter, createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { X509Certificate } from 'node:crypto';
import type { Tracer } from './trace/tracer.js';
import { serverTraceInterceptor } from './trace/grpc-server.js';

export interface TlsMaterial {
  /** PEM trust anchors used to verify the peer. */
  readonly ca: string;
  /** PEM certificate chain (leaf first) and private key presented to the peer. */
  readonly cert: string;
  readonly key: string;
}

/** The verified client certificate of a request, when the client presented one. */
export const peerCertificateKey = createContextKey<X509Certificate | undefined>(undefined, { description: 'peer certificate' });

export function peerCertificate(ctx: HandlerContext): X509Certificate | undefined {
  return ctx.values.get(peerCertificateKey);
}

/** The caller's IP address as the server's socket saw it (e.g. `10.42.0.7`, `::1`). */
export const peerAddressKey = createContextKey<string | undefined>(undefined, { description: 'peer address' });

export function peerAddress(ctx: HandlerContext): string | undefined {
  return ctx.values.get(peerAddressKey);
}

/**
 * What one caller can make a server read and hold. A server that callers reach without a client certificate
 * (identity's Certify) keeps these small: connect-node and Node's HTTP/2 otherwise accept ~4 GiB messages,
 * decompress whatever arrives and allow ~4 billion streams per connection.
 */
export interface GrpcServerLimits {
  /** Largest request message, in bytes, after decompression; a larger one is refused with RESOURCE_EXHAUSTED before it is buffered. */
  readonly maxMessageBytes: number;
  /** Accept gzip-compressed requests (decompression stops at `maxMessageBytes`); when false, a compressed request is UNIMPLEMENTED and never inflated. */
  readonly acceptGzip: boolean;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS: requests one connection may have open at once. */
  readonly maxConcurrentStreams: number;
  /** Node's per-connection HTTP/2 memory budget (`maxSessionMemory`), in MiB; above it new streams are refused. */
  readonly maxSessionMemoryMiB: number;
}

/** For mTLS control-plane APIs (destination, policy, tap): gRPC's customary 4 MiB message cap, roomy stream counts for long-lived watches. */
export const DEFAULT_GRPC_SERVER_LIMITS: GrpcServerLimits = {
  maxMessageBytes: 4 * 1024 * 1024,
  acceptGzip: true,
  maxConcurrentStreams: 1000,
  maxSessionMemoryMiB: 10,
};

export interface GrpcServerOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: TlsMaterial;
  /** Require a client certificate signed by `tls.ca`. Control-plane APIs that proxies call before they hold a certificate (Certify) pass false. */
  readonly requireClientCert: boolean;
  readonly routes: (router: ConnectRouter) => void;
  /** Overrides of DEFAULT_GRPC_SERVER_LIMITS. */
  readonly limits?: Partial<GrpcServerLimits>;
  /** Traces every RPC as a SERVER span (docs/tracing.md); undefined: tracing is off and no interceptor is installed. */
  readonly tracer?: Tracer;
}

export interface GrpcServer {
  readonly server: http2.Http2SecureServer;
  readonly port: number;
  /** Replaces the served certificate without a restart (hot rotation). */
  setTls(tls: TlsMaterial): void;
  close(): Promise<void>;
}

export async function startGrpcServer(opts: GrpcServerOptions): Promise<GrpcServer> {
  const limits = { ...DEFAULT_GRPC_SERVER_LIMITS, ...opts.limits };
  const handler = connectNodeAdapter({
    routes: opts.routes,
    readMaxBytes: limits.maxMessageBytes,
    // An empty list makes connect answer a compressed request with UNIMPLEMENTED; its gzip stops at readMaxBytes.
    acceptCompression: limits.acceptGzip ? [compressionGzip] : [],
    interceptors: opts.tracer ? [serverTraceInterceptor(opts.tracer, (values) => {
      const cert = values.get(peerCertificateKey);
      return { address: values.get(peerAddressKey), identity: cert ? meshIdentity(cert) : undefined };
    })] : [],
    contextValues: (req) => {
      const socket = ('stream' in req ? req.stream.session?.socket : req.socket) as TLSSocket | undefined;
      // Servers that do not require a client certificate still ask for one; one that failed verification
      // (untrusted, expired) must never reach a handler as the caller's identity.
      const raw = socket?.authorized ? socket.getPeerCertificate?.(false)?.raw : undefined;
      return createContextValues()
        .set(peerCertificateKey, raw ? new X509Certificate(raw) : undefined)
        .set(peerAddressKey, socket?.remoteAddress);
    },
  });
  const server = http2.createSecureServer(
    {
      ...secureContextOptions(opts.tls),
      requestCert: true,
      rejectUnauthorized: opts.requireClientCert,
      allowHTTP1: false,
      settings: { maxConcurrentStreams: limits.maxConcurrentStreams },
      maxSessionMemory: limits.maxSessionMemoryMiB,
      // A client whose node went away (a proxy's, with its destination and policy watches open) sends no FIN: TCP
      // keepalive closes its connection once the probes go unanswered, and its streams' handlers see the abort,
      // instead of holding them, and what they watch, for good.
      keepAlive: true,
      keepAliveInitialDelay: KEEPALIVE_MS,
    },
    handler,
  );
  // A garbage handshake must not take the server down; it is logged by the caller via 'tlsClientError'.
  server.on('tlsClientError', () => undefined);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  const port = await listen(server, opts.port, opts.host);
  return {
    server,
    port,
    setTls: (tls) => server.setSecureContext(secureContextOptions(tls)),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A mesh certificate's identity: its DNS SAN (`<sa>.<ns>.serviceaccount.identity.<ns>.<trust domain>`). */
function meshIdentity(cert: X509Certificate): string | undefined {
  const dns = cert.subjectAltName?.split(', ').find((n) => n.startsWith('DNS:'));
  return dns?.slice(4);
}

/**
 * The options of every secure context the server uses. `setSecureContext` replaces the whole context, and a
 * context built without `minVersion` falls back to Node's TLS 1.2 floor, so the floor is part of each one.
 */
function secureContextOptions(tls: TlsMaterial): SecureContextOptions {
  return { ca: tls.ca, cert: tls.cert, key: tls.key, minVersion: 'TLSv1.3' };
}

export interface GrpcClientOptions {
  /** `https://host:port` */
  readonly baseUrl: string;
  /** Trust anchors, plus our own certificate and key when we have one. */
  readonly ca: string;
  readonly cert?: string;
  readonly key?: string;
  /** The name the server certificate must carry (e.g. the control plane's identity). */
  readonly serverName: string;
  /** CONTROL_PLANE_LIVENESS unless set (tests). */
  readonly liveness?: ConnectionLiveness;
}

/**
 * How a client finds out that its connection is dead. Control-plane streams are long-lived and mostly quiet (a
 * proxy's destination and policy watches): a server that vanished without closing them (its node died, its address
 * is gone) would leave them open and silent for good, the proxy holding stale endpoints and policies. While a stream
 * is open, an HTTP/2 PING goes out after `pingIntervalMs` without data from the server, and no answer within
 * `pingTimeoutMs` closes the connection and fails its streams, which their owners reopen (with backoff, through the
 * Service to a live server). Establishing a connection is bounded too (connect-bound.ts): a Service rule not yet
 * updated can send the SYN to a pod that is gone.
 */
export interface ConnectionLiveness {
  readonly pingIntervalMs: number;
  readonly pingTimeoutMs: number;
  readonly connect: ConnectBounds;
}

export const CONTROL_PLANE_LIVENESS: ConnectionLiveness = { pingIntervalMs: 10_000, pingTimeoutMs: 10_000, connect: { connectMs: 10_000, handshakeMs: 10_000, keepAliveMs: KEEPALIVE_MS } };

export function createGrpcClient<S extends DescService>(service: S, opts: GrpcClientOptions): Client<S> {
  const liveness = opts.liveness ?? CONTROL_PLANE_LIVENESS;
  // The TLS connection is ours (Node would make the same one from these options), to bound its establishment.
  const createConnection = (authority: URL): TLSSocket => {
    const host = authority.hostname.startsWith('[') ? authority.hostname.slice(1, -1) : authority.hostname;
    const socket = tls.connect({
      host,
      port: Number(authority.port || 443),
      servername: opts.serverName,
      ca: opts.ca,
      ...(opts.cert ? { cert: opts.cert } : {}),
      ...(opts.key ? { key: opts.key } : {}),
      minVersion: 'TLSv1.3',
      ALPNProtocols: ['h2'],
    });
    return boundConnect(socket, authority.host, liveness.connect);
  };
  const sessions = new KeptSessions(opts.baseUrl, { pingIntervalMs: liveness.pingIntervalMs, pingTimeoutMs: liveness.pingTimeoutMs }, { createConnection });
  return createClient(service, createGrpcTransport({ baseUrl: opts.baseUrl, sessionManager: sessions }));
}

/**
 * connect-node's session manager, with one more `error` listener on each session it carries a stream on. When a
 * keepalive PING goes unanswered it destroys the session with an error that Node emits when the socket has closed,
 * after the manager has moved on and removed its own listeners: unheard, that error is an uncaught exception, which
 * stops a weft process. The streams fail with errors of their own, which their owners handle.
 */
class KeptSessions extends Http2SessionManager {
  private readonly heard = new WeakSet<http2.Http2Session>();

  override async request(...args: Parameters<Http2SessionManager['request']>): Promise<http2.ClientHttp2Stream> {
    const stream = await super.request(...args);
    const session = stream.session;
    if (session && !this.heard.has(session)) {
      this.heard.add(session);
      session.on('error', ignoreSessionError);
    }
    return stream;
  }
}

function ignoreSessionError(): void {
  // Reported through the session's streams (see KeptSessions).
}
