// The shared OTLP encoder (common/src/trace/otlp.ts) writes protobuf fields by number; decoding its output with the
// messages generated from the OpenTelemetry protos (api/) pins every field it writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { otlpTrace, otlpTraceService } from '@weft/api';
import { encodeExport, rejectedSpans, unixNano } from '@weft/common/trace/otlp';
import { SpanRecord } from '@weft/common/trace/span';

test('an encoded export decodes with the generated OTLP messages to the same spans, resource and scope', () => {
  const server = new SpanRecord('4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7', 'aaaaaaaaaaaaaaaa', 'GET /books/{id}', 'server', 1_700_000_000_123.456);
  server.endMs = 1_700_000_000_200.5;
  server.set('http.route', '/books/{id}');
  server.set('http.response.status_code', 503);
  server.set('weft.tls', true);
  server.set('ratio', 0.25);
  server.error = 'HTTP 503';
  const client = new SpanRecord('4bf92f3577b34da6a3ce929d0e0e4736', '1111111111111111', undefined, 'POST', 'client', 1);
  client.endMs = 2;
  const req = fromBinary(otlpTraceService.ExportTraceServiceRequestSchema, encodeExport('weft-identity', { 'service.name': 'identity', 'k8s.pod.name': 'p' }, [server, client]));
  const rs = req.resourceSpans[0]!;
  assert.deepEqual(rs.resource!.attributes.map((a) => [a.key, a.value!.value.value]), [['service.name', 'identity'], ['k8s.pod.name', 'p']]);
  assert.equal(rs.scopeSpans[0]!.scope!.name, 'weft-identity');
  const [s, c] = rs.scopeSpans[0]!.spans;
  assert.equal(Buffer.from(s!.traceId).toString('hex'), server.traceId);
  assert.equal(Buffer.from(s!.spanId).toString('hex'), server.spanId);
  assert.equal(Buffer.from(s!.parentSpanId).toString('hex'), server.parentSpanId);
  assert.equal(s!.name, 'GET /books/{id}');
  assert.equal(s!.kind, otlpTrace.Span_SpanKind.SERVER);
  assert.equal(s!.startTimeUnixNano, unixNano(server.startMs));
  assert.equal(s!.endTimeUnixNano, 1_700_000_000_200_500_000n);
  assert.deepEqual(
    s!.attributes.map((a) => [a.key, a.value!.value.case, a.value!.value.value]),
    [['http.route', 'stringValue', '/books/{id}'], ['http.response.status_code', 'intValue', 503n], ['weft.tls', 'boolValue', true], ['ratio', 'doubleValue', 0.25]],
  );
  assert.equal(s!.status!.code, otlpTrace.Status_StatusCode.ERROR);
  assert.equal(s!.status!.message, 'HTTP 503');
  assert.equal(c!.kind, otlpTrace.Span_SpanKind.CLIENT);
  assert.equal(c!.parentSpanId.length, 0);
  assert.equal(c!.status, undefined, 'no status written: UNSET');
});

test("the collector's partial_success.rejected_spans is read from its response", () => {
  const rsp = (n: bigint) =>
    toBinary(otlpTraceService.ExportTraceServiceResponseSchema, create(otlpTraceService.ExportTraceServiceResponseSchema, { partialSuccess: { rejectedSpans: n, errorMessage: 'too old' } }));
  assert.equal(rejectedSpans(rsp(7n)), 7);
  assert.equal(rejectedSpans(new Uint8Array(0)), 0);
  assert.throws(() => rejectedSpans(new Uint8Array([0x0a, 0x05, 0x08])), 'a truncated body is an error');
});
