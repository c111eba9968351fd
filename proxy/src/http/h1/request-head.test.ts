import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prng as random } from '@weft/common/testing/mutate';
import type { Headers } from '../../svc.js';
import { endToEnd } from '../headers.js';
import { MAX_FAST_HEAD, parseRequestHead, UNSUPPORTED, type Framing, type RequestHead } from './request-head.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

function served(raw: string): RequestHead {
  const head = parseRequestHead(b(raw));
  assert.ok(head !== undefined && head !== UNSUPPORTED, `served: ${JSON.stringify(raw)}`);
  return head;
}

function declined(raw: string, why = ''): void {
  assert.equal(parseRequestHead(b(raw)), UNSUPPORTED, `declined (${why}): ${JSON.stringify(raw.slice(0, 200))}`);
}

/** A head with the given field lines after `GET / HTTP/1.1` and `Host: a`. */
const get = (...lines: string[]): string => `GET / HTTP/1.1\r\nHost: a\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`;

test('a typical GET: method, target, host, no body, the end-to-end headers and the size of the head', () => {
  const raw = 'GET /api/v1/books?id=7 HTTP/1.1\r\nHost: books.default.svc:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\nNEXT';
  const head = served(raw);
  assert.equal(head.method, 'GET');
  assert.equal(head.target, '/api/v1/books?id=7');
  assert.equal(head.host, 'books.default.svc:8080');
  assert.deepEqual(head.framing, { kind: 'none' });
  assert.equal(head.close, false);
  assert.deepEqual(head.headers, { 'user-agent': 'curl/8.5.0', accept: '*/*' });
  assert.equal(Object.getPrototypeOf(head.headers), Object.prototype);
  assert.equal(raw.slice(head.size), 'NEXT');
});

test('methods: the seven served ones; any other token, lower case or a longer word is declined', () => {
  for (const m of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) assert.equal(served(`${m} / HTTP/1.1\r\nHost: a\r\n\r\n`).method, m);
  for (const m of ['CONNECT', 'TRACE', 'PROPFIND', 'get', 'Get', 'GETS', 'PUTT', 'POS', 'OPTION', 'OPTIONSX', 'DELET', 'XET', 'GEX', '', 'G T']) {
    declined(`${m} / HTTP/1.1\r\nHost: a\r\n\r\n`, `method ${m}`);
  }
  declined(' GET / HTTP/1.1\r\nHost: a\r\n\r\n', 'leading space');
});

test('targets: origin-form of RFC 3986 path and query characters only; the version exactly HTTP/1.1', () => {
  const all = "/aZ09-._~!$&'()*+,;=:@/?%";
  assert.equal(served(`GET ${all} HTTP/1.1\r\nHost: a\r\n\r\n`).target, all);
  assert.equal(served('GET / HTTP/1.1\r\nHost: a\r\n\r\n').target, '/');
  for (const t of ['*', 'http://a/b', 'a/b', '/a#f', '/a"b', '/a<b', '/a\\b', '/caf\xe9', '/a\x00', '/a\tb', '']) {
    declined(`GET ${t} HTTP/1.1\r\nHost: a\r\n\r\n`, `target ${t}`);
  }
  for (const line of ['GET / HTTP/1.0', 'GET / HTTP/2.0', 'GET / http/1.1', 'GET / HTTP/1.1 ', 'GET  / HTTP/1.1', 'GET /  HTTP/1.1', 'GET / HTTP/1.11', 'GET /', 'GET / HTTP/1.', 'GET /a b HTTP/1.1']) {
    declined(`${line}\r\nHost: a\r\n\r\n`, `request line ${line}`);
  }
});

test('field names: tokens, lower-cased; anything else before the colon is declined', () => {
  const head = served(get("!#$%&'*+-.^_`|~09azAZ: v", 'X-Mixed-CASE: w', 'ACCEPT: x'));
  assert.deepEqual(head.headers, { "!#$%&'*+-.^_`|~09azaz": 'v', 'x-mixed-case': 'w', accept: 'x' });
  for (const line of ['Bad Name: v', 'Name : v', ': v', 'NoColon', 'X(y): v', 'X{: v', 'X/Y: v', 'X\xe9: v', 'X\x00: v', '"x": v']) declined(get(line), line);
});

