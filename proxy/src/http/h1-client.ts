/**
 * Sends an HttpRequest over HTTP/1.1 and returns the response as an
 * HttpResponse: the last hop to an HTTP/1 application and unmeshed HTTP/1
 * endpoints. Raw sockets and weft's own wire code (h1/wire.ts) instead of
 * undici: the protocol engine and its stream/promise plumbing were most of
 * the CPU of a proxied request (docs/proxy.md, Performance).
 *
 * One keep-alive pool per `ip:port`: idle connections are reused newest
 * first, at most MAX_CONNECTIONS_PER_ADDRESS are open and further requests
 * wait in order. One request per connection at a time (no pipelining).
 * Per request: one Exchange (it is also the abort listener), one promise, and
 * a response body stream unless the whole body came with the head
 * (whole-body.ts); no timers (idle connections are swept by one timer per
 * client).
 */
import net from 'node:net';
import tls from 'node:tls';
import { Readable } from 'node:stream';
import type { ArrivingBody, Headers, HttpRequest, HttpResponse, SocketAddr } from '../svc.js';
import { WeftError } from '@weft/common/errors';
import { EndpointError } from '../errors.js';
import { boundConnect, CONNECT_BOUNDS, type ConnectBounds } from '@weft/common/connect-bound';
import { watchAbort, type AbortWatcher, type Watching } from './abort-watch.js';
import { wholeResponse, type WholeBytes } from './whole-body.js';
import { CRLF, ChunkedDecoder, H1ParseError, LAST_CHUNK, chunkHeader, invalidHeaderValue, isToken, parseResponseHead, type ResponseHead } from './h1/wire.js';
import { newest } from '../keep-shapes.js';
import { holdForTurn } from '../transport/turn-writes.js';

/** A flood of requests to one address queues here instead of becoming thousands of connections to the application. */
const MAX_CONNECTIONS_PER_ADDRESS = 128;
/** An idle connection is closed after this many seconds (sooner when the server announces a shorter keep-alive). */
const IDLE_SECONDS = 10;
/** A request body chunk up to this size is framed and written as one latin1 string. */
const ONE_STRING_MAX = 16 * 1024;
const CRLF_BYTES = Buffer.from(CRLF, 'latin1');
/** Methods a request may be re-sent with when a reused connection turned out to be closed (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
/** Errors of a reused connection the server closed while our request was on its way (the keep-alive race). */
const STALE = new Set(['ECONNRESET', 'EPIPE']);

/**
 * A destination reached through connections the caller opens (e.g. mesh mTLS to a peer proxy): one pool per `key`.
 * `connect` returns a socket connecting (writes before it is up are sent once it is) that reads into `onread`
 * (net.connect's and tls.connect's option), with its establishment bounded (@weft/common/connect-bound, as
 * connectMesh does); `label` names it in errors.
 */
export interface H1Target {
  readonly key: string;
  readonly label: string;
  connect(onread: net.OnReadOpts): net.Socket;
}

export class Http1Client {
  private readonly byAddr = new WeakMap<SocketAddr | H1Target, Pool>();
  private readonly pools = new Map<string, Pool>();
  readonly readBuffer = Buffer.allocUnsafe(64 * 1024);
  private closed = false;
  /** Seconds counted by the idle sweeper; an idle connection remembers the count it went idle at. */
  tick = 0;
  private sweeper: NodeJS.Timeout | undefined;

  /** `bounds`: on connects to plaintext endpoints (a target's `connect` bounds its own). */
  constructor(readonly bounds: ConnectBounds = CONNECT_BOUNDS) {}

  /** `extraHeaders` are added for the application (e.g. the client's identity). */
  request(addr: SocketAddr, req: HttpRequest, extraHeaders?: Headers): Promise<HttpResponse> {
    let pool = this.byAddr.get(addr);
    if (pool === undefined || pool.removed) pool = this.pool(addr, `${addr.ip.includes(':') ? `[${addr.ip}]` : addr.ip}:${addr.port}`, undefined);
    return this.send(pool, req, extraHeaders);
  }

  /** The same over connections `target.connect()` opens. */
  requestVia(target: H1Target, req: HttpRequest, extraHeaders?: Headers): Promise<HttpResponse> {
    let pool = this.byAddr.get(target);
    if (pool === undefined || pool.removed) pool = this.pool(target, target.key, target);
    return this.send(pool, req, extraHeaders);
  }

