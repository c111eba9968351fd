/**
 * Hostile gRPC callers for tests: the gRPC wire format written by hand (the
 * 5-byte message prefix, with its compressed flag), a gzip bomb, a call over a
 * plain node:http2 client, and a frame-level HTTP/2 connection that opens
 * streams without waiting for the server's SETTINGS. For tests only.
 */
import http2 from 'node:http2';
import tls from 'node:tls';
import { createGzip } from 'node:zlib';

export interface GrpcTarget {
  readonly port: number;
  readonly serverName: string;
  /** PEM trust anchors for the server's certificate. */
  readonly ca: string;
}

/** One gRPC length-prefixed message: flag byte (1 = compressed), 4-byte big-endian length, payload. */
export function grpcEnvelope(payload: Uint8Array, compressed = false): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = compressed ? 1 : 0;
  prefix.writeUInt32BE(payload.length, 1);
  return Buffer.concat([prefix, payload]);
}

/** The gzip of `bytes` zero bytes (~1/1000 of the size), produced in 1 MiB steps so the test itself never holds the inflated form. */
export async function gzipOfZeros(bytes: number): Promise<Buffer> {
  const gzip = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => out.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    gzip.on('end', resolve);
    gzip.on('error', reject);
  });
  const step = Buffer.alloc(1024 * 1024);
  for (let left = bytes; left > 0; left -= step.length) {
    if (!gzip.write(left >= step.length ? step : step.subarray(0, left))) await new Promise((resolve) => gzip.once('drain', resolve));
  }
  gzip.end();
  await done;
  return Buffer.concat(out);
}

export interface RawGrpcReply {
  /** From the trailers, or from the headers of a trailers-only answer; undefined when the stream was reset. */
  readonly grpcStatus: number | undefined;
  readonly grpcMessage: string;
  /** The HTTP/2 RST_STREAM code the stream ended with (0 when it ended normally). */
  readonly rstCode: number;
  /** Response message payloads, prefixes removed. */
  readonly messages: Buffer[];
}

/** One unary gRPC call with a hand-written body over a fresh node:http2 connection. */
export function rawGrpcCall(target: GrpcTarget, path: string, body: Buffer, headers: http2.OutgoingHttpHeaders = {}): Promise<RawGrpcReply> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://127.0.0.1:${target.port}`, { ca: target.ca, servername: target.serverName });
    session.on('error', reject);
    const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    let status: http2.IncomingHttpHeaders = {};
    const data: Buffer[] = [];
    req.on('response', (h) => (status = { ...status, ...h }));
    req.on('trailers', (t) => (status = { ...status, ...t }));
    req.on('data', (chunk: Buffer) => data.push(chunk));
    // The server may answer before it has read the whole body and reset the rest; the answer is what counts.
    req.on('error', () => undefined);
    req.on('close', () => {
      session.close();
      const raw = status['grpc-status'];
      resolve({
        grpcStatus: raw === undefined ? undefined : Number(raw),
        grpcMessage: decodeURIComponent(String(status['grpc-message'] ?? '')),
        rstCode: req.rstCode ?? 0,
        messages: splitEnvelopes(Buffer.concat(data)),
      });
    });
    req.end(body);
  });
}

/** The payloads of consecutive gRPC messages. */
export function splitEnvelopes(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at + 5 <= bytes.length; ) {
    const length = bytes.readUInt32BE(at + 1);
    out.push(bytes.subarray(at + 5, at + 5 + length));
    at += 5 + length;
  }
  return out;
}

export const FRAME = { DATA: 0x0, HEADERS: 0x1, RST_STREAM: 0x3, SETTINGS: 0x4, GOAWAY: 0x7 } as const;
const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;
const MAX_FRAME_PAYLOAD = 16_384;

export interface Http2Frame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

/**
 * HTTP/2 spoken frame by frame over TLS, so a test controls what a library client would not let it do: open
 * streams before acknowledging the server's SETTINGS, or past its advertised limit. Headers go out as HPACK
 * literals (no table); what comes back is kept as raw frames.
 */
export class RawHttp2Connection {
  readonly frames: Http2Frame[] = [];
  private pending = Buffer.alloc(0);
  private ended = false;

