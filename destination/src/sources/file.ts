/**
 * The local file source: a YAML/JSON file describing services, endpoints,
 * identities, profiles and policies (docs/destination.md), re-read when it
 * changes. A broken edit is logged and the last good state is kept; a good
 * edit is applied as a diff, so streams see only what changed.
 */
import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from '@weft/common/log';
import { objectKey, type Kind, type KindMap, type ObjectSink } from '../model.js';
import type { DiscoverySource } from './source.js';
import { parseDiscoveryFile } from './file-format.js';

export class FileSource implements DiscoverySource {
  readonly name: string;
  private readonly path: string;
  private sink: ObjectSink | undefined;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private current = new Map<string, { kind: Kind; obj: KindMap[Kind]; json: string }>();
  private reloading: Promise<void> = Promise.resolve();
  /** The last load error, or undefined when the file applied cleanly. */
  lastError: string | undefined;

  constructor(
    path: string,
    private readonly log: Logger,
    /** Profiles in the file are named after services in this DNS domain. */
    private readonly clusterDomain = 'cluster.local',
    private readonly debounceMs = 50,
  ) {
    this.path = resolve(path);
    this.name = `file:${this.path}`;
  }

  /** Loads the file (it must be valid at start) and watches it. */
  async start(sink: ObjectSink): Promise<void> {
    this.sink = sink;
    const objects = parseDiscoveryFile(await readFile(this.path, 'utf8'), this.path, this.clusterDomain);
    this.applyObjects(objects);
    // Watch the directory: editors and `mv` replace the file, which ends a watch on the file itself.
    const file = basename(this.path);
    this.watcher = fsWatch(dirname(this.path), (_event, changed) => {
      if (changed !== null && changed !== file) return;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.reload(), this.debounceMs);
    });
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.watcher?.close();
    this.sink = undefined;
    await this.reloading;
  }

  /** Re-reads the file now (also called on change). */
  reload(): Promise<void> {
    this.reloading = this.reloading.then(async () => {
      if (!this.sink) return;
      try {
        this.applyObjects(parseDiscoveryFile(await readFile(this.path, 'utf8'), this.path, this.clusterDomain));
        this.lastError = undefined;
      } catch (err) {
        this.lastError = (err as Error).message;
        this.log.warn({ path: this.path, err: this.lastError }, 'discovery file not applied; keeping the previous state');
      }
    });
    return this.reloading;
  }

  private applyObjects(objects: readonly { kind: Kind; obj: KindMap[Kind] }[]): void {
    const next = new Map<string, { kind: Kind; obj: KindMap[Kind]; json: string }>();
    for (const o of objects) next.set(`${o.kind}:${objectKey(o.obj.metadata)}`, { ...o, json: JSON.stringify(o.obj) });
    const sink = this.sink!;
    for (const [key, o] of this.current) if (!next.has(key)) sink.delete(o.kind, o.obj);
    for (const [key, o] of next) if (this.current.get(key)?.json !== o.json) sink.apply(o.kind, o.obj);
    this.current = next;
  }
}
