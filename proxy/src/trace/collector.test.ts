// The proxy's collector client (trace/collector.ts) against real HTTP and HTTPS servers on loopback: what it sends,
// what it hands back, one kept-alive connection, a collector that never answers, a certificate it must refuse, and a
// collector whose first SYNs are lost (real iptables rules).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { createLogger } from '@weft/common/log';
import { TestPki } from '@weft/common/testing/pki';
import { CONNECT_BOUNDS } from '@weft/common/connect-bound';
import { vanish, vanishUnavailable } from '@weft/common/testing/vanish';
import { SpanRecord } from '@weft/common/trace/span';
import { h1Collector } from './collector.js';
import { OtlpHttpExporter } from './exporter.js';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  remotePort: number;
}

/** A collector on loopback answering each POST with `answer`; resolves with its base URL and what it received. */
async function collector(t: { after(fn: () => unknown): void }, answer: (res: http.ServerResponse) => void): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks), remotePort: req.socket.remotePort! });
      answer(res);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`, seen };
}

test('posts the export as OTLP/HTTP protobuf and hands back status, content type and body, on one kept-alive connection', async (t) => {
  const { url, seen } = await collector(t, (res) => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(Buffer.from([1, 2, 3])));
  const client = h1Collector(url);
  t.after(() => client.close());
  const body = new Uint8Array(100_000).map((_, i) => i % 251);
  const first = await client.post(body, 5000);
  assert.equal(first.status, 200);
  assert.equal(first.contentType, 'application/x-protobuf');
  assert.deepEqual([...first.body], [1, 2, 3]);
  const second = await client.post(new Uint8Array([9]), 5000);
  assert.equal(second.status, 200);
  assert.equal(seen.length, 2);
  assert.equal(seen[0]!.method, 'POST');
  assert.equal(seen[0]!.url, '/v1/traces');
  assert.equal(seen[0]!.headers['content-type'], 'application/x-protobuf');
  assert.equal(seen[0]!.headers['content-length'], '100000');
  assert.ok(seen[0]!.body.equals(Buffer.from(body)), 'the collector received the bytes posted');
  assert.equal(seen[1]!.remotePort, seen[0]!.remotePort, 'the second export went on the same connection');
});

test('a streamed (chunked) answer is read whole; an error status is handed back as it came', async (t) => {
  let status = 200;
  const { url } = await collector(t, (res) => {
    res.writeHead(status, { 'content-type': 'application/x-protobuf' });
    res.write(Buffer.from([4]));
    setTimeout(() => res.end(Buffer.from([5, 6])), 20);
  });
  const client = h1Collector(url);
  t.after(() => client.close());
  assert.deepEqual([...(await client.post(new Uint8Array([1]), 5000)).body], [4, 5, 6]);
  status = 503;
  assert.equal((await client.post(new Uint8Array([1]), 5000)).status, 503);
});

test('a collector that never answers fails the export at its timeout', async (t) => {
  const { url, seen } = await collector(t, () => undefined);
  const client = h1Collector(url);
  t.after(() => client.close());
  await assert.rejects(client.post(new Uint8Array([1]), 300));
  assert.equal(seen.length, 1, 'the export reached the collector');
});

test('a collector whose first SYNs are lost still gets the export: the kernel retransmits within the collector bound, where the proxy\'s 1 s endpoint bound gives up', { skip: await vanishUnavailable() }, async (t) => {
  const { url, seen } = await collector(t, (res) => res.writeHead(200).end());
  const port = Number(new URL(url).port);
  // Every packet to and from the collector's port dropped for 1.5 s: the SYN and its first retransmission (1 s later)
  // are lost, the second retransmission (3 s after the first SYN) gets through.
  const lossy = async (post: () => Promise<unknown>): Promise<unknown> => {
    const rules = await vanish(port);
    const lifted = new Promise((resolve) => setTimeout(resolve, 1500)).then(() => rules.restore());
    try {
      return await post();
    } finally {
      await lifted;
    }
  };
  const endpointBound = h1Collector(url, CONNECT_BOUNDS);
  t.after(() => endpointBound.close());
  await assert.rejects(lossy(() => endpointBound.post(new Uint8Array([1]), 8000)), /within 1000 ms \(TCP connect\)/);
  assert.equal(seen.length, 0);
  const client = h1Collector(url);
  t.after(() => client.close());
  const answer = (await lossy(() => client.post(new Uint8Array([2]), 8000))) as { status: number };
  assert.equal(answer.status, 200);
  assert.deepEqual(seen.map((s) => [...s.body]), [[2]]);
});

test('an https collector whose certificate no trusted CA signed is refused before anything is sent', async (t) => {
  const pki = new TestPki();
  t.after(() => pki.dispose());
  const root = pki.cert({ subject: '/CN=untrusted root', ca: true });
  const leaf = pki.cert({ subject: '/CN=collector.test', dns: ['collector.test'], issuer: root });
  let requests = 0;
  const server = https.createServer({ cert: readFileSync(leaf.certPath), key: readFileSync(leaf.keyPath) }, (_req, res) => {
    requests++;
    res.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const client = h1Collector(`https://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`);
  t.after(() => client.close());
  await assert.rejects(client.post(new Uint8Array([1]), 5000), /certificate/);
  assert.equal(requests, 0);
});

test('the exporter on this client counts spans the collector took and those it rejected (partial success)', async (t) => {
  // ExportTraceServiceResponse { partial_success { rejected_spans: 1 } }
  const w = new BinaryWriter();
  w.tag(1, WireType.LengthDelimited).fork().tag(1, WireType.Varint).int64(1).join();
  const partial = w.finish();
  const { url } = await collector(t, (res) => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(partial));
  const registry = new Registry();
  const exporter = new OtlpHttpExporter({
    url,
    resource: { 'service.name': 'test' },
    maxQueue: 10,
    maxBatch: 10,
    flushIntervalMs: 60_000,
    timeoutMs: 5000,
    registry,
    log: createLogger('test', 'silent'),
    client: h1Collector(url),
  });
  for (let i = 0; i < 3; i++) exporter.push(new SpanRecord('0af7651916cd43dd8448eb211c80319c', `b7ad6b716920333${i}`, undefined, 'GET', 'server', Date.now()));
  await exporter.close();
  const text = await registry.metrics();
  assert.match(text, /^trace_spans_exported_total 2$/m);
  assert.match(text, /^trace_spans_dropped_total\{reason="rejected"\} 1$/m);
});
