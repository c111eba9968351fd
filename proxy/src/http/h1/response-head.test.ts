/**
 * Differential test of the HTTP/1 response-head parser (and of the trailer section, which shares its line checks)
 * against the previous implementation, which looked for each line's end with `indexOf` and decoded each name and
 * value on its own. The two must agree on every input: the same head, `undefined` for the same incomplete ones,
 * and an H1ParseError with the same message for the same malformed ones.
 *
 * The generator is seeded; a failure prints the seed and the input. WEFT_H1_DIFF_SEED=<number> runs another seed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prng as random } from '@weft/common/testing/mutate';
import { isWeftName } from '../headers.js';
import { ChunkedDecoder, H1ParseError, MAX_CHUNK_LINE_BYTES, MAX_HEAD_BYTES, TOKEN, hasUpper, parseResponseHead, type ResponseHead } from './wire.js';

const SEED = process.env.WEFT_H1_DIFF_SEED === undefined ? 0x2e5b0d17 : Number(process.env.WEFT_H1_DIFF_SEED);
if (!Number.isInteger(SEED)) throw new Error(`WEFT_H1_DIFF_SEED must be an integer, not ${JSON.stringify(process.env.WEFT_H1_DIFF_SEED)}`);

// ---------------------------------------------------------------------------
// The previous implementation, kept here only as the oracle (wire.ts at 477ed41).

const O_CR = 13;
const O_LF = 10;
const O_SP = 32;
const O_HTAB = 9;
const O_FIELD = new Uint8Array(256);
O_FIELD[O_HTAB] = 1;
for (let c = 0x20; c <= 0x7e; c++) O_FIELD[c] = 1;
for (let c = 0x80; c <= 0xff; c++) O_FIELD[c] = 1;

/** A head as the previous parser gave it: every field, hop-by-hop ones included, in an object without a prototype. */
interface RawHead {
  readonly status: number;
  readonly version: '1.0' | '1.1';
  readonly headers: Record<string, string | string[]>;
  readonly end: number;
}

function oracleParseResponseHead(buf: Buffer, start = 0): RawHead | undefined {
  const limit = Math.min(buf.length, start + MAX_HEAD_BYTES);
  let eol = oracleLineEnd(buf, start, limit);
  if (eol < 0) return oracleIncomplete(buf, start);
  const lineLen = eol - 1 - start;
  if (
    lineLen < 12 ||
    buf[start] !== 0x48 || buf[start + 1] !== 0x54 || buf[start + 2] !== 0x54 || buf[start + 3] !== 0x50 ||
    buf[start + 4] !== 0x2f || buf[start + 5] !== 0x31 || buf[start + 6] !== 0x2e ||
    (buf[start + 7] !== 0x30 && buf[start + 7] !== 0x31) || buf[start + 8] !== O_SP ||
    !oracleIsDigit(buf[start + 9]!) || !oracleIsDigit(buf[start + 10]!) || !oracleIsDigit(buf[start + 11]!) ||
    (lineLen > 12 && buf[start + 12] !== O_SP) || buf[start + 9] === 0x30
  ) {
    throw new H1ParseError(`bad status line ${JSON.stringify(buf.toString('latin1', start, Math.min(eol - 1, start + 64)))}`);
  }
  for (let i = start + 13; i < eol - 1; i++) if (O_FIELD[buf[i]!] === 0) throw new H1ParseError('invalid character in the reason phrase');
  const version = buf[start + 7] === 0x31 ? '1.1' : '1.0';
  const status = (buf[start + 9]! - 0x30) * 100 + (buf[start + 10]! - 0x30) * 10 + (buf[start + 11]! - 0x30);
  const headers: Record<string, string | string[]> = Object.create(null);
  let pos = eol + 1;
  for (;;) {
    eol = oracleLineEnd(buf, pos, limit);
    if (eol < 0) return oracleIncomplete(buf, start);
    if (eol === pos + 1) return { status, version, headers, end: eol + 1 };
    oracleParseFieldLine(buf, pos, eol - 1, headers);
    pos = eol + 1;
  }
}