test('field values: visible ASCII, SP and HTAB; obs-text and control characters are declined', () => {
  assert.equal(served(get('X: a\tb "c" ~ !')).headers.x, 'a\tb "c" ~ !');
  for (const v of ['caf\xe9', 'a\x00b', 'a\x7fb', 'a\x01', '\x0b', 'a\x1fb', '\xff']) declined(get(`X: ${v}`), JSON.stringify(v));
});

test('optional whitespace around a value is trimmed, inside it is kept; an empty value is served', () => {
  const head = served(get('X:  \t a  b \t ', 'Y:', 'Z:\t', 'W:v'));
  assert.deepEqual(head.headers, { x: 'a  b', y: '', z: '', w: 'v' });
  assert.equal(served('GET / HTTP/1.1\r\nHost: \t a.b \r\n\r\n').host, 'a.b');
});

test('a field name given twice (in any case, kept or hop-by-hop) is declined, and so are constructor and __proto__', () => {
  for (const [one, two] of [
    ['X-A: 1', 'x-a: 2'],
    ['Accept: 1', 'ACCEPT: 1'],
    ['Content-Length: 1', 'content-length: 1'],
    ['Connection: close', 'Connection: close'],
    ['TE: trailers', 'te: trailers'],
    ['Keep-Alive: 5', 'keep-alive: 5'],
    ['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'],
    ['Weft-Client-Id: a', 'weft-client-id: b'],
    ['Weft-X: a', 'weft-x: b'],
  ]) {
    declined(get(one!, two!), `${one} + ${two}`);
  }
  declined('GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n', 'two Hosts');
  // A plain object has these already; the parser has always declined them (Node's server serves them).
  declined(get('Constructor: x'), 'constructor');
  declined(get('__proto__: x'), '__proto__');
});

test('Host missing, empty or blank is declined', () => {
  declined('GET / HTTP/1.1\r\n\r\n', 'no fields');
  declined('GET / HTTP/1.1\r\nAccept: */*\r\n\r\n', 'no Host');
  declined('GET / HTTP/1.1\r\nHost:\r\n\r\n', 'empty Host');
  declined('GET / HTTP/1.1\r\nHost:  \t \r\n\r\n', 'blank Host');
});

test('Upgrade and Expect are declined, whatever their value', () => {
  declined(get('Upgrade: websocket', 'Connection: Upgrade'));
  declined(get('Upgrade: h2c'));
  declined(get('upgrade:'));
  declined(get('Expect: 100-continue'));
  declined(get('EXPECT: x'));
});

test('Connection: close is seen in any case among other tokens, upgrade is declined, named fields are dropped', () => {
  assert.equal(served(get('Connection: close')).close, true);
  assert.equal(served(get('Connection: Keep-Alive')).close, false);
  assert.equal(served(get('Connection:  keep-alive , CLOSE ')).close, true);
  assert.equal(served(get('Connection: closed')).close, false);
  assert.equal(served(get('Connection: ,,')).close, false);
  assert.equal(served(get('Connection:')).close, false);
  declined(get('Connection: keep-alive, Upgrade'), 'connection upgrade');
  declined(get('Connection: \tupgrade\t'), 'connection upgrade with OWS');

  const head = served(get('X-A: 1', 'Connection: x-a, X-B,te', 'X-B: 2', 'X-C: 3', 'TE: trailers', 'Close: 4'));
  assert.deepEqual(Object.entries(head.headers), [['x-c', '3'], ['te', 'trailers'], ['close', '4']]);
  // `close` names the field `close` too, as endToEnd reads Connection.
  assert.deepEqual(served(get('Close: 4', 'X: 1', 'Connection: close')).headers, { x: '1' });
  // A Connection token that is no field's name removes nothing.
  assert.deepEqual(served(get('Connection: constructor, __proto__, toString', 'X: 1')).headers, { x: '1' });
});

