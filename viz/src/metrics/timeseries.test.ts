import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planRange, POINTS } from './timeseries.js';
import { durationSeconds } from './prometheus.js';

test('the step is sized to the window and never finer than the scrape interval', () => {
  // 1m at a 1s scrape: one point a second.
  assert.deepEqual(planRange(60, 1, 1_000_000), { start: 1_000_000 - 60, end: 1_000_000, step: 1, rateIntervalSeconds: 4 });
  // 1h: about POINTS points.
  const hour = planRange(3600, 1, 1_000_000);
  assert.equal(hour.step, Math.ceil(3600 / POINTS));
  assert.ok((hour.end - hour.start) / hour.step <= POINTS);
  // 1m at the chart's 10s scrape: a point per scrape, each rate over 4 scrapes.
  const tenS = planRange(60, 10, 1_000_005);
  assert.equal(tenS.step, 10);
  assert.equal(tenS.rateIntervalSeconds, 40);
  assert.equal(tenS.end % 10, 0, 'the axis is aligned to the step, so refreshes reuse points');
  // A 30m window at a 1s scrape: 20 s steps, each rate over step + scrape.
  assert.equal(planRange(1800, 1, 1_000_000).rateIntervalSeconds, 21);
});

test('Prometheus durations are read in seconds, compound ones too; anything else is refused', () => {
  assert.equal(durationSeconds('15s'), 15);
  assert.equal(durationSeconds('1m'), 60);
  assert.equal(durationSeconds('1h30m'), 5400);
  assert.equal(durationSeconds('500ms'), 0.5);
  assert.throws(() => durationSeconds('10'), /not a Prometheus duration/);
  assert.throws(() => durationSeconds('1m;drop'), /not a Prometheus duration/);
});
