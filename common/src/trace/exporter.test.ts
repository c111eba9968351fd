// The OTLP/HTTP exporter against a real HTTP server on loopback that holds
// each export until the test lets it answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { createLogger } from '../log.js';
import { OtlpHttpExporter } from './exporter.js';
import { SpanRecord } from './span.js';
import { unusedPort } from '../testing/ports.js';

const metric = async (registry: Registry, line: RegExp): Promise<number> => {
  const m = line.exec(await registry.metrics());
  return m ? Number(m[1]) : 0;
};

test('flush waits for the batch the timer is already sending, not only for what is still queued', async (t) => {
  const held: ServerResponse[] = [];
  const arrived: Array<() => void> = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      held.push(res);
      arrived.shift()?.();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const registry = new Registry();
  const exporter = new OtlpHttpExporter({
    scope: 'test',
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`,
    resource: { 'service.name': 'test' },
    maxQueue: 10,
    maxBatch: 10,
    flushIntervalMs: 10,
    timeoutMs: 5000,
    registry,
    log: createLogger('test', 'silent'),
  });
  t.after(() => exporter.close());

  const exportArrived = new Promise<void>((resolve) => arrived.push(resolve));
  exporter.push(new SpanRecord('0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', undefined, 'GET', 'server', Date.now()));
  await exportArrived; // the timer took the only batch: the queue is empty, the export is in flight
  let flushed = false;
  const flushing = exporter.flush().then(() => (flushed = true));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(flushed, false, 'flush resolved while the export it covers was still unanswered');
  held[0]!.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  await flushing;
  assert.equal(await metric(registry, /^trace_spans_exported_total (\d+)$/m), 1, 'the span is counted as exported when flush resolves');
});

test('with the collector down, flush resolves with every span counted as dropped', async () => {
  const port = await unusedPort(); // nothing listens there
  const registry = new Registry();
  const exporter = new OtlpHttpExporter({
    scope: 'test',
    url: `http://127.0.0.1:${port}/v1/traces`,
    resource: { 'service.name': 'test' },
    maxQueue: 10,
    maxBatch: 2,
    flushIntervalMs: 1,
    timeoutMs: 5000,
    registry,
    log: createLogger('test', 'silent'),
  });
  for (let i = 0; i < 5; i++) {
    exporter.push(new SpanRecord('0af7651916cd43dd8448eb211c80319c', `b7ad6b716920333${i}`, undefined, 'GET', 'server', Date.now()));
    await new Promise((resolve) => setImmediate(resolve)); // let the timer and full batches start exports in between
  }
  await exporter.flush();
  assert.equal(await metric(registry, /^trace_spans_dropped_total\{reason="export_failed"\} (\d+)$/m), 5);
  await exporter.close();
});