  private send(pool: Pool, req: HttpRequest, extraHeaders: Headers | undefined): Promise<HttpResponse> {
    if (this.closed) return Promise.reject(new EndpointError(pool.label, new Error('HTTP/1 client closed')));
    if (req.signal.aborted) return Promise.reject(new EndpointError(pool.label, new Error('client went away')));
    let head: string;
    try {
      head = requestHead(req, extraHeaders);
    } catch (err) {
      return Promise.reject(new EndpointError(pool.label, err));
    }
    return new Promise<HttpResponse>((resolve, reject) => pool.dispatch(new Exchange(pool, req, head, resolve, reject)));
  }

  close(): void {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (const pool of this.pools.values()) pool.close();
    this.pools.clear();
  }

  private pool(dst: SocketAddr | H1Target, key: string, target: H1Target | undefined): Pool {
    let pool = this.pools.get(key);
    if (pool === undefined) {
      pool = target ? new Pool(this, key, target.label, target) : new Pool(this, key, key, undefined, (dst as SocketAddr).ip, (dst as SocketAddr).port);
      this.pools.set(key, pool);
    }
    this.byAddr.set(dst, pool);
    return pool;
  }

  /** A pool with no connection and no waiting request is forgotten (addresses come and go with pods). */
  forget(pool: Pool): void {
    pool.removed = true;
    if (this.pools.get(pool.key) === pool) this.pools.delete(pool.key);
  }

  /** Starts the once-a-second idle sweep (an unref'd timer: an idle connection keeps the process alive until a sweep unrefs it). */
  watchIdle(): void {
    if (this.sweeper !== undefined || this.closed) return;
    this.sweeper = setInterval(() => this.sweep(), 1000);
    this.sweeper.unref();
  }

  private sweep(): void {
    this.tick++;
    let idle = 0;
    for (const pool of this.pools.values()) idle += pool.sweep(this.tick);
    if (idle === 0 && this.sweeper !== undefined) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }
}

/** The connections to one address. */
class Pool {
  /** Idle connections, oldest first; reuse takes the newest (warm, least likely to have been closed by the server). */
  readonly idle: Conn[] = [];
  /** Requests waiting for a connection, in arrival order. */
  readonly waiting: Exchange[] = [];
  /** Every open connection, busy or idle (for close()). */
  private readonly conns = new Set<Conn>();
  open = 0;
  removed = false;

  constructor(
    readonly client: Http1Client,
    readonly key: string,
    /** Names the destination in errors. */
    readonly label: string,
    /** Connections come from here; else plain TCP to ip:port. */
    readonly target: H1Target | undefined,
    readonly ip = '',
    readonly port = 0,
  ) {}

  dispatch(x: Exchange): void {
    for (let conn = this.idle.pop(); conn !== undefined; conn = this.idle.pop()) {
      if (!conn.socket.destroyed && conn.socket.readable) return conn.start(x);
      conn.socket.destroy();
    }
    if (this.open < MAX_CONNECTIONS_PER_ADDRESS) return this.connect().start(x);
    x.queued = true;
    this.waiting.push(x);
  }

  connect(): Conn {
    this.open++;
    const conn = new Conn(this);
    this.conns.add(conn);
    return conn;
  }

  /** A connection finished an exchange cleanly and can carry another. */
  release(conn: Conn): void {
    if (this.removed) return conn.drop(); // the client was closed
    const next = this.waiting.shift();
    if (next !== undefined) {
      next.queued = false;
      return conn.start(next);
    }
    conn.goIdle(this.client.tick);
    this.idle.push(conn);
    this.client.watchIdle();
  }

  /** A connection closed: it frees a slot for a waiting request. */
  closed(conn: Conn): void {
    this.open--;
    this.conns.delete(conn);
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
  }

  /** Starts waiting requests on free slots; forgets the pool once it is empty. */
  drain(): void {
    while (this.waiting.length > 0 && this.open < MAX_CONNECTIONS_PER_ADDRESS) {
      const next = this.waiting.shift()!;
      next.queued = false;
      this.connect().start(next);
    }
    if (this.open === 0 && this.waiting.length === 0) this.client.forget(this);
  }

