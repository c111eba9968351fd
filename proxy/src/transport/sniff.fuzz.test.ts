// Fuzz target for the proxy's own parsing of untrusted bytes and headers:
// protocol detection (classify, the ClientHello SNI reader), the end-to-end
// header filter and the inbound target decision. 200,000 mutated inputs from
// a corpus of valid requests, ClientHellos and HTTP/2 prefaces; each must
// neither throw nor break an invariant. Seeded, so a failure names the input.
// A second target checks detection against two HTTP/1 servers weft does not
// use itself to detect: what either reads as a request is never opaque.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { Mutator } from '@weft/common/testing/mutate';
import { classify, clientHelloSni } from './sniff.js';
import { endToEnd } from '../http/headers.js';
import { httpAppTarget, ProxyPorts } from '../inbound/app-target.js';
import type { ConnMeta, HttpRequest } from '../svc.js';

const CASES = 200_000;

/** A TLS 1.3 ClientHello with SNI `web.test.svc` (as curl sends it, trimmed). */
function clientHello(sni: string): Buffer {
  const name = Buffer.from(sni);
  const sniExt = Buffer.concat([Buffer.from([0x00, 0x00]), u16(name.length + 5), u16(name.length + 3), Buffer.from([0x00]), u16(name.length), name]);
  const versions = Buffer.from([0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04]);
  const exts = Buffer.concat([sniExt, versions]);
  const body = Buffer.concat([Buffer.from([0x03, 0x03]), Buffer.alloc(32, 7), Buffer.from([0x00]), u16(2), Buffer.from([0x13, 0x01]), Buffer.from([0x01, 0x00]), u16(exts.length), exts]);
  const hs = Buffer.concat([Buffer.from([0x01]), Buffer.from([0, body.length >> 8, body.length & 0xff]), body]);
  return Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), u16(hs.length), hs]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

const CORPUS = [
  Buffer.from('GET / HTTP/1.1\r\nHost: web.test.svc\r\n\r\n'),
  Buffer.from('POST /x HTTP/1.1\r\nHost: web.test.svc:8080\r\nContent-Length: 5\r\nConnection: keep-alive, x-hop\r\nx-hop: 1\r\n\r\nhello'),
  Buffer.from('GET /ws HTTP/1.1\r\nHost: [::1]:80\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nweft-client-id: spoofed\r\n\r\n'),
  Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00'),
  clientHello('web.demo.serviceaccount.identity.weft.cluster.local'),
  clientHello('x'),
];
const DICTIONARY = ['\r\n', '\n', ': ', 'HTTP/1.1', 'weft-dst-port: ', 'weft-client-id: ', 'Transfer-Encoding: chunked', '\x16\x03\x01', '\x00\x00', 'PRI * HTTP/2.0'].map((s) => Buffer.from(s, 'latin1'));

const HOP = ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host', 'proxy-connection', 'expect'];
const options = { appHost: '127.0.0.1', defaultAppPort: 8080, proxyPorts: new ProxyPorts([4140, 4143, 4190, 4191]) };
const conn: ConnMeta = { direction: 'inbound', client: { ip: '10.0.0.2', port: 1 }, local: { ip: '10.0.0.1', port: 4143 }, origDst: undefined, tls: { identity: 'peer' } };

/** Headers as a lenient parser would read them from the bytes (the fuzz input drives the names and values). */
function looseHeaders(b: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of b.toString('latin1').split(/\r?\n/).slice(1, 64)) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return out;
}

test(`fuzz: ${CASES.toLocaleString('en')} mutated inputs through detection, the header filter and the inbound target decision`, { timeout: 600_000 }, () => {
  const m = new Mutator(20261202, CORPUS, DICTIONARY);
  const kinds = new Map<string, number>();
  for (let i = 0; i < CASES; i++) {
    const input = m.next();
    try {
      const d = classify(input);
      kinds.set(d?.kind ?? 'more', (kinds.get(d?.kind ?? 'more') ?? 0) + 1);
      // A decision never changes when more bytes arrive: detection may stop reading at its first answer.
      if (d) assert.equal(classify(Buffer.concat([input, Buffer.from('trailing bytes')]))?.kind, d.kind, 'decision changed with more bytes');
      const sni = clientHelloSni(input);
      if (sni !== undefined) assert.equal(typeof sni, 'string');
      const headers = looseHeaders(input);
      const e2e = endToEnd(headers);
      for (const name of Object.keys(e2e)) {
        assert.ok(!/^weft[-_]/.test(name), `weft header ${name} survived`);
        assert.ok(!HOP.includes(name), `hop-by-hop header ${name} survived`);
      }
      const req: HttpRequest = { method: 'GET', scheme: 'http', authority: headers.host ?? '', path: '/', headers, body: Readable.from([]), bodyless: true, version: 'HTTP/2', signal: new AbortController().signal, conn, startedAt: 0 };
      const t = httpAppTarget(req, options);
      if (t.addr) {
        assert.ok(Number.isInteger(t.addr.port) && t.addr.port >= 1 && t.addr.port <= 65535, `bad port ${t.addr.port}`);
        assert.ok(!options.proxyPorts.has(t.addr.port), `proxy port ${t.addr.port} chosen`);
      }
    } catch (err) {
      assert.fail(`input #${i} (${input.toString('hex').slice(0, 200)}): ${(err as Error).stack}`);
    }
  }
  // The corpus reaches every branch of detection.
  for (const kind of ['http1', 'http2', 'tls', 'opaque']) assert.ok((kinds.get(kind) ?? 0) > 100, `${kind}: ${kinds.get(kind)}`);
});

