/**
 * The HTTP/1.1 request heads the proxy's own HTTP/1 server serves itself: a strict subset of RFC 9112 that covers
 * what applications send on the hot path. Everything outside it is not an error here but `UNSUPPORTED`: the
 * connection is then handed, bytes untouched, to Node's HTTP server, which answers it exactly as it always did
 * (400/431 for malformed input, HTTP/1.0, `Expect`, `Upgrade`, absolute-form targets, duplicate fields, obs-text).
 * So this parser may only accept what Node's would accept with the same meaning; when in doubt it declines.
 *
 * The head is scanned byte by byte, once, and every field goes straight into the request's end-to-end headers
 * (what `endToEnd` in ../headers.ts keeps). The head is decoded once; each value, and each field name that is not a
 * common one, is cut from that string (a cut is JavaScript only, where a decode per field is a call into C++ that
 * costs as much as the rest of the parse). No line strings, no match arrays: a request costs the proxy little garbage.
 */
import type { Headers } from '../../svc.js';
import { endToEnd, isWeftName } from '../headers.js';
import { hasUpper, LOWER, TOKEN } from './wire.js';

/** A head this parser does not serve; the connection goes to Node's HTTP server with the bytes as they came. */
export const UNSUPPORTED = Symbol('unsupported head');

/** The largest head served here; a longer one goes to Node's server (which applies the configured limit, 431). */
export const MAX_FAST_HEAD = 16 * 1024;
/** More header fields than this go to Node's server. */
const MAX_FIELDS = 100;

/** How the request body is delimited. */
export type Framing = { readonly kind: 'none' } | { readonly kind: 'length'; readonly length: number } | { readonly kind: 'chunked' };

export interface RequestHead {
  readonly method: string;
  readonly target: string;
  /**
   * The end-to-end fields, as `endToEnd` gives them: names lower-cased, each at most once; hop-by-hop fields, those
   * `Connection` names and weft's own (`weft-*`) left out, `te: trailers` kept.
   */
  readonly headers: Headers;
  readonly host: string;
  readonly framing: Framing;
  /** The client asked to close the connection after this exchange (`Connection: close`). */
  readonly close: boolean;
  /** Bytes of the head including its final CRLF CRLF. */
  readonly size: number;
}

const NONE: Framing = { kind: 'none' };
const CHUNKED: Framing = { kind: 'chunked' };

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 0x3a;
const COMMA = 0x2c;
const SLASH = 0x2f;

/** origin-form after its `/`: RFC 3986 path and query characters (no fragment, no space, no non-ASCII). */
const ORIGIN = new Uint8Array(256);
for (const c of "-._~!$&'()*+,;=:@/?%") ORIGIN[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) ORIGIN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) ORIGIN[c] = ORIGIN[c + 0x20] = 1;
/** A field value's characters served here: visible ASCII, SP and HTAB (obs-text and controls go to Node's server). */
const VALUE = new Uint8Array(256);
VALUE[HTAB] = 1;
for (let c = 0x20; c <= 0x7e; c++) VALUE[c] = 1;

const HTTP11 = bytes(' HTTP/1.1\r\n');
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

/** What the parser does with a field beyond putting it in the headers. */
const enum Role {
  Plain,
  Host,
  Connection,
  TransferEncoding,
  ContentLength,
  Te,
  /** `Upgrade`, `Expect`: served by Node's server. */
  Declined,
}

interface KnownName {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly role: Role;
  /** For a field `endToEnd` leaves out: its bit in the parser's set of the ones seen (a second one is declined). */
  readonly dropBit: number;
}

