/**
 * A discovery source feeds Kubernetes-shaped objects into destination's
 * cache. The Kubernetes implementation uses informers; the file source reads
 * a local description (demo, tests); the memory source is driven by code.
 */
import type { ObjectSink } from '../model.js';

export interface DiscoverySource {
  /** For logs and `/ready`. */
  readonly name: string;
  /** Starts delivering objects into `sink`; resolves once the initial state is delivered. */
  start(sink: ObjectSink): Promise<void>;
  stop(): Promise<void>;
}
