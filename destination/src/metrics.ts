/** Destination's own metrics (admin `/metrics`). */
import { Counter, Gauge, Registry } from 'prom-client';
import type { ClusterCache } from './watchers/cluster-cache.js';
import { KINDS } from './model.js';

export interface DestinationMetrics {
  readonly registry: Registry;
  /** Open streams by api (get | profile | policy). */
  readonly streams: Gauge<'api'>;
  /** Messages sent on streams by api. */
  readonly updates: Counter<'api'>;
  /** States replaced before a slow client received them (server-stream.ts), by api. */
  readonly superseded: Counter<'api'>;
}

export function createMetrics(cache: ClusterCache): DestinationMetrics {
  const registry = new Registry();
  const streams = new Gauge({ name: 'destination_streams', help: 'Open discovery streams', labelNames: ['api'], registers: [registry] });
  const updates = new Counter({ name: 'destination_stream_updates_total', help: 'Messages sent on discovery streams', labelNames: ['api'], registers: [registry] });
  const superseded = new Counter({
    name: 'destination_stream_superseded_total',
    help: 'States replaced by a newer one before a slow client received them',
    labelNames: ['api'],
    registers: [registry],
  });
  new Gauge({
    name: 'destination_cache_objects',
    help: 'Objects in the discovery cache by kind',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      for (const kind of KINDS) this.set({ kind }, cache.count(kind));
    },
  });
  return { registry, streams, updates, superseded };
}
