/**
 * One HTTP/1.1 client connection served on the socket itself, without Node's HTTP server: the proxy's hot path.
 *
 * Requests are read with the strict parser of request-head.ts and served one at a time, in order (a pipelined
 * request waits in the buffer until the response before it has been written, so responses keep their order).
 * Bodies are streamed with backpressure: a request body is a Readable fed from the socket (the socket pauses while
 * the reader does), a response body is written as it comes (content-length as the upstream framed it, else chunked,
 * with trailers), the head and the first chunk in one write. A head outside the strict subset hands the connection,
 * with the bytes already read, to Node's HTTP server (`handOff`), which then serves it to the end exactly as before:
 * malformed input still gets Node's 400/431, and `Expect`, `Upgrade`, HTTP/1.0 and the rare forms keep their tested
 * behaviour.
 *
 * One AbortSignal per connection: HTTP/1 requests on a connection are served one at a time, and the client
 * cancels a request only by closing the connection, which ends every request on it.
 */
import { STATUS_CODES } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import net, { type Socket } from 'node:net';
import { arrivedWhole, type ConnMeta, type Headers, type HttpRequest, type HttpResponse, type HttpService } from '../../svc.js';
import { MAX_FAST_HEAD, parseRequestHead, UNSUPPORTED, type RequestHead } from './request-head.js';
import { ChunkedDecoder, chunkHeader, CRLF, invalidHeaderValue, isToken } from './wire.js';
import { wholeBody } from '../whole-body.js';
import { newest } from '../../keep-shapes.js';
import { holdForTurn, release } from '../../transport/turn-writes.js';

/** What the HTTP server tells its connections. */
export interface H1ConnOptions {
  readonly service: HttpService;
  readonly headersTimeoutMs: number;
  /** Gives the connection to Node's HTTP server; `buffered`: bytes read but not served (the next request's start). */
  readonly handOff: (socket: Socket, meta: ConnMeta, buffered: Buffer | undefined) => void;
  /** The response for a failed request (the server's one mapping of errors to statuses). */
  readonly errorReply: (err: unknown, meta: ConnMeta) => { readonly status: number; readonly headers: Headers; readonly body: string };
  /** Why the connection was aborted: the client went away (the reason every in-flight request sees). */
  readonly goneReason: () => Error;
}

/** The body of every request that has none: already ended. Shared, so nothing may listen on it. */
const NO_BODY: Readable = Readable.from([]);
NO_BODY.resume();

/** A response's first bytes up to this size are written with its head as one latin1 string; larger ones as one buffer. */
const ONE_STRING_MAX = 16 * 1024;
const CRLF_BYTES = Buffer.from(CRLF, 'latin1');

/** Buffered bytes of pipelined requests past which the socket stops reading until the current one is answered. */
const MAX_BUFFERED = 4 * MAX_FAST_HEAD;

const enum Phase {
  /** Waiting for (the rest of) a request head; no request in flight. */
  Head,
  /** Reading the current request's body. */
  Body,
  /** The request has been read; its response is being written. */
  Serving,
}

export class H1ServerConn {
  private phase = Phase.Head;
  /** Read but not yet served: a partial head, or the requests pipelined behind the current one. */
  private buf: Buffer | undefined;
  private inflight = false;
  private closeAfter = false;
  private method = '';
  private body: Readable | undefined;
  private remaining = 0;
  private decoder: ChunkedDecoder | undefined;
  private rsp: HttpResponse | undefined;
  private chunked = false;
  private readonly ac = new AbortController();
  private readonly deadline: NodeJS.Timeout;
  /** A socket of its own, whose writes are held to the end of a saturated turn (a multiplexed stream batches its own). */
  private readonly holdable: boolean;

  constructor(
    private readonly socket: Socket,
    private readonly meta: ConnMeta,
    private readonly opts: H1ConnOptions,
    private readonly live: Set<H1ServerConn>,
  ) {
    live.add(this);
    this.holdable = socket instanceof net.Socket;
    // One deadline for the next request head, re-armed after each response (see HttpServer's H1Conn).
    this.deadline = setTimeout(this.onDeadline, opts.headersTimeoutMs).unref();
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('drain', this.onDrain);
    socket.on('error', ignore);
    newest.h1ServerConn = this;
  }

  /** Closes the connection now if it is idle, else after the response in flight. */
  drain(): void {
    if (this.phase === Phase.Head && !this.inflight) this.close();
    else this.closeAfter = true;
  }

  destroy(): void {
    this.close();
  }

