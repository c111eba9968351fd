import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { MAX_TARGETS, ProxyMetrics, dstLabels } from './proxy-metrics.js';

test('children are bound once per target and reused', () => {
  const m = new ProxyMetrics(new Registry());
  const a = m.forHttp('k', () => ({ direction: 'inbound', authority: 'web:80', tls: 'no_identity' }));
  const b = m.forHttp('k', () => assert.fail('labels are computed only once'));
  assert.equal(a, b);
  assert.equal(a.response(200, undefined, false), a.response(200, undefined, false));
});

test('client-chosen authorities cannot grow the series without bound', async () => {
  const registry = new Registry();
  const m = new ProxyMetrics(registry);
  for (let i = 0; i < MAX_TARGETS + 50; i++) m.forHttp(`k${i}`, () => ({ direction: 'inbound', authority: `h${i}:80`, tls: 'no_identity' })).requests.inc();
  const text = await registry.metrics();
  const series = text.split('\n').filter((l) => l.startsWith('request_total{'));
  assert.equal(series.length, MAX_TARGETS + 1);
  assert.match(text, /request_total\{[^}]*authority="\(other\)"[^}]*\} 50/);
});

test('dst_* labels come from discovery owner labels; unknown keys are dropped', () => {
  assert.deepEqual(dstLabels({ namespace: 'demo', deployment: 'web', pod: 'web-1', 'pod-template-hash': 'x' }), { dst_namespace: 'demo', dst_deployment: 'web', dst_pod: 'web-1' });
});
