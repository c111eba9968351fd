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
    retry: { attempts: 2, backoffMs: 1 },
  });
  for (let i = 0; i < 5; i++) {
    exporter.push(new SpanRecord('0af7651916cd43dd8448eb211c80319c', `b7ad6b716920333${i}`, undefined, 'GET', 'server', Date.now()));
    await new Promise((resolve) => setImmediate(resolve)); // let the timer and full batches start exports in between
  }
  await exporter.flush();
  assert.equal(await metric(registry, /^trace_spans_dropped_total\{reason="export_failed"\} (\d+)$/m), 5);
  await exporter.close();
});

/**
 * A collector on loopback that answers the n-th export (from 0) with `answers[n]` (the last one from then on) and
 * records what it got; with `later`, it starts listening on that port only after `later.ms`.
 */
async function scripted(
  t: { after(fn: () => unknown): void },
  answers: Array<{ status: number; headers?: Record<string, string>; body?: Buffer }>,
  later?: { port: number; ms: number },
): Promise<{ url: string; bodies: Buffer[]; times: number[]; listening: Promise<unknown> }> {
  const bodies: Buffer[] = [];
  const times: number[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const a = answers[Math.min(bodies.length, answers.length - 1)]!;
      bodies.push(Buffer.concat(chunks));
      times.push(performance.now());
      res.writeHead(a.status, a.headers).end(a.body);
    });
  });
  t.after(() => server.close());
  const listening = new Promise((resolve) => setTimeout(resolve, later?.ms ?? 0)).then(() => {
    server.listen(later?.port ?? 0, '127.0.0.1');
    return once(server, 'listening');
  });
  if (!later) await listening;
  const port = later?.port ?? (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/v1/traces`, bodies, times, listening };
}

function exporterFor(url: string, registry: Registry, retry: { attempts: number; backoffMs: number }): OtlpHttpExporter {
  return new OtlpHttpExporter({ scope: 'test', url, resource: { 'service.name': 'test' }, maxQueue: 10, maxBatch: 10, flushIntervalMs: 60_000, timeoutMs: 5000, registry, log: createLogger('test', 'silent'), retry });
}

const span = (i = 0): SpanRecord => new SpanRecord('0af7651916cd43dd8448eb211c80319c', `b7ad6b716920333${i}`, undefined, 'GET', 'server', Date.now());
const exported = (r: Registry): Promise<number> => metric(r, /^trace_spans_exported_total (\d+)$/m);
const failed = (r: Registry): Promise<number> => metric(r, /^trace_spans_dropped_total\{reason="export_failed"\} (\d+)$/m);

test('transient failures (503, 502, 504, 429) are retried and the batch arrives once, the same bytes each time', async (t) => {
  const c = await scripted(t, [{ status: 503 }, { status: 502 }, { status: 504 }, { status: 200 }]);
  const registry = new Registry();
  const exporter = exporterFor(c.url, registry, { attempts: 4, backoffMs: 5 });
  exporter.push(span(0));
  exporter.push(span(1));
  await exporter.flush();
  assert.equal(c.bodies.length, 4);
  for (const b of c.bodies) assert.ok(b.equals(c.bodies[0]!), 'every send carries the same export');
  assert.equal(await exported(registry), 2);
  assert.equal(await failed(registry), 0);
  await exporter.close();
});

test('an answer that will not change (400, or a 2xx whose body is not a response) is not retried; after `attempts` transient failures the batch is dropped', async (t) => {
  // 0x0a 0xff: field 1, length-delimited, then a length cut short.
  const garbled = { 'content-type': 'application/x-protobuf' };
  for (const { status, headers, body, attempts, sends } of [
    { status: 400, attempts: 4, sends: 1 },
    { status: 200, headers: garbled, body: Buffer.from([0x0a, 0xff]), attempts: 4, sends: 1 },
    { status: 503, attempts: 3, sends: 3 },
  ]) {
    const c = await scripted(t, [{ status, headers, body }]);
    const registry = new Registry();
    const exporter = exporterFor(c.url, registry, { attempts, backoffMs: 5 });
    exporter.push(span());
    await exporter.flush();
    assert.equal(c.bodies.length, sends, `HTTP ${status}: sends`);
    assert.deepEqual([await failed(registry), await exported(registry)], [1, 0], `HTTP ${status}: dropped, exported`);
    await exporter.close();
  }
});

test('a refused connection is retried: a collector that comes up within the retries gets the batch', async (t) => {
  // The first send is refused (nothing listens yet); the collector starts before the second (~150-250 ms later).
  const c = await scripted(t, [{ status: 200 }], { port: await unusedPort(), ms: 20 });
  const registry = new Registry();
  const exporter = exporterFor(c.url, registry, { attempts: 4, backoffMs: 200 });
  exporter.push(span());
  await exporter.flush();
  await c.listening;
  assert.equal(c.bodies.length, 1);
  assert.equal(await exported(registry), 1);
  assert.equal(await failed(registry), 0);
  await exporter.close();
});

test('Retry-After in seconds sets the wait before the next send', async (t) => {
  const c = await scripted(t, [{ status: 429, headers: { 'retry-after': '1' } }, { status: 200 }]);
  const registry = new Registry();
  const exporter = exporterFor(c.url, registry, { attempts: 2, backoffMs: 1 });
  exporter.push(span());
  await exporter.flush();
  assert.equal(c.bodies.length, 2);
  // A lower bound only: the backoff alone (1 ms) would have sent again at once.
  assert.ok(c.times[1]! - c.times[0]! >= 950, `sent again after ${Math.round(c.times[1]! - c.times[0]!)} ms, not after the 1 s asked`);
  assert.equal(await exported(registry), 1);
  await exporter.close();
});

test('close during a retry wait sends the batch once more at once instead of waiting', async (t) => {
  const c = await scripted(t, [{ status: 503 }, { status: 200 }]);
  const registry = new Registry();
  // A wait no test would sit through: close must cut it short.
  const exporter = exporterFor(c.url, registry, { attempts: 4, backoffMs: 60_000 });
  exporter.push(span());
  const first = new Promise<void>((resolve) => {
    const poll = (): void => void (c.bodies.length > 0 ? resolve() : setTimeout(poll, 5));
    poll();
  });
  void exporter.flush();
  await first;
  let guard: NodeJS.Timeout | undefined;
  const stuck = new Promise<string>((resolve) => (guard = setTimeout(() => resolve('stuck'), 20_000)));
  const outcome = await Promise.race([exporter.close().then(() => 'closed'), stuck]);
  clearTimeout(guard);
  assert.equal(outcome, 'closed', 'close waited for the retry backoff');
  assert.equal(c.bodies.length, 2);
  assert.equal(await exported(registry), 1);
});
