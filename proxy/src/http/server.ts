/**
 * Serves an HttpService on accepted sockets, HTTP/1.1 or HTTP/2 (the
 * detector decided which). Turns wire requests into `HttpRequest`s, writes
 * `HttpResponse`s back with backpressure, trailers and reset propagation, and
 * maps service failures to error responses. Malformed HTTP/1 gets Node's 400
 * (431 for oversized headers) and the connection closes; slow header senders
 * are cut by the header timeout.
 */
import http from 'node:http';
import http2 from 'node:http2';
import { addAbortSignal, PassThrough, Readable, type Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { Socket } from 'node:net';
import type { Logger } from '@weft/common/log';
import { WeftError } from '@weft/common/errors';
import type { ConnMeta, Headers, HttpRequest, HttpResponse, HttpService } from '../svc.js';
import { endToEnd, ORIG_PROTO } from './headers.js';
import { APP_UNREACHABLE, EndpointError, neverConnected, TunnelNotProxiedError } from '../errors.js';
import { writeUpgradeError } from './upgrade.js';
import { H1ServerConn, type H1ConnOptions } from './h1/server-conn.js';
import { BodyForward } from './forward.js';
import { StreamSignal } from './request-signal.js';
import { ResetBudget } from '../transport/reset-budget.js';
import { newest } from '../keep-shapes.js';

const { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR, NGHTTP2_NO_ERROR, NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;
const H2_IDLE_MS = 10 * 60_000;
/** Streams a client may have open on one connection (advertised in SETTINGS; nghttp2 refuses the rest). */
const H2_MAX_CONCURRENT_STREAMS = 100;
/** Per-connection memory nghttp2 may hold (MiB) before it refuses new streams; well inside the proxy's container limit. */
const H2_MAX_SESSION_MEMORY_MIB = 16;
/** How long an abusive connection has to read its GOAWAY before it is destroyed. */
const H2_GOAWAY_GRACE_MS = 1000;

/** `respond`'s options with every field Node reads, so its copy of them keeps its shape (h2-client.ts says why). */
const TRAILERS_ONLY: http2.ServerStreamResponseOptions = { endStream: true, waitForTrailers: false };
const WITH_TRAILERS: http2.ServerStreamResponseOptions = { endStream: false, waitForTrailers: true };
const WITHOUT_TRAILERS: http2.ServerStreamResponseOptions = { endStream: false, waitForTrailers: false };

/** Why a request was aborted: the client reset its stream (code) or went away. */
export class StreamReset extends Error {
  constructor(readonly code: number) {
    super(`stream reset by client (code ${code})`);
  }
}

export interface HttpServerOptions {
  readonly log: Logger;
  /** Max time to receive a request's headers (bounds slowloris). */
  readonly headersTimeoutMs: number;
  readonly maxHeaderSize: number;
  /**
   * HTTP/1 `Upgrade` requests (WebSocket). They are parsed like any request (weft-* headers from the client dropped);
   * the stack decides what follows: the inbound runs them through its HTTP stack (see `serveUpgrade`), the outbound
   * carries them to the endpoint as opaque TCP. `socket` is the client's connection, positioned after the request head.
   */
  readonly onUpgrade: (req: HttpRequest, socket: Duplex) => void;
  /** Serve every HTTP/1 connection with Node's HTTP server (the proxy's own HTTP/1 server off: tests, comparisons). */
  readonly nodeOnly?: boolean;
}

export class HttpServer {
  private readonly h1: http.Server;
  private readonly h2: http2.Http2Server;
  private readonly h1Conns = new WeakMap<object, H1Conn>();
  private readonly metaBySession = new WeakMap<object, ConnMeta>();
  private pendingMeta: ConnMeta | undefined;
  private pendingSocket: Socket | undefined;
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  /** HTTP/1 connections served by the proxy's own HTTP/1 server (h1/server-conn.ts) rather than Node's. */
  private readonly fastConns = new Set<H1ServerConn>();
  private readonly hooks: { drain(): void; destroy(): void }[] = [];
  private readonly fastOpts: H1ConnOptions;
  private connectLogged = false;

  constructor(
    private readonly service: HttpService,
    private readonly opts: HttpServerOptions,
  ) {
    this.h1 = http.createServer(
      {
        maxHeaderSize: opts.maxHeaderSize,
        headersTimeout: opts.headersTimeoutMs,
        requestTimeout: 0,
        keepAlive: true,
      },
      (req, res) => this.onH1Request(req, res),
    );
    this.h1.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.onH1Upgrade(req, socket, head));
    this.h1.on('connect', (req: http.IncomingMessage, socket: Duplex) => this.onH1Connect(req, socket));
    this.h2 = http2.createServer({
      maxHeaderListPairs: 512,
      maxSessionMemory: H2_MAX_SESSION_MEMORY_MIB,
      settings: { maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS },
    });
    this.h2.on('session', (s) => {
      // Every stream gets an error handler the moment it exists: a stream refused or reset before the server's
      // 'stream' handler ran must not become an unhandled 'error' event (that ended the process under rapid reset).
      // Streams it may reset (or have refused) before the proxy answered them; past that, GOAWAY ENHANCE_YOUR_CALM.
      const resets = new ResetBudget();
      // One close listener per session, not a closure per stream (the stream is `this`).
      const { log } = this.opts;
      const metaBySession = this.metaBySession;
      const onStreamClose = function (this: http2.ServerHttp2Stream): void {
        if (this.rstCode !== NGHTTP2_NO_ERROR && !this.headersSent && !resets.take() && !s.destroyed) {
          log.warn({ client: metaBySession.get(s)?.client }, 'HTTP/2 client resets too many streams: GOAWAY');
          s.goaway(NGHTTP2_ENHANCE_YOUR_CALM);
          setTimeout(() => s.destroy(), H2_GOAWAY_GRACE_MS).unref();
        }
      };
      s.on('stream', (stream: http2.ServerHttp2Stream) => {
        stream.on('error', ignore);
        stream.on('close', onStreamClose);
      });
      if (this.pendingMeta) this.metaBySession.set(s, this.pendingMeta);
      const socket = this.pendingSocket;
      // A client that half-closes can send nothing more: finish what is in flight, then close (allowHalfOpen listeners never do it for us).
      socket?.once('end', () => s.close());
      // Until its first request, a session gets the header timeout (a peer stalled mid-frame must not hold it);
      // then a long idle timeout, so pooled sessions between proxies stay up.
      s.setTimeout(this.opts.headersTimeoutMs);
      s.on('timeout', () => s.destroy());
      s.once('stream', () => s.setTimeout(H2_IDLE_MS));
      this.sessions.add(s);
      s.on('close', () => this.sessions.delete(s));
      s.on('error', (err) => this.opts.log.debug({ err }, 'http2 session error'));
    });
    this.h2.on('stream', (stream, headers) => this.onH2Stream(stream, headers));
    this.fastOpts = {
      service,
      headersTimeoutMs: opts.headersTimeoutMs,
      handOff: (socket, meta, buffered) => this.serveWithNode(socket, meta, buffered),
      errorReply: (err, meta) => this.errorReply(err, meta.direction),
      goneReason: () => new StreamReset(NGHTTP2_CANCEL),
    };
  }

  /**
   * HTTP/1: served by the proxy's own server (h1/server-conn.ts) while requests stay in its strict subset; the first
   * one outside it hands the connection to Node's server (`nodeOnly` skips the proxy's own).
   */
  serveHttp1(socket: Socket, meta: ConnMeta): void {
    if (this.opts.nodeOnly) this.serveWithNode(socket, meta, undefined);
    else new H1ServerConn(socket, meta, this.fastOpts, this.fastConns);
    socket.resume();
  }

  private serveWithNode(socket: Socket, meta: ConnMeta, buffered: Buffer | undefined): void {
    if (buffered !== undefined) socket.unshift(buffered);
    this.h1Conns.set(socket, new H1Conn(socket, meta, this.opts.headersTimeoutMs));
    this.h1.emit('connection', socket);
    socket.resume();
  }

  serveHttp2(socket: Socket, meta: ConnMeta): void {
    this.pendingMeta = meta;
    this.pendingSocket = socket;
    try {
      this.h2.emit('connection', socket);
    } finally {
      this.pendingMeta = undefined;
      this.pendingSocket = undefined;
    }
  }

  /** Asks HTTP/2 clients to stop (GOAWAY) and closes idle HTTP/1 connections; in-flight requests finish. */
  drain(): void {
    for (const s of this.sessions) s.close();
    for (const c of this.fastConns) c.drain();
    this.h1.closeIdleConnections();
    for (const h of this.hooks) h.drain();
  }

  /** Also drained and destroyed with this server (the inbound's `weft.mux` sessions). */
  alsoStop(h: { drain(): void; destroy(): void }): void {
    this.hooks.push(h);
  }

  destroy(): void {
    for (const h of this.hooks) h.destroy();
    for (const s of this.sessions) s.destroy();
    for (const c of this.fastConns) c.destroy();
    this.h1.closeAllConnections();
  }

  private onH1Request(req: http.IncomingMessage, res: http.ServerResponse): void {
    const conn = this.h1Conns.get(req.socket)!;
    conn.inflight++;
    const meta = conn.meta;
    const ac = new AbortController();
    // One listener per response: a finished response re-arms the connection's head deadline, an unfinished one
    // (the client went away) aborts the request.
    res.once('close', () => {
      conn.inflight--;
      if (res.writableFinished) conn.awaitHead();
      else ac.abort(new StreamReset(NGHTTP2_CANCEL));
    });
    const length = req.headers['content-length'];
    const bodyless = req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0');
    const request = fromH1(req, meta, ac.signal, req, bodyless, undefined);
    this.service(request).then(
      (rsp) => {
        try {
          writeH1Response(res, rsp);
        } catch (err) {
          // e.g. a header value HTTP/1 cannot carry: fail this response only.
          this.opts.log.debug({ err }, 'cannot write HTTP/1 response');
          rsp.body.destroy();
          this.writeH1Error(res, err, meta.direction);
        }
      },
      (err: unknown) => this.writeH1Error(res, err, meta.direction),
    );
  }

  private writeH1Error(res: http.ServerResponse, err: unknown, direction: ConnMeta['direction']): void {
    if (res.destroyed || res.writableEnded) return;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const reply = this.errorReply(err, direction);
    res.writeHead(reply.status, { ...reply.headers, 'content-length': Buffer.byteLength(reply.body) });
    res.end(reply.body);
  }

  /** The HTTP/1 answer to a failed request: the error's status, its message, and `weft-proxy-error`. */
  private errorReply(err: unknown, direction: ConnMeta['direction']): { status: number; headers: Headers; body: string } {
    if (!(err instanceof WeftError)) this.opts.log.warn({ err }, 'unexpected proxy error');
    return {
      status: err instanceof WeftError ? err.httpStatus : 502,
      headers: { 'content-type': 'text/plain; charset=utf-8', 'weft-proxy-error': proxyErrorMarker(err, direction) },
      body: `${(err as Error).message}\n`,
    };
  }

  private onH1Upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const conn = this.h1Conns.get(req.socket)!;
    conn.leftHttp();
    const meta = conn.meta;
    // Bytes the client sent after its head (rare: WebSocket clients wait for 101) follow the upgrade.
    if (head.length > 0) socket.unshift(head);
    socket.on('error', () => undefined);
    const ac = new AbortController();
    socket.once('close', () => ac.abort(new StreamReset(NGHTTP2_CANCEL)));
    const request = fromH1(req, meta, ac.signal, Readable.from([]), true, String(req.headers.upgrade));
    this.opts.onUpgrade(request, socket);
  }

  /** A CONNECT is answered with a 501 that names the way through (Node's server would close it without a word). */
  private onH1Connect(req: http.IncomingMessage, socket: Duplex): void {
    this.h1Conns.get(req.socket)?.leftHttp();
    socket.on('error', ignore);
    const err = new TunnelNotProxiedError(req.url ?? '');
    if (!this.connectLogged) {
      this.connectLogged = true;
      this.opts.log.warn({ client: this.h1Conns.get(req.socket)?.meta.client, target: req.url }, `${err.message} (logged once)`);
    }
    writeUpgradeError(socket, err);
  }

  private onH2Stream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    const meta = this.metaBySession.get(stream.session!);
    if (!meta) {
      stream.close(NGHTTP2_INTERNAL_ERROR);
      return;
    }
    // (Its 'error' listener is the session's, added as the stream appeared: resets surface through 'close' and the abort signal.)
    const grpc = String(headers['content-type'] ?? '').startsWith('application/grpc');
    const x = new ServerStreamExchange(stream, grpc, meta.direction, this.opts.log);
    const request: HttpRequest = {
      method: String(headers[':method'] ?? 'GET'),
      scheme: String(headers[':scheme'] ?? 'http'),
      authority: String(headers[':authority'] ?? headers.host ?? ''),
      path: String(headers[':path'] ?? '/'),
      headers: endToEndKeepingMesh(headers, meta),
      body: stream,
      bodyless: stream.endAfterHeaders,
      version: meta.tls.identity !== undefined && headers[ORIG_PROTO] === 'HTTP/1.1' ? 'HTTP/1.1' : 'HTTP/2',
      signal: x.signal,
      conn: meta,
      startedAt: performance.now(),
    };
    newest.h2Request = request;
    this.service(request).then(x.onResponse, x.onError);
  }
}