  unqueue(x: Exchange): void {
    const i = this.waiting.indexOf(x);
    if (i >= 0) this.waiting.splice(i, 1);
    x.queued = false;
  }

  /**
   * Closes connections idle for longer than their limit, and lets go of (unrefs) the others once they have been idle
   * since an earlier sweep; returns how many stay idle.
   */
  sweep(tick: number): number {
    const idle = this.idle;
    let kept = 0;
    for (const conn of idle) {
      if (tick - conn.idleSince > conn.idleLimit) conn.socket.destroy();
      else {
        if (tick > conn.idleSince) conn.unref();
        idle[kept++] = conn;
      }
    }
    idle.length = kept;
    return kept;
  }

  close(): void {
    this.removed = true;
    for (const x of this.waiting.splice(0)) x.fail(new Error('HTTP/1 client closed'));
    this.idle.length = 0;
    for (const conn of this.conns) conn.fail(new Error('HTTP/1 client closed'));
  }
}

const enum Framing {
  /** HEAD, 204, 304, or a zero length. */
  None,
  Length,
  Chunked,
  /** Delimited by the server closing the connection. */
  Close,
}

/** One connection to the application: carries one exchange at a time. */
class Conn {
  readonly socket: net.Socket;
  x: Exchange | undefined;
  /** Bytes of a response head that has not arrived whole. */
  private pending: Buffer | undefined;
  private framing = Framing.None;
  private remaining = 0;
  private decoder: ChunkedDecoder | undefined;
  private reusable = false;
  /** Exchanges started on this connection. */
  uses = 0;
  idleSince = 0;
  /** The socket keeps the process alive (busy, or idle for less than a sweep). */
  private refd = true;
  idleLimit = IDLE_SECONDS;
  private keepAliveSeen: string | undefined;
  private paused = false;
  private connected = false;
  private error: Error | undefined;
  private readonly holdable: boolean;

  constructor(readonly pool: Pool) {
    // Reads land in one buffer shared by the client's connections (each read is handled before the next): no
    // allocation per read; response bytes are copied out only when they become body chunks.
    const onread = { buffer: pool.client.readBuffer, callback: (n: number) => this.onRead(n) };
    // Establishing is bounded by the target (connectMesh) or here (boundConnect): an address that went away does not refuse.
    const s = (this.socket =
      pool.target !== undefined ? pool.target.connect(onread) : boundConnect(net.connect({ host: pool.ip, port: pool.port, noDelay: true, onread }), pool.label, pool.client.bounds));
    this.holdable = s instanceof net.Socket;
    // Up once connected; over TLS, once the handshake is done.
    s.once(s instanceof tls.TLSSocket ? 'secureConnect' : 'connect', () => {
      this.connected = true;
    });
    s.on('end', () => this.onEnd());
    s.on('error', (err) => (this.error ??= err));
    s.on('close', () => this.onClose());
    newest.h1ClientConn = this;
  }

  start(x: Exchange): void {
    this.x = x;
    x.conn = this;
    x.reused = this.uses++ > 0;
    const s = this.socket;
    if (!this.refd) {
      this.refd = true;
      s.ref();
    }
    // Over a socket of its own (not a stream of a multiplexed session, which writes once per turn already), the
    // request leaves with the rest of the turn's writes while the proxy is saturated (turn-writes.ts).
    if (this.holdable) holdForTurn(s);
    if (x.req.bodyless) {
      s.write(x.head, 'latin1');
      x.requestDone = true;
      return;
    }
    // The head and whatever body is already buffered leave in one write.
    s.cork();
    s.write(x.head, 'latin1');
    x.sendBody(s);
    s.uncork();
  }

  /**
   * Idle in the pool. The socket stays referenced until the next idle sweep unrefs it (`unref`): a connection taken
   * again within the second, as under load, costs no ref/unref pair per request (through TLS, each is a call into
   * the TLS handle).
   */
  goIdle(tick: number): void {
    this.idleSince = tick;
    if (this.paused) this.resume();
  }

  /** Idle since a sweep ago: it no longer keeps the process alive. */
  unref(): void {
    if (!this.refd) return;
    this.refd = false;
    this.socket.unref();
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.socket.resume();
  }