test('Transfer-Encoding: chunked alone is chunked framing; other codings or with Content-Length are declined', () => {
  assert.deepEqual(served(get('Transfer-Encoding: chunked')).framing, { kind: 'chunked' });
  assert.deepEqual(served(get('transfer-encoding:  Chunked ')).framing, { kind: 'chunked' });
  for (const te of ['gzip, chunked', 'chunked, chunked', 'gzip', 'identity', '', 'chunk', 'chunked;q=1']) declined(get(`Transfer-Encoding: ${te}`), te);
  declined(get('Transfer-Encoding: chunked', 'Content-Length: 3'), 'TE + CL');
  declined(get('Content-Length: 0', 'Transfer-Encoding: chunked'), 'CL + TE');
});

test('Content-Length: 1 to 15 digits (leading zeros read as decimal), kept in the headers; anything else is declined', () => {
  const framing = (cl: string): Framing => served(get(`Content-Length: ${cl}`)).framing;
  assert.deepEqual(framing('0'), { kind: 'none' });
  assert.deepEqual(framing('000'), { kind: 'none' });
  assert.deepEqual(framing('42'), { kind: 'length', length: 42 });
  assert.deepEqual(framing('007'), { kind: 'length', length: 7 });
  assert.deepEqual(framing('999999999999999'), { kind: 'length', length: 999999999999999 });
  assert.deepEqual(framing(' 12\t'), { kind: 'length', length: 12 });
  assert.equal(served(get('content-length: 007')).headers['content-length'], '007');
  for (const cl of ['1000000000000000', '0000000000000000', '-1', '+1', '1.0', '1 2', '1,1', '0x10', '', ' ', '1e3']) declined(get(`Content-Length: ${cl}`), cl);
});

test('a bare CR or LF anywhere in the head is declined, and so is obs-fold', () => {
  for (const raw of [
    'GET / HTTP/1.1\nHost: a\r\n\r\n',
    'GET / HTTP/1.1\rHost: a\r\n\r\n',
    'GET /\r HTTP/1.1\r\nHost: a\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\n\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n',
    'GET / HTTP/1.1\r\nX\r: b\r\nHost: a\r\n\r\n',
    'GET / HTTP/1.1\r\n\nHost: a\r\n\r\n',
    'GET / HTTP/1.1\r\n\rHost: a\r\n\r\n',
  ]) {
    declined(raw, 'bare CR/LF');
  }
  declined(get('X: a', ' folded'), 'obs-fold SP');
  declined(get('X: a', '\tfolded'), 'obs-fold HTAB');
  declined('\r\n\r\n', 'empty head');
  declined('\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n', 'leading empty line');
});

test('at most 100 field lines and 16 KiB', () => {
  const fields = (n: number): string[] => Array.from({ length: n }, (_, i) => `X-${i}: ${i}`);
  assert.equal(Object.keys(served(get(...fields(99))).headers).length, 99);
  declined(get(...fields(100)), '101 field lines');
  const pad = (size: number): string => {
    const base = get('X: ');
    return get(`X: ${'a'.repeat(size - base.length)}`);
  };
  assert.equal(pad(MAX_FAST_HEAD).length, MAX_FAST_HEAD);
  assert.equal(served(pad(MAX_FAST_HEAD)).size, MAX_FAST_HEAD);
  declined(pad(MAX_FAST_HEAD + 1), 'one byte over 16 KiB');
  // Incomplete and already longer than the bound: Node's server applies its own limit.
  declined(pad(MAX_FAST_HEAD + 100).slice(0, MAX_FAST_HEAD + 1), 'incomplete over 16 KiB');
  assert.equal(parseRequestHead(b(pad(MAX_FAST_HEAD + 100).slice(0, MAX_FAST_HEAD))), undefined);
});

test('an incomplete head is undefined at every split point, and served once complete', () => {
  const raw = 'POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\n\r\n';
  for (let i = 0; i < raw.length; i++) assert.equal(parseRequestHead(b(raw.slice(0, i))), undefined, `prefix of ${i} bytes`);
  const head = served(raw);
  assert.deepEqual(head.framing, { kind: 'length', length: 5 });
  assert.equal(head.close, true);
  assert.deepEqual(head.headers, { 'content-length': '5' });
});

