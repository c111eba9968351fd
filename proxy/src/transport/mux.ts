/**
 * `weft.mux`: many byte streams on one mTLS connection between two proxies.
 * A stream carries what a `weft.tcp` connection carries (the 3-byte port
 * header, then HTTP/1 bytes), so both sides run their HTTP/1 code on streams
 * as on sockets; what the session saves is the per-request TLS record, read
 * and write: the frames of one event-loop turn leave in one write.
 *
 * Frames: type (u8), stream id (u32 BE), payload length (u32 BE), payload.
 * - DATA: bytes of the stream, at most MAX_FRAME, within the receiver's window.
 * - END: the sender's side of the stream is done (half-close).
 * - RESET: the stream is over; payload u32: 0 cancelled, 1 refused (never
 *   handed to anyone: the client may send the request elsewhere).
 * - WINDOW: payload u32: the sender may send that many more bytes.
 * - GOAWAY (stream 0): the server takes no new streams; payload u32, the
 *   last stream it took. Its streams finish, then the connection ends.
 * - PING (stream 0, client): 8 bytes the server sends back in a PONG
 *   (stream 0). A client session with streams that has heard nothing for
 *   PEER_PING_MS (WEFT_PROXY_PEER_PING_INTERVAL) sends one; hearing nothing
 *   for as long again, it ends (the peer's node went away without closing
 *   the connection).
 * Only the client opens streams, with increasing ids: the first frame of an
 * id above the last one opens it. Each direction of a stream starts with
 * STREAM_WINDOW bytes of credit; the receiver returns credit as its reader
 * takes the bytes, so a slow reader holds back its own stream only; a
 * receiver buffers at most MAX_STREAMS × STREAM_WINDOW per session (6.25
 * MiB: less than the 16 MiB an HTTP/2 connection to the same port may make
 * the proxy hold, http/server.ts). A client that resets streams before their
 * answers faster than a ResetBudget allows (rapid reset: each may have cost
 * the application a request) ends its session. A peer
 * that stops reading the connection itself holds back every writer (their
 * writes complete when the connection drains). A frame that breaks these
 * rules ends the session (every stream errors).
 *
 * The client offers `weft.mux` and `weft.tcp`; an inbound of an earlier
 * release answers `weft.tcp`. Its streams' bytes wait until the handshake
 * says which, so nothing was sent yet: each stream then runs over a weft.tcp
 * connection of its own (the first over this one), and the pool connects to
 * that peer with weft.tcp for a while (LEGACY_MS).
 */
import { Duplex } from 'node:stream';
import type { OnReadOpts, Socket } from 'node:net';
import { ALPN_TCP } from '@weft/api/names';
import { RefusedStreamError } from '../errors.js';
import type { MeshAlpn } from './tls.js';
import { ResetBudget } from './reset-budget.js';
import { PEER_PING_MS } from './connections.js';
import { newest } from '../keep-shapes.js';

export const ALPN_MUX = 'weft.mux';

const enum Type {
  Data = 0,
  End = 1,
  Reset = 2,
  Window = 3,
  GoAway = 4,
  Ping = 5,
  Pong = 6,
}
const RESET_CANCEL = 0;
const RESET_REFUSED = 1;

const HEADER = 9;
/** The largest DATA payload; a bigger write leaves in several frames. */
export const MAX_FRAME = 64 * 1024;
/** Credit of each direction of a stream, in bytes (HTTP/2's default window). */
export const STREAM_WINDOW = 64 * 1024;
/** Streams a session carries at once; the server refuses more (as the inbound's HTTP/2 server does). */
export const MAX_STREAMS = 100;
/** Credit is returned in steps of at least this much (small exchanges need no WINDOW frames). */
const CREDIT_STEP = STREAM_WINDOW / 4;
/** A client session without streams for this long ends (as the HTTP/1 client's idle connections do). */
export const SESSION_IDLE_MS = 30_000;
/** A peer that answered weft.tcp (an earlier release) is reached with weft.tcp for this long, then asked again. */
export const LEGACY_MS = 60_000;

