/**
 * HTTP/2 client sessions, one multiplexed session per peer, reused for every
 * request to it: to peer proxies over mTLS (ALPN `weft.h2`), to HTTP/2
 * applications (gRPC) over cleartext h2c. A session that closes or errors is
 * dropped and reconnected on the next request.
 *
 * A session to a peer proxy with streams that heard nothing from the peer for
 * `pingMs` PINGs it; nothing for another `pingMs` ends the session, and its
 * streams fail with ETIMEDOUT. TCP keepalive and the user timeout (on every
 * mesh connection) find a peer whose node went away; the PING also finds one
 * whose kernel still acknowledges but whose process answers nothing (stopped,
 * its event loop stuck). Sessions to applications (h2c) are not PINGed: gRPC
 * servers treat frequent PINGs as abuse (GOAWAY ENHANCE_YOUR_CALM); TCP
 * keepalive (connect-bound.ts) covers them while they are idle.
 */
import http2 from 'node:http2';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Headers, HttpRequest, HttpResponse } from '../svc.js';
import { EndpointError } from '../errors.js';
import { boundConnect, type ConnectBounds } from '@weft/common/connect-bound';
import { DEFAULT_CONNECTIONS, type ConnectionSettings } from '../transport/connections.js';
import { StreamReset } from './server.js';
import { endToEnd } from './headers.js';
import { BodyForward } from './forward.js';
import { newest } from '../keep-shapes.js';

const { NGHTTP2_CANCEL } = http2.constants;

export interface H2Peer {
  /** Pool key: address plus the identity we expect, so a changed identity never reuses a session. */
  readonly key: string;
  readonly label: string;
  /** `http://ip:port` for h2c; with `connect`, the authority used only for the session's origin. */
  readonly origin: string;
  /** Opens the transport (TLS to a peer proxy); absent for cleartext h2c. */
  readonly connect?: () => Duplex;
}

/** An h2c connection without Nagle: small frames (HEADERS, WINDOW_UPDATE) must not wait for the previous ACK. */
function cleartext(bounds: ConnectBounds): (authority: URL) => Duplex {
  return (authority) => {
    const host = authority.hostname.startsWith('[') ? authority.hostname.slice(1, -1) : authority.hostname;
    return boundConnect(net.connect({ host, port: Number(authority.port || 80), noDelay: true }), authority.host, bounds);
  };
}

export interface H2PoolOptions {
  /**
   * The bounds on h2c connects; and `peerPingMs`, how long a session to a peer proxy with open streams waits for a
   * byte from it before a PING (as weft.mux's sessions and the control plane's clients). Default: DEFAULT_CONNECTIONS.
   */
  readonly connections?: ConnectionSettings;
}

/** `request`'s options (`silent` is one of them, although Node's type declarations leave it out). */
type RequestOptions = http2.ClientSessionRequestOptions & { readonly silent: boolean };
/**
 * Every option `request` fills in, so Node's copy of them keeps its shape: given only `endStream`, it adds the
 * priority defaults (weight 16, no parent, not exclusive, not silent) to its copy one property at a time, per request.
 * (Not frozen: Node copies them with a spread, whose fast path wants plain writable properties; nothing writes them.)
 */
const BODYLESS: RequestOptions = { endStream: true, weight: 16, parent: 0, exclusive: false, silent: false };
const WITH_BODY: RequestOptions = { endStream: false, weight: 16, parent: 0, exclusive: false, silent: false };

/** A pooled session, with its liveness watch when the peer is a proxy. */
interface Pooled {
  readonly session: http2.ClientHttp2Session;
  readonly watch: PeerWatch | undefined;
}

export class H2Pool {
  private readonly sessions = new Map<string, Pooled>();

  private readonly connections: ConnectionSettings;
  private readonly cleartext: (authority: URL) => Duplex;

  constructor(opts: H2PoolOptions = {}) {
    this.connections = opts.connections ?? DEFAULT_CONNECTIONS;
    this.cleartext = cleartext(this.connections);
  }

  private session(peer: H2Peer): Pooled {
    const existing = this.sessions.get(peer.key);
    if (existing && !existing.session.closed && !existing.session.destroyed) return existing;
    const opts: http2.ClientSessionOptions = { maxSessionMemory: 64, peerMaxConcurrentStreams: 1000 };
    // Cleartext h2c too gets its socket from us, to turn Nagle off (Node's session socket refuses setNoDelay).
    opts.createConnection = peer.connect ?? this.cleartext;
    const session = http2.connect(peer.origin, opts);
    const forget = (): void => {
      if (this.sessions.get(peer.key)?.session === session) this.sessions.delete(peer.key);
    };
    session.on('error', forget);
    session.on('close', forget);
    session.on('goaway', forget);
    // An idle pooled session must not keep the process alive.
    session.unref();
    const pooled: Pooled = { session, watch: peer.connect ? new PeerWatch(session, peer.label, this.connections.peerPingMs) : undefined };
    this.sessions.set(peer.key, pooled);
    return pooled;
  }