/**
 * One request stream on the HTTP/2 server: its abort signal (the client reset the stream or went away), what answers
 * it, and the response body copied onto it (without `pipe`: http/forward.ts). The listeners are its methods, bound
 * once per stream, not closures made per stream: those are called once, late, and lose their optimised code at
 * every full GC (docs/proxy.md, "Garbage and recompilation on the HTTP/2 path").
 */
class ServerStreamExchange {
  readonly signal = new StreamSignal();
  readonly onResponse: (rsp: HttpResponse) => void;
  readonly onError: (err: unknown) => void;
  /** The response whose body is being copied onto the stream. */
  private rsp: HttpResponse | undefined;
  /** The response is gRPC (its own content-type, not the request's). */
  private grpcResponse = false;
  /** A gRPC response the proxy itself ends (a deadline, an idle stream) gets that status in its trailers. */
  private failure: WeftError | undefined;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    private readonly grpc: boolean,
    private readonly direction: ConnMeta['direction'],
    private readonly log: Logger,
  ) {
    // `on`, not `once`, for the events a stream emits once: `once` wraps every listener in a closure of its own.
    stream.on('close', this.closed.bind(this));
    this.onResponse = this.respond.bind(this);
    this.onError = this.fail.bind(this);
    newest.h2ServerExchange = this;
  }

  private closed(): void {
    const stream = this.stream;
    if (stream.rstCode !== NGHTTP2_NO_ERROR || !stream.writableFinished) this.signal.abort(new StreamReset(stream.rstCode || NGHTTP2_CANCEL));
    const rsp = this.rsp;
    if (rsp !== undefined && !rsp.body.readableEnded) rsp.body.destroy();
  }

  private respond(rsp: HttpResponse): void {
    try {
      this.write(rsp);
    } catch (err) {
      this.log.debug({ err }, 'cannot write HTTP/2 response');
      rsp.body.destroy();
      if (!this.stream.closed) this.stream.close(NGHTTP2_INTERNAL_ERROR);
    }
  }

  private fail(err: unknown): void {
    writeH2Error(this.log, this.stream, err, this.grpc, this.direction);
  }

  private write(rsp: HttpResponse): void {
    const stream = this.stream;
    if (stream.destroyed || stream.closed) {
      rsp.body.destroy();
      return;
    }
    const ct = rsp.headers['content-type'];
    const trailersOnly = rsp.headers['grpc-status'] !== undefined;
    const wantTrailers = !trailersOnly && ((typeof ct === 'string' && ct.startsWith('application/grpc')) || rsp.headers.trailer !== undefined);
    const headers: http2.OutgoingHttpHeaders = { ...rsp.headers, ':status': rsp.status };
    try {
      // gRPC trailers-only (every error status, empty streams): the status rides the one HEADERS frame, which must
      // carry END_STREAM — gRPC clients read grpc-status from headers only then (else: "ended without gRPC status").
      stream.respond(headers, trailersOnly ? TRAILERS_ONLY : wantTrailers ? WITH_TRAILERS : WITHOUT_TRAILERS);
    } catch {
      stream.close(NGHTTP2_INTERNAL_ERROR);
      rsp.body.destroy();
      return;
    }
    if (trailersOnly) {
      // Nothing may follow; let the (empty) upstream body end so metrics and tap see the response finish.
      rsp.body.resume();
      return;
    }
    this.grpcResponse = wantTrailers && typeof ct === 'string' && ct.startsWith('application/grpc');
    if (wantTrailers) stream.on('wantTrailers', this.sendTrailers.bind(this));
    new BodyForward(rsp.body, stream, false);
    rsp.body.on('end', this.bodyEnded.bind(this));
    rsp.body.on('error', this.bodyFailed.bind(this));
    this.rsp = rsp;
  }

  private sendTrailers(): void {
    const stream = this.stream;
    const failure = this.failure;
    const trailers: http2.OutgoingHttpHeaders | undefined = failure
      ? { 'grpc-status': String(failure.grpcStatus), 'grpc-message': encodeURIComponent(failure.message) }
      : this.rsp!.trailers();
    try {
      if (trailers && Object.keys(trailers).length > 0) stream.sendTrailers(trailers);
      else stream.close();
    } catch {
      stream.close(NGHTTP2_INTERNAL_ERROR);
    }
  }

  private bodyEnded(): void {
    const rsp = this.rsp!;
    // Node ends an HTTP/2 stream the upstream reset with CANCEL as if it were complete: pass the reset on instead.
    if (rsp.cutOff?.()) resetStream(this.stream, rsp.resetCode() ?? NGHTTP2_CANCEL);
    else this.stream.end();
  }

  private bodyFailed(err: Error): void {
    const stream = this.stream;
    if (stream.closed) return;
    if (err instanceof WeftError && err.code === 'DEADLINE_EXCEEDED') {
      if (this.grpcResponse) {
        this.failure = err;
        stream.end();
      } else resetStream(stream, NGHTTP2_CANCEL);
      return;
    }
    // Propagate the upstream's RST_STREAM code (e.g. CANCEL) to our client.
    resetStream(stream, this.rsp!.resetCode() ?? NGHTTP2_INTERNAL_ERROR);
  }
}