/** A frame against the rules: the session ends with it. */
export class MuxProtocolError extends Error {
  readonly code = 'ERR_WEFT_MUX_PROTOCOL';
}

/** The peer reset the stream (cancelled it); reads like a connection reset to the HTTP/1 code. */
function resetError(): Error {
  return Object.assign(new Error('weft.mux stream reset by the peer'), { code: 'ECONNRESET' });
}

export interface MuxSessionOptions {
  /** Server side: a stream the client opened. */
  readonly onStream?: (stream: MuxStream) => void;
  /** The session ended with an error (a protocol error, or the connection's). */
  readonly onError?: (err: Error) => void;
  /**
   * Client: the peer answered weft.tcp (an earlier release). `connect` opens a weft.tcp connection for each stream
   * after the first (which takes this one); `then` is told once they have.
   */
  readonly fallback?: { readonly connect: () => Socket; readonly then: () => void };
  /** Client: with streams and nothing heard for this long, a PING; for twice this long, the end. Default: PEER_PING_MS. */
  readonly pingMs?: number;
}

export class MuxSession {
  private readonly streams = new Map<number, MuxStream>();
  /** Client: the last id given out; server: the last id the client opened. */
  private lastId = 0;
  private out: Buffer[] = [];
  private outBytes = 0;
  /** A frame's first bytes, collected until it is whole (`pendingNeed` bytes), then joined once. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private pendingNeed = 0;
  /** Server: draining (GOAWAY sent); client: the server sent GOAWAY. No new streams either way. */
  private goingAway = false;
  private closedWith: Error | undefined;
  private closed = false;
  /** Our side of the connection is ending: nothing more is written. */
  private ending = false;
  /** Destroyed here without an error: the streams close without one too. */
  private quiet = false;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Client, while it has streams: the liveness check (see PING). */
  private pingTimer: NodeJS.Timeout | undefined;
  /** Bytes arrived since the last check. */
  private heard = false;
  private pingSent = false;
  /** The connection's write buffer is full: streams' writes complete once it drains (their writers wait). */
  private congested = false;
  private waiting: (() => void)[] = [];
  /** Writes queued this turn: they complete once their bytes were handed to the connection. */
  private written: (() => void)[] = [];
  /** Client: the TLS handshake is done. */
  connected: boolean;
  /** Server: streams the client may still reset before their answers. */
  private readonly resets: ResetBudget | undefined;

  constructor(
    readonly socket: Socket,
    readonly role: 'client' | 'server',
    private readonly opts: MuxSessionOptions = {},
  ) {
    this.connected = role === 'server';
    this.resets = role === 'server' ? new ResetBudget() : undefined;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    if (role === 'client') {
      socket.once('secureConnect', () => {
        if ((socket as Socket & { alpnProtocol?: string | false }).alpnProtocol !== ALPN_MUX) return this.fallBack();
        this.connected = true;
        for (const s of this.streams.values()) {
          s.emit('connect');
          s.unpark();
        }
        this.flush();
      });
    }
  }

  private readonly onError = (err: Error): void => {
    this.closedWith ??= err;
  };

  /**
   * The peer ended the connection (streams half-close with END frames, never the connection): it is gone, and with
   * it every stream still open here (they error, unless the peer went away with none).
   */
  private readonly onEnd = (): void => {
    this.socket.destroy();
  };

  /** The peer answered weft.tcp: each stream takes a connection of its own (nothing of theirs was sent yet). */
  private fallBack(): void {
    const fallback = this.opts.fallback;
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('error', this.onError);
    this.socket.off('close', this.onClose);
    this.closed = true;
    this.goingAway = true;
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.stopPings();
    const streams = [...this.streams.values()];
    this.streams.clear();
    if (fallback === undefined) {
      const err = new MuxProtocolError(`weft.mux: the peer answered ${String((this.socket as Socket & { alpnProtocol?: unknown }).alpnProtocol)}`);
      this.socket.destroy();
      for (const s of streams) s.destroy(err);
      return;
    }
    if (streams.length === 0) {
      this.socket.on('error', ignore);
      this.socket.end();
    }
    streams.forEach((s, i) => (i === 0 ? s.adopt(this.socket, true) : s.adopt(fallback.connect(), false)));
    fallback.then();
  }

