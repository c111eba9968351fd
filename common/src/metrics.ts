/** Prometheus metrics helpers: one registry per process, process metrics included. */
import { Registry, collectDefaultMetrics } from 'prom-client';

export function createRegistry(component: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ component });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Latency buckets in milliseconds, shared by every weft latency histogram (Linkerd-compatible). */
export const LATENCY_BUCKETS_MS = [1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 5000, 10000, 20000, 30000, 40000, 50000];
