/**
 * A source driven by code: tests and the benchmark apply and delete objects
 * as an API server would announce them.
 */
import type { Kind, KindMap, ObjectSink } from '../model.js';
import type { DiscoverySource } from './source.js';

export class MemorySource implements DiscoverySource {
  readonly name = 'memory';
  private sink: ObjectSink | undefined;
  private readonly pending: [Kind, KindMap[Kind], boolean][] = [];

  async start(sink: ObjectSink): Promise<void> {
    this.sink = sink;
    for (const [kind, obj, present] of this.pending.splice(0)) {
      if (present) sink.apply(kind, obj);
      else sink.delete(kind, obj);
    }
  }

  async stop(): Promise<void> {
    this.sink = undefined;
  }

  apply<K extends Kind>(kind: K, obj: KindMap[K]): void {
    if (this.sink) this.sink.apply(kind, obj);
    else this.pending.push([kind, obj, true]);
  }

  delete<K extends Kind>(kind: K, obj: KindMap[K]): void {
    if (this.sink) this.sink.delete(kind, obj);
    else this.pending.push([kind, obj, false]);
  }
}
