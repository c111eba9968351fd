/**
 * Byte-level protocol sniffing for the detection stage (layers/detect.ts):
 * read the first bytes of an accepted connection, decide
 * TLS / HTTP/2 / HTTP/1 / opaque, and put the bytes back (`unshift`) so the
 * chosen server reads the stream from its first byte. A peer that says
 * nothing for the detection timeout is treated as opaque TCP (server-speaks-
 * first protocols such as MySQL or SMTP).
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export type Detected =
  | { readonly kind: 'tls'; readonly sni: string | undefined }
  | { readonly kind: 'http2' }
  | { readonly kind: 'http1' }
  /**
   * `timedOut`: the peer said nothing for the whole detection timeout (a server-speaks-first protocol on a detected
   * port). `head`: the peer half-closed after these bytes, which decided nothing; they were not put back (an ended
   * stream takes none) and go upstream first.
   */
  | { readonly kind: 'opaque'; readonly timedOut?: boolean; readonly head?: Buffer }
  /** A request line with no HTTP/1.x version (e.g. an invalid HTTP/2 preface): neither HTTP/1 nor opaque data. */
  | { readonly kind: 'invalid' };

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
// An uppercase method: a line that starts with one and a gap but has no HTTP version is refused (`invalid`), not
// passed on as opaque bytes: the "INVALID CONNECTION PREFACE" an HTTP/2 client sends a server it mistook, or an
// HTTP/0.9 "GET /path", which Python's http.server still reads with the header lines after it.
const METHOD = /^[A-Z][A-Z-]{1,19}$/;
/**
 * Bytes some HTTP/1 server skips before a request line: RFC 9112 §2.2 lets a server ignore empty lines (Node's
 * does), Python's http.server any whitespace (in Latin-1, NEL and NBSP too), Netty's every ISO control character
 * (0x00–0x1f, 0x7f–0x9f) and whitespace.
 */
