import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkedDecoder, H1ParseError, MAX_CHUNK_LINE_BYTES, MAX_HEAD_BYTES, chunkHeader, invalidHeaderValue, isToken, parseResponseHead } from './wire.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

test('parseResponseHead: status, version, lower-case names, repeated headers as arrays, OWS trimmed, end after the head', () => {
  const raw = b('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nset-cookie:  b=2 \t\r\nX-Empty:\r\n\r\nBODY');
  const head = parseResponseHead(raw)!;
  assert.equal(head.status, 200);
  assert.equal(head.version, '1.1');
  assert.deepEqual({ ...head.headers }, { 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'], 'x-empty': '' });
  assert.equal(raw.toString('latin1', head.end), 'BODY');
});

test('parseResponseHead: HTTP/1.0, no reason phrase, obs-text in a value, a start offset', () => {
  const raw = b('xxHTTP/1.0 204\r\nX-V: caf\xe9\r\n\r\n');
  const head = parseResponseHead(raw, 2)!;
  assert.equal(head.status, 204);
  assert.equal(head.version, '1.0');
  assert.equal(head.headers['x-v'], 'caf\xe9');
  assert.equal(head.end, raw.length);
});

test('parseResponseHead: undefined while the head is incomplete, at every split point', () => {
  const raw = b('HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n');
  for (let i = 0; i < raw.length; i++) assert.equal(parseResponseHead(raw.subarray(0, i)), undefined, `prefix of ${i} bytes`);
  assert.equal(parseResponseHead(raw)!.status, 103);
});

test('parseResponseHead refuses malformed heads with H1ParseError naming the problem', () => {
  const cases: [string, RegExp][] = [
    ['HTTP/1.1 200 OK\nA: b\r\n\r\n', /bare LF/],
    ['HTTP/1.1 200 OK\r\nA: b\n\r\n', /bare LF/],
    ['HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n', /bare CR/],
    ['HTTP/1.1 2000 OK\r\n\r\n', /bad status line/],
    ['HTTP/1.1 20 OK\r\n\r\n', /bad status line/],
    ['HTTP/2.0 200 OK\r\n\r\n', /bad status line/],
    ['HTTP/1.1 099 OK\r\n\r\n', /bad status line/],
    ['http/1.1 200 OK\r\n\r\n', /bad status line/],
    ['HTTP/1.1  200 OK\r\n\r\n', /bad status line/],
    ['HTTP/1.1 200 O\x01K\r\n\r\n', /reason phrase/],
    ['HTTP/1.1 200 OK\r\nBad Name: v\r\n\r\n', /invalid header name/],
    ['HTTP/1.1 200 OK\r\nName : v\r\n\r\n', /invalid header name/],
    ['HTTP/1.1 200 OK\r\n: v\r\n\r\n', /invalid header name/],
    ['HTTP/1.1 200 OK\r\nNoColon\r\n\r\n', /invalid header name/],
    ['HTTP/1.1 200 OK\r\nA: v\x00w\r\n\r\n', /invalid character in the value of A/],
    ['HTTP/1.1 200 OK\r\nA: v\x7f\r\n\r\n', /invalid character/],
    ['HTTP/1.1 200 OK\r\nA: v\r\n  folded\r\n\r\n', /obsolete line folding/],
  ];
  for (const [raw, why] of cases) assert.throws(() => parseResponseHead(b(raw)), (err: Error) => err instanceof H1ParseError && why.test(err.message), JSON.stringify(raw));
});

test('parseResponseHead refuses a head larger than the bound, complete or not', () => {
  const big = `HTTP/1.1 200 OK\r\nX: ${'a'.repeat(MAX_HEAD_BYTES)}\r\n\r\n`;
  assert.throws(() => parseResponseHead(b(big)), /larger than/);
  assert.throws(() => parseResponseHead(b(big.slice(0, MAX_HEAD_BYTES + 10))), /larger than/);
  // Just under the bound is fine.
  const ok = `HTTP/1.1 200 OK\r\nX: ${'a'.repeat(MAX_HEAD_BYTES - 30)}\r\n\r\n`;
  assert.equal(parseResponseHead(b(ok))!.headers.x!.length, MAX_HEAD_BYTES - 30);
});

test('parseResponseHead: names lower-cased whether common or not, in any case; fields named as Object.prototype properties are fields like any other', () => {
  const raw = b('HTTP/1.1 200 OK\r\nCONTENT-TYPE: a\r\nContent-Length: 1\r\nX-Backend-Zone: z\r\nx-cache: HIT\r\n__proto__: p\r\nConstructor: c\r\n\r\n');
  const head = parseResponseHead(raw)!;
  assert.deepEqual(Object.entries(head.headers), [['content-type', 'a'], ['content-length', '1'], ['x-backend-zone', 'z'], ['x-cache', 'HIT'], ['__proto__', 'p'], ['constructor', 'c']]);
  assert.equal(Object.getPrototypeOf(head.headers), null);
  // Near misses of common names (same length, first and last letter) keep their own spelling.
  assert.deepEqual(Object.keys(parseResponseHead(b('HTTP/1.1 200 OK\r\nContent-Typf: a\r\nDaTe: d\r\nDace: e\r\n\r\n'))!.headers), ['content-typf', 'date', 'dace']);
});

test('parseResponseHead: hop-by-hop fields, the ones Connection names and weft\'s own are not among the forwarded fields', () => {
  const raw = b(
    'HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: gzip\r\ntransfer-encoding: chunked\r\n' +
      'Upgrade: h2c\r\nHost: a\r\nProxy-Connection: x\r\nTE: trailers\r\nX-Hop: 1\r\nWeft-Proxy-Error: unreachable\r\nweft_client_id: forged\r\n' +
      'Content-Length: 0\r\nX-Kept: 2\r\n\r\n',
  );
  const head = parseResponseHead(raw)!;
  assert.deepEqual(Object.entries(head.headers), [['te', 'trailers'], ['content-length', '0'], ['x-kept', '2']]);
  assert.equal(Object.getPrototypeOf(head.headers), Object.prototype);
  assert.equal(head.connection, 'keep-alive, X-Hop');
  assert.equal(head.keepAlive, 'timeout=5');
  assert.deepEqual(head.transferEncoding, ['gzip', 'chunked']);
  assert.deepEqual({ ...head.weft }, { 'weft-proxy-error': 'unreachable', weft_client_id: 'forged' });
  // TE travels as `trailers` only; a Connection that is a list of values (repeated) names nothing, as before.
  const other = parseResponseHead(b('HTTP/1.1 200 OK\r\nTE: gzip\r\nConnection: close\r\nConnection: x-a\r\nX-A: 1\r\nClose: 2\r\n\r\n'))!;
  assert.deepEqual({ ...other.headers }, { 'x-a': '1', close: '2' });
  assert.deepEqual(other.connection, ['close', 'x-a']);
  assert.equal(other.weft, undefined);
  assert.deepEqual({ ...parseResponseHead(b('HTTP/1.1 200 OK\r\nConnection: Close\r\nClose: 2\r\nTE: trailers\r\n\r\n'))!.headers }, { te: 'trailers' });
});

test('parseResponseHead: hundreds of fields, then a small head: each parse stands alone', () => {
  const many = Array.from({ length: 300 }, (_, i) => `X-${i % 5}: v${i}\r\n`).join('');
  const head = parseResponseHead(b(`HTTP/1.1 200 OK\r\n${many}Last: end\r\n\r\n`))!;
  assert.equal((head.headers['x-0'] as string[]).length, 60);
  assert.deepEqual((head.headers['x-4'] as string[]).slice(0, 2), ['v4', 'v9']);
  assert.equal(head.headers.last, 'end');
  const smallRaw = b('HTTP/1.1 204 No Content\r\nA: 1\r\n\r\nBODY');
  const small = parseResponseHead(smallRaw)!;
  assert.deepEqual({ ...small.headers }, { a: '1' });
  assert.equal(smallRaw.toString('latin1', small.end), 'BODY');
});

test('parseResponseHead judges lines in order: a bad line throws while the head is incomplete; the line being received is not judged', () => {
  assert.throws(() => parseResponseHead(b('HTTP/1.1 200 OK\r\nBad Name: v\r\nA: b')), /invalid header name/);
  assert.throws(() => parseResponseHead(b('HTTP/1.1 200 OK\r\nA: \x01\r\n')), /invalid character in the value of A/);
  assert.equal(parseResponseHead(b('HTTP/1.1 200 OK\r\nA: b\r\nBad Name: \x01')), undefined);
  assert.equal(parseResponseHead(b('HTTP/1.1 200 OK\r\nA: b\r\n  folded\r')), undefined);
  assert.equal(parseResponseHead(b('HTTP/2.0 999 \x01')), undefined);
  // Within a line, its ending is judged before its content.
  assert.throws(() => parseResponseHead(b('HTTP/1.1 200 OK\r\nBad Name: v\rx\r\n\r\n')), /bare CR/);
  assert.throws(() => parseResponseHead(b('HTTP/1.1 200 OK\r\n folded\n\r\n')), /bare LF/);
  assert.throws(() => parseResponseHead(b('HTTP/2.0 200 OK\rX\r\n\r\n')), /bare CR/);
  // And the status line before its reason phrase.
  assert.throws(() => parseResponseHead(b('HTTP/1.1 2x0 O\x01K\r\n\r\n')), /bad status line "HTTP\/1.1 2x0 O\\u0001K"/);
});

test('parseResponseHead looks no further than MAX_HEAD_BYTES from the start', () => {
  const raw = Buffer.alloc(MAX_HEAD_BYTES + 20, 0x61);
  raw.write('HTTP/1.1 200 OK\r\nX: ', 0, 'latin1');
  // A bare LF right at the bound is past what is read: the head is too large, not malformed.
  raw[MAX_HEAD_BYTES] = 0x0a;
  assert.throws(() => parseResponseHead(raw), /larger than/);
  raw[MAX_HEAD_BYTES - 1] = 0x0a;
  assert.throws(() => parseResponseHead(raw), /bare LF/);
  // Exactly MAX_HEAD_BYTES after a start offset is accepted.
  const head = `HTTP/1.1 200 OK\r\nX: ${'a'.repeat(MAX_HEAD_BYTES - 24)}\r\n\r\n`;
  assert.equal(head.length, MAX_HEAD_BYTES);
  assert.equal(parseResponseHead(b(`junk${head}`), 4)!.end, MAX_HEAD_BYTES + 4);
  assert.throws(() => parseResponseHead(b(`junk${head.replace('X: ', 'X:  ')}`), 4), /larger than/);
});

function decode(parts: string[]): { data: string; dec: ChunkedDecoder; rest: string } {
  let data = '';
  const dec = new ChunkedDecoder((c) => (data += c.toString('latin1')));
  let rest = '';
  for (const p of parts) {
    const buf = b(p);
    const used = dec.feed(buf);
    if (used < buf.length) rest += buf.toString('latin1', used);
  }
  return { data, dec, rest };
}

test('ChunkedDecoder: data, extensions ignored, trailers filtered, the bytes after the body left to the caller', () => {
  const wire = '5;name=value\r\nhello\r\n6 ; x\r\n world\r\n0\r\nX-Sum: 42\r\nConnection: close\r\nWeft-Client-Id: spoof\r\nContent-Length: 3\r\n\r\nHTTP/1.1 200 OK\r\n';
  const whole = decode([wire]);
  assert.equal(whole.data, 'hello world');
  assert.ok(whole.dec.done);
  assert.deepEqual({ ...whole.dec.trailers() }, { 'x-sum': '42' });
  assert.equal(whole.rest, 'HTTP/1.1 200 OK\r\n');
  // The same bytes fed one at a time give the same result.
  const bytewise = decode([...wire]);
  assert.equal(bytewise.data, 'hello world');
  assert.deepEqual({ ...bytewise.dec.trailers() }, { 'x-sum': '42' });
  assert.equal(bytewise.rest, 'HTTP/1.1 200 OK\r\n');
});

test('ChunkedDecoder: no trailers → undefined; feed returns the index after the final CRLF; upper-case hex', () => {
  const dec = new ChunkedDecoder(() => undefined);
  const buf = b('A\r\n0123456789\r\n0\r\n\r\nNEXT');
  assert.equal(dec.feed(buf), buf.length - 4);
  assert.ok(dec.done);
  assert.equal(dec.trailers(), undefined);
  assert.equal(dec.feed(b('more')), 0, 'nothing is consumed once done');
});

test('ChunkedDecoder: not done until the trailer section ends', () => {
  const { dec } = decode(['3\r\nabc\r\n0\r\nX-A: 1\r\n']);
  assert.equal(dec.done, false);
});

test('ChunkedDecoder refuses malformed bodies with H1ParseError', () => {
  const cases: [string, RegExp][] = [
    ['g\r\n', /not a hex number/],
    ['-1\r\n', /not a hex number/],
    ['0x5\r\n', /invalid character after the chunk size/],
    ['+5\r\n', /not a hex number/],
    ['5\nhello\r\n', /invalid character after the chunk size/],
    ['5\rhello\r\n', /bare CR/],
    ['5 \r\nhello\r\n', /invalid character after the chunk size/],
    ['5\r\nhelloXX0\r\n\r\n', /not followed by CRLF/],
    ['5\r\nhello\rX', /not followed by CRLF/],
    ['5\r\nhello\n0\r\n\r\n', /not followed by CRLF/],
    ['00000000000000001\r\n', /more than 16 hex digits/],
    ['FFFFFFFFFFFFFFFF\r\n', /too large/],
    ['5;a\x00\r\n', /chunk extension/],
    ['0\r\nX: 1\n\r\n', /bare LF/],
    ['0\r\nBad Name: 1\r\n\r\n', /invalid header name/],
    ['0\r\nX: a\x01\r\n\r\n', /invalid character/],
    [`5;${'e'.repeat(MAX_CHUNK_LINE_BYTES)}\r\n`, /longer than/],
    [`0\r\n${'X: 1\r\n'.repeat(MAX_CHUNK_LINE_BYTES / 6 + 1)}\r\n`, /trailer section larger/],
    [`0\r\nX: ${'1'.repeat(MAX_CHUNK_LINE_BYTES)}`, /trailer section larger/],
  ];
  for (const [raw, why] of cases) {
    assert.throws(() => decode([raw]), (err: Error) => err instanceof H1ParseError && why.test(err.message), JSON.stringify(raw.slice(0, 40)));
    // Split byte by byte, the same verdict.
    assert.throws(() => decode([...raw]), (err: Error) => err instanceof H1ParseError && why.test(err.message), `bytewise ${JSON.stringify(raw.slice(0, 40))}`);
  }
});

test('ChunkedDecoder: 16 hex digits within the safe-integer range are accepted; data arrives as views of the fed buffer', () => {
  const seen: Buffer[] = [];
  const dec = new ChunkedDecoder((c) => seen.push(c));
  const buf = b('000000000000000a\r\n0123456789\r\n');
  assert.equal(dec.feed(buf), buf.length);
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.buffer, buf.buffer, 'no copy');
  assert.equal(seen[0]!.toString(), '0123456789');
});

test('writer checks: chunkHeader, invalidHeaderValue, isToken', () => {
  assert.equal(chunkHeader(255), 'ff\r\n');
  assert.equal(chunkHeader(0), '0\r\n');
  for (const bad of ['a\r\nb', 'a\nb', 'a\rb', 'a\x00b', 'a\x7fb', 'a\x1bb', 'caf\u0113']) assert.ok(invalidHeaderValue(bad), JSON.stringify(bad));
  for (const good of ['', 'a b\tc', 'caf\xe9', '!~"(),/:;<=>?@[\\]{}']) assert.equal(invalidHeaderValue(good), false, JSON.stringify(good));
  assert.ok(isToken('GET') && isToken('x-custom_1.~'));
  for (const bad of ['', 'a b', 'a:b', 'a\r\n', 'caf\xe9', '(x)']) assert.equal(isToken(bad), false, JSON.stringify(bad));
});

test('ChunkedDecoder: 500 random bodies split at random points decode to the same bytes, trailers and end index', () => {
  // A fixed-seed generator (xorshift32): failures reproduce.
  let seed = 0x2545f491;
  const rand = (n: number): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  for (let round = 0; round < 500; round++) {
    const chunks: Buffer[] = [];
    let wire = '';
    for (let c = rand(6); c > 0; c--) {
      const data = Buffer.alloc(1 + rand(300), 0);
      for (let i = 0; i < data.length; i++) data[i] = rand(256);
      chunks.push(data);
      const size = rand(2) ? data.length.toString(16).toUpperCase() : data.length.toString(16);
      wire += `${'0'.repeat(rand(3))}${size}${rand(3) === 0 ? ';ext="v"' : ''}\r\n${data.toString('latin1')}\r\n`;
    }
    const trailers: Record<string, string> = {};
    wire += '0\r\n';
    for (let n = rand(3); n > 0; n--) {
      trailers[`x-t${n}`] = String(rand(1000));
      wire += `X-T${n}: ${trailers[`x-t${n}`]}\r\n`;
    }
    wire += '\r\n';
    const next = 'HTTP/1.1 200 OK\r\n';
    const bytes = Buffer.from(wire + next, 'latin1');
    const got: Buffer[] = [];
    const dec = new ChunkedDecoder((c) => got.push(Buffer.from(c)));
    let pos = 0;
    let rest: Buffer | undefined;
    while (pos < bytes.length && rest === undefined) {
      const piece = bytes.subarray(pos, pos + 1 + rand(64));
      const used = dec.feed(piece);
      if (used < piece.length) rest = piece.subarray(used);
      pos += piece.length;
    }
    assert.ok(dec.done, `round ${round}`);
    assert.ok(Buffer.concat(got).equals(Buffer.concat(chunks)), `round ${round}: data`);
    assert.deepEqual({ ...dec.trailers() }, trailers, `round ${round}: trailers`);
    assert.equal(Buffer.concat([rest ?? Buffer.alloc(0), bytes.subarray(pos)]).toString('latin1'), next, `round ${round}: what follows the body`);
  }
});
