/**
 * Namespace annotations for the webhook (`weft.io/inject`, `config.weft.io/*`),
 * from an informer cache; a namespace created a moment ago may not be cached
 * yet, so a miss falls back to one GET.
 */
import { watch, type Watch, k8s } from '@weft/common/k8s/client';
import type { Logger } from '@weft/common/log';

export class NamespaceAnnotations {
  private readonly informer: Watch<k8s.V1Namespace>;
  private readonly core: k8s.CoreV1Api;
  private synced = false;

  constructor(kc: k8s.KubeConfig, log: Logger) {
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.informer = watch<k8s.V1Namespace>(kc, {
      path: '/api/v1/namespaces',
      list: () => this.core.listNamespace(),
      resyncMs: 0,
      log,
    });
  }

  async start(): Promise<void> {
    await this.informer.start();
    this.synced = true;
  }

  get isSynced(): boolean {
    return this.synced;
  }

  async get(name: string): Promise<Readonly<Record<string, string>>> {
    const cached = this.informer.get(name);
    if (cached) return cached.metadata?.annotations ?? {};
    const ns = await this.core.readNamespace({ name });
    return ns.metadata?.annotations ?? {};
  }

  stop(): Promise<void> {
    return this.informer.stop();
  }
}