/** The field names requests commonly carry, found without allocating a string, by length and first and last byte. */
const KNOWN: (KnownName[] | undefined)[] = new Array(256);
const knownSlot = (length: number, first: number, last: number): number => (length * 31 + first * 7 + last) & 255;
{
  const roles: Record<string, Role> = {
    host: Role.Host,
    connection: Role.Connection,
    'transfer-encoding': Role.TransferEncoding,
    'content-length': Role.ContentLength,
    te: Role.Te,
    upgrade: Role.Declined,
    expect: Role.Declined,
  };
  const common = [
    'keep-alive', 'proxy-connection', 'http2-settings', 'user-agent', 'accept', 'accept-encoding', 'accept-language',
    'content-type', 'cookie', 'referer', 'origin', 'authorization', 'cache-control', 'pragma', 'if-none-match',
    'if-modified-since', 'range', 'dnt', 'priority', 'upgrade-insecure-requests', 'sec-fetch-site', 'sec-fetch-mode',
    'sec-fetch-user', 'sec-fetch-dest', 'sec-ch-ua', 'sec-ch-ua-mobile', 'sec-ch-ua-platform', 'x-request-id',
    'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-real-ip', 'traceparent', 'tracestate', 'b3',
    'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'grpc-timeout', 'content-encoding',
  ];
  let bit = 1;
  for (const name of [...Object.keys(roles), ...common]) {
    // Which fields are hop-by-hop is asked of endToEnd itself, so the two never disagree.
    const dropped = !(name in endToEnd({ [name]: 'x' }));
    if (dropped && bit === 1 << 30) throw new Error('too many known hop-by-hop field names');
    const entry: KnownName = { name, bytes: bytes(name), role: roles[name] ?? Role.Plain, dropBit: dropped ? bit : 0 };
    if (dropped) bit <<= 1;
    (KNOWN[knownSlot(name.length, name.charCodeAt(0), name.charCodeAt(name.length - 1))] ??= []).push(entry);
  }
}

const CLOSE = bytes('close');
const KEEP_ALIVE = bytes('keep-alive');
const UPGRADE = bytes('upgrade');
const CHUNKED_BYTES = bytes('chunked');
const TRAILERS = bytes('trailers');

/** Field names that are not KNOWN are lower-cased here first, so each costs one string. */
const SCRATCH = Buffer.allocUnsafeSlow(MAX_FAST_HEAD);

/**
 * Parses the head at the start of `buf`: `undefined` while it is incomplete (and still short enough to be served
 * here), UNSUPPORTED for anything outside the subset above.
 */