  /** Ends the connection because of `err`; the exchange on it (if any) fails with it when the socket has closed. */
  fail(err: Error): void {
    this.error ??= err;
    this.socket.destroy();
  }

  /** Ends the connection without failing anything (the exchange is over or detached). */
  drop(): void {
    this.x = undefined;
    this.socket.destroy();
  }

  private onRead(n: number): boolean {
    this.onData(this.pool.client.readBuffer.subarray(0, n));
    return !this.paused;
  }

  /** `chunk` may be a view of the shared read buffer, valid during this call only. */
  private onData(chunk: Buffer): void {
    const x = this.x;
    // Bytes on an idle connection, or after a response ended: the server is not speaking HTTP/1 as we are.
    if (x === undefined || x.phase === Phase.Done) return this.drop();
    x.gotBytes = true;
    if (x.phase === Phase.Body) return this.onBody(x, chunk);
    let buf = chunk;
    if (this.pending !== undefined) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    let start = 0;
    for (;;) {
      let head: ResponseHead | undefined;
      try {
        head = parseResponseHead(buf, start);
      } catch (err) {
        return this.fail(err as Error);
      }
      if (head === undefined) {
        this.pending = Buffer.from(buf.subarray(start));
        return;
      }
      start = head.end;
      if (head.status >= 200) {
        if (!this.frame(x, head)) return;
        // The whole body came with the head (a small response usually does): handed over without a stream.
        const rest = buf.length - start;
        if (this.framing === Framing.None || (this.framing === Framing.Length && this.remaining <= rest)) {
          const n = this.framing === Framing.None ? 0 : this.remaining;
          this.remaining = 0;
          x.respondWhole(head, n === 0 ? '' : n <= ONE_STRING_MAX ? buf.toString('latin1', start, start + n) : Buffer.from(buf.subarray(start, start + n)));
          return this.complete(x, start + n < buf.length);
        }
        x.respond(head);
        break;
      }
      // 100 Continue, 103 Early Hints: interim, the response follows. A 101 was never asked for.
      if (head.status === 101) return this.fail(new H1ParseError('unexpected 101 Switching Protocols'));
    }
    if (start < buf.length) this.onBody(x, start === 0 ? buf : buf.subarray(start));
  }

  /** A final response head: decides its framing. False: the connection failed. */
  private frame(x: Exchange, head: ResponseHead): boolean {
    const conn = head.connection;
    const close = conn !== undefined && hasToken(conn, 'close');
    this.reusable = head.version === '1.1' ? !close : conn !== undefined && !close && hasToken(conn, 'keep-alive');
    const ka = head.keepAlive;
    if (this.reusable && typeof ka === 'string' && ka !== this.keepAliveSeen) {
      // Close before the server does (it announced how long it keeps an idle connection): `timeout=5` → 3 s here.
      this.keepAliveSeen = ka;
      const m = /(?:^|[\s,])timeout\s*=\s*(\d+)/i.exec(ka);
      if (m) this.idleLimit = Math.min(IDLE_SECONDS, Number(m[1]) - 2);
      if (this.idleLimit < 1) this.reusable = false;
    }
    const te = head.transferEncoding;
    const cl = head.headers['content-length'];
    if (x.req.method === 'HEAD' || head.status === 204 || head.status === 304) this.framing = Framing.None;
    else if (te !== undefined) {
      // The last coding decides (RFC 9112 §6.3); with Content-Length too the message is suspect: never reuse the connection.
      if (lastCodingIsChunked(te)) {
        this.framing = Framing.Chunked;
        this.decoder = new ChunkedDecoder((chunk) => this.deliver(x, chunk));
        if (cl !== undefined) this.reusable = false;
      } else this.framing = Framing.Close;
    } else if (cl !== undefined) {
      const n = contentLength(cl);
      if (n < 0) {
        this.fail(new H1ParseError(`invalid content-length ${JSON.stringify(cl)}`));
        return false;
      }
      this.framing = n === 0 ? Framing.None : Framing.Length;
      this.remaining = n;
    } else this.framing = Framing.Close;
    if (this.framing === Framing.Close) this.reusable = false;
    return true;
  }

