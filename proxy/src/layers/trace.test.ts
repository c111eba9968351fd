// When the trace layer ends a sampled request's span: at once for a body that arrived whole with its head (without
// making a stream of it, so the server still writes the response in one go), at the end of a streamed body otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { Tracer } from '@weft/common/trace/tracer';
import type { SpanRecord } from '@weft/common/trace/span';
import { traceLayer } from './trace.js';
import { wholeBody, wholeResponse } from '../http/whole-body.js';
import type { HttpRequest, HttpResponse, HttpService } from '../svc.js';

function request(): HttpRequest {
  return {
    method: 'GET',
    scheme: 'http',
    authority: 'web.test.svc:80',
    path: '/books?id=1',
    headers: { host: 'web.test.svc' },
    body: Readable.from([]),
    bodyless: true,
    version: 'HTTP/1.1',
    signal: new AbortController().signal,
    conn: { client: { ip: '10.0.0.1', port: 40000 }, tls: {} },
    startedAt: performance.now(),
  } as unknown as HttpRequest;
}

/** A sampled-always server-side trace layer around `inner`, and the spans it finished. */
function traced(inner: HttpService): { svc: HttpService; spans: SpanRecord[] } {
  const spans: SpanRecord[] = [];
  const tracer = new Tracer(1, { push: (s) => spans.push(s) });
  return { svc: traceLayer({ tracer, kind: 'server', localIdentity: 'web.test.serviceaccount.identity.weft.cluster.local' })(inner), spans };
}

test('a sampled response whose body arrived whole ends its span at once and is not made a stream', async () => {
  const { svc, spans } = traced(() => Promise.resolve(wholeResponse(200, { 'content-length': '2' }, 'ok', undefined)));
  const rsp = await svc(request());
  assert.equal(spans.length, 1, 'the span ended with the response');
  assert.deepEqual(spans[0]!.attributes.find(([k]) => k === 'http.response.status_code'), ['http.response.status_code', 200]);
  assert.equal(wholeBody(rsp), 'ok', 'the body is still held whole, for the server to write with the head');
});

test('a sampled response with a streamed body ends its span when the body ends', async () => {
  const body = new Readable({ read() {} });
  const { svc, spans } = traced(() => Promise.resolve({ status: 200, headers: {}, body, trailers: () => undefined, resetCode: () => undefined } satisfies HttpResponse));
  const rsp = await svc(request());
  body.push('chunk');
  await new Promise((r) => setImmediate(r));
  assert.equal(spans.length, 0, 'not ended while the body is still coming');
  body.push(null);
  rsp.body.resume();
  await new Promise((r) => rsp.body.once('end', r));
  await new Promise((r) => setImmediate(r));
  assert.equal(spans.length, 1);
  assert.equal(spans[0]!.error, undefined);
});