  /** Whether the session takes new streams (client: not closed, not told to go away, not full). */
  get open(): boolean {
    return !this.closed && !this.goingAway && this.streams.size < MAX_STREAMS;
  }

  get size(): number {
    return this.streams.size;
  }

  /** Client: a new stream. Its first bytes open it at the peer. */
  openStream(onread?: OnReadOpts): MuxStream {
    if (this.role !== 'client') throw new Error('weft.mux: only the client opens streams');
    if (!this.open) throw new Error('weft.mux: session takes no new streams');
    const stream = new MuxStream(this, ++this.lastId, onread);
    this.streams.set(stream.id, stream);
    if (this.idleTimer !== undefined) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
    // The connection holds the process while it carries streams (the HTTP/1 client unrefs idle ones).
    if (this.streams.size === 1) {
      this.socket.ref();
      this.heard = true;
      this.pingTimer ??= setInterval(this.checkAlive, this.opts.pingMs ?? PEER_PING_MS).unref();
    }
    if (this.connected) process.nextTick(() => stream.emit('connect'));
    return stream;
  }

  /** Server: no new streams; the connection ends once the current ones are done. */
  drain(): void {
    if (this.role !== 'server' || this.goingAway || this.closed) return;
    this.goingAway = true;
    this.frame(Type.GoAway, 0, u32(this.lastId));
    if (this.streams.size === 0) this.endSoon();
  }

  /** Ends the connection now: every stream errors with `err` (without one, they close quietly). */
  destroy(err?: Error): void {
    this.closedWith ??= err;
    this.quiet = err === undefined && this.closedWith === undefined;
    this.socket.destroy();
  }

  // ── Sending ─────────────────────────────────────────────────────────────

  /** Queues a frame; the frames of this event-loop turn leave in one write. */
  frame(type: number, id: number, payload?: Buffer): void {
    if (this.closed || this.ending) return;
    const head = Buffer.allocUnsafe(HEADER);
    head[0] = type;
    head.writeUInt32BE(id, 1);
    head.writeUInt32BE(payload?.length ?? 0, 5);
    if (this.out.length === 0) newest.immediate = setImmediate(this.flush);
    this.out.push(head);
    this.outBytes += HEADER;
    if (payload !== undefined && payload.length > 0) {
      this.out.push(payload);
      this.outBytes += payload.length;
    }
  }

