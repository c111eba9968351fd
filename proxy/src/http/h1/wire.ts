/**
 * HTTP/1.1 wire pieces shared by weft's raw-socket HTTP/1 server and client
 * (RFC 9112): response-head parsing, the chunked body decoder and the checks
 * a writer needs. Pure code over Buffers, no sockets. Strict by design: a
 * proxy that accepts what the next hop reads differently (bare LF, obs-fold,
 * odd chunk sizes) is a request-smuggling vector, so all of it is refused.
 */
import type { Headers } from '../../svc.js';
import { HOP_BY_HOP, endToEnd, isWeftName } from '../headers.js';

/** Malformed HTTP/1 input; the message says what was wrong. */
export class H1ParseError extends Error {
  constructor(message: string) {
    super(`malformed HTTP/1: ${message}`);
    this.name = 'H1ParseError';
  }
}

/** Largest response head (status line + header lines) accepted. */
export const MAX_HEAD_BYTES = 64 * 1024;
/** Largest chunk-size line, and largest trailer section, accepted. */
export const MAX_CHUNK_LINE_BYTES = 16 * 1024;

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;

/** tchar (RFC 9110 §5.6.2): the characters of a header name or method (1 for a tchar, else 0). */
export const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN[c] = 1;
/** field-vchar, SP and HTAB (RFC 9110 §5.5): the characters of a header value, obs-text included. */
const FIELD = new Uint8Array(256);
FIELD[HTAB] = 1;
for (let c = 0x20; c <= 0x7e; c++) FIELD[c] = 1;
for (let c = 0x80; c <= 0xff; c++) FIELD[c] = 1;
/** Hex digit values, -1 for anything else. */
const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[0x30 + c] = c;
for (let c = 0; c < 6; c++) HEX[0x41 + c] = HEX[0x61 + c] = 10 + c;

/** `${hex}\r\n`, the line before a chunk of `n` bytes. */
export function chunkHeader(n: number): string {
  return `${n.toString(16)}\r\n`;
}
/** The line that follows the data of every chunk. */
export const CRLF = '\r\n';
/** The last chunk and an empty trailer section: the end of a chunked body without trailers. */
export const LAST_CHUNK = '0\r\n\r\n';

/**
 * Whether a header value cannot be written as is: CR, LF, NUL or another control character except HTAB (a
 * response-splitting vector), or a character above U+00FF (headers are written as latin1, it would be mangled).
 */
export function invalidHeaderValue(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if ((c < 0x20 && c !== HTAB) || c === 0x7f || c > 0xff) return true;
  }
  return false;
}

/** Whether a string is a token (a header name or a method). */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || TOKEN[c] === 0) return false;
  }
  return true;
}

export interface ResponseHead {
  readonly status: number;
  readonly version: '1.0' | '1.1';
  /**
   * The end-to-end fields, as a proxy forwards them: lower-case names, repeated ones as arrays, in order. Not here:
   * the hop-by-hop fields (RFC 9110 §7.6.1: the three below, and Upgrade, Proxy-Connection, Host, Expect,
   * HTTP2-Settings, TE unless it is `trailers`), the fields `Connection` names, and weft's own (`weft-…`, `weft_…`).
   * A plain object, unless a field is named as a property of Object.prototype (`constructor`, `__proto__`): then
   * one without a prototype, so such a field is a field like any other.
   */
  readonly headers: Record<string, string | string[]>;
  /** The hop-by-hop fields that frame the response and say whether the connection stays open. */
  readonly connection: string | string[] | undefined;
  readonly keepAlive: string | string[] | undefined;
  readonly transferEncoding: string | string[] | undefined;
  /** weft's own fields (a peer proxy's `weft-proxy-error`), when there are any. */
  readonly weft: Record<string, string | string[]> | undefined;
  /** The index in the buffer just after the head's final CRLF. */
  readonly end: number;
}

const COLON = 0x3a;

/** Bytes with ASCII capitals lower-cased. */
export const LOWER = new Uint8Array(256);
for (let c = 0; c < 256; c++) LOWER[c] = c >= 0x41 && c <= 0x5a ? c + 0x20 : c;