function writeH2Error(log: Logger, stream: http2.ServerHttp2Stream, err: unknown, grpc: boolean, direction: ConnMeta['direction']): void {
  if (!(err instanceof WeftError)) log.warn({ err }, 'unexpected proxy error');
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) {
    stream.close(NGHTTP2_INTERNAL_ERROR);
    return;
  }
  const status = err instanceof WeftError ? err.httpStatus : 502;
  const message = (err as Error).message;
  // gRPC clients read errors from grpc-status, not the HTTP status (a trailers-only response).
  if (grpc) {
    const code = err instanceof WeftError ? err.grpcStatus : 14;
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': encodeURIComponent(message), 'weft-proxy-error': proxyErrorMarker(err, direction) }, { endStream: true });
    return;
  }
  stream.respond({ ':status': status, 'content-type': 'text/plain; charset=utf-8', 'weft-proxy-error': proxyErrorMarker(err, direction) });
  stream.end(`${message}\n`);
}

function ignore(): void {}

/**
 * An HTTP/1 connection the server was handed. Node enforces `headersTimeout` only for servers it listens with
 * itself (its checking timer starts on 'listening'); ours are fed sockets. So each connection has one deadline
 * timer for its next request head, armed at the hand-over and re-armed (not re-created) when a response finished
 * and no other request is in flight (pipelining): slow heads and idle keep-alive connections are closed after
 * `headersTimeoutMs`; a deadline that passes while a request is being served does nothing.
 */
