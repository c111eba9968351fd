/**
 * The success-rate chart against a real Prometheus: an object whose every
 * response failed charts 0 %, and a success series that has just appeared
 * (one sample, no rate yet) charts a gap, never a false 0 %.
 *
 * The scrape target is a plain /metrics endpoint whose counters grow by one
 * per scrape, so each series' first sample is known from Prometheus itself.
 * With a 1m window and a 2 s scrape the chart's step equals the scrape
 * interval, so exactly one chart point sees the new success series with a
 * single sample in its rate window: that is the point a wrong query reads 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startPrometheus, poll } from '../testing/prometheus.js';
import { queryTimeSeries } from './timeseries.js';
import { parseResource } from '../resource.js';

const LABELS = 'namespace="shop",deployment="books",direction="inbound"';

test('success rate: 0 % while every response fails, a gap (not 0 %) while a new success series warms up', { timeout: 180_000 }, async () => {
  let scrapes = 0;
  let successFrom: number | undefined; // the scrape number at which successes start
  const metrics = http.createServer((req, res) => {
    scrapes++;
    const lines = [
      '# TYPE request_total counter',
      `request_total{${LABELS}} ${scrapes * 2}`,
      '# TYPE response_total counter',
      `response_total{${LABELS},status_code="500",classification="failure"} ${scrapes}`,
    ];
    if (successFrom !== undefined) lines.push(`response_total{${LABELS},status_code="200",classification="success"} ${scrapes - successFrom + 1}`);
    res.setHeader('content-type', 'text/plain; version=0.0.4');
    res.end(lines.join('\n') + '\n');
  });
  await new Promise<void>((r) => metrics.listen(0, '127.0.0.1', () => r()));
  const port = (metrics.address() as AddressInfo).port;
  const prom = await startPrometheus(
    `global:\n  scrape_interval: 2s\n  evaluation_interval: 2s\nscrape_configs:\n  - job_name: weft-proxy\n    static_configs:\n      - targets: ['127.0.0.1:${port}']\n`,
    1,
  );
  try {
    // Failures only, long enough for several charted 0 % points.
    await poll('six failure-only scrapes', async () => (scrapes >= 6 ? true : undefined), 60_000);
    successFrom = scrapes + 1;
    // The first success sample's own timestamp (`timestamp()`), not the query grid's first point after it: that point
    // lies up to a step later and could pass the chart point whose rate window holds that one sample.
    const first = await poll(
      'the success series in Prometheus',
      async () => {
        const [s] = await prom.client.queryRange(`timestamp(response_total{${LABELS},classification="success"})`, new Date(Date.now() - 120_000), new Date(), 1);
        return s?.points[0]?.[1];
      },
      60_000,
    );
    // Enough scrapes after the first success for the chart to have real points past the warm-up.
    await poll('six scrapes with successes', async () => (scrapes >= successFrom! + 6 ? true : undefined), 60_000);

    const series = await queryTimeSeries(prom.client, { resource: parseResource('deploy/books'), namespace: 'shop', window: '1m' });
    assert.equal(series.step, 2, 'the step equals the scrape interval (the premise of this test)');
    const points = series.timestamps.map((t, i) => ({ t, v: series.successRate[i]! }));
    const before = points.filter((p) => p.t < first);
    const after = points.filter((p) => p.t >= first && p.t <= first + 8);
    assert.ok(before.some((p) => p.v === 0), `every response failed: the chart reads 0 %, not a gap: ${JSON.stringify(before)}`);
    assert.ok(before.every((p) => p.v === null || p.v === 0), JSON.stringify(before));
    assert.ok(after.length >= 3, `points after the first success sample: ${JSON.stringify(points)}`);
    for (const p of after) assert.ok(p.v === null || p.v > 0, `a success series warming up is charted as ${p.v} at ${p.t} (first success sample at ${first}): ${JSON.stringify(after)}`);
    assert.ok(after.some((p) => p.v === null), `the point whose rate window holds one success sample is a gap: ${JSON.stringify(after)}`);
    assert.ok(after.some((p) => p.v !== null && p.v > 0.3 && p.v < 0.7), `one success per failure charts about 50 %: ${JSON.stringify(after)}`);
  } finally {
    await prom.stop();
    await new Promise((r) => metrics.close(r));
  }
});