/**
 * Where the field lines of the head being parsed are, four numbers a line: name start, colon, value start and end
 * (OWS trimmed). Kept between calls and grown on demand, so a parse allocates nothing for it; the parser runs to
 * completion without calling out, so one array serves every call.
 */
let spans = new Int32Array(4 * 32);

/**
 * Parses a response head starting at `start`: undefined while it is incomplete (no empty line yet), else the head.
 * Throws H1ParseError on a bad status line, a bare LF or CR, an invalid header name or value, obs-fold, or a head
 * larger than MAX_HEAD_BYTES. Lines are checked in order and each fully before the next, so an error is reported
 * even while the head is still incomplete, and a line still being received is never judged.
 *
 * One pass over the bytes with the TOKEN and FIELD tables finds and checks every line and notes where its name and
 * value are; the head's fields are then decoded once into one latin1 string and each value, and each name that is
 * not a common one, is cut from it (a cut is JavaScript only, where a decode per field is a call into C++).
 */
export function parseResponseHead(buf: Buffer, start = 0): ResponseHead | undefined {
  const limit = Math.min(buf.length, start + MAX_HEAD_BYTES);
  // A status line of field characters ending in CRLF has no bare CR or LF; anything else goes to lineEnd, so the
  // line's ending is judged before its content (and an unfinished line not at all).
  let i = start;
  while (i < limit && FIELD[buf[i]!] === 1) i++;
  let eol: number;
  // (Bounds first: no read past the buffer, which would make V8 handle out-of-bounds loads on this path.)
  const clean = i + 1 < limit && buf[i] === CR && buf[i + 1] === LF;
  if (clean) eol = i + 1;
  else {
    eol = lineEnd(buf, start, limit);
    if (eol < 0) return incomplete(buf, start);
  }
  // status-line = HTTP-version SP status-code SP [ reason-phrase ]; a missing SP before an empty reason is tolerated.
  const lineLen = eol - 1 - start;
  if (
    lineLen < 12 ||
    buf[start] !== 0x48 || buf[start + 1] !== 0x54 || buf[start + 2] !== 0x54 || buf[start + 3] !== 0x50 ||
    buf[start + 4] !== 0x2f || buf[start + 5] !== 0x31 || buf[start + 6] !== 0x2e ||
    (buf[start + 7] !== 0x30 && buf[start + 7] !== 0x31) || buf[start + 8] !== SP ||
    !isDigit(buf[start + 9]!) || !isDigit(buf[start + 10]!) || !isDigit(buf[start + 11]!) ||
    (lineLen > 12 && buf[start + 12] !== SP) || buf[start + 9] === 0x30
  ) {
    throw new H1ParseError(`bad status line ${JSON.stringify(buf.toString('latin1', start, Math.min(eol - 1, start + 64)))}`);
  }
  if (!clean) for (let k = start + 13; k < eol - 1; k++) if (FIELD[buf[k]!] === 0) throw new H1ParseError('invalid character in the reason phrase');
  const version = buf[start + 7] === 0x31 ? '1.1' : '1.0';
  const status = (buf[start + 9]! - 0x30) * 100 + (buf[start + 10]! - 0x30) * 10 + (buf[start + 11]! - 0x30);

  let at = 0;
  let pos = spans;
  let p = eol + 1;
  for (;;) {
    // The empty line ending the head.
    if (p + 1 < limit && buf[p] === CR && buf[p + 1] === LF) break;
    // field-line = field-name ":" OWS field-value OWS CRLF, scanned in one go when it is well-formed.
    let colon = p;
    while (colon < limit && TOKEN[buf[colon]!] === 1) colon++;
    let cr = -1;
    if (colon !== p && colon < limit && buf[colon] === COLON) {
      let e = colon + 1;
      while (e < limit && FIELD[buf[e]!] === 1) e++;
      if (e + 1 < limit && buf[e] === CR && buf[e + 1] === LF) cr = e;
    }
    if (cr < 0) {
      // Incomplete, or something in this line is wrong: its ending is judged first, then its name, then its value.
      const lf = lineEnd(buf, p, limit);
      if (lf < 0) return incomplete(buf, start);
      cr = lf - 1;
      colon = fieldColon(buf, p, cr);
    }
    if (at === pos.length) {
      const more = new Int32Array(pos.length * 2);
      more.set(pos);
      spans = pos = more;
    }
    const vs = valueStart(buf, colon + 1, cr);
    pos[at] = p;
    pos[at + 1] = colon;
    pos[at + 2] = vs;
    pos[at + 3] = valueEnd(buf, vs, cr);
    at += 4;
    p = cr + 2;
  }

  return headFields(buf, pos, at, status, version, p + 2);
}