export function parseRequestHead(buf: Buffer): RequestHead | undefined | typeof UNSUPPORTED {
  const end = buf.indexOf(HEAD_END);
  if (end < 0) return buf.length > MAX_FAST_HEAD || !plausible(buf) ? UNSUPPORTED : undefined;
  if (end + 4 > MAX_FAST_HEAD) return UNSUPPORTED;
  // Every check below reads at most up to buf[end], a CR: scans stop there without bounds checks.

  // request-line = method SP origin-form SP "HTTP/1.1" CRLF
  let sp1 = 0;
  while (sp1 < 8 && buf[sp1] !== SP) sp1++;
  const method = methodOf(buf, sp1);
  if (method === undefined || buf[sp1 + 1] !== SLASH) return UNSUPPORTED;
  let sp2 = sp1 + 2;
  while (ORIGIN[buf[sp2]!] === 1) sp2++;
  for (let i = 0; i < HTTP11.length; i++) if (buf[sp2 + i] !== HTTP11[i]) return UNSUPPORTED;
  // A request line alone has no Host.
  if (sp2 + 9 === end) return UNSUPPORTED;
  const text = buf.toString('latin1', 0, end);
  const target = sp2 === sp1 + 2 ? '/' : text.slice(sp1 + 1, sp2);

  const headers: Headers = {};
  let host: string | undefined;
  let dropped = 0;
  let droppedOther: Set<string> | undefined;
  let connFrom = -1;
  let connTo = -1;
  let chunked = false;
  let length = -1;
  let fields = 0;
  for (let p = sp2 + HTTP11.length; ; ) {
    if (++fields > MAX_FIELDS) return UNSUPPORTED;
    // field-line = field-name ":" OWS field-value OWS; a line starting with SP/HTAB (obs-fold) has no name.
    let colon = p;
    while (TOKEN[buf[colon]!] === 1) colon++;
    if (colon === p || buf[colon] !== COLON) return UNSUPPORTED;
    let eol = colon + 1;
    while (VALUE[buf[eol]!] === 1) eol++;
    // Anything but the CRLF ending the line (a bare CR or LF, NUL, obs-text) is Node's to refuse.
    if (eol !== end && (buf[eol] !== CR || buf[eol + 1] !== LF)) return UNSUPPORTED;
    let vs = colon + 1;
    let ve = eol;
    while (vs < ve && (buf[vs] === SP || buf[vs] === HTAB)) vs++;
    while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HTAB)) ve--;

    const known = knownName(buf, p, colon);
    if (known !== undefined) {
      if (known.dropBit !== 0) {
        if ((dropped & known.dropBit) !== 0) return UNSUPPORTED;
        dropped |= known.dropBit;
      } else if (headers[known.name] !== undefined) return UNSUPPORTED;
      switch (known.role) {
        case Role.Plain:
          if (known.dropBit === 0) headers[known.name] = text.slice(vs, ve);
          break;
        case Role.Host:
          if (ve === vs) return UNSUPPORTED;
          host = text.slice(vs, ve);
          break;
        case Role.Connection:
          connFrom = vs;
          connTo = ve;
          break;
        case Role.TransferEncoding:
          if (!equalsLower(buf, vs, ve, CHUNKED_BYTES)) return UNSUPPORTED;
          chunked = true;
          break;
        case Role.ContentLength: {
          // 1 to 15 digits: always a safe integer.
          if (ve === vs || ve - vs > 15) return UNSUPPORTED;
          let n = 0;
          for (let i = vs; i < ve; i++) {
            const d = buf[i]! - 0x30;
            if (d < 0 || d > 9) return UNSUPPORTED;
            n = n * 10 + d;
          }
          length = n;
          if (known.dropBit === 0) headers[known.name] = text.slice(vs, ve);
          break;
        }
        case Role.Te:
          // The one hop-by-hop field that travels: gRPC needs it (case-sensitive, as endToEnd keeps it).
          if (equalsExact(buf, vs, ve, TRAILERS)) headers.te = 'trailers';
          break;
        case Role.Declined:
          return UNSUPPORTED;
      }
    } else {
      const name = lowerName(buf, text, p, colon);
      if (isWeftName(name)) {
        // weft's own inter-proxy fields: a client must not be able to set them.
        if (droppedOther?.has(name)) return UNSUPPORTED;
        (droppedOther ??= new Set()).add(name);
      } else {
        // `!== undefined` also declines `constructor` and `__proto__`, which a plain object already has.
        if (headers[name] !== undefined) return UNSUPPORTED;
        headers[name] = text.slice(vs, ve);
      }
    }
    if (eol === end) break;
    p = eol + 2;
  }
  if (host === undefined) return UNSUPPORTED;

  let close = false;
  if (connFrom >= 0) {
    let others = false;
    for (let s = connFrom; s <= connTo; ) {
      let e = s;
      while (e < connTo && buf[e] !== COMMA) e++;
      let a = s;
      let z = e;
      while (a < z && (buf[a] === SP || buf[a] === HTAB)) a++;
      while (z > a && (buf[z - 1] === SP || buf[z - 1] === HTAB)) z--;
      if (equalsLower(buf, a, z, CLOSE)) close = true;
      else if (equalsLower(buf, a, z, UPGRADE)) return UNSUPPORTED;
      else if (z > a && !equalsLower(buf, a, z, KEEP_ALIVE)) others = true;
      s = e + 1;
    }
    // The fields `Connection` names are hop-by-hop too (rare beyond close and keep-alive, which is one already).
    if (others) {
      for (const token of text.slice(connFrom, connTo).toLowerCase().split(',')) {
        const t = token.trim();
        if (t !== 'te' && Object.hasOwn(headers, t)) delete headers[t];
      }
    } else if (close && headers.close !== undefined) delete headers.close;
  }

  let framing = NONE;
  if (chunked) {
    if (length >= 0) return UNSUPPORTED;
    framing = CHUNKED;
  } else if (length > 0) framing = { kind: 'length', length };
  return { method, target, headers, host, framing, close, size: end + 4 };
}