  private onBody(x: Exchange, buf: Buffer): void {
    switch (this.framing) {
      case Framing.Length: {
        const take = Math.min(this.remaining, buf.length);
        this.remaining -= take;
        this.deliver(x, take === buf.length ? buf : buf.subarray(0, take));
        if (this.remaining === 0) this.complete(x, take < buf.length);
        return;
      }
      case Framing.Chunked: {
        const decoder = this.decoder!;
        let used: number;
        try {
          used = decoder.feed(buf);
        } catch (err) {
          return this.fail(err as Error);
        }
        if (decoder.done) {
          x.trailerFields = decoder.trailers();
          this.decoder = undefined;
          this.complete(x, used < buf.length);
        }
        return;
      }
      case Framing.Close:
        this.deliver(x, buf);
        return;
      case Framing.None:
        return this.drop();
    }
  }

  /** Response body bytes for the reader; paused while the reader is behind. */
  private deliver(x: Exchange, chunk: Buffer): void {
    if (!x.body!.push(Buffer.from(chunk))) this.pause();
  }

  /** The response arrived whole: the body ends; the connection carries the next request, if it can. */
  private complete(x: Exchange, extraBytes: boolean): void {
    this.x = undefined;
    x.conn = undefined;
    const requestDone = x.requestDone;
    x.finish();
    const body = x.body;
    if (body !== undefined) {
      body.arrived = true;
      // (Destroyed already when the reader destroyed the body while it was being pushed.)
      body.push(null);
    }
    if (extraBytes || !this.reusable || !requestDone || this.socket.destroyed) this.socket.destroy();
    else this.pool.release(this);
  }

  private onEnd(): void {
    const x = this.x;
    if (x !== undefined && x.phase === Phase.Body && this.framing === Framing.Close) this.complete(x, false);
    // Anything else: the server closed early; onClose decides what that means for the exchange.
    else this.socket.destroy();
  }

  private onClose(): void {
    const pool = this.pool;
    pool.closed(this);
    const x = this.x;
    this.x = undefined;
    if (x !== undefined && x.phase !== Phase.Done) {
      const err = this.error ?? new Error(this.connected ? 'connection closed before the response ended' : 'connection closed before it was established');
      x.conn = undefined;
      if (x.phase === Phase.Head && x.reused && !x.gotBytes && !x.retried && !pool.removed && x.req.bodyless && IDEMPOTENT.has(x.req.method) && (this.error === undefined || STALE.has((this.error as NodeJS.ErrnoException).code ?? ''))) {
        // The server closed the idle connection as we reused it: nothing was processed; once, on a new connection.
        x.retried = true;
        pool.connect().start(x);
      } else x.fail(err);
    }
    pool.drain();
  }
}

const enum Phase {
  Queued,
  /** Sent (or sending); no final response head yet. */
  Head,
  /** The response was handed over; its body is arriving. */
  Body,
  Done,
}

/** One request and its response; it watches the request's signal (`aborted`). */
class Exchange implements AbortWatcher {
  phase = Phase.Head;
  queued = false;
  conn: Conn | undefined;
  reused = false;
  retried = false;
  gotBytes = false;
  requestDone = false;
  body: ResponseBody | undefined;
  trailerFields: Headers | undefined;
  private sender: BodySender | undefined;
  private readonly watching: Watching;

  constructor(
    readonly pool: Pool,
    readonly req: HttpRequest,
    readonly head: string,
    private readonly resolve: (rsp: HttpResponse) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    this.watching = watchAbort(req.signal, this);
    newest.h1Exchange = this;
  }

  /**
   * The request's signal aborted: the client went away, or a layer above gave up. A body already handed over ends
   * with the layer's own error when it gave one (e.g. a deadline), so metrics count why the stream ended.
   */
  aborted(): void {
    const reason: unknown = this.req.signal.reason;
    this.fail(new Error('client went away'), this.phase === Phase.Body && reason instanceof WeftError ? reason : undefined);
  }

  /** Ends the exchange with `err`: the promise rejects, or the body errors; the connection (if any) is closed. */
  fail(err: Error, bodyErr?: Error): void {
    if (this.phase === Phase.Done) return;
    const phase = this.phase;
    const conn = this.conn;
    this.conn = undefined;
    this.finish();
    if (this.queued) this.pool.unqueue(this);
    if (conn !== undefined) conn.drop();
    const wrapped = new EndpointError(this.pool.label, err);
    if (phase === Phase.Body) this.body!.destroy(bodyErr ?? wrapped);
    else this.reject(wrapped);
  }