/**
 * The head's fields from the spans of its `at / 4` lines, split as a proxy forwards them (ResponseHead): the
 * hop-by-hop ones are left out as they are met, not deleted afterwards, so the end-to-end ones make a plain object
 * (fast to read and to walk, where deletes or a prototype-less object would make a dictionary of it).
 */
function headFields(buf: Buffer, pos: Int32Array, at: number, status: number, version: '1.0' | '1.1', end: number): ResponseHead {
  let headers: Record<string, string | string[]> = {};
  let connection: string | string[] | undefined;
  let keepAlive: string | string[] | undefined;
  let transferEncoding: string | string[] | undefined;
  let weft: Record<string, string | string[]> | undefined;
  let te = false;
  if (at > 0) {
    const base = pos[0]!;
    const text = buf.toString('latin1', base, pos[at - 1]!);
    for (let k = 0; k < at; k += 4) {
      const from = pos[k]!;
      const colon = pos[k + 1]!;
      const value = text.slice(pos[k + 2]! - base, pos[k + 3]! - base);
      const known = knownName(buf, from, colon);
      let name: string;
      if (known !== undefined) {
        switch (known.hop) {
          case Hop.Connection:
            connection = withValue(connection, value);
            continue;
          case Hop.KeepAlive:
            keepAlive = withValue(keepAlive, value);
            continue;
          case Hop.TransferEncoding:
            transferEncoding = withValue(transferEncoding, value);
            continue;
          case Hop.Dropped:
            continue;
          case Hop.Te:
            te = true;
            break;
        }
        name = known.name;
      } else {
        name = lowerName(buf, text, base, from, colon);
        if (isWeftName(name)) {
          weft ??= Object.create(null) as Record<string, string | string[]>;
          weft[name] = withValue(weft[name], value);
          continue;
        }
      }
      const prev = headers[name];
      if (prev === undefined) headers[name] = value;
      else if (typeof prev === 'string') headers[name] = [prev, value];
      else if (Array.isArray(prev)) prev.push(value);
      else {
        // A property of Object.prototype: from here on an object without one, where it is a field like any other.
        headers = Object.assign(Object.create(null) as Record<string, string | string[]>, headers);
        headers[name] = value;
      }
    }
    // `te: trailers` is the one hop-by-hop field that travels (gRPC needs it); repeated, it is an array and does not.
    if (te && headers.te !== 'trailers') delete headers.te;
    if (typeof connection === 'string') dropNamed(headers, connection);
  }
  return { status, version, headers, connection, keepAlive, transferEncoding, weft, end };
}

/** A field's values with one more: the value itself for the first, an array from the second on. */
function withValue(prev: string | string[] | undefined, value: string): string | string[] {
  if (prev === undefined) return value;
  if (typeof prev === 'string') return [prev, value];
  prev.push(value);
  return prev;
}

/** Drops the fields a `Connection` value names (hop-by-hop too), but `te: trailers` (`keep-alive` and `upgrade` alone name fields already left out). */
function dropNamed(headers: Record<string, string | string[]>, connection: string): void {
  if (connection.length === 0) return;
  const lower = connection.toLowerCase();
  if (lower === 'keep-alive' || lower === 'upgrade') return;
  for (const token of lower.split(',')) {
    const name = token.trim();
    if (name !== 'te' && Object.hasOwn(headers, name)) delete headers[name];
  }
}

/**
 * The index of the LF ending the line at `from` (checked to follow a CR, with no other CR in the line), or -1 when
 * there is none before `limit`.
 */