  private readonly flush = (): void => {
    // A client's frames wait for the handshake: until it names weft.mux, nothing may be sent (see fallBack).
    if (this.out.length === 0 || !this.connected) return;
    const bytes = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out, this.outBytes);
    this.out = [];
    this.outBytes = 0;
    const written = this.written;
    this.written = [];
    if (this.closed || this.socket.writableEnded) return;
    if (!this.socket.write(bytes) && !this.congested) {
      this.congested = true;
      this.socket.once('drain', this.drained);
    }
    // A peer that does not read its connection holds every writer here, not in this process's memory.
    if (this.congested) this.waiting.push(...written);
    else for (const done of written) done();
  };

  private readonly drained = (): void => {
    this.congested = false;
    const waiting = this.waiting;
    this.waiting = [];
    for (const done of waiting) done();
  };

  /** Sends what `stream` may of `chunk` now, the rest as credit comes; `done` once all of it was written. */
  send(stream: MuxStream, chunk: Buffer, done: (err?: Error | null) => void): void {
    if (chunk.length === 0) return done();
    let at = 0;
    const more = (): void => {
      while (at < chunk.length && stream.sendWindow > 0) {
        const n = Math.min(chunk.length - at, stream.sendWindow, MAX_FRAME);
        this.frame(Type.Data, stream.id, chunk.subarray(at, at + n));
        stream.opened = true;
        stream.awaiting = false;
        stream.sendWindow -= n;
        stream.bytesWritten += n;
        at += n;
      }
      if (at < chunk.length) stream.blocked = more;
      else {
        stream.blocked = undefined;
        // Complete once the bytes are in the connection (the writer may reuse its buffer then, as with a socket).
        this.written.push(done);
      }
    };
    more();
  }

  /** Returns `n` bytes of credit for `stream` to its sender (in steps, see CREDIT_STEP). */
  credit(stream: MuxStream, n: number): void {
    stream.owed += n;
    if (stream.owed < CREDIT_STEP || stream.remoteEnded) return;
    this.frame(Type.Window, stream.id, u32(stream.owed));
    stream.recvWindow += stream.owed;
    stream.owed = 0;
  }

  /** The stream is over on this side: a RESET goes out unless both sides had ended it. */
  forget(stream: MuxStream): void {
    if (this.streams.get(stream.id) !== stream) return;
    this.streams.delete(stream.id);
    // (A stream that never sent a frame does not exist at the peer.)
    if (stream.opened && !(stream.localEnded && stream.remoteEnded)) this.frame(Type.Reset, stream.id, u32(RESET_CANCEL));
    if (this.streams.size === 0) {
      this.stopPings();
      if (this.goingAway) this.endSoon();
      else if (this.role === 'client') {
        this.socket.unref();
        this.idleTimer = setTimeout(() => {
          this.idleTimer = undefined;
          if (this.streams.size > 0) return;
          this.goingAway = true;
          this.endSoon();
        }, SESSION_IDLE_MS).unref();
      }
    }
  }

  /** Client: whether the peer was heard from since the last check; if not, a PING; after an unanswered one, the end. */
  private readonly checkAlive = (): void => {
    if (!this.connected || this.closed) return;
    if (this.heard) {
      this.heard = false;
      this.pingSent = false;
    } else if (!this.pingSent) {
      this.pingSent = true;
      this.frame(Type.Ping, 0, Buffer.alloc(8));
    } else {
      const ms = 2 * (this.opts.pingMs ?? PEER_PING_MS);
      this.fail(Object.assign(new Error(`weft.mux: the peer answered nothing, not even a PING, for ${ms} ms`), { code: 'ETIMEDOUT' }));
    }
  };

  private stopPings(): void {
    if (this.pingTimer === undefined) return;
    clearInterval(this.pingTimer);
    this.pingTimer = undefined;
  }

  private endSoon(): void {
    if (this.ending) return;
    // After this turn's frames (a RESET, the GOAWAY) are written.
    setImmediate(() => {
      this.flush();
      this.ending = true;
      this.socket.end();
    });
  }

  // ── Receiving ───────────────────────────────────────────────────────────

  // A connection's chunks are fresh buffers: frames' payloads are views of them, handed on without a copy.
  private readonly onData = (chunk: Buffer): void => {
    this.heard = true;
    let buf = chunk;
    if (this.pending.length > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes < this.pendingNeed) return;
      buf = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
    }
    let at = 0;
    while (buf.length - at >= HEADER) {
      const type = buf[at]!;
      const id = buf.readUInt32BE(at + 1);
      const length = buf.readUInt32BE(at + 5);
      if (length > MAX_FRAME) return this.fail(new MuxProtocolError(`weft.mux frame of ${length} bytes (at most ${MAX_FRAME})`));
      if (buf.length - at - HEADER < length) break;
      const payload = buf.subarray(at + HEADER, at + HEADER + length);
      at += HEADER + length;
      try {
        this.onFrame(type, id, payload);
      } catch (err) {
        return this.fail(err as Error);
      }
      if (this.closed) return;
    }
    if (at < buf.length) {
      const rest = buf.subarray(at);
      this.pending = [rest];
      this.pendingBytes = rest.length;
      this.pendingNeed = rest.length < HEADER ? HEADER : HEADER + rest.readUInt32BE(5);
    }
  };

  private onFrame(type: number, id: number, payload: Buffer): void {
    if (type === Type.GoAway) {
      if (this.role !== 'client' || id !== 0 || payload.length !== 4) throw new MuxProtocolError('weft.mux: bad GOAWAY');
      this.goingAway = true;
      const last = payload.readUInt32BE(0);
      for (const s of [...this.streams.values()]) if (s.id > last) s.destroy(new RefusedStreamError());
      if (this.streams.size === 0) this.endSoon();
      return;
    }
    if (type === Type.Ping || type === Type.Pong) {
      if (this.role !== (type === Type.Ping ? 'server' : 'client') || id !== 0 || payload.length !== 8) throw new MuxProtocolError(`weft.mux: bad ${type === Type.Ping ? 'PING' : 'PONG'}`);
      if (type === Type.Ping) this.frame(Type.Pong, 0, payload);
      return;
    }
    if (type > Type.Pong) throw new MuxProtocolError(`weft.mux: unknown frame type ${type}`);
    if (id === 0) throw new MuxProtocolError('weft.mux: stream frame on stream 0');
    let stream = this.streams.get(id);
    if (stream === undefined) {
      // A new stream (server), or a frame for one already over (either side): those are dropped.
      if (this.role === 'client' || id <= this.lastId) return;
      if (type !== Type.Data && type !== Type.End) throw new MuxProtocolError(`weft.mux: frame type ${type} opens stream ${id}`);
      this.lastId = id;
      if (this.goingAway || this.streams.size >= MAX_STREAMS) {
        this.frame(Type.Reset, id, u32(RESET_REFUSED));
        return;
      }
      stream = new MuxStream(this, id);
      stream.opened = true;
      this.streams.set(id, stream);
      // Its consumer learns of an error from 'close'; an 'error' nobody listens to yet must not end the process.
      stream.on('error', ignore);
      this.opts.onStream?.(stream);
    }
    switch (type) {
      case Type.Data:
        if (stream.remoteEnded) throw new MuxProtocolError(`weft.mux: DATA after END on stream ${id}`);
        if (payload.length > stream.recvWindow) throw new MuxProtocolError(`weft.mux: stream ${id} sent past its window`);
        stream.recvWindow -= payload.length;
        stream.awaiting = this.role === 'server';
        stream.received(payload);
        return;
      case Type.End:
        stream.remoteEnd();
        return;
      case Type.Reset:
        if (payload.length !== 4) throw new MuxProtocolError('weft.mux: bad RESET');
        stream.remoteEnded = true;
        stream.localEnded = true;
        this.streams.delete(id);
        stream.destroy(payload.readUInt32BE(0) === RESET_REFUSED ? new RefusedStreamError() : resetError());
        if (stream.awaiting && !this.resets!.take()) throw new MuxProtocolError('weft.mux: the client resets too many streams before their answers');
        return;
      case Type.Window: {
        if (payload.length !== 4) throw new MuxProtocolError('weft.mux: bad WINDOW');
        stream.sendWindow += payload.readUInt32BE(0);
        if (stream.sendWindow > 2 ** 31) throw new MuxProtocolError(`weft.mux: window of stream ${id} overflows`);
        stream.blocked?.();
        return;
      }
    }
  }

  private fail(err: Error): void {
    this.opts.onError?.(err);
    this.destroy(err);
  }

  private readonly onClose = (): void => {
    this.closed = true;
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.stopPings();
    this.out = [];
    const err = this.quiet ? undefined : (this.closedWith ?? Object.assign(new Error('weft.mux connection closed'), { code: 'ECONNRESET' }));
    for (const s of this.streams.values()) {
      s.remoteEnded = true;
      s.localEnded = true;
      s.destroy(err);
    }
    this.streams.clear();
  };
}