  /** Destroys the socket, after writing what it holds for the turn (a response just written goes out first). */
  private close(): void {
    release(this.socket);
    this.socket.destroy();
  }

  private readonly destroyAfter = (): void => {
    this.socket.destroy();
  };

  private readonly onDeadline = (): void => {
    if (this.phase === Phase.Head && !this.inflight) this.close();
  };

  private readonly onData = (chunk: Buffer): void => {
    if (this.phase === Phase.Body) {
      this.feedBody(chunk);
      return;
    }
    this.buf = this.buf === undefined ? chunk : Buffer.concat([this.buf, chunk]);
    if (this.phase === Phase.Head) this.nextHead();
    else if (this.buf.length > MAX_BUFFERED) this.socket.pause();
  };

  /** The client half-closed: as with Node's HTTP server, it is gone (a request in flight is aborted), and so is the connection. */
  private readonly onEnd = (): void => {
    if (this.phase === Phase.Head && !this.inflight && this.buf === undefined) this.socket.end();
    else this.close();
  };

  private readonly onClose = (): void => {
    clearTimeout(this.deadline);
    this.live.delete(this);
    if (this.inflight || this.phase !== Phase.Head) {
      this.ac.abort(this.opts.goneReason());
      if (this.body && !this.body.readableEnded) this.body.destroy();
      const rsp = this.rsp;
      if (rsp && !rsp.body.readableEnded) rsp.body.destroy();
    }
  };

  /** Serves the head at the start of the buffer, if it is complete. */
  private nextHead(): void {
    const buf = this.buf;
    if (buf === undefined) return;
    const head = parseRequestHead(buf);
    if (head === undefined) return;
    if (head === UNSUPPORTED) {
      this.handOff();
      return;
    }
    this.buf = undefined;
    this.start(head);
    if (buf.length > head.size) {
      const rest = buf.subarray(head.size);
      if (this.phase === Phase.Body) this.feedBody(rest);
      else this.buf = rest;
    }
  }

  /** Node's HTTP server takes the connection from here on, starting with the unserved bytes. */
  private handOff(): void {
    const { socket } = this;
    clearTimeout(this.deadline);
    this.live.delete(this);
    socket.off('data', this.onData);
    socket.off('end', this.onEnd);
    socket.off('close', this.onClose);
    socket.off('drain', this.onDrain);
    socket.pause();
    release(socket);
    const buffered = this.buf;
    this.buf = undefined;
    this.opts.handOff(socket, this.meta, buffered);
  }