function lineEnd(buf: Buffer, from: number, limit: number): number {
  let lf = from;
  while (lf < limit && buf[lf] !== LF) lf++;
  if (lf >= limit) return -1;
  if (lf === from || buf[lf - 1] !== CR) throw new H1ParseError('bare LF line ending');
  for (let k = from; k < lf - 1; k++) if (buf[k] === CR) throw new H1ParseError('bare CR');
  return lf;
}

/** Checks the field line `buf[from, to)` (without its CRLF) and returns the index of its colon. */
function fieldColon(buf: Buffer, from: number, to: number): number {
  const first = buf[from]!;
  if (first === SP || first === HTAB) throw new H1ParseError('obsolete line folding');
  let colon = from;
  while (colon < to && TOKEN[buf[colon]!] === 1) colon++;
  if (colon === from || colon === to || buf[colon] !== COLON) throw new H1ParseError(`invalid header name ${JSON.stringify(buf.toString('latin1', from, Math.min(to, from + 64)))}`);
  // OWS is made of field characters too: checking the untrimmed value is checking the trimmed one.
  for (let k = colon + 1; k < to; k++) if (FIELD[buf[k]!] === 0) throw new H1ParseError(`invalid character in the value of ${buf.toString('latin1', from, colon)}`);
  return colon;
}

/** Where a value from `from` to `to` starts once leading OWS is skipped. */
function valueStart(buf: Buffer, from: number, to: number): number {
  while (from < to && (buf[from] === SP || buf[from] === HTAB)) from++;
  return from;
}

/** Where a value from `from` to `to` ends once trailing OWS is dropped. */
function valueEnd(buf: Buffer, from: number, to: number): number {
  while (to > from && (buf[to - 1] === SP || buf[to - 1] === HTAB)) to--;
  return to;
}

/**
 * Adds the field with name `buf[from, colon)` and value `buf[vs, ve)` to `into`; `text` holds those bytes decoded,
 * from index `base` of `buf` on. A repeated name collects its values in an array, in order.
 */
function addField(into: Record<string, string | string[]>, buf: Buffer, text: string, base: number, from: number, colon: number, vs: number, ve: number): void {
  const name = knownName(buf, from, colon)?.name ?? lowerName(buf, text, base, from, colon);
  into[name] = withValue(into[name], text.slice(vs - base, ve - base));
}

/** Parses one trailer line `buf[from, to)` (without its CRLF) into `into`, with the checks of a head's field line. */
function parseTrailerLine(buf: Buffer, from: number, to: number, into: Record<string, string | string[]>): void {
  const colon = fieldColon(buf, from, to);
  const vs = valueStart(buf, colon + 1, to);
  addField(into, buf, buf.toString('latin1', from, to), from, from, colon, vs, valueEnd(buf, vs, to));
}

