/**
 * The HTTP/1.1 request heads the proxy's own HTTP/1 server serves itself: a strict subset of RFC 9112 that covers
 * what applications send on the hot path. Everything outside it is not an error here but `UNSUPPORTED`: the
 * connection is then handed, bytes untouched, to Node's HTTP server, which answers it exactly as it always did
 * (400/431 for malformed input, HTTP/1.0, `Expect`, `Upgrade`, absolute-form targets, duplicate fields, obs-text).
 * So this parser may only accept what Node's would accept with the same meaning; when in doubt it declines.
 */

/** A head this parser does not serve; the connection goes to Node's HTTP server with the bytes as they came. */
export const UNSUPPORTED = Symbol('unsupported head');

/** The largest head served here; a longer one goes to Node's server (which applies the configured limit, 431). */
export const MAX_FAST_HEAD = 16 * 1024;
/** More header fields than this go to Node's server. */
const MAX_FIELDS = 100;

/** Methods served here; any other token (or CONNECT) goes to Node's server, which knows llhttp's full list. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);
/** origin-form: `/` then RFC 3986 path and query characters (no fragment, no space, no non-ASCII). */
const ORIGIN_FORM = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*$/;
/** A field name (token) followed by `:`; the value: visible ASCII, SP and HTAB only. */
const FIELD = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([\t\x20-\x7e]*?)[ \t]*$/;
const DIGITS = /^[0-9]{1,15}$/;

/** How the request body is delimited. */
export type Framing = { readonly kind: 'none' } | { readonly kind: 'length'; readonly length: number } | { readonly kind: 'chunked' };

export interface RequestHead {
  readonly method: string;
  readonly target: string;
  /** Field names lower-cased; each name at most once. */
  readonly fields: Record<string, string>;
  readonly host: string;
  readonly framing: Framing;
  /** The client asked to close the connection after this exchange (`Connection: close`). */
  readonly close: boolean;
  /** Bytes of the head including its final CRLF CRLF. */
  readonly size: number;
}

const NONE: Framing = { kind: 'none' };
const CHUNKED: Framing = { kind: 'chunked' };

/**
 * Parses the head at the start of `buf`: `undefined` while it is incomplete (and still short enough to be served
 * here), UNSUPPORTED for anything outside the subset above.
 */
export function parseRequestHead(buf: Buffer): RequestHead | undefined | typeof UNSUPPORTED {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return buf.length > MAX_FAST_HEAD || !plausible(buf) ? UNSUPPORTED : undefined;
  if (end + 4 > MAX_FAST_HEAD) return UNSUPPORTED;
  const lines = buf.toString('latin1', 0, end).split('\r\n');
  const first = lines[0]!;
  const sp1 = first.indexOf(' ');
  const sp2 = first.indexOf(' ', sp1 + 1);
  if (sp1 <= 0 || sp2 < 0 || first.length - sp2 !== 9 || !first.endsWith(' HTTP/1.1')) return UNSUPPORTED;
  const method = first.slice(0, sp1);
  const target = first.slice(sp1 + 1, sp2);
  if (!METHODS.has(method) || !ORIGIN_FORM.test(target)) return UNSUPPORTED;
  if (lines.length - 1 > MAX_FIELDS) return UNSUPPORTED;
  const fields: Record<string, string> = {};
  for (let i = 1; i < lines.length; i++) {
    // A bare CR or LF is left inside a line by the split; a leading SP/HTAB is obs-fold: both are Node's to refuse.
    const m = FIELD.exec(lines[i]!);
    if (m === null) return UNSUPPORTED;
    const name = m[1]!.toLowerCase();
    if (fields[name] !== undefined) return UNSUPPORTED;
    fields[name] = m[2]!;
  }
  const host = fields.host;
  if (host === undefined || host === '' || fields.upgrade !== undefined || fields.expect !== undefined) return UNSUPPORTED;
  let close = false;
  const connection = fields.connection;
  if (connection !== undefined) {
    for (const token of connection.toLowerCase().split(',')) {
      const t = token.trim();
      if (t === 'close') close = true;
      else if (t === 'upgrade') return UNSUPPORTED;
    }
  }
  const te = fields['transfer-encoding'];
  const cl = fields['content-length'];
  let framing = NONE;
  if (te !== undefined) {
    if (cl !== undefined || te.toLowerCase() !== 'chunked') return UNSUPPORTED;
    framing = CHUNKED;
  } else if (cl !== undefined) {
    if (!DIGITS.test(cl)) return UNSUPPORTED;
    const length = Number(cl);
    if (length > 0) framing = { kind: 'length', length };
  }
  return { method, target, fields, host, framing, close, size: end + 4 };
}

/**
 * An incomplete head that can still become one served here: it starts with a method's capital letters and has no
 * bare LF. Anything else goes to Node's server at once, so its 400 does not wait for a head that never completes.
 */
function plausible(buf: Buffer): boolean {
  const n = Math.min(buf.length, 8);
  for (let i = 0; i < n; i++) {
    const c = buf[i]!;
    if (c === 0x20) break;
    if (c < 0x41 || c > 0x5a) return false;
  }
  for (let i = buf.indexOf(0x0a); i >= 0; i = buf.indexOf(0x0a, i + 1)) if (i === 0 || buf[i - 1] !== 0x0d) return false;
  return true;
}
