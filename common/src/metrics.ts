/** Prometheus metrics helpers: one registry per process, process metrics included. */
import { Registry, collectDefaultMetrics } from 'prom-client';
import processCpuTotal from 'prom-client/lib/metrics/processCpuTotal.js';
import processStartTime from 'prom-client/lib/metrics/processStartTime.js';
import osMemoryHeap from 'prom-client/lib/metrics/osMemoryHeap.js';
import processOpenFileDescriptors from 'prom-client/lib/metrics/processOpenFileDescriptors.js';
import processMaxFileDescriptors from 'prom-client/lib/metrics/processMaxFileDescriptors.js';
import heapSizeAndUsed from 'prom-client/lib/metrics/heapSizeAndUsed.js';
import version from 'prom-client/lib/metrics/version.js';

/**
 * What a registry collects about its process. `all`: prom-client's default metrics (the control plane). `scrape`:
 * only what is read when Prometheus scrapes — process_cpu_seconds_total, process_start_time_seconds,
 * process_resident_memory_bytes and the other process_* families Linkerd's proxy exports too, the Node heap and
 * version — without the default set's per-GC observer and its event-loop delay timer (100 wake-ups a second), which
 * every meshed pod's proxy would pay for (docs/proxy.md, Metrics).
 */
export type ProcessMetrics = 'all' | 'scrape';

export function createRegistry(component: string, process: ProcessMetrics = 'all'): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ component });
  if (process === 'all') collectDefaultMetrics({ register: registry });
  else for (const collect of SCRAPE_ONLY) collect(registry, {});
  return registry;
}

const SCRAPE_ONLY = [processCpuTotal, processStartTime, osMemoryHeap, processOpenFileDescriptors, processMaxFileDescriptors, heapSizeAndUsed, version];

/** Latency buckets in milliseconds, shared by every weft latency histogram (Linkerd-compatible). */
export const LATENCY_BUCKETS_MS = [1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 5000, 10000, 20000, 30000, 40000, 50000];