function incomplete(buf: Buffer, start: number): undefined {
  if (buf.length - start >= MAX_HEAD_BYTES) throw new H1ParseError(`response head larger than ${MAX_HEAD_BYTES} bytes`);
  return undefined;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** What a known field is to a proxy: end-to-end, or one of the hop-by-hop fields (RFC 9110 §7.6.1). */
const enum Hop {
  None,
  Connection,
  KeepAlive,
  TransferEncoding,
  /** `te`: hop-by-hop but for `te: trailers`. */
  Te,
  /** Hop-by-hop fields a response does not need (Upgrade, Proxy-Connection, Host, Expect, HTTP2-Settings). */
  Dropped,
}
/** The hop-by-hop fields read apart from the rest (framing, keep-alive, `te: trailers`); the other HOP_BY_HOP ones are dropped. */
const READ_HOPS: Record<string, Hop> = { connection: Hop.Connection, 'keep-alive': Hop.KeepAlive, 'transfer-encoding': Hop.TransferEncoding, te: Hop.Te };
interface KnownName {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly hop: Hop;
}
/** The field names responses commonly carry and every hop-by-hop one, found in any case without allocating a string, by length and first and last byte. */
const KNOWN: (KnownName[] | undefined)[] = new Array(256);
const knownSlot = (length: number, first: number, last: number): number => (length * 31 + first * 7 + last) & 255;
for (const name of new Set([
  'content-length', 'content-type', 'transfer-encoding', 'connection', 'keep-alive', 'date', 'server', 'etag',
  'cache-control', 'vary', 'location', 'set-cookie', 'trailer', 'grpc-status', 'grpc-message', 'grpc-encoding',
  'grpc-accept-encoding', 'last-modified', 'content-encoding', 'expires', 'accept-ranges', 'age', 'pragma', 'via',
  'link', 'alt-svc', 'content-range', 'content-disposition', 'content-language', 'retry-after', 'www-authenticate',
  'strict-transport-security', 'x-content-type-options', 'x-frame-options', 'x-xss-protection', 'x-powered-by',
  'x-request-id', 'access-control-allow-origin', 'access-control-allow-credentials', 'access-control-allow-methods',
  'access-control-allow-headers', 'access-control-expose-headers', 'content-security-policy', 'referrer-policy',
  'traceparent', 'tracestate', ...HOP_BY_HOP,
])) {
  (KNOWN[knownSlot(name.length, name.charCodeAt(0), name.charCodeAt(name.length - 1))] ??= []).push({ name, bytes: Uint8Array.from(name, (c) => c.charCodeAt(0)), hop: HOP_BY_HOP.has(name) ? (READ_HOPS[name] ?? Hop.Dropped) : Hop.None });
}

/** The KNOWN name `buf[from, to)` is in any case, if it is one. */
function knownName(buf: Buffer, from: number, to: number): KnownName | undefined {
  const n = to - from;
  const slot = KNOWN[knownSlot(n, LOWER[buf[from]!]!, LOWER[buf[to - 1]!]!)];
  if (slot === undefined) return undefined;
  for (let k = 0; k < slot.length; k++) {
    const known = slot[k]!.bytes;
    if (known.length !== n) continue;
    let i = 0;
    while (i < n && LOWER[buf[from + i]!] === known[i]) i++;
    if (i === n) return slot[k];
  }
  return undefined;
}

/** Whether `buf[from, to)` holds an upper-case ASCII letter. */
export function hasUpper(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = buf[i]!;
    if (c >= 0x41 && c <= 0x5a) return true;
  }
  return false;
}

/** A name that is not KNOWN: cut from `text`, lower-cased when it has a capital (a token is ASCII). */
function lowerName(buf: Buffer, text: string, base: number, from: number, to: number): string {
  const raw = text.slice(from - base, to - base);
  return hasUpper(buf, from, to) ? raw.toLowerCase() : raw;
}

// ---------------------------------------------------------------------------
// Chunked transfer coding (RFC 9112 §7.1)

const enum Chunk {
  Size,
  SizeWs,
  Ext,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  Trailers,
  Done,
}

/**
 * An incremental, strict decoder of a chunked body: `feed` the bytes as they arrive; the data goes to `onData`
 * (views into the fed buffers, not copies). Chunk sizes are hex digits only (at most 16, a safe integer),
 * extensions after `;` are ignored, every line ends in CRLF; a size line or the trailer section over
 * MAX_CHUNK_LINE_BYTES is refused. Throws H1ParseError.
 */
export class ChunkedDecoder {
  private state = Chunk.Size;
  private size = 0;
  private digits = 0;
  private lineBytes = 0;
  /** An unfinished trailer line carried over to the next `feed`, and the bytes of the section's finished lines. */
  private partial: Buffer | undefined;
  private sectionBytes = 0;
  private fields: Record<string, string | string[]> | undefined;

  constructor(private readonly onData: (chunk: Buffer) => void) {}

  get done(): boolean {
    return this.state === Chunk.Done;
  }

  /** Trailer fields (lower-case names; hop-by-hop, framing and weft's own dropped); undefined when none. Valid once done. */
  trailers(): Headers | undefined {
    if (this.fields === undefined) return undefined;
    const out = endToEnd(this.fields);
    // Framing fields are not allowed in trailers (RFC 9110 §6.5.1).
    delete out['content-length'];
    for (const _ in out) return out;
    return undefined;
  }