class H1Conn {
  inflight = 0;
  private readonly deadline: NodeJS.Timeout;

  constructor(
    private readonly socket: Socket,
    readonly meta: ConnMeta,
    timeoutMs: number,
  ) {
    this.deadline = setTimeout(() => {
      if (this.inflight === 0) socket.destroy();
    }, timeoutMs).unref();
    socket.once('close', () => clearTimeout(this.deadline));
  }

  awaitHead(): void {
    if (this.inflight === 0 && !this.socket.destroyed) this.deadline.refresh();
  }

  /** An upgrade: the socket is no longer HTTP/1's, so no head deadline. */
  leftHttp(): void {
    clearTimeout(this.deadline);
  }
}

/** The version-independent request for an HTTP/1 request head (an upgrade carries no body of its own). */
function fromH1(req: http.IncomingMessage, conn: ConnMeta, signal: AbortSignal, body: Readable, bodyless: boolean, upgrade: string | undefined): HttpRequest {
  const request: HttpRequest = {
    method: req.method ?? 'GET',
    scheme: 'http',
    authority: req.headers.host ?? '',
    path: req.url ?? '/',
    headers: endToEnd(req.headers),
    body,
    bodyless,
    version: 'HTTP/1.1',
    signal,
    conn,
    startedAt: performance.now(),
  };
  return upgrade === undefined ? request : { ...request, upgrade };
}