const SPACE = byteSet(String.fromCharCode(...range(0x00, 0x20), ...range(0x7f, 0xa0)));
/** Whitespace lenient servers split a request line at (Python's: also VT, FF, 0x1c–0x1f, NEL, NBSP); a LF ends it. */
const GAP = byteSet('\t\v\f\r\x1c\x1d\x1e\x1f \x85\xa0');
/** RFC 9110 tchar: a method token, as the most lenient servers accept it (Go's: any token, lowercase too). */
const TCHAR = byteSet("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
/** Enough for any ClientHello we care about; bigger ones are still TLS, SNI unknown. */
const MAX_PEEK = 16 * 1024;

const OPAQUE: Detected = { kind: 'opaque' };
const SILENT: Detected = { kind: 'opaque', timedOut: true };
const INVALID: Detected = { kind: 'invalid' };
/** Longest request line read before handing the connection to the HTTP/1 server (which answers 414/400 itself). */
const MAX_REQUEST_LINE = 8 * 1024;
const HTTP1: Detected = { kind: 'http1' };
const HTTP2: Detected = { kind: 'http2' };

/**
 * Learns whether a connection's destination is declared opaque when that is known only later (its profile on its
 * way): calls `declared` once it is, and returns how to stop listening.
 */
export type OpaqueHint = (declared: () => void) => () => void;

/**
 * Decides from the bytes so far, or returns undefined to ask for more.
 *
 * Whatever some HTTP/1 server would read as a request must be detected as HTTP/1, never passed on as opaque bytes:
 * opaque bytes reach the application unparsed, past the HTTP policy and the header filter (a forged
 * `weft-client-id` would reach it as sent). So a token, whitespace and a line that ends in an HTTP version is
 * HTTP/1 whatever precedes it (empty lines, spaces) or separates its words, and the HTTP/1 server refuses what it
 * does not accept; bytes are opaque only once they cannot begin such a line.
 */
export function classify(buf: Buffer): Detected | undefined {
  if (buf.length === 0) return undefined;
  const hello = clientHelloStart(buf);
  if (hello !== false) {
    if (hello === undefined) return undefined;
    const recordLen = buf.readUInt16BE(3);
    if (buf.length < 5 + recordLen && buf.length < MAX_PEEK) return undefined;
    return { kind: 'tls', sni: clientHelloSni(buf) };
  }
  const n = Math.min(buf.length, H2_PREFACE.length);
  if (buf.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) return n === H2_PREFACE.length ? HTTP2 : undefined;
  // A request line longer than any we wait for is left to the HTTP/1 server (it answers 414 or 400 itself).
  const more = buf.length < MAX_REQUEST_LINE ? undefined : HTTP1;
  let start = 0;
  while (start < buf.length && SPACE[buf[start]!] === 1) start++;
  if (start === buf.length) return more;
  let gap = start;
  while (gap < buf.length && TCHAR[buf[gap]!] === 1) gap++;
  if (gap === start) return OPAQUE;
  if (gap === buf.length) return more;
  if (GAP[buf[gap]!] !== 1) return OPAQUE;
  const eol = buf.indexOf(0x0a, gap);
  if (eol < 0) return more;
  if (endsWithVersion(buf, gap, eol)) return HTTP1;
  return gap - start <= 20 && METHOD.test(buf.toString('latin1', start, gap)) ? INVALID : OPAQUE;
}

/**
 * What undecided bytes are once the detection timeout passed: silence is opaque (a server-speaks-first protocol),
 * so is a ClientHello still incomplete; anything else could still become a request line (after control bytes, for
 * Netty's server), so it is HTTP/1 (its server applies its own head timeout and refuses what is not one).
 */
function atTimeout(buf: Buffer): Detected {
  if (buf.length === 0) return SILENT;
  return clientHelloStart(buf) === true ? OPAQUE : HTTP1;
}

/** Record lengths a TLS record may have (RFC 8446 §5.1: 2^14 bytes, and 2^14 + 256 protected). */
const MAX_RECORD = 16_384 + 256;

/**
 * Whether the bytes begin a TLS record carrying a ClientHello (RFC 8446 §5.1, §4): a handshake record (22) of
 * version 3.x and a plausible length whose first message is a ClientHello (1); undefined while too few bytes say.
 * Anything else starting with 22 is not TLS: Netty's HTTP/1 server skips that byte, with every other control
 * character, before a request line.
 */
function clientHelloStart(buf: Buffer): boolean | undefined {
  if (buf[0] !== 0x16) return false;
  if (buf.length < 2) return undefined;
  if (buf[1] !== 0x03) return false;
  if (buf.length < 3) return undefined;
  if (buf[2]! > 0x04) return false;
  if (buf.length < 5) return undefined;
  const recordLen = buf.readUInt16BE(3);
  if (recordLen === 0 || recordLen > MAX_RECORD) return false;
  if (buf.length < 6) return undefined;
  return buf[5] === 0x01;
}

const HTTP_SLASH = Buffer.from('HTTP/', 'latin1');

/**
 * Whether `buf[from, to)` (a request line after its method, starting with a gap) ends in a gap, an HTTP/x.y version
 * (leniently: any digits) and nothing but gaps after it.
 */
function endsWithVersion(buf: Buffer, from: number, to: number): boolean {
  let end = to;
  while (end > from && GAP[buf[end - 1]!] === 1) end--;
  const minor = digitsBefore(buf, from, end);
  if (minor === end || minor <= from || buf[minor - 1] !== 0x2e /* . */) return false;
  const major = digitsBefore(buf, from, minor - 1);
  if (major === minor - 1) return false;
  const name = major - HTTP_SLASH.length;
  return name > from && GAP[buf[name - 1]!] === 1 && buf.compare(HTTP_SLASH, 0, HTTP_SLASH.length, name, major) === 0;
}

/** The start of the run of ASCII digits that ends at `end` (`end` itself when there is none). */
function digitsBefore(buf: Buffer, from: number, end: number): number {
  let i = end;
  while (i > from && buf[i - 1]! >= 0x30 && buf[i - 1]! <= 0x39) i--;
  return i;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

function byteSet(chars: string): Uint8Array {
  const set = new Uint8Array(256);
  for (let i = 0; i < chars.length; i++) set[chars.charCodeAt(i)] = 1;
  return set;
}

/**
 * Reads until the protocol is known (or `timeoutMs` passes: opaque), then
 * un-reads what it read. Resolves undefined when the peer closed (or reset)
 * first, or half-closed without a byte; a peer that half-closed after bytes
 * that decided nothing is opaque, its bytes handed over as `head`.
 * With `hint`, a destination declared opaque while the bytes so far decide
 * nothing ends the wait: opaque at once (a server-speaks-first protocol
 * whose client says nothing until it is greeted).
 */
export function sniff(socket: Socket, timeoutMs: number, hint?: OpaqueHint): Promise<Detected | undefined> {
  return new Promise((resolve) => {
    let buf: Buffer = Buffer.alloc(0);
    let done = false;
    let stopHint: (() => void) | undefined;
    const finish = (result: Detected | undefined, ended = false): void => {
      if (done) return;
      done = true;
      if (stopHint !== undefined) stopHint();
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onGone);
      socket.off('close', onGone);
      socket.pause();
      if (buf.length > 0 && !ended) socket.unshift(buf);
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const d = classify(buf);
      if (d) finish(d);
    };
    const onEnd = (): void => finish(buf.length > 0 ? { kind: 'opaque', head: buf } : undefined, true);
    const onGone = (): void => finish(undefined, true);
    const timer = setTimeout(() => finish(atTimeout(buf)), timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onGone);
    socket.once('close', onGone);
    // A stream paused by an earlier reader (the weft.tcp header) does not resume by itself when 'data' is listened to.
    socket.resume();
    if (hint !== undefined) {
      const stop = hint(() => finish(OPAQUE));
      // Declared at once (the hint's listener ran inside `hint`): nothing left to stop.
      if (done) stop();
      else stopHint = stop;
    }
  });
}

/**
 * Reads the HTTP/2 client connection preface on a stream that must be HTTP/2 (mesh mTLS, ALPN weft.h2) and puts it
 * back. Resolves false as soon as a byte differs (RFC 9113 §3.4: a connection error), or when the peer closes or
 * stays silent for `timeoutMs`.
 */
export function readH2Preface(socket: Duplex, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let buf: Buffer = Buffer.alloc(0);
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.pause();
      if (buf.length > 0) socket.unshift(buf);
      resolve(ok);
    };
    const onData = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const n = Math.min(buf.length, H2_PREFACE.length);
      if (!buf.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) finish(false);
      else if (n === H2_PREFACE.length) finish(true);
    };
    const onEnd = (): void => finish(false);
    const timer = setTimeout(onEnd, timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.resume();
  });
}