function oracleParseFieldLine(buf: Buffer, from: number, to: number, into: Record<string, string | string[]>): void {
  const first = buf[from]!;
  if (first === O_SP || first === O_HTAB) throw new H1ParseError('obsolete line folding');
  let colon = from;
  while (colon < to && TOKEN[buf[colon]!] === 1) colon++;
  if (colon === from || colon === to || buf[colon] !== 0x3a) throw new H1ParseError(`invalid header name ${JSON.stringify(buf.toString('latin1', from, Math.min(to, from + 64)))}`);
  let vs = colon + 1;
  let ve = to;
  while (vs < ve && (buf[vs] === O_SP || buf[vs] === O_HTAB)) vs++;
  while (ve > vs && (buf[ve - 1] === O_SP || buf[ve - 1] === O_HTAB)) ve--;
  for (let i = vs; i < ve; i++) if (O_FIELD[buf[i]!] === 0) throw new H1ParseError(`invalid character in the value of ${buf.toString('latin1', from, colon)}`);
  const name = oracleLowerName(buf, from, colon);
  const value = buf.toString('latin1', vs, ve);
  const prev = into[name];
  if (prev === undefined) into[name] = value;
  else if (typeof prev === 'string') into[name] = [prev, value];
  else prev.push(value);
}

function oracleLineEnd(buf: Buffer, from: number, limit: number): number {
  const lf = buf.indexOf(O_LF, from);
  if (lf < 0 || lf >= limit) return -1;
  if (lf === from || buf[lf - 1] !== O_CR) throw new H1ParseError('bare LF line ending');
  const cr = buf.indexOf(O_CR, from);
  if (cr !== lf - 1) throw new H1ParseError('bare CR');
  return lf;
}

function oracleIncomplete(buf: Buffer, start: number): undefined {
  if (buf.length - start >= MAX_HEAD_BYTES) throw new H1ParseError(`response head larger than ${MAX_HEAD_BYTES} bytes`);
  return undefined;
}

function oracleIsDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

const ORACLE_KNOWN = new Map<string, string>();
for (const n of ['content-length', 'content-type', 'transfer-encoding', 'connection', 'keep-alive', 'date', 'server', 'etag', 'cache-control', 'vary', 'location', 'set-cookie', 'trailer', 'grpc-status', 'grpc-message', 'last-modified', 'content-encoding', 'expires', 'accept-ranges', 'age']) ORACLE_KNOWN.set(n, n);

function oracleLowerName(buf: Buffer, from: number, to: number): string {
  const raw = buf.toString('latin1', from, to);
  const name = hasUpper(buf, from, to) ? raw.toLowerCase() : raw;
  return ORACLE_KNOWN.get(name) ?? name;
}

/** The previous ChunkedDecoder's trailer section, fed whole: the fields, 'incomplete', or a thrown H1ParseError. */
function oracleTrailerSection(data: Buffer): Record<string, string | string[]> | undefined | 'incomplete' {
  let pos = 0;
  let sectionBytes = 0;
  let fields: Record<string, string | string[]> | undefined;
  for (;;) {
    const eol = oracleLineEnd(data, pos, data.length);
    if (eol < 0) {
      if (sectionBytes + data.length - pos > MAX_CHUNK_LINE_BYTES) throw new H1ParseError(`trailer section larger than ${MAX_CHUNK_LINE_BYTES} bytes`);
      return 'incomplete';
    }
    sectionBytes += eol + 1 - pos;
    if (sectionBytes > MAX_CHUNK_LINE_BYTES) throw new H1ParseError(`trailer section larger than ${MAX_CHUNK_LINE_BYTES} bytes`);
    if (eol === pos + 1) return fields;
    oracleParseFieldLine(data, pos, eol - 1, (fields ??= Object.create(null) as Record<string, string | string[]>));
    pos = eol + 1;
  }
}

/**
 * A raw head split as a proxy forwards it, by the rules the HTTP/1 client applied to the raw fields before the
 * parser left the hop-by-hop ones out itself (headers.ts `toEndToEnd` at dbee48f): a field is dropped when it is
 * hop-by-hop or named by a `Connection` string, but `te: trailers`; weft's own fields go aside.
 */
function oracleSplit(raw: RawHead): ResponseHead {
  const h = raw.headers;
  const named = typeof h.connection === 'string' && h.connection.length > 0 ? new Set(h.connection.toLowerCase().split(',').map((s) => s.trim())) : undefined;
  const headers: Record<string, string | string[]> = Object.create(null);
  let weft: Record<string, string | string[]> | undefined;
  for (const name in h) {
    const value = h[name]!;
    // (The client read weft's own fields before dropping any: one that Connection names is still set aside.)
    if (isWeftName(name)) (weft ??= Object.create(null) as Record<string, string | string[]>)[name] = value;
    else if (ORACLE_HOP_BY_HOP.has(name) || named?.has(name)) {
      if (name === 'te' && value === 'trailers') headers[name] = value;
    } else headers[name] = value;
  }
  return { status: raw.status, version: raw.version, headers, connection: h.connection, keepAlive: h['keep-alive'], transferEncoding: h['transfer-encoding'], weft, end: raw.end };
}
const ORACLE_HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'host', 'expect', 'http2-settings']);