/**
 * The `weft-proxy-error` value: `app-unreachable` when the inbound proxy could not connect to the application at
 * all (the request was not delivered; a caller's proxy may send it elsewhere), else `1`. Decided on the error path
 * only, so a request that succeeds pays nothing. An application cannot forge it: weft-* response headers from the
 * application are dropped (endToEnd in the clients).
 */
function proxyErrorMarker(err: unknown, direction: ConnMeta['direction']): string {
  return direction === 'inbound' && err instanceof EndpointError && neverConnected(err) ? APP_UNREACHABLE : '1';
}

/** Inbound HTTP/2 from a peer proxy keeps weft's own headers (orig-proto, dst-port); from anyone else they are dropped. */
function endToEndKeepingMesh(headers: http2.IncomingHttpHeaders, meta: ConnMeta): Headers {
  const out = endToEnd(headers);
  if (meta.tls.identity !== undefined && meta.direction === 'inbound') {
    for (const name in headers) if (name.startsWith('weft-')) out[name] = headers[name] as string;
  }
  return out;
}

function writeH1Response(res: http.ServerResponse, rsp: HttpResponse): void {
  if (res.destroyed) {
    rsp.body.destroy();
    return;
  }
  let headers = rsp.headers;
  // Trailers need a chunked body: not for an HTTP/1.0 client or a sized body (Node refuses the `Trailer` header then).
  if (headers.trailer !== undefined && (headers['content-length'] !== undefined || res.req.httpVersion === '1.0')) {
    headers = { ...headers };
    delete headers.trailer;
  }
  res.writeHead(rsp.status, headers as http.OutgoingHttpHeaders);
  rsp.body.pipe(res, { end: false });
  rsp.body.once('end', () => {
    // Node ends an HTTP/2 stream the upstream reset with CANCEL as if it were complete: close, as for any broken body.
    if (rsp.cutOff?.()) return void res.destroy();
    const trailers = rsp.trailers();
    if (trailers && res.chunkedEncoding) res.addTrailers(trailers as http.OutgoingHttpHeaders);
    res.end();
  });
  // A broken upstream response cannot be signalled in HTTP/1 except by closing the connection mid-body.
  rsp.body.on('error', () => res.destroy());
  res.once('close', () => {
    if (!rsp.body.readableEnded) rsp.body.destroy();
  });
}

/**
 * Resets a server stream so that the client sees RST_STREAM. Once the client's request side has ended, Node's
 * close(code) sends END_STREAM first and the reset is dropped, so a cut-off body would look complete; destroy()
 * does reset, with CANCEL for Node's AbortError and INTERNAL_ERROR for any other error (the exact code is lost).
 */
function resetStream(stream: http2.ServerHttp2Stream, code: number): void {
  if (stream.closed || stream.destroyed) return;
  // remoteClose: the client's END_STREAM arrived (whether or not its body was read yet).
  if (stream.state.remoteClose !== 1) stream.close(code);
  else stream.destroy(code === NGHTTP2_CANCEL ? abortError() : new Error(`stream reset upstream (code ${code})`));
}

/** Node's AbortError, which it does not export: the error `addAbortSignal` destroys a stream with. */
function abortError(): Error {
  const probe = new PassThrough();
  probe.on('error', () => undefined);
  addAbortSignal(AbortSignal.abort(), probe);
  return probe.errored ?? new Error('aborted');
}