  /** Over: no more abort listening, no more request body. */
  finish(): void {
    this.phase = Phase.Done;
    this.watching.delete(this);
    if (this.sender !== undefined) {
      this.sender.stop();
      this.sender = undefined;
    }
  }

  /** The response head arrived; its body follows as a stream. */
  respond(head: ResponseHead): void {
    this.phase = Phase.Body;
    const body = (this.body = new ResponseBody(this));
    // The parsed head is this exchange's own, its hop-by-hop and weft-* fields already left out: nothing is copied.
    this.resolve({ status: head.status, headers: head.headers, body, trailers: () => this.trailerFields, resetCode: noReset, proxyError: proxyErrorOf(head) });
  }

  /** The response head arrived with all of its body (`bytes`): no stream unless a reader asks for one (whole-body.ts). */
  respondWhole(head: ResponseHead, bytes: WholeBytes): void {
    this.phase = Phase.Body;
    this.resolve(wholeResponse(head.status, head.headers, bytes, proxyErrorOf(head)));
  }

  /** The consumer wants more of the response body. */
  readMore(): void {
    this.conn?.resume();
  }

  /** The response body was destroyed before it arrived whole: cut the exchange (the connection cannot be reused). */
  bodyDestroyed(): void {
    if (this.phase !== Phase.Body) return;
    const conn = this.conn;
    this.conn = undefined;
    this.finish();
    conn?.drop();
  }

  /** Starts sending the request body on `socket` (called with the socket corked, right after the head). */
  sendBody(socket: net.Socket): void {
    const cl = this.req.headers['content-length'];
    this.sender = new BodySender(this, socket, typeof cl === 'string' ? Number(cl) : -1);
    this.sender.start();
  }

  /** The whole request body was written. */
  bodySent(): void {
    this.requestDone = true;
    this.sender = undefined;
  }
}

/**
 * Copies the request body to the connection: read while the socket takes it, wait for `drain` when it does not
 * (backpressure); chunk-encoded unless the request declared its length. The body is the server's stream: it is
 * read, never destroyed (that would cut the client's connection).
 */
class BodySender {
  private waitingDrain = false;
  private readonly body: Readable;

  constructor(
    private readonly x: Exchange,
    private readonly socket: net.Socket,
    /** Bytes still due by the content-length; -1: chunked. */
    private left: number,
  ) {
    this.body = x.req.body;
  }

  start(): void {
    const body = this.body;
    if (body.readableEnded) return this.ended();
    body.on('readable', this.pump);
    body.on('end', this.ended);
    body.on('error', this.failed);
    this.pump();
  }

  stop(): void {
    const body = this.body;
    body.off('readable', this.pump);
    body.off('end', this.ended);
    body.off('error', this.failed);
    this.socket.off('drain', this.drained);
  }

  private readonly pump = (): void => {
    if (this.waitingDrain) return;
    const s = this.socket;
    const body = this.body;
    let chunk: Buffer | string | null;
    while ((chunk = body.read() as Buffer | string | null) !== null) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (buf.length === 0) continue;
      if (this.left < 0) {
        // One write per chunk: a string when small, else one buffer.
        if (buf.length <= ONE_STRING_MAX) s.write(`${chunkHeader(buf.length)}${buf.toString('latin1')}${CRLF}`, 'latin1');
        else s.write(Buffer.concat([Buffer.from(chunkHeader(buf.length), 'latin1'), buf, CRLF_BYTES]));
      } else {
        if (buf.length > this.left) return this.x.fail(new Error('request body longer than its content-length'));
        this.left -= buf.length;
        s.write(buf);
      }
      if (s.writableNeedDrain) {
        this.waitingDrain = true;
        s.once('drain', this.drained);
        return;
      }
    }
  };

  private readonly drained = (): void => {
    this.waitingDrain = false;
    this.pump();
  };

  private readonly ended = (): void => {
    if (this.left > 0) return this.x.fail(new Error('request body shorter than its content-length'));
    if (this.left < 0) this.socket.write(LAST_CHUNK, 'latin1');
    this.stop();
    this.x.bodySent();
  };

  private readonly failed = (err: Error): void => {
    this.x.fail(err);
  };
}