  request(peer: H2Peer, req: HttpRequest, extraHeaders?: Headers): Promise<HttpResponse> {
    let stream: http2.ClientHttp2Stream;
    let watch: PeerWatch | undefined;
    try {
      const headers: http2.OutgoingHttpHeaders = { ':method': req.method, ':path': req.path, ':authority': req.authority, ':scheme': req.scheme };
      for (const name in req.headers) headers[name] = req.headers[name];
      if (extraHeaders) for (const name in extraHeaders) headers[name] = extraHeaders[name];
      const pooled = this.session(peer);
      stream = pooled.session.request(headers, req.bodyless ? BODYLESS : WITH_BODY);
      watch = pooled.watch;
      if (watch !== undefined) watch.opened();
    } catch (err) {
      return Promise.reject(new EndpointError(peer.label, err));
    }
    return new Promise((resolve, reject) => new H2Exchange(peer.label, req, stream, watch, resolve, reject));
  }

  close(): void {
    for (const p of this.sessions.values()) p.session.destroy();
    this.sessions.clear();
  }
}

/**
 * A session to a peer proxy, while it carries streams: after `ms` in which nothing came from the peer, a PING; after
 * another `ms` still without a byte, the end (as weft.mux's sessions). Bytes read are the test, not the PING's answer
 * alone: a PING queued behind a large upload must not end a session whose peer keeps sending WINDOW_UPDATEs. The
 * timer runs only while there are streams (an idle proxy wakes for nothing): the first stream after a quiet check
 * starts it again.
 */
class PeerWatch {
  private open = 0;
  private pingSent = false;
  private lastRead = -1;
  private timer: NodeJS.Timeout | undefined;
  private readonly check = (): void => {
    const session = this.session;
    if (session.destroyed) return this.stop();
    const read = session.socket.bytesRead;
    if (read !== this.lastRead) {
      this.lastRead = read;
      this.pingSent = false;
    } else if (this.pingSent) {
      session.destroy(Object.assign(new Error(`weft: ${this.label} answered nothing, not even an HTTP/2 PING, for ${2 * this.ms} ms`), { code: 'ETIMEDOUT' }));
      return;
    } else if (this.open > 0 && !session.connecting) {
      // (Establishing is bounded by connect-bound.ts.)
      this.pingSent = true;
      session.ping(ignorePong);
    }
    if (this.open === 0) this.stop();
  };

  constructor(
    private readonly session: http2.ClientHttp2Session,
    private readonly label: string,
    private readonly ms: number,
  ) {
    session.once('close', () => this.stop());
  }

  opened(): void {
    this.open++;
    this.timer ??= setInterval(this.check, this.ms).unref();
  }

  closed(): void {
    this.open--;
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** A PING's answer is bytes read, which PeerWatch counts; a PING cancelled with its session needs nothing. */
function ignorePong(): void {}

/**
 * One request's stream and its response. Its listeners and the response's accessors are its methods, bound once per
 * request, not closures made per request: those are called once, late, and lose their optimised code at every full
 * GC (docs/proxy.md, "Garbage and recompilation on the HTTP/2 path").
 */
class H2Exchange {
  private trailerFields: Headers | undefined;
  private responded = false;
  private readonly onAbort: () => void;

  constructor(
    private readonly label: string,
    private readonly req: HttpRequest,
    private readonly stream: http2.ClientHttp2Stream,
    private readonly watch: PeerWatch | undefined,
    private readonly resolve: (rsp: HttpResponse) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    // `on`, not `once`: a stream emits each of these once, and `once` wraps every listener in a closure of its own.
    stream.on('response', this.response.bind(this));
    stream.on('trailers', this.trailers.bind(this));
    stream.on('error', this.error.bind(this));
    stream.on('close', this.close.bind(this));
    this.onAbort = this.abort.bind(this);
    if (req.signal.aborted) this.abort();
    else req.signal.addEventListener('abort', this.onAbort, { once: true });
    if (!req.bodyless) new BodyForward(req.body, stream, true);
    newest.h2ClientExchange = this;
  }

  private response(headers: http2.IncomingHttpHeaders): void {
    this.responded = true;
    const stream = this.stream;
    this.resolve({
      status: Number(headers[':status'] ?? 502),
      headers: endToEnd(headers),
      body: stream,
      proxyError: headers['weft-proxy-error'] as string | undefined,
      trailers: this.trailersOf.bind(this),
      resetCode: this.resetCode.bind(this),
      cutOff: this.cutOff.bind(this),
    });
  }

  private trailers(t: http2.IncomingHttpHeaders): void {
    this.trailerFields = endToEnd(t);
  }

  private error(err: Error): void {
    if (!this.responded) this.reject(new EndpointError(this.label, err));
  }

  private close(): void {
    if (this.watch !== undefined) this.watch.closed();
    this.req.signal.removeEventListener('abort', this.onAbort);
    if (!this.responded) this.reject(new EndpointError(this.label, new Error(`stream closed before a response (code ${this.stream.rstCode})`)));
  }

  /** Propagates the client's RST_STREAM code upstream (gRPC cancellation). */
  private abort(): void {
    const reason = this.req.signal.reason;
    if (!this.stream.closed) this.stream.close(reason instanceof StreamReset ? reason.code : NGHTTP2_CANCEL);
  }

  private trailersOf(): Headers | undefined {
    return this.trailerFields;
  }

  private resetCode(): number | undefined {
    const code = this.stream.rstCode;
    return code === undefined || code === 0 ? undefined : code;
  }

  /**
   * A reset while our request was still going may follow a complete response (a server stopping an upload); after
   * our request was fully sent (writableFinished) it can only cut the response off.
   */
  private cutOff(): boolean {
    const stream = this.stream;
    return (this.req.bodyless || stream.writableFinished) && this.trailerFields === undefined && stream.rstCode !== undefined && stream.rstCode !== 0;
  }
}
