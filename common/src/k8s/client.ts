/**
 * weft's only door to the Kubernetes API: a kubeconfig (file or in-cluster)
 * and informers with typed caches, reconnect with backoff and periodic
 * resync. No component writes its own watch loop.
 */
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Tracer } from '../trace/tracer.js';
import { TracedKubeConfig } from './tracing.js';

export { k8s };

export interface KubeClientOptions {
  /** Path to a kubeconfig; in-cluster config when absent and running in a pod. */
  readonly kubeconfig?: string;
  readonly context?: string;
  /** Traces every API call the config's clients make (k8s/tracing.ts); undefined: tracing is off. */
  readonly tracer?: Tracer;
}

export function loadKubeConfig(opts: KubeClientOptions = {}): k8s.KubeConfig {
  const kc = opts.tracer ? new TracedKubeConfig(opts.tracer) : new k8s.KubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else kc.loadFromDefault();
  if (opts.context) kc.setCurrentContext(opts.context);
  return kc;
}

export interface InformerHandlers<T> {
  add?(obj: T): void;
  update?(obj: T): void;
  delete?(obj: T): void;
}

export interface WatchOptions<T extends k8s.KubernetesObject> {
  /** The watch path, e.g. `/api/v1/services` or `/api/v1/namespaces/weft/secrets`. */
  readonly path: string;
  readonly list: k8s.ListPromise<T>;
  readonly labelSelector?: string;
  /** Re-deliver every cached object as an update this often (0 disables). */
  readonly resyncMs?: number;
  readonly log: Logger;
}

/** A started informer: a typed cache plus lifecycle. */
export class Watch<T extends k8s.KubernetesObject> {
  private readonly informer: k8s.Informer<T> & k8s.ObjectCache<T>;
  private resyncTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private backoffMs = 500;
  private started: Promise<void> | undefined;
  private syncedPromise: Promise<void> | undefined;
  private listed = false;
  private onListed: (() => void) | undefined;

  constructor(
    kc: k8s.KubeConfig,
    private readonly opts: WatchOptions<T>,
    handlers: InformerHandlers<T>,
  ) {
    // The informer's start() resolves even when its first list fails (it reports
    // the error and retries); record the first successful list for hasSynced()/synced().
    const list: k8s.ListPromise<T> = async () => {
      const result = await opts.list();
      this.listed = true;
      const done = this.onListed;
      // Let the informer store the items before waiters read the cache.
      if (done) setImmediate(done);
      return result;
    };
    this.informer = k8s.makeInformer(kc, opts.path, list, opts.labelSelector);
    if (handlers.add) this.informer.on('add', handlers.add);
    if (handlers.update) this.informer.on('update', handlers.update);
    if (handlers.delete) this.informer.on('delete', handlers.delete);
    this.informer.on('connect', () => {
      this.backoffMs = 500;
    });
    // The informer stops on error; restart it with capped exponential backoff.
    this.informer.on('error', (err: unknown) => {
      if (this.stopped) return;
      opts.log.warn({ path: opts.path, err: String((err as Error)?.message ?? err) }, 'watch failed; reconnecting');
      this.retryTimer = setTimeout(() => void this.informer.start().catch(() => undefined), this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, 30_000);
    });
    const resync = handlers.update;
    if (opts.resyncMs && resync) {
      this.resyncTimer = setInterval(() => this.informer.list().forEach((o) => resync(o)), opts.resyncMs);
      this.resyncTimer.unref();
    }
  }

  /**
   * Starts the watch. Resolves after the first list attempt, successful or
   * not (a failed list is reported through the log and retried with backoff):
   * callers that must not serve from an empty cache check `hasSynced()` or
   * await `synced()`.
   */
  start(): Promise<void> {
    this.started ??= this.informer.start();
    return this.started;
  }

  /** Resolves once a list has succeeded and its objects are in the cache. */
  synced(): Promise<void> {
    if (this.listed) return Promise.resolve();
    return (this.syncedPromise ??= new Promise<void>((resolve) => (this.onListed = resolve)));
  }

  /** True once the initial list succeeded. */
  hasSynced(): boolean {
    return this.listed;
  }

  list(namespace?: string): readonly T[] {
    return this.informer.list(namespace);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.resyncTimer);
    clearTimeout(this.retryTimer);
    await this.informer.stop();
  }
}

export function watch<T extends k8s.KubernetesObject>(kc: k8s.KubeConfig, opts: WatchOptions<T>, handlers: InformerHandlers<T> = {}): Watch<T> {
  return new Watch(kc, opts, handlers);
}