  private constructor(private readonly socket: tls.TLSSocket) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => (this.ended = true));
  }

  /** The server (or `close()`) has ended the connection. */
  get isClosed(): boolean {
    return this.ended;
  }

  /** Connects and sends the preface and an empty SETTINGS; the server's SETTINGS are not acknowledged until `ackSettings()`. */
  static async open(target: GrpcTarget): Promise<RawHttp2Connection> {
    const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: target.port, servername: target.serverName, ca: target.ca, ALPNProtocols: ['h2'] }, () => resolve(s));
      s.once('error', reject);
    });
    const conn = new RawHttp2Connection(socket);
    socket.write(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
    conn.frame(FRAME.SETTINGS, 0, 0, Buffer.alloc(0));
    return conn;
  }

  ackSettings(): void {
    this.frame(FRAME.SETTINGS, FLAG.ACK, 0, Buffer.alloc(0));
  }

  /** HEADERS for a gRPC request on `streamId`, leaving the stream open for its body. */
  openGrpcStream(streamId: number, path: string): void {
    const block = Buffer.concat([
      hpackLiteral(':method', 'POST'),
      hpackLiteral(':scheme', 'https'),
      hpackLiteral(':path', path),
      hpackLiteral(':authority', 'localhost'),
      hpackLiteral('content-type', 'application/grpc'),
      hpackLiteral('te', 'trailers'),
    ]);
    this.frame(FRAME.HEADERS, FLAG.END_HEADERS, streamId, block);
  }

  /** DATA frames carrying `body`, the last one ending the stream. */
  sendBody(streamId: number, body: Buffer): void {
    let at = 0;
    do {
      const part = body.subarray(at, at + MAX_FRAME_PAYLOAD);
      at += part.length;
      this.frame(FRAME.DATA, at >= body.length ? FLAG.END_STREAM : 0, streamId, part);
    } while (at < body.length);
  }

  /** The error codes of the RST_STREAM frames received, by stream. */
  resets(): Map<number, number> {
    return new Map(this.frames.filter((f) => f.type === FRAME.RST_STREAM).map((f) => [f.streamId, f.payload.readUInt32BE(0)]));
  }

  /** The DATA payload received on a stream, once the server ended it (undefined before). */
  responseBody(streamId: number): Buffer | undefined {
    const frames = this.frames.filter((f) => f.streamId === streamId && (f.type === FRAME.DATA || f.type === FRAME.HEADERS));
    if (!frames.some((f) => f.flags & FLAG.END_STREAM)) return undefined;
    return Buffer.concat(frames.filter((f) => f.type === FRAME.DATA).map((f) => f.payload));
  }

  close(): void {
    this.socket.destroy();
  }

  private frame(type: number, flags: number, streamId: number, payload: Buffer): void {
    const head = Buffer.alloc(9);
    head.writeUIntBE(payload.length, 0, 3);
    head[3] = type;
    head[4] = flags;
    head.writeUInt32BE(streamId, 5);
    this.socket.write(Buffer.concat([head, payload]));
  }

  private receive(chunk: Buffer): void {
    this.pending = Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 9) {
      const length = this.pending.readUIntBE(0, 3);
      if (this.pending.length < 9 + length) return;
      this.frames.push({
        type: this.pending[3]!,
        flags: this.pending[4]!,
        streamId: this.pending.readUInt32BE(5) & 0x7fffffff,
        payload: Buffer.from(this.pending.subarray(9, 9 + length)),
      });
      this.pending = this.pending.subarray(9 + length);
    }
  }
}

/** RFC 7541 §6.2.2: literal header field without indexing, new name, no Huffman coding. */
function hpackLiteral(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x00]), hpackString(name), hpackString(value)]);
}

function hpackString(text: string): Buffer {
  const bytes = Buffer.from(text);
  return Buffer.concat([hpackInteger(bytes.length, 7), bytes]);
}

/** RFC 7541 §5.1 integer with an N-bit prefix. */
function hpackInteger(value: number, prefixBits: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([value]);
  const out = [max];
  for (value -= max; value >= 128; value >>= 7) out.push((value & 0x7f) | 0x80);
  out.push(value);
  return Buffer.from(out);
}
