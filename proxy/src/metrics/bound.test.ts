import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { BoundCounter, BoundGauge, BoundHistogram } from './bound.js';

const BUCKETS = [1, 5, 10];

/** The same families twice: `a` updated through prom-client's own children, `b` through bound ones. */
function families(prefix: string, r: Registry) {
  const registers = [r];
  return {
    counter: new Counter({ name: `${prefix}_total`, help: 'c', labelNames: ['x', 'y'], registers }),
    gauge: new Gauge({ name: `${prefix}_open`, help: 'g', labelNames: ['x', 'y'], registers }),
    histogram: new Histogram({ name: `${prefix}_ms`, help: 'h', labelNames: ['x', 'y'], buckets: BUCKETS, registers }),
  };
}

/** The exposition text with the family prefix removed, so the two registries compare line by line. */
async function text(r: Registry, prefix: string): Promise<string> {
  return (await r.metrics()).replaceAll(`${prefix}_`, 'm_');
}

test('bound counters, gauges and histograms expose exactly what prom-client children do', async () => {
  const ra = new Registry();
  const rb = new Registry();
  const a = families('a', ra);
  const b = families('b', rb);
  const labels = [{ x: '1', y: 'p' }, { x: '2', y: 'q' }];
  const bound = labels.map((l) => ({ c: new BoundCounter(b.counter, l), g: new BoundGauge(b.gauge, l), h: new BoundHistogram(b.histogram, l) }));
  const values = [0.5, 1, 3, 5, 7, 10, 11, 1000, 0];
  for (let i = 0; i < 50; i++) {
    const k = i % 2;
    const v = values[i % values.length]!;
    a.counter.labels(labels[k]!).inc(v);
    bound[k]!.c.inc(v);
    a.gauge.labels(labels[k]!).inc();
    bound[k]!.g.inc();
    if (i % 3 === 0) {
      a.gauge.labels(labels[k]!).dec();
      bound[k]!.g.dec();
    }
    a.histogram.labels(labels[k]!).observe(v);
    bound[k]!.h.observe(v);
  }
  assert.equal(await text(rb, 'b'), await text(ra, 'a'));
  assert.match(await text(rb, 'b'), /m_ms_bucket\{le="\+Inf",x="1",y="p"\} 25/);
});

test('a bound child keeps counting after its family is reset', async () => {
  const r = new Registry();
  const f = families('r', r);
  const c = new BoundCounter(f.counter, { x: '1', y: 'p' });
  const h = new BoundHistogram(f.histogram, { x: '1', y: 'p' });
  c.inc(3);
  h.observe(2);
  r.resetMetrics();
  c.inc(2);
  h.observe(7);
  const out = await r.metrics();
  assert.match(out, /r_total\{x="1",y="p"\} 2\n/);
  assert.match(out, /r_ms_count\{x="1",y="p"\} 1\n/);
  assert.match(out, /r_ms_bucket\{le="10",x="1",y="p"\} 1\n/);
  assert.match(out, /r_ms_bucket\{le="5",x="1",y="p"\} 0\n/);
});

test('two bound children with equal labels (e.g. rebuilt after a policy update) add to one series', async () => {
  const r = new Registry();
  const f = families('s', r);
  new BoundCounter(f.counter, { x: '1', y: 'p' }).inc();
  const again = new BoundCounter(f.counter, { y: 'p', x: '1' });
  again.inc();
  again.inc(5);
  assert.match(await r.metrics(), /s_total\{x="1",y="p"\} 7\n/);
});

test('bound children refuse what prom-client refuses: negative counter increments, unknown labels', () => {
  const r = new Registry();
  const f = families('v', r);
  const c = new BoundCounter(f.counter, { x: '1', y: 'p' });
  c.inc();
  assert.throws(() => c.inc(-1), /decrease a counter/);
  assert.throws(() => new BoundCounter(f.counter, { z: '1' }).inc(), /label/);
});
