// Fuzz target for the proxy's own parsing of untrusted bytes and headers:
// protocol detection (classify, the ClientHello SNI reader), the end-to-end
// header filter and the inbound target decision. 200,000 mutated inputs from
// a corpus of valid requests, ClientHellos and HTTP/2 prefaces; each must
// neither throw nor break an invariant. Seeded, so a failure names the input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
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
        assert.ok(!name.startsWith('weft-'), `weft header ${name} survived`);
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
