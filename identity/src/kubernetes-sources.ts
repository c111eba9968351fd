/**
 * Issuer and trust anchors from Kubernetes, exactly as cert-manager and
 * trust-manager write them: Secret `weft-identity-issuer` (type
 * kubernetes.io/tls: tls.crt, tls.key, ca.crt) and ConfigMap
 * `weft-identity-trust-roots` (ca-bundle.crt), each watched by name with an
 * informer from common/k8s so renewals reach identity without a restart.
 */
import type { Logger } from 'pino';
import { InvalidArgumentError } from '@weft/common/errors';
import { k8s, watch, type Watch } from '@weft/common/k8s/client';
import type { Permission } from './access-review.js';
import { IssuerError, type IssuerMaterial } from './issuer.js';
import type { IssuerSource, Source, SourceListener, TrustAnchorSource } from './sources.js';

import { ISSUER_SECRET, TRUST_ROOTS_CONFIGMAP, TRUST_ROOTS_KEY } from '@weft/api/names';

export { ISSUER_SECRET, TRUST_ROOTS_CONFIGMAP, TRUST_ROOTS_KEY };

/** Reads tls.crt and tls.key of a kubernetes.io/tls Secret; throws naming what is wrong. */
export function issuerFromSecret(secret: k8s.V1Secret): IssuerMaterial {
  const where = `Secret ${secret.metadata?.namespace}/${secret.metadata?.name}`;
  if (secret.type !== 'kubernetes.io/tls') throw new InvalidArgumentError(`${where} has type ${secret.type ?? '(none)'}, expected kubernetes.io/tls`);
  const read = (key: string): string => {
    const b64 = secret.data?.[key];
    if (!b64) throw new InvalidArgumentError(`${where} has no ${key}`);
    return Buffer.from(b64, 'base64').toString('utf8');
  };
  return { certPem: read('tls.crt'), keyPem: read('tls.key') };
}

export function anchorsFromConfigMap(cm: k8s.V1ConfigMap, key = TRUST_ROOTS_KEY): string {
  const pem = cm.data?.[key];
  if (!pem) throw new InvalidArgumentError(`ConfigMap ${cm.metadata?.namespace}/${cm.metadata?.name} has no ${key}`);
  return pem;
}

interface ObjectSourceOptions<O extends k8s.KubernetesObject, T> {
  readonly kc: k8s.KubeConfig;
  readonly resource: 'secrets' | 'configmaps';
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly list: (core: k8s.CoreV1Api, fieldSelector: string) => Promise<k8s.KubernetesListObject<O>>;
  readonly translate: (obj: O) => T;
  readonly log: Logger;
}

/** One named object, watched; each add/update is translated and delivered, each unreadable one reported. */
class WatchedObjectSource<O extends k8s.KubernetesObject, T> implements Source<T> {
  private informer: Watch<O> | undefined;

  constructor(private readonly opts: ObjectSourceOptions<O, T>) {}

  async start(listener: SourceListener<T>): Promise<T> {
    const { kc, resource, kind, namespace, name, log } = this.opts;
    const fieldSelector = `metadata.name=${name}`;
    const core = kc.makeApiClient(k8s.CoreV1Api);
    // Watching by name keeps identity's RBAC to this one object (resourceNames) and its cache to one entry.
    const path = `/api/v1/namespaces/${namespace}/${resource}?fieldSelector=${encodeURIComponent(fieldSelector)}`;
    const deliver = (obj: O): void => {
      if (obj.metadata?.name !== name) return;
      let value: T;
      try {
        value = this.opts.translate(obj);
      } catch (err) {
        listener.problem(err as Error);
        return;
      }
      listener.change(value);
    };
    this.informer = watch<O>(kc, { path, list: () => this.opts.list(core, fieldSelector), log }, {
      add: deliver,
      update: deliver,
      delete: () => listener.problem(new Error(`${kind} ${namespace}/${name} was deleted; keeping the copy in memory`)),
    });
    try {
      await this.informer.start();
    } catch (err) {
      await this.stop();
      throw new IssuerError(`cannot read ${kind} ${namespace}/${name}: ${(err as Error).message}`, { cause: err });
    }
    const obj = this.informer.get(name, namespace);
    if (!obj) {
      await this.stop();
      throw new IssuerError(`${kind} ${namespace}/${name} does not exist (see docs/identity.md: cert-manager creates it)`);
    }
    try {
      return this.opts.translate(obj);
    } catch (err) {
      await this.stop();
      throw new IssuerError((err as Error).message, { cause: err });
    }
  }

  async stop(): Promise<void> {
    await this.informer?.stop();
    this.informer = undefined;
  }
}

export interface KubernetesSourceOptions {
  readonly kc: k8s.KubeConfig;
  /** identity's own (control-plane) namespace. */
  readonly namespace: string;
  readonly log: Logger;
  readonly name?: string;
}

export function secretIssuerSource(opts: KubernetesSourceOptions): IssuerSource {
  return new WatchedObjectSource<k8s.V1Secret, IssuerMaterial>({
    ...opts,
    name: opts.name ?? ISSUER_SECRET,
    resource: 'secrets',
    kind: 'Secret',
    list: (core, fieldSelector) => core.listNamespacedSecret({ namespace: opts.namespace, fieldSelector }),
    translate: issuerFromSecret,
  });
}

export function configMapTrustSource(opts: KubernetesSourceOptions): TrustAnchorSource {
  return new WatchedObjectSource<k8s.V1ConfigMap, string>({
    ...opts,
    name: opts.name ?? TRUST_ROOTS_CONFIGMAP,
    resource: 'configmaps',
    kind: 'ConfigMap',
    list: (core, fieldSelector) => core.listNamespacedConfigMap({ namespace: opts.namespace, fieldSelector }),
    translate: (cm) => anchorsFromConfigMap(cm),
  });
}

/** What the Kubernetes sources need, for the start-up access review. */
export function sourcePermissions(namespace: string, names: { secret?: string; configMap?: string } = {}): Permission[] {
  return [
    ...['get', 'list', 'watch'].map((verb) => ({ verb, group: '', resource: 'secrets', namespace, name: names.secret ?? ISSUER_SECRET })),
    ...['get', 'list', 'watch'].map((verb) => ({ verb, group: '', resource: 'configmaps', namespace, name: names.configMap ?? TRUST_ROOTS_CONFIGMAP })),
  ];
}