/** What a server sends a client whose preface was wrong: its (empty) SETTINGS, then GOAWAY PROTOCOL_ERROR (RFC 9113 §3.4, §5.4.1). */
export const H2_PREFACE_REFUSAL = Buffer.from('000000040000000000' + '000008070000000000' + '00000000' + '00000001', 'hex');

/**
 * Extracts the server_name from a TLS ClientHello (RFC 8446 §4.1.2, RFC 6066
 * §3), or undefined when absent or unparsable. Only the first record is read.
 */
export function clientHelloSni(buf: Buffer): string | undefined {
  try {
    let p = 5; // record header
    if (buf[p] !== 0x01) return undefined; // handshake type ClientHello
    p += 4; // type + 24-bit length
    p += 2 + 32; // legacy_version + random
    p += 1 + buf[p]!; // session id
    p += 2 + buf.readUInt16BE(p); // cipher suites
    p += 1 + buf[p]!; // compression methods
    const extEnd = p + 2 + buf.readUInt16BE(p);
    p += 2;
    while (p + 4 <= extEnd && p + 4 <= buf.length) {
      const type = buf.readUInt16BE(p);
      const len = buf.readUInt16BE(p + 2);
      p += 4;
      if (type === 0x0000) {
        // server_name_list: u16 list length, then (u8 type, u16 len, name)
        let q = p + 2;
        while (q + 3 <= p + len) {
          const nameType = buf[q]!;
          const nameLen = buf.readUInt16BE(q + 1);
          if (nameType === 0) return buf.toString('ascii', q + 3, q + 3 + nameLen);
          q += 3 + nameLen;
        }
        return undefined;
      }
      p += len;
    }
  } catch {
    // Truncated or malformed hello: no SNI; the TLS stack will reject it properly.
  }
  return undefined;
}