// ---------------------------------------------------------------------------
// Comparison

type Outcome = { kind: 'head'; picture: unknown } | { kind: 'incomplete' } | { kind: 'error'; message: string };

/** What a parse gave, comparable with deepStrictEqual: the headers' entries in order and their prototype. */
function outcome(parse: () => ResponseHead | undefined): Outcome {
  let head: ResponseHead | undefined;
  try {
    head = parse();
  } catch (err) {
    // Anything but an H1ParseError is a bug in the parser under test: let it fail the test.
    if (!(err instanceof H1ParseError)) throw err;
    return { kind: 'error', message: err.message };
  }
  if (head === undefined) return { kind: 'incomplete' };
  const { status, version, headers, connection, keepAlive, transferEncoding, weft, end } = head;
  // A field named as a property of Object.prototype must be a field of its own, not shadowed by (or setting) the prototype's.
  const shadowed = Object.getPrototypeOf(headers) !== null && Object.keys(headers).some((k) => k in Object.prototype);
  const picture = { status, version, end, headers: Object.entries(headers), shadowed, connection, keepAlive, transferEncoding, weft: weft && Object.entries(weft), keys: Object.keys(head).sort() };
  return { kind: 'head', picture };
}

/** What kind of outcome it was, for the coverage counts: 'head', 'incomplete' or the error's kind. */
function kindOf(o: Outcome): string {
  if (o.kind !== 'error') return o.kind;
  for (const kind of ['bad status line', 'reason phrase', 'obsolete line folding', 'invalid header name', 'invalid character in the value', 'bare LF', 'bare CR', 'response head larger']) {
    if (o.message.includes(kind)) return kind;
  }
  return `other error: ${o.message}`;
}

/** Runs both parsers on each input: any difference but an error's message fails at once; message differences are counted. */
class Differential {
  readonly kinds = new Map<string, number>();
  messageDifferences = 0;
  firstMessageDifference = '';

  check(buf: Buffer, start: number, what: string): void {
    const want = outcome(() => {
      const raw = oracleParseResponseHead(buf, start);
      return raw && oracleSplit(raw);
    });
    const got = outcome(() => parseResponseHead(buf, start));
    const where = `seed ${SEED} (WEFT_H1_DIFF_SEED=${SEED}), ${what}, start ${start}: ${JSON.stringify(buf.toString('latin1').slice(0, 300))}`;
    if (want.kind === 'error' && got.kind === 'error') {
      if (want.message !== got.message && this.messageDifferences++ === 0) this.firstMessageDifference = `${where}: ${JSON.stringify(want.message)} became ${JSON.stringify(got.message)}`;
    } else {
      assert.deepStrictEqual(got, want, where);
    }
    const kind = kindOf(want);
    this.kinds.set(kind, (this.kinds.get(kind) ?? 0) + 1);
  }

  assertSameMessages(): void {
    assert.equal(this.messageDifferences, 0, `${this.messageDifferences} error messages differ; the first: ${this.firstMessageDifference}`);
  }
}

// ---------------------------------------------------------------------------
// Generated heads

interface Input {
  readonly buf: Buffer;
  readonly start: number;
}

const NAMES = [
  'Content-Type', 'content-type', 'CONTENT-TYPE', 'Content-Length', 'content-length', 'Date', 'Server', 'Connection',
  'Keep-Alive', 'Transfer-Encoding', 'Set-Cookie', 'set-cookie', 'ETag', 'Cache-Control', 'Vary', 'Location',
  'Trailer', 'grpc-status', 'Grpc-Message', 'Last-Modified', 'Content-Encoding', 'Expires', 'Accept-Ranges', 'Age',
  'X-Powered-By', 'Strict-Transport-Security', 'X-Request-Id', 'Access-Control-Allow-Origin', 'Via', 'Link', 'Alt-Svc',
  'traceparent', 'Weft-Client-Id', 'weft-proxy-error', 'Weft_Client_Id', '__proto__', 'constructor', 'toString', 'hasOwnProperty',
  'x', 'X', 'X-A', '1', 'TE', 'Upgrade', 'Host', 'Expect', 'Proxy-Connection', 'HTTP2-Settings', 'Close',
  // Near misses of common names: same length and first and last letters, or one letter more or less.
  'Content-Typf', 'Dace', 'Servex', 'Serve', 'Set-Cookiee', 'Ae', 'Vary-',
];
const TCHAR = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const VCHAR = 'abc XYZ 0189 ,;=/"*()<>@[]{}\\~\t:\x80\xa0\xe9\xff';