/** The method of `buf[0, n)` if it is one served here: any other token (or CONNECT) goes to Node's server. */
function methodOf(buf: Buffer, n: number): string | undefined {
  const c0 = buf[0];
  switch (n) {
    case 3:
      if (c0 === 0x47 && buf[1] === 0x45 && buf[2] === 0x54) return 'GET';
      if (c0 === 0x50 && buf[1] === 0x55 && buf[2] === 0x54) return 'PUT';
      return undefined;
    case 4:
      if (c0 === 0x48 && buf[1] === 0x45 && buf[2] === 0x41 && buf[3] === 0x44) return 'HEAD';
      if (c0 === 0x50 && buf[1] === 0x4f && buf[2] === 0x53 && buf[3] === 0x54) return 'POST';
      return undefined;
    case 5:
      return matches(buf, 0, PATCH) ? 'PATCH' : undefined;
    case 6:
      return matches(buf, 0, DELETE) ? 'DELETE' : undefined;
    case 7:
      return matches(buf, 0, OPTIONS) ? 'OPTIONS' : undefined;
    default:
      return undefined;
  }
}
const PATCH = bytes('PATCH');
const DELETE = bytes('DELETE');
const OPTIONS = bytes('OPTIONS');

function knownName(buf: Buffer, from: number, to: number): KnownName | undefined {
  const n = to - from;
  const slot = KNOWN[knownSlot(n, LOWER[buf[from]!]!, LOWER[buf[to - 1]!]!)];
  if (slot === undefined) return undefined;
  for (let k = 0; k < slot.length; k++) {
    const known = slot[k]!;
    if (equalsLower(buf, from, to, known.bytes)) return known;
  }
  return undefined;
}

function lowerName(buf: Buffer, text: string, from: number, to: number): string {
  if (!hasUpper(buf, from, to)) return text.slice(from, to);
  const n = to - from;
  for (let i = 0; i < n; i++) SCRATCH[i] = LOWER[buf[from + i]!]!;
  return SCRATCH.toString('latin1', 0, n);
}

/** Whether `buf[from, to)` with ASCII capitals lower-cased is `lower`. */
function equalsLower(buf: Buffer, from: number, to: number, lower: Uint8Array): boolean {
  if (to - from !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) if (LOWER[buf[from + i]!] !== lower[i]) return false;
  return true;
}

function equalsExact(buf: Buffer, from: number, to: number, want: Uint8Array): boolean {
  return to - from === want.length && matches(buf, from, want);
}

function matches(buf: Buffer, from: number, want: Uint8Array): boolean {
  for (let i = 0; i < want.length; i++) if (buf[from + i] !== want[i]) return false;
  return true;
}

function bytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/**
 * An incomplete head that can still become one served here: it starts with a method's capital letters and has no
 * bare LF. Anything else goes to Node's server at once, so its 400 does not wait for a head that never completes.
 */
function plausible(buf: Buffer): boolean {
  const n = Math.min(buf.length, 8);
  for (let i = 0; i < n; i++) {
    const c = buf[i]!;
    if (c === SP) break;
    if (c < 0x41 || c > 0x5a) return false;
  }
  for (let i = buf.indexOf(LF); i >= 0; i = buf.indexOf(LF, i + 1)) if (i === 0 || buf[i - 1] !== CR) return false;
  return true;
}