  /**
   * Consumes bytes of `buf`: returns how many, i.e. all of them unless the body ended inside `buf`, in which case
   * the index just after the final CRLF (the rest belongs to whatever follows the body).
   */
  feed(buf: Buffer): number {
    let i = 0;
    const n = buf.length;
    while (i < n) {
      switch (this.state) {
        case Chunk.Data: {
          const take = Math.min(this.size, n - i);
          this.size -= take;
          this.onData(take === n && i === 0 ? buf : buf.subarray(i, i + take));
          i += take;
          if (this.size === 0) this.state = Chunk.DataCr;
          continue;
        }
        case Chunk.Trailers:
          return this.feedTrailers(buf, i);
        case Chunk.Done:
          return i;
      }
      const c = buf[i++]!;
      if (++this.lineBytes > MAX_CHUNK_LINE_BYTES) throw new H1ParseError(`chunk size line longer than ${MAX_CHUNK_LINE_BYTES} bytes`);
      switch (this.state) {
        case Chunk.Size: {
          const h = HEX[c]!;
          if (h >= 0) {
            if (++this.digits > 16) throw new H1ParseError('chunk size has more than 16 hex digits');
            this.size = this.size * 16 + h;
            if (this.size > Number.MAX_SAFE_INTEGER) throw new H1ParseError('chunk size too large');
          } else if (this.digits === 0) throw new H1ParseError('chunk size is not a hex number');
          else if (c === CR) this.state = Chunk.SizeLf;
          else if (c === 0x3b /* ; */) this.state = Chunk.Ext;
          else if (c === SP || c === HTAB) this.state = Chunk.SizeWs;
          else throw new H1ParseError('invalid character after the chunk size');
          break;
        }
        case Chunk.SizeWs:
          // BWS is allowed only before a chunk extension.
          if (c === 0x3b) this.state = Chunk.Ext;
          else if (c !== SP && c !== HTAB) throw new H1ParseError('invalid character after the chunk size');
          break;
        case Chunk.Ext:
          if (c === CR) this.state = Chunk.SizeLf;
          else if (FIELD[c] === 0) throw new H1ParseError('invalid character in a chunk extension');
          break;
        case Chunk.SizeLf:
          if (c !== LF) throw new H1ParseError('bare CR in a chunk size line');
          this.lineBytes = 0;
          this.digits = 0;
          if (this.size === 0) {
            this.state = Chunk.Trailers;
            return this.feedTrailers(buf, i);
          }
          this.state = Chunk.Data;
          break;
        case Chunk.DataCr:
          if (c !== CR) throw new H1ParseError('chunk data not followed by CRLF');
          this.state = Chunk.DataLf;
          break;
        case Chunk.DataLf:
          if (c !== LF) throw new H1ParseError('chunk data not followed by CRLF');
          this.lineBytes = 0;
          this.state = Chunk.Size;
          break;
      }
    }
    return i;
  }

  /** The trailer section from `buf[from]` on: field lines, then an empty line. */
  private feedTrailers(buf: Buffer, from: number): number {
    let data = buf;
    let pos = from;
    let base = 0; // index in `buf` = index in `data` + base
    if (this.partial !== undefined) {
      data = Buffer.concat([this.partial, buf.subarray(from)]);
      pos = 0;
      base = from - this.partial.length;
      this.partial = undefined;
    }
    for (;;) {
      const eol = lineEnd(data, pos, data.length);
      if (eol < 0) {
        if (this.sectionBytes + data.length - pos > MAX_CHUNK_LINE_BYTES) throw new H1ParseError(`trailer section larger than ${MAX_CHUNK_LINE_BYTES} bytes`);
        if (pos < data.length) this.partial = Buffer.from(data.subarray(pos));
        return buf.length;
      }
      this.sectionBytes += eol + 1 - pos;
      if (this.sectionBytes > MAX_CHUNK_LINE_BYTES) throw new H1ParseError(`trailer section larger than ${MAX_CHUNK_LINE_BYTES} bytes`);
      if (eol === pos + 1) {
        this.state = Chunk.Done;
        return eol + 1 + base;
      }
      parseTrailerLine(data, pos, eol - 1, (this.fields ??= Object.create(null) as Record<string, string | string[]>));
      pos = eol + 1;
    }
  }
}
