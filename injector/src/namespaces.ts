/**
 * Namespace annotations for the webhook (`weft.io/inject`, `config.weft.io/*`),
 * from an informer cache; a namespace created a moment ago may not be cached
 * yet, so a miss falls back to one GET.
 */
import { watch, type Watch, k8s } from '@weft/common/k8s/client';
import type { Logger } from '@weft/common/log';

const MISS_POLLS = 20;

export class NamespaceAnnotations {
  private readonly informer: Watch<k8s.V1Namespace>;
  private readonly core: k8s.CoreV1Api;
  private synced = false;

  constructor(kc: k8s.KubeConfig, log: Logger) {
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.informer = watch<k8s.V1Namespace>(kc, {
      path: '/api/v1/namespaces',
      // Synced means a list succeeded: Watch.start() also resolves when the
      // first list fails (the informer then retries with backoff).
      list: async () => {
        const list = await this.core.listNamespace();
        this.synced = true;
        return list;
      },
      resyncMs: 0,
      log,
    });
  }

  start(): Promise<void> {
    return this.informer.start();
  }

  get isSynced(): boolean {
    return this.synced;
  }

  async get(name: string): Promise<Readonly<Record<string, string>>> {
    // A namespace created a moment before its first pod may still be on its
    // way through the watch: give the cache a moment before asking the API
    // (the chart grants list/watch; a GET needs get as well).
    for (let i = 0; i < MISS_POLLS; i++) {
      const cached = this.informer.get(name);
      if (cached) return cached.metadata?.annotations ?? {};
      if (!this.synced) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const ns = await this.core.readNamespace({ name });
    return ns.metadata?.annotations ?? {};
  }

  stop(): Promise<void> {
    return this.informer.stop();
  }
}