  private start(head: RequestHead): void {
    this.inflight = true;
    this.method = head.method;
    if (head.close) this.closeAfter = true;
    const framing = head.framing;
    let body = NO_BODY;
    if (framing.kind !== 'none') {
      body = this.body = new Readable({ read: this.onBodyRead });
      if (framing.kind === 'length') this.remaining = framing.length;
      else this.decoder = new ChunkedDecoder(this.pushBody);
      this.phase = Phase.Body;
    } else this.phase = Phase.Serving;
    const request: HttpRequest = {
      method: head.method,
      scheme: 'http',
      authority: head.host,
      path: head.target,
      headers: head.headers,
      body,
      bodyless: framing.kind === 'none',
      version: 'HTTP/1.1',
      signal: this.ac.signal,
      conn: this.meta,
      startedAt: performance.now(),
    };
    newest.h1Request = request;
    let pending: Promise<HttpResponse>;
    try {
      pending = this.opts.service(request);
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(this.onResponse, this.onError);
  }

  private readonly onBodyRead = (): void => {
    if (this.phase === Phase.Body) this.socket.resume();
  };

  /** Body bytes to the reader; once nobody reads (the body was destroyed), they are dropped. */
  private readonly pushBody = (chunk: Buffer): void => {
    const body = this.body!;
    if (!body.destroyed && !body.push(chunk)) this.socket.pause();
  };

  private feedBody(chunk: Buffer): void {
    let used: number;
    if (this.decoder === undefined) {
      used = Math.min(this.remaining, chunk.length);
      this.pushBody(used === chunk.length ? chunk : chunk.subarray(0, used));
      this.remaining -= used;
      if (this.remaining === 0) this.endBody();
    } else {
      try {
        used = this.decoder.feed(chunk);
      } catch (err) {
        this.badBody(err as Error);
        return;
      }
      if (this.decoder.done) this.endBody();
    }
    if (used < chunk.length) {
      this.buf = chunk.subarray(used);
      if (this.buf.length > MAX_BUFFERED) this.socket.pause();
    }
  }

  private endBody(): void {
    this.body!.push(null);
    this.body = undefined;
    this.decoder = undefined;
    this.phase = Phase.Serving;
    if (!this.inflight) this.next();
  }

  /** A malformed chunked body: the request fails upstream, the client gets 400 if nothing was answered yet, and the connection closes. */
  private badBody(err: Error): void {
    this.closeAfter = true;
    this.socket.pause();
    this.socket.off('data', this.onData);
    this.phase = Phase.Serving;
    // The service sees the error if it reads the body; if it does not (yet), the error must not go unhandled.
    this.body?.on('error', ignore).destroy(err);
    this.body = undefined;
    this.decoder = undefined;
    if (this.rsp === undefined && this.inflight) {
      // The service may still answer (it will see the body's error); the 400 goes first and the connection ends.
      this.inflight = false;
      const reply = `bad request body: ${err.message}\n`;
      this.socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(reply)}\r\nconnection: close\r\n\r\n${reply}`, this.destroyAfter);
    } else this.close();
  }

  private readonly onResponse = (rsp: HttpResponse): void => {
    const socket = this.socket;
    const whole = wholeBody(rsp);
    if (socket.destroyed || !this.inflight) {
      if (whole === undefined) {
        rsp.body.on('error', ignore);
        rsp.body.destroy();
      }
      return;
    }
    const noBody = this.method === 'HEAD' || rsp.status === 204 || rsp.status === 304 || rsp.status < 200;
    let head: string;
    try {
      head = this.responseHead(rsp, noBody);
    } catch (err) {
      // e.g. a header value HTTP/1 cannot carry: fail this response only.
      if (whole === undefined) {
        rsp.body.on('error', ignore);
        rsp.body.destroy();
      }
      this.onError(err);
      return;
    }
    if (this.holdable) holdForTurn(socket);
    if (whole !== undefined && !this.chunked) {
      // The whole body came with the upstream's head and no layer made a stream of it: one write, and it is out.
      if (noBody || whole.length === 0) socket.write(head, 'latin1');
      else if (typeof whole === 'string') socket.write(head + whole, 'latin1');
      else socket.write(Buffer.concat([Buffer.from(head, 'latin1'), whole]));
      this.responded();
      return;
    }
    const body = rsp.body;
    if (noBody) {
      socket.write(head, 'latin1');
      body.on('error', ignore);
      body.resume();
      this.responded();
      return;
    }
    this.rsp = rsp;
    // What the upstream already sent (a small response is often all here) goes out with the head in one write.
    const first = body.readableLength > 0 && !body.readableFlowing ? (body.read() as Buffer | string | null) : null;
    const merged = first !== null && first.length > 0;
    if (merged && !this.chunked && arrivedWhole(body) && body.readableLength === 0) {
      // That was the whole body (a small response usually comes with its head): one write, and the response is out.
      // The body still ends (on the next tick) for the layers that count it.
      body.on('error', ignore);
      this.writeWithHead(head, typeof first === 'string' ? Buffer.from(first) : first);
      this.responded();
      return;
    }
    if (merged) this.writeWithHead(head, typeof first === 'string' ? Buffer.from(first) : first);
    else {
      socket.cork();
      socket.write(head, 'latin1');
    }
    body.on('data', this.onRspData);
    body.once('end', this.onRspEnd);
    body.on('error', this.onRspError);
    // Otherwise the body's first chunks flow on the next tick: they go out with the head in one write.
    if (!merged) process.nextTick(uncork, socket);
  };

  /** The response head and the body's first bytes as one write (one string when small: no writev, no corking). */
  private writeWithHead(head: string, chunk: Buffer): void {
    const socket = this.socket;
    const body = this.chunked ? framedChunk(chunk) : chunk.length <= ONE_STRING_MAX ? chunk.toString('latin1') : chunk;
    const ok = typeof body === 'string' ? socket.write(head + body, 'latin1') : socket.write(Buffer.concat([Buffer.from(head, 'latin1'), body]));
    if (!ok) this.rsp?.body.pause();
  }

  private responseHead(rsp: HttpResponse, noBody: boolean): string {
    const headers = rsp.headers;
    const sized = headers['content-length'] !== undefined;
    this.chunked = !sized && !noBody;
    let head = `HTTP/1.1 ${rsp.status} ${STATUS_CODES[rsp.status] ?? 'Unknown'}\r\n`;
    for (const name in headers) {
      // Trailers need a chunked body: a sized one cannot carry them.
      if (name === 'trailer' && !this.chunked) continue;
      head += fieldLines(name, headers[name]!);
    }
    if (this.chunked) head += 'transfer-encoding: chunked\r\n';
    if (this.closeAfter) head += 'connection: close\r\n';
    return `${head}\r\n`;
  }

  private readonly onRspData = (chunk: Buffer): void => {
    const socket = this.socket;
    let ok: boolean;
    if (this.chunked) {
      if (chunk.length === 0) return;
      const framed = framedChunk(chunk);
      ok = typeof framed === 'string' ? socket.write(framed, 'latin1') : socket.write(framed);
    } else ok = socket.write(chunk);
    if (!ok) this.rsp?.body.pause();
  };

  private readonly onDrain = (): void => {
    this.rsp?.body.resume();
  };

  private readonly onRspEnd = (): void => {
    const rsp = this.rsp!;
    this.detach(rsp);
    // An upstream HTTP/2 stream reset after the response looked complete: close, as for any broken body.
    if (rsp.cutOff?.()) {
      this.close();
      return;
    }
    if (this.chunked) {
      const trailers = rsp.trailers();
      let last = '0\r\n';
      if (trailers) {
        try {
          for (const name in trailers) last += fieldLines(name, trailers[name]!);
        } catch {
          // A trailer HTTP/1 cannot carry is dropped with the rest; the body itself is complete.
          last = '0\r\n';
        }
      }
      this.socket.write(`${last}\r\n`, 'latin1');
    }
    this.responded();
  };

  private readonly onRspError = (): void => {
    // A broken upstream response cannot be signalled in HTTP/1 except by closing the connection mid-body.
    this.detach(this.rsp!);
    this.close();
  };

  private detach(rsp: HttpResponse): void {
    rsp.body.off('data', this.onRspData);
    rsp.body.off('end', this.onRspEnd);
    rsp.body.off('error', this.onRspError);
    rsp.body.on('error', ignore);
    this.rsp = undefined;
  }

  private readonly onError = (err: unknown): void => {
    const socket = this.socket;
    if (socket.destroyed || !this.inflight) return;
    const reply = this.opts.errorReply(err, this.meta);
    if (this.holdable) holdForTurn(socket);
    let head = `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? 'Unknown'}\r\n`;
    for (const name in reply.headers) head += fieldLines(name, reply.headers[name]!);
    head += `content-length: ${Buffer.byteLength(reply.body)}\r\n`;
    if (this.closeAfter) head += 'connection: close\r\n';
    socket.write(`${head}\r\n${this.method === 'HEAD' ? '' : reply.body}`, 'latin1');
    this.responded();
  };

  /** The response has been written: on to the next request, or close. */
  private responded(): void {
    this.inflight = false;
    if (this.phase === Phase.Serving) this.next();
    else if (this.phase === Phase.Body && this.body !== undefined) {
      // Answered before the request body was read to its end (e.g. refused): the rest is read and dropped, then
      // the connection goes on (as Node's server does).
      this.body.on('error', ignore);
      this.body.resume();
      this.socket.resume();
    }
  }

  private next(): void {
    if (this.closeAfter) {
      // Close both ways once the response is out (the listener allows half-open connections; the client may not end its side).
      this.socket.end(this.destroyAfter);
      return;
    }
    this.phase = Phase.Head;
    this.deadline.refresh();
    if (this.socket.isPaused()) this.socket.resume();
    if (this.buf !== undefined) this.nextHead();
  }
}

function fieldLines(name: string, value: string | string[]): string {
  if (!isToken(name)) throw new Error(`invalid header name: ${JSON.stringify(name)}`);
  if (typeof value === 'string') {
    if (invalidHeaderValue(value)) throw new Error(`invalid value for header ${name}`);
    return `${name}: ${value}\r\n`;
  }
  let lines = '';
  for (const v of value) {
    if (invalidHeaderValue(v)) throw new Error(`invalid value for header ${name}`);
    lines += `${name}: ${v}\r\n`;
  }
  return lines;
}

/** One chunk of a chunked body as one write: a string when small, else one buffer. */
function framedChunk(chunk: Buffer): string | Buffer {
  if (chunk.length <= ONE_STRING_MAX) return `${chunkHeader(chunk.length)}${chunk.toString('latin1')}\r\n`;
  return Buffer.concat([Buffer.from(chunkHeader(chunk.length), 'latin1'), chunk, CRLF_BYTES]);
}

function uncork(socket: Socket): void {
  socket.uncork();
}

function ignore(): void {}