function generator(seed: number): () => Input {
  const rnd = random(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const chars = (alphabet: string, n: number): string => {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[int(alphabet.length)];
    return s;
  };
  const recase = (s: string): string => [...s].map((c) => (rnd() < 0.5 ? c.toUpperCase() : c.toLowerCase())).join('');
  const ows = (): string => pick(['', '', '', ' ', '  ', '\t', ' \t ']);
  const statusLine = (): string => {
    const version = pick(['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0']);
    const code = rnd() < 0.7 ? pick([200, 200, 204, 301, 304, 404, 500, 503, 100, 103, 101]) : 100 + int(900);
    // Now and then a control character in the reason phrase.
    const reason = rnd() < 0.03 ? pick(['O\x01K', '\x7f', 'A\x00', '\x1b[1m']) : pick(['OK', 'OK', 'Not Found', 'No Content', '', ' ', 'caf\xe9', 'A\tB', chars(VCHAR, int(20))]);
    return rnd() < 0.1 ? `${version} ${code}` : `${version} ${code} ${reason}`;
  };
  const valid = (): Input => {
    const prefix = rnd() < 0.25 ? chars('HTP/1. 0\r\nab', 1 + int(20)) : '';
    const lines: string[] = [];
    const used: string[] = [];
    for (let n = int(12); n > 0; n--) {
      let name: string;
      if (used.length > 0 && rnd() < 0.2) name = recase(pick(used));
      else if (rnd() < 0.75) name = pick(NAMES);
      else name = chars(TCHAR, 1 + int(16));
      used.push(name);
      let value = rnd() < 0.1 ? chars(VCHAR, 20 + int(200)) : chars(VCHAR, int(30));
      // Values a proxy reads: TE's one that travels, and Connection's lists of the fields it makes hop-by-hop.
      if (/^te$/i.test(name) && rnd() < 0.6) value = pick(['trailers', 'trailers', 'Trailers', 'gzip']);
      if (/^connection$/i.test(name) && rnd() < 0.8) {
        value = pick(['keep-alive', 'close', 'Keep-Alive', 'upgrade', '', `${pick(NAMES)}, ${pick(NAMES)}`, `close,${pick(NAMES)}`, recase(`${pick(NAMES)} ,te`)]);
      }
      lines.push(`${name}:${ows()}${value}${ows()}`);
    }
    // Many fields, beyond the parser's first allocation of positions.
    if (rnd() < 0.03) for (let n = 30 + int(200); n > 0; n--) lines.push(`X-F${n % 7}: ${n}`);
    let head = `${statusLine()}\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`;
    // A head of about MAX_HEAD_BYTES: a few bytes under, at or over the bound.
    if (rnd() < 0.03) {
      const pad = MAX_HEAD_BYTES - head.length - 'X-Big: \r\n'.length + int(7) - 3;
      head = head.slice(0, -2) + `X-Big: ${'v'.repeat(Math.max(0, pad))}\r\n\r\n`;
    }
    const body = rnd() < 0.3 ? pick(['BODY', '\r\n\r\n', 'HTTP/1.1 200 OK\r\n\r\n', '\n\r\x00']) : '';
    return { buf: Buffer.from(prefix + head + body, 'latin1'), start: prefix.length };
  };
  const SPECIAL = [0x0d, 0x0a, 0x00, 0x20, 0x09, 0x3a, 0x7f];
  const byte = (): number => (rnd() < 0.75 ? pick(SPECIAL) : 0x80 + int(128));
  const mutate = ({ buf, start }: Input): Input => {
    const at = start + int(buf.length - start + 1);
    switch (int(8)) {
      case 0: // insert a byte
        return { buf: Buffer.concat([buf.subarray(0, at), Buffer.from([byte()]), buf.subarray(at)]), start };
      case 1: {
        // replace a byte, often one of the status line
        const out = Buffer.from(buf);
        const where = rnd() < 0.3 ? start + int(24) : at;
        if (where < out.length) out[where] = byte();
        return { buf: out, start };
      }
      case 2: // delete a byte
        return { buf: Buffer.concat([buf.subarray(0, at), buf.subarray(at + 1)]), start };
      case 3: // truncate
        return { buf: buf.subarray(0, at), start };
      case 4: {
        // change the case of a byte
        const out = Buffer.from(buf);
        const c = out[at] ?? 0;
        if (c >= 0x41 && c <= 0x5a) out[at] = c + 0x20;
        else if (c >= 0x61 && c <= 0x7a) out[at] = c - 0x20;
        return { buf: out, start };
      }
      case 5: {
        // repeat a line
        const s = buf.lastIndexOf('\r\n', at);
        const e = buf.indexOf('\r\n', at);
        if (s < start || e < 0) return { buf, start };
        return { buf: Buffer.concat([buf.subarray(0, e), buf.subarray(s, e), buf.subarray(e)]), start };
      }
      case 6: {
        // SP or HTAB at the start of a line (obs-fold), or before a colon
        const lf = buf.indexOf('\n', at);
        if (lf < 0) return { buf, start };
        const colon = buf.indexOf(':', lf);
        const where = rnd() < 0.5 || colon < 0 ? lf + 1 : colon;
        return { buf: Buffer.concat([buf.subarray(0, where), Buffer.from([pick([0x20, 0x09])]), buf.subarray(where)]), start };
      }
      default:
        // parse from another offset: inside the head, or past the end of the buffer
        return { buf, start: rnd() < 0.9 ? at : buf.length + int(3) };
    }
  };
  return () => {
    let input = valid();
    for (let n = [0, 0, 1, 1, 1, 2, 3][int(7)]!; n > 0; n--) input = mutate(input);
    return input;
  };
}

test('differential: 40,000 generated heads, valid ones and mutations of them, get what the previous parser gave', (t) => {
  const next = generator(SEED);
  const diff = new Differential();
  for (let i = 0; i < 40_000; i++) {
    const { buf, start } = next();
    diff.check(buf, start, `head #${i}`);
  }
  diff.assertSameMessages();
  // The inputs reach every outcome, each in quantity, so agreement means something.
  const counts = Object.fromEntries(diff.kinds);
  t.diagnostic(`seed ${SEED}: ${JSON.stringify(counts)}`);
  for (const [kind, least] of Object.entries({
    head: 10_000, incomplete: 1000, 'bad status line': 500, 'reason phrase': 100, 'obsolete line folding': 300, 'invalid header name': 1000,
    'invalid character in the value': 300, 'bare LF': 500, 'bare CR': 300, 'response head larger': 100,
  })) {
    assert.ok((counts[kind] ?? 0) >= least, `${kind}: ${counts[kind] ?? 0} < ${least} (seed ${SEED}): ${JSON.stringify(counts)}`);
  }
  assert.deepEqual(Object.keys(counts).filter((k) => k.startsWith('other')), [], JSON.stringify(counts));
});

const HEADS = [
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nDate: Thu, 03 Dec 2026 14:50:00 GMT\r\nServer: haproxy\r\nConnection: keep-alive\r\n\r\nhello',
  'HTTP/1.0 404 \r\nSet-Cookie: a=1\r\nset-cookie:\t b=2 \r\nSET-COOKIE: c\r\nX-V: caf\xe9\r\nX-Empty:\r\n__proto__: p\r\n\r\n',
  'HTTP/1.1 103\r\nLink: </a>; rel=preload\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n',
];

test('differential: every truncation of a few heads, from offset 0 and from an offset inside a buffer', () => {
  const diff = new Differential();
  for (const h of HEADS) {
    for (const prefix of ['', 'xx\r\n']) {
      const raw = Buffer.from(prefix + h, 'latin1');
      for (let i = 0; i <= raw.length; i++) diff.check(raw.subarray(0, i), prefix.length, `${JSON.stringify(h)} cut at ${i}`);
    }
  }
  diff.assertSameMessages();
  assert.ok(diff.kinds.get('incomplete')! > 300 && diff.kinds.get('head')! >= 6, JSON.stringify(Object.fromEntries(diff.kinds)));
});

test('differential: every byte of a head replaced by each of the 256 values', () => {
  const diff = new Differential();
  const raw = Buffer.from(HEADS[1]!, 'latin1');
  for (let i = 0; i < raw.length; i++) {
    for (let c = 0; c < 256; c++) {
      const buf = Buffer.from(raw);
      buf[i] = c;
      diff.check(buf, 0, `byte ${i} := ${c}`);
    }
  }
  diff.assertSameMessages();
  assert.ok(diff.kinds.size >= 8, JSON.stringify(Object.fromEntries(diff.kinds)));
});

test('differential: heads at, just under and just over MAX_HEAD_BYTES, complete and not', () => {
  const diff = new Differential();
  for (const start of [0, 3]) {
    for (let d = -4; d <= 4; d++) {
      const head = `HTTP/1.1 200 OK\r\nA: b\r\nX: ${'a'.repeat(MAX_HEAD_BYTES - 30 + d)}\r\n\r\n`;
      const raw = Buffer.from('x'.repeat(start) + head + 'BODY', 'latin1');
      for (const cut of [raw.length, raw.length - 4, raw.length - 5, raw.length - 6, start + MAX_HEAD_BYTES - 1, start + MAX_HEAD_BYTES, start + MAX_HEAD_BYTES + 1]) {
        diff.check(raw.subarray(0, cut), start, `size ${head.length}, cut at ${cut}`);
      }
      // A bare LF just past the bound is beyond what is looked at.
      const late = Buffer.from(raw);
      late[start + MAX_HEAD_BYTES] = 0x0a;
      diff.check(late, start, `size ${head.length}, LF at the bound`);
    }
  }
  diff.assertSameMessages();
  for (const kind of ['head', 'incomplete', 'response head larger']) assert.ok(diff.kinds.has(kind), `${kind}: ${JSON.stringify(Object.fromEntries(diff.kinds))}`);
});

/** The new ChunkedDecoder's trailer section, fed after a last chunk, in one piece or byte by byte. */
function trailerSection(section: Buffer, bytewise: boolean): Record<string, string | string[]> | undefined | 'incomplete' {
  const dec = new ChunkedDecoder(() => undefined);
  const wire = Buffer.concat([Buffer.from('0\r\n'), section]);
  if (bytewise) for (let i = 0; i < wire.length && !dec.done; i++) dec.feed(wire.subarray(i, i + 1));
  else dec.feed(wire);
  // The raw fields (before trailers() filters them): what the line parser produced.
  return dec.done ? dec['fields'] : 'incomplete';
}

test('differential: 5,000 generated trailer sections get the fields, or the error, the previous decoder gave', () => {
  const rnd = random(SEED ^ 0x7a11);
  const int = (n: number): number => Math.floor(rnd() * n);
  const next = generator(SEED ^ 0x7a11);
  const seen = new Map<string, number>();
  for (let i = 0; i < 5000; i++) {
    // A generated head's field lines (mutated or not) make the trailer section.
    const { buf } = next();
    const firstLf = buf.indexOf('\n');
    let section = firstLf < 0 ? buf : buf.subarray(firstLf + 1);
    if (rnd() < 0.02) section = Buffer.concat([Buffer.from(`X-Big: ${'b'.repeat(MAX_CHUNK_LINE_BYTES - 20 + int(30))}\r\n`), section]);
    const bytewise = section.length < 600 && rnd() < 0.3;
    const run = (f: () => unknown): unknown => {
      try {
        const r = f();
        return r === undefined || r === 'incomplete' ? r : { fields: Object.entries(r as object), nullPrototype: Object.getPrototypeOf(r) === null };
      } catch (err) {
        if (!(err instanceof H1ParseError)) throw err;
        return { error: err.message };
      }
    };
    const want = run(() => oracleTrailerSection(section));
    assert.deepStrictEqual(run(() => trailerSection(section, bytewise)), want, `seed ${SEED}, section #${i}${bytewise ? ' bytewise' : ''}: ${JSON.stringify(section.toString('latin1').slice(0, 300))}`);
    const kind = typeof want === 'object' && want !== null && 'error' in want ? String(want.error).replace(/ of .*|".*/, '') : String(want === undefined || want === 'incomplete' ? want : 'fields');
    seen.set(kind, (seen.get(kind) ?? 0) + 1);
  }
  assert.ok((seen.get('fields') ?? 0) > 500 && seen.size >= 6, JSON.stringify(Object.fromEntries(seen)));
});
