import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRegistry } from './metrics.js';

test("a 'scrape' registry exports the process_* families and starts no timer or GC observer; 'all' is prom-client's default set", async () => {
  const before = process.getActiveResourcesInfo().length;
  const lean = createRegistry('proxy', 'scrape');
  assert.equal(process.getActiveResourcesInfo().length, before, 'nothing runs between scrapes');
  const text = await lean.metrics();
  for (const name of ['process_cpu_seconds_total', 'process_start_time_seconds', 'process_resident_memory_bytes', 'process_open_fds', 'process_max_fds', 'nodejs_heap_size_used_bytes', 'nodejs_version_info']) {
    assert.match(text, new RegExp(`^${name}\\{.*component="proxy"`, 'm'), name);
  }
  for (const name of ['nodejs_eventloop_lag_seconds', 'nodejs_gc_duration_seconds', 'nodejs_heap_space_size_used_bytes']) assert.doesNotMatch(text, new RegExp(name));
  const all = await createRegistry('identity').metrics();
  for (const name of ['process_start_time_seconds', 'nodejs_eventloop_lag_seconds', 'nodejs_gc_duration_seconds']) assert.match(all, new RegExp(`^# TYPE ${name} `, 'm'), name);
});