test('an incomplete head that cannot become one served here is declined at once (plausible)', () => {
  for (const raw of ['get / HTTP/1.1\r\n', 'G3T', '1', '\r\n', 'GET / HTTP/1.1\nHost', 'GET / HTTP/1.1\r\nHost: a\n', '\n', 'POST\x00']) declined(raw, 'implausible');
  for (const raw of ['', 'G', 'GET', 'GET ', 'CONNEC', 'GET / HTTP/1.1\r', 'GET / HTTP/1.1\r\nHost: a\r\n', 'ABCDEFGH\x00', ' GET']) {
    assert.equal(parseRequestHead(b(raw)), undefined, JSON.stringify(raw));
  }
});

test('end-to-end headers: hop-by-hop and weft-* fields dropped, te: trailers kept, order kept, as endToEnd gives them', () => {
  const lines = [
    'Accept: */*',
    'Connection: keep-alive',
    'Keep-Alive: timeout=5',
    'Proxy-Connection: keep-alive',
    'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA',
    'Weft-Client-Id: spoofed.ns.serviceaccount.identity.weft.cluster.local',
    'Weft-Dst-Port: 1',
    'weft-anything: x',
    'TE: trailers',
    'Content-Type: application/grpc',
    'Content-Length: 5',
    'X-Request-Id: abc',
    '1: numeric name',
  ];
  const head = served(get(...lines));
  const expected = { 1: 'numeric name', accept: '*/*', te: 'trailers', 'content-type': 'application/grpc', 'content-length': '5', 'x-request-id': 'abc' };
  assert.deepEqual(Object.entries(head.headers), Object.entries(expected));
  // The same as copying every field through endToEnd.
  const fields: Record<string, string> = { host: 'a' };
  for (const l of lines) fields[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
  assert.deepEqual(Object.entries(head.headers), Object.entries(endToEnd(fields)));
  // te other than exactly `trailers` does not travel.
  for (const te of ['gzip', 'Trailers', 'trailers, deflate', '']) assert.deepEqual(served(get(`TE: ${te}`)).headers, {});
});

// ---------------------------------------------------------------------------
// Differential test against the previous, string-and-RegExp implementation.

/** The parser as it was before the byte-level one (git history), returning endToEnd's headers instead of the fields. */
function referenceParse(buf: Buffer): RequestHead | undefined | typeof UNSUPPORTED {
  const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);
  const ORIGIN_FORM = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*$/;
  const FIELD = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([\t\x20-\x7e]*?)[ \t]*$/;
  const DIGITS = /^[0-9]{1,15}$/;
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return buf.length > MAX_FAST_HEAD || !referencePlausible(buf) ? UNSUPPORTED : undefined;
  if (end + 4 > MAX_FAST_HEAD) return UNSUPPORTED;
  const lines = buf.toString('latin1', 0, end).split('\r\n');
  const first = lines[0]!;
  const sp1 = first.indexOf(' ');
  const sp2 = first.indexOf(' ', sp1 + 1);
  if (sp1 <= 0 || sp2 < 0 || first.length - sp2 !== 9 || !first.endsWith(' HTTP/1.1')) return UNSUPPORTED;
  const method = first.slice(0, sp1);
  const target = first.slice(sp1 + 1, sp2);
  if (!METHODS.has(method) || !ORIGIN_FORM.test(target)) return UNSUPPORTED;
  if (lines.length - 1 > 100) return UNSUPPORTED;
  const fields: Record<string, string> = {};
  for (let i = 1; i < lines.length; i++) {
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
  let framing: Framing = { kind: 'none' };
  if (te !== undefined) {
    if (cl !== undefined || te.toLowerCase() !== 'chunked') return UNSUPPORTED;
    framing = { kind: 'chunked' };
  } else if (cl !== undefined) {
    if (!DIGITS.test(cl)) return UNSUPPORTED;
    const length = Number(cl);
    if (length > 0) framing = { kind: 'length', length };
  }
  return { method, target, headers: endToEnd(fields), host, framing, close, size: end + 4 };
}

function referencePlausible(buf: Buffer): boolean {
  const n = Math.min(buf.length, 8);
  for (let i = 0; i < n; i++) {
    const c = buf[i]!;
    if (c === 0x20) break;
    if (c < 0x41 || c > 0x5a) return false;
  }
  for (let i = buf.indexOf(0x0a); i >= 0; i = buf.indexOf(0x0a, i + 1)) if (i === 0 || buf[i - 1] !== 0x0d) return false;
  return true;
}

/** A comparable picture of a result: the headers' entries in order, their prototype, everything else as is. */
function picture(r: RequestHead | undefined | typeof UNSUPPORTED): unknown {
  if (r === undefined) return 'incomplete';
  if (r === UNSUPPORTED) return 'UNSUPPORTED';
  const headers: Headers = r.headers;
  return { ...r, headers: Object.entries(headers), proto: Object.getPrototypeOf(headers) === Object.prototype };
}

function generator(seed: number): () => Buffer {
  const rnd = random(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const TCHAR = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  const PCHAR = "abcXYZ019-._~!$&'()*+,;=:@/?%";
  const VCHAR = 'abc XYZ 0189 ,;=/"*()<>@[]{}\\~\t';
  const methods = ['GET', 'GET', 'GET', 'POST', 'PUT', 'HEAD', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE', 'get'];
  const names = [
    'Host', 'host', 'HOST', 'Accept', 'User-Agent', 'Accept-Encoding', 'Cookie', 'Content-Type', 'X-Request-Id', 'traceparent',
    'Connection', 'Keep-Alive', 'Proxy-Connection', 'HTTP2-Settings', 'TE', 'Transfer-Encoding', 'Content-Length', 'Upgrade', 'Expect',
    'Weft-Client-Id', 'Weft-Dst-Port', 'weft-orig-proto', 'Weft-Other', 'Close', 'constructor', '__proto__', 'toString', '1', '42', 'b3', 'X-A',
  ];
  const valuesFor = (name: string): string[] => {
    switch (name.toLowerCase()) {
      case 'connection':
        return ['close', 'keep-alive', 'Keep-Alive', 'CLOSE', 'upgrade', 'close, x-a', 'x-a, te', 'keep-alive,close', ' , close', '', 'Cookie, accept', 'constructor, 1'];
      case 'te':
        return ['trailers', 'Trailers', 'gzip', ''];
      case 'transfer-encoding':
        return ['chunked', 'Chunked', 'gzip, chunked', 'identity'];
      case 'content-length':
        return ['0', '5', '007', '123456789012345', '1234567890123456', '-1', '', '1 2'];
      case 'host':
        return ['a', 'books.default.svc.cluster.local:8080', '', '[::1]:80'];
      default:
        return [];
    }
  };
  const token = (): string => Array.from({ length: 1 + int(12) }, () => pick([...TCHAR])).join('');
  const value = (): string => Array.from({ length: int(20) }, () => pick([...VCHAR])).join('');
  const ows = (): string => pick(['', '', ' ', '  ', '\t', ' \t']);
  const valid = (): string => {
    let head = `${pick(methods)} /${Array.from({ length: int(30) }, () => pick([...PCHAR])).join('')} HTTP/1.1\r\n`;
    const lines: string[] = [];
    if (rnd() < 0.95) lines.push(`Host: ${pick(['a', 'svc:80', 'x.y.z'])}`);
    const used = new Set<string>();
    for (let n = int(12); n > 0; n--) {
      const name = rnd() < 0.7 ? pick(names) : token();
      // Mostly distinct names (a repeated one is declined whatever else the head holds).
      if (used.has(name.toLowerCase()) && rnd() < 0.9) continue;
      used.add(name.toLowerCase());
      const special = valuesFor(name);
      lines.push(`${name}:${ows()}${special.length > 0 && rnd() < 0.8 ? pick(special) : value()}${ows()}`);
    }
    for (let i = lines.length - 1; i > 0; i--) {
      const j = int(i + 1);
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
    }
    if (rnd() < 0.02) for (let n = 0; n < 100; n++) lines.push(`X-F${n}: ${n}`);
    if (rnd() < 0.01) lines.push(`X-Big: ${'v'.repeat(MAX_FAST_HEAD - 100 + int(200))}`);
    head += lines.map((l) => `${l}\r\n`).join('') + '\r\n';
    return head + (rnd() < 0.2 ? 'BODY BYTES\r\n\r\nGET / HTTP/1.1\r\n' : '');
  };
  const INSERT = [0x0d, 0x0a, 0x00, 0x20, 0x09, 0x3a, 0x2c, 0x7f, 0x80, 0xe9, 0xff, 0x01, 0x41, 0x7a, 0x2f];
  const mutate = (buf: Buffer): Buffer => {
    const at = int(buf.length + 1);
    switch (int(7)) {
      case 0: // insert a byte: CR, LF, NUL, SP, HTAB, obs-text, ...
        return Buffer.concat([buf.subarray(0, at), Buffer.from([pick(INSERT)]), buf.subarray(at)]);
      case 1: {
        // change the case of a byte
        const out = Buffer.from(buf);
        const c = out[at] ?? 0;
        if (c >= 0x41 && c <= 0x5a) out[at] = c + 0x20;
        else if (c >= 0x61 && c <= 0x7a) out[at] = c - 0x20;
        return out;
      }
      case 2: {
        // duplicate a line
        const s = buf.lastIndexOf('\r\n', at);
        const e = buf.indexOf('\r\n', at);
        if (s < 0 || e < 0) return buf;
        return Buffer.concat([buf.subarray(0, e), buf.subarray(s, e), buf.subarray(e)]);
      }
      case 3: // truncate
        return buf.subarray(0, at);
      case 4: // delete a byte
        return Buffer.concat([buf.subarray(0, at), buf.subarray(at + 1)]);
      case 5: {
        // replace a byte
        const out = Buffer.from(buf);
        if (at < out.length) out[at] = pick(INSERT);
        return out;
      }
      default: {
        // a space or HTAB at the start of a line (obs-fold) or before a colon
        const lf = buf.indexOf('\n', at);
        if (lf < 0) return buf;
        const colon = buf.indexOf(':', lf);
        const where = rnd() < 0.5 || colon < 0 ? lf + 1 : colon;
        return Buffer.concat([buf.subarray(0, where), Buffer.from([pick([0x20, 0x09])]), buf.subarray(where)]);
      }
    }
  };
  return () => {
    let buf = b(valid());
    for (let n = [0, 0, 1, 1, 2, 3][int(6)]!; n > 0; n--) buf = mutate(buf);
    return buf;
  };
}

test('differential: 30,000 generated heads (valid ones and mutations of them) get the results the previous parser gave', () => {
  const next = generator(0x5eed17);
  const outcomes = { served: 0, declined: 0, incomplete: 0 };
  for (let i = 0; i < 30_000; i++) {
    const buf = next();
    const want = referenceParse(buf);
    assert.deepStrictEqual(picture(parseRequestHead(buf)), picture(want), `head #${i}: ${JSON.stringify(buf.toString('latin1').slice(0, 400))}`);
    if (want === undefined) outcomes.incomplete++;
    else if (want === UNSUPPORTED) outcomes.declined++;
    else outcomes.served++;
  }
  // The generated set exercises every outcome, each in quantity.
  assert.ok(outcomes.served > 3000 && outcomes.declined > 3000 && outcomes.incomplete > 1000, JSON.stringify(outcomes));
});

test('differential: every truncation of a few heads, and every single-byte substitution of one', () => {
  const heads = [
    'GET /a?b=c HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, x-a\r\nX-A: 1\r\nTE: trailers\r\n\r\n',
    'POST /p HTTP/1.1\r\nhost: h\r\nTransfer-Encoding: chunked\r\nWeft-Client-Id: x\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    'PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 007\r\nConnection: close\r\nClose: 1\r\n\r\nabcdefg',
  ];
  for (const h of heads) {
    const raw = b(h);
    for (let i = 0; i <= raw.length; i++) {
      const buf = raw.subarray(0, i);
      assert.deepStrictEqual(picture(parseRequestHead(buf)), picture(referenceParse(buf)), `${JSON.stringify(h)} cut at ${i}`);
    }
  }
  const raw = b(heads[0]!);
  for (let i = 0; i < raw.length; i++) {
    for (let c = 0; c < 256; c++) {
      const buf = Buffer.from(raw);
      buf[i] = c;
      assert.deepStrictEqual(picture(parseRequestHead(buf)), picture(referenceParse(buf)), `byte ${i} := ${c}`);
    }
  }
});