/**
 * The client's sessions, one per peer (its key): a session that takes no new streams (closed, told to go away,
 * idle, or full) is replaced by a new one; the old one ends once its streams are done.
 */
export class MuxPool {
  private readonly sessions = new Map<string, MuxSession>();
  /** Peers that answered weft.tcp, until when. */
  private readonly legacy = new Map<string, number>();
  private closed = false;

  /** `pingMs`: the sessions' (default PEER_PING_MS). */
  constructor(private readonly opts: { readonly pingMs?: number } = {}) {}

  /**
   * A stream to the peer `key`, on its session; or, to a peer of an earlier release, a weft.tcp connection.
   * `connect` opens an mTLS connection to the peer offering `alpn` (reading into `onread`, when given).
   */
  open(key: string, connect: (alpn: readonly MeshAlpn[], onread?: OnReadOpts) => Socket, onread?: OnReadOpts): MuxStream | Socket {
    if (this.closed) throw new Error('weft.mux: the client is closed');
    const until = this.legacy.get(key);
    if (until !== undefined) {
      if (until > Date.now()) return connect([ALPN_TCP], onread);
      this.legacy.delete(key);
    }
    let session = this.sessions.get(key);
    if (session === undefined || !session.open) {
      const fallback = {
        connect: () => connect([ALPN_TCP]),
        then: () => {
          const now = Date.now();
          for (const [k, t] of this.legacy) if (t <= now) this.legacy.delete(k);
          this.legacy.set(key, now + LEGACY_MS);
          if (this.sessions.get(key) === s) this.sessions.delete(key);
        },
      };
      const s = (session = new MuxSession(connect([ALPN_MUX, ALPN_TCP]), 'client', { fallback, pingMs: this.opts.pingMs }));
      this.sessions.set(key, s);
      s.socket.once('close', () => {
        if (this.sessions.get(key) === s) this.sessions.delete(key);
      });
    }
    return session.openStream(onread);
  }