/** The response body: pushed from the connection, pausing it when the reader falls behind. */
class ResponseBody extends Readable implements ArrivingBody {
  /** Every byte has been pushed, and the end (svc.ts `arrivedWhole`). */
  arrived = false;

  constructor(private readonly x: Exchange) {
    super();
  }

  override _read(): void {
    this.x.readMore();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.x.bodyDestroyed();
    callback(err);
  }
}

function noReset(): undefined {
  return undefined;
}

/** A peer proxy's error marker (dropped from `headers` with every weft-* field); trusted only from a meshed peer (httpRedispatch). */
function proxyErrorOf(head: ResponseHead): string | undefined {
  const marker = head.weft?.['weft-proxy-error'];
  return typeof marker === 'string' ? marker : undefined;
}

/** The request line and headers, validated: a value with CR, LF or NUL would split the request (response splitting). */
function requestHead(req: HttpRequest, extra: Headers | undefined): string {
  if (!isToken(req.method)) throw new Error(`invalid method ${JSON.stringify(req.method)}`);
  if (invalidPath(req.path)) throw new Error(`invalid request target ${JSON.stringify(req.path)}`);
  if (invalidHeaderValue(req.authority)) throw new Error('invalid character in the authority');
  let head = `${req.method} ${req.path} HTTP/1.1\r\nhost: ${req.authority}\r\n`;
  const headers = req.headers;
  for (const name in headers) {
    // `te: trailers` is an HTTP/2 (gRPC) signal; HTTP/1 servers do not need it.
    if (name === 'te' || name === 'host' || name === 'transfer-encoding' || (extra !== undefined && extra[name] !== undefined)) continue;
    head = addHeader(head, name, headers[name]!);
  }
  if (extra !== undefined) for (const name in extra) head = addHeader(head, name, extra[name]!);
  if (!req.bodyless && headers['content-length'] === undefined) head += 'transfer-encoding: chunked\r\n';
  return head + CRLF;
}

function addHeader(head: string, name: string, value: string | string[]): string {
  if (!isToken(name)) throw new Error(`invalid header name ${JSON.stringify(name)}`);
  if (typeof value === 'string') {
    if (invalidHeaderValue(value)) throw new Error(`invalid character in the value of header ${name}`);
    return `${head}${name}: ${value}\r\n`;
  }
  for (const v of value) {
    if (invalidHeaderValue(v)) throw new Error(`invalid character in the value of header ${name}`);
    head = `${head}${name}: ${v}\r\n`;
  }
  return head;
}

/** A request target must not contain whitespace or control characters, nor characters latin1 cannot carry. */
function invalidPath(path: string): boolean {
  if (path.length === 0) return true;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || c > 0xff) return true;
  }
  return false;
}

function hasToken(value: string | string[], token: string): boolean {
  const all = typeof value === 'string' ? value : value.join(',');
  if (all.length === token.length) return all.toLowerCase() === token;
  return all.toLowerCase().split(',').some((t) => t.trim() === token);
}

function lastCodingIsChunked(te: string | string[]): boolean {
  const all = typeof te === 'string' ? te : te.join(',');
  const i = all.lastIndexOf(',');
  return all.slice(i + 1).trim().toLowerCase() === 'chunked';
}

/** The body length from Content-Length: repeated values must agree (RFC 9112 §6.3); -1 when invalid. */
function contentLength(cl: string | string[]): number {
  if (typeof cl === 'string' && cl.length > 0 && cl.length <= 15) {
    let n = 0;
    for (let i = 0; i < cl.length; i++) {
      const d = cl.charCodeAt(i) - 0x30;
      if (d < 0 || d > 9) return contentLengthList(cl);
      n = n * 10 + d;
    }
    return n;
  }
  return contentLengthList(cl);
}

function contentLengthList(cl: string | string[]): number {
  const values = typeof cl === 'string' ? [cl] : cl;
  let n = -1;
  for (const v of values) {
    for (const part of v.split(',')) {
      const t = part.trim();
      if (!/^\d{1,15}$/.test(t)) return -1;
      const m = Number(t);
      if (n >= 0 && m !== n) return -1;
      n = m;
    }
  }
  return n;
}