/** Node's own HTTP/1 request parser (llhttp), as Node's HTTP server runs it. */
const { HTTPParser } = createRequire(import.meta.url)('_http_common') as {
  HTTPParser: { new (): { initialize(kind: number, resource: object): void; execute(b: Buffer): unknown; [k: number]: unknown }; REQUEST: number; kOnHeadersComplete: number };
};

function nodeReadsRequest(input: Buffer): boolean {
  const parser = new HTTPParser();
  parser.initialize(HTTPParser.REQUEST, {});
  let head = false;
  parser[HTTPParser.kOnHeadersComplete] = () => {
    head = true;
    return 0;
  };
  parser.execute(input);
  return head;
}

/**
 * Python's http.server reading each input (length-prefixed on stdin): prints the indexes of the inputs it parses as a
 * request whose method a handler could implement (`do_<method>`), with its headers.
 */
const PYTHON_READER = `
import io, sys, struct, re, http.server
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
data = sys.stdin.buffer.read()
p = 0
i = 0
while p < len(data):
    (n,) = struct.unpack('>I', data[p:p + 4]); p += 4
    h = H.__new__(H)
    h.rfile = io.BytesIO(data[p:p + n]); h.wfile = io.BytesIO(); h.client_address = ('fuzz', 0)
    p += n
    h.raw_requestline = h.rfile.readline(65537)
    try:
        if h.parse_request() and re.fullmatch(r'[A-Za-z_][A-Za-z0-9_]*', h.command or ''):
            print(i)
    except Exception:
        pass
    i += 1
`;

const REQUEST_CORPUS = [
  'GET /admin HTTP/1.1\r\nHost: web\r\nweft-client-id: forged\r\n\r\n',
  '\r\nPOST /x HTTP/1.1\r\nHost: web\r\nContent-Length: 2\r\n\r\nhi',
  'get /x HTTP/1.0\r\nweft-client-id: forged\r\n\r\n',
  ' GET\t/x HTTP/1.1\r\nA: b\r\n\r\n',
].map((r) => Buffer.from(r, 'latin1'));
const REQUEST_DICTIONARY = ['\r\n', '\n', ' ', '\t', '\x0b', '\x0c', '\x1c', '\x85', '\xa0', 'HTTP/1.1', 'HTTP/01.1', 'GET', 'get', ': '].map((s) => Buffer.from(s, 'latin1'));

test('fuzz: what Node\'s or Python\'s HTTP/1 server reads as a request is never detected as opaque', { timeout: 600_000 }, () => {
  const m = new Mutator(20261206, REQUEST_CORPUS, REQUEST_DICTIONARY);
  const opaque: Buffer[] = [];
  let http1 = 0;
  for (let i = 0; i < 100_000; i++) {
    const input = m.next();
    const d = classify(input);
    if (d?.kind === 'http1') http1++;
    if (d?.kind !== 'opaque') continue;
    assert.ok(!nodeReadsRequest(input), `Node's server reads a request in bytes detected as opaque: ${JSON.stringify(input.toString('latin1'))}`);
    opaque.push(input);
  }
  // Enough of both to mean something.
  assert.ok(http1 > 10_000 && opaque.length > 1_000, `http1 ${http1}, opaque ${opaque.length}`);
  const frames = Buffer.concat(opaque.flatMap((b) => [Buffer.from([b.length >>> 24, (b.length >>> 16) & 0xff, (b.length >>> 8) & 0xff, b.length & 0xff]), b]));
  const py = spawnSync('python3', ['-c', PYTHON_READER], { input: frames, maxBuffer: 64 * 1024 * 1024 });
  assert.equal(py.status, 0, `python3 failed: ${py.stderr?.toString()}`);
  const read = py.stdout.toString().split('\n').filter(Boolean).map(Number);
  assert.deepEqual(read.slice(0, 5).map((i) => opaque[i]!.toString('latin1')), [], 'Python\'s server reads a request in bytes detected as opaque');
});