  close(): void {
    this.closed = true;
    for (const s of this.sessions.values()) s.destroy();
    this.sessions.clear();
  }
}

/**
 * One stream of a session, as a socket to the HTTP/1 code: a Duplex (half-open), `bytesRead`/`bytesWritten` for
 * the TCP metrics, `ref`/`unref` (the session's connection holds the process while it has streams), and, when
 * opened with `onread`, reads delivered into that buffer as net.Socket does (the client's pooled connections).
 */
export class MuxStream extends Duplex {
  sendWindow = STREAM_WINDOW;
  recvWindow = STREAM_WINDOW;
  /** Credit not yet returned. */
  owed = 0;
  /** Bytes the reader has not taken yet (credit held back until it does). */
  private held = 0;
  /** A write waiting for credit. */
  blocked: (() => void) | undefined;
  localEnded = false;
  remoteEnded = false;
  /** A frame of the stream was sent (client) or received (server): it exists at the peer. */
  opened = false;
  /** Server: the client sent the last bytes (a request may be waiting for its answer). */
  awaiting = false;
  bytesRead = 0;
  bytesWritten = 0;
  /** onread mode: paused by the reader, with what arrived meanwhile. */
  private readPaused = false;
  private queued: Buffer[] = [];
  /** A write (or the end) that waits for the client's session to know what the peer speaks. */
  private parked: (() => void) | undefined;
  /** The peer answered weft.tcp: the stream's bytes travel on this connection of its own. */
  private direct: Socket | undefined;

  constructor(
    readonly session: MuxSession,
    readonly id: number,
    private readonly onread?: OnReadOpts,
  ) {
    super({ allowHalfOpen: true });
    newest.muxStream = this;
  }

  ref(): this {
    this.direct?.ref();
    return this;
  }

  unref(): this {
    this.direct?.unref();
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.send(chunk, done);
  }

