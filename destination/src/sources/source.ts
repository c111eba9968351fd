/**
 * A discovery source feeds Kubernetes-shaped objects into destination's
 * cache. The Kubernetes implementation uses informers; the file source reads
 * a local description (demo, tests); the memory source is driven by code.
 */
import type { Logger } from '@weft/common/log';
import type { ObjectSink } from '../model.js';
import type { MeshSettings } from '../settings.js';
import type { ClusterCache } from '../watchers/cluster-cache.js';

export interface DiscoverySource {
  /** For logs and `/ready`. */
  readonly name: string;
  /** Starts delivering objects into `sink`; resolves once the initial state is delivered. */
  start(sink: ObjectSink): Promise<void>;
  stop(): Promise<void>;
  /** Sources backed by an API server publish route status (Gateway API); returns how to stop. */
  publishRouteStatus?(cache: ClusterCache, settings: MeshSettings, log: Logger): () => Promise<void>;
}
