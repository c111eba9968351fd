/**
 * A process's tracing, assembled from its settings: the exporter (with its
 * counters on the process's registry) and the tracer that feeds it.
 */
import type { Registry } from 'prom-client';
import type { Logger } from '../log.js';
import type { TraceConfig } from './config.js';
import { OtlpHttpExporter } from './exporter.js';
import { Tracer } from './tracer.js';

export interface Tracing {
  readonly tracer: Tracer;
  readonly exporter: OtlpHttpExporter;
  /** Where the exporter counts exported and dropped spans (trace_spans_*_total). */
  readonly registry: Registry;
}

export function startTracing(c: TraceConfig, scope: string, registry: Registry, log: Logger): Tracing {
  const exporter = new OtlpHttpExporter({ scope, url: c.collectorUrl, resource: c.resource, maxQueue: c.maxQueue, maxBatch: 512, flushIntervalMs: c.flushIntervalMs, timeoutMs: 10_000, registry, log });
  return { exporter, tracer: new Tracer(c.sampleRate, exporter), registry };
}