  override _writev(chunks: { chunk: Buffer }[], done: (err?: Error | null) => void): void {
    this.send(chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk)), done);
  }

  private send(chunk: Buffer, done: (err?: Error | null) => void): void {
    if (this.direct !== undefined) {
      this.bytesWritten += chunk.length;
      this.direct.write(chunk, done);
    } else if (this.session.connected) this.session.send(this, chunk, done);
    else this.parked = () => this.send(chunk, done);
  }

  override _final(done: (err?: Error | null) => void): void {
    if (this.direct !== undefined) {
      this.localEnded = true;
      this.direct.end();
      return done();
    }
    if (!this.session.connected) {
      this.parked = () => this._final(done);
      return;
    }
    this.localEnded = true;
    this.session.frame(Type.End, this.id);
    this.opened = true;
    if (this.remoteEnded) this.session.forget(this);
    done();
  }

  /** The session is up: the waiting write goes out. */
  unpark(): void {
    const parked = this.parked;
    this.parked = undefined;
    parked?.();
  }

  /**
   * The peer answered weft.tcp: from now on the stream is `socket`, a weft.tcp connection (`up` when it is already
   * connected, as the session's own is); what waited is written to it.
   */
  adopt(socket: Socket, up: boolean): void {
    this.direct = socket;
    socket.on('data', (bytes: Buffer) => this.received(bytes));
    socket.on('end', () => this.remoteEnd());
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => {
      if (!this.remoteEnded) this.destroy(resetError());
    });
    if (up) process.nextTick(() => this.emit('connect'));
    else socket.once('secureConnect', () => this.emit('connect'));
    if (this.readPaused || this.held > 0) socket.pause();
    this.unpark();
  }

  override _read(): void {
    if (this.direct !== undefined) {
      this.held = 0;
      this.direct.resume();
      return;
    }
    if (this.held === 0) return;
    const n = this.held;
    this.held = 0;
    this.session.credit(this, n);
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.blocked = undefined;
    this.parked = undefined;
    this.queued = [];
    this.direct?.destroy();
    this.session.forget(this);
    done(err);
  }

  /** `n` bytes were taken by the reader: their credit goes back (a weft.tcp connection needs none). */
  private took(n: number): void {
    if (this.direct === undefined) this.session.credit(this, n);
  }

  /** DATA from the peer (a view of the connection's chunk, which nothing else writes to). */
  received(bytes: Buffer): void {
    this.bytesRead += bytes.length;
    if (this.onread !== undefined) {
      if (this.readPaused) this.queued.push(bytes);
      else this.deliver(bytes);
      return;
    }
    if (this.push(bytes)) this.took(bytes.length);
    else {
      this.held += bytes.length;
      this.direct?.pause();
    }
  }

  /** END from the peer. */
  remoteEnd(): void {
    this.remoteEnded = true;
    if (this.onread !== undefined && this.readPaused) this.queued.push(END_MARK);
    else this.endReadable();
  }

  private endReadable(): void {
    this.push(null);
    // In onread mode nothing reads the Readable side: let it flow so that 'end' is emitted.
    if (this.onread !== undefined) super.resume();
    if (this.localEnded) this.session.forget(this);
  }

  /** Into the reader's buffer, as net.Socket's `onread` does; its `false` pauses the stream. */
  private deliver(bytes: Buffer): void {
    const into = this.onread!.buffer as Buffer;
    let at = 0;
    while (at < bytes.length) {
      if (this.readPaused || this.destroyed) {
        this.queued.push(bytes.subarray(at));
        this.direct?.pause();
        return;
      }
      const n = bytes.copy(into, 0, at, at + into.length);
      at += n;
      this.took(n);
      if ((this.onread!.callback as (n: number, buf: Buffer) => boolean | void)(n, into) === false) this.readPaused = true;
    }
  }

  override pause(): this {
    if (this.onread === undefined) return super.pause();
    this.readPaused = true;
    return this;
  }

  override resume(): this {
    if (this.onread === undefined) return super.resume();
    if (!this.readPaused) return this;
    this.readPaused = false;
    while (this.queued.length > 0 && !this.readPaused && !this.destroyed) {
      const next = this.queued.shift()!;
      if (next === END_MARK) this.endReadable();
      else this.deliver(next);
    }
    if (!this.readPaused) this.direct?.resume();
    return this;
  }
}

const END_MARK = Buffer.alloc(0);

function ignore(): void {}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n, 0);
  return b;
}
