/**
 * The Kubernetes discovery source: one informer per kind through common's
 * `watch()`. Services, EndpointSlices, Pods and Namespaces must sync before
 * destination serves; weft's CRDs are optional (a missing CRD is logged and
 * retried with backoff, and its features stay empty until it appears).
 */
import { k8s, watch, type Watch } from '@weft/common/k8s/client';
import type { Logger } from '@weft/common/log';
import { CRD_VERSION, GATEWAY_GROUP, POLICY_GROUP, PROFILE_GROUP } from '@weft/api/names';
import type { Kind, KindMap, ObjectSink } from '../model.js';
import type { DiscoverySource } from './source.js';
import { accessError, findAccessGaps, type WatchedResource } from './access-review.js';
import { RouteStatusWriter } from '../status/route-status.js';
import type { MeshSettings } from '../settings.js';
import type { ClusterCache } from '../watchers/cluster-cache.js';

interface KindWatch {
  readonly kind: Kind;
  readonly path: string;
  readonly list: () => Promise<k8s.KubernetesListObject<k8s.KubernetesObject>>;
  readonly required: boolean;
}

export class KubernetesSource implements DiscoverySource {
  readonly name = 'kubernetes';
  private readonly watches: Watch<k8s.KubernetesObject>[] = [];

  constructor(
    private readonly kc: k8s.KubeConfig,
    private readonly log: Logger,
    private readonly resyncMs = 0,
  ) {}

  /** The kinds destination informs on, as RBAC sees them. */
  static readonly resources: readonly WatchedResource[] = [
    { group: '', resource: 'services', required: true },
    { group: 'discovery.k8s.io', resource: 'endpointslices', required: true },
    { group: '', resource: 'pods', required: true },
    { group: '', resource: 'namespaces', required: true },
    { group: PROFILE_GROUP, resource: 'serviceprofiles', required: false },
    ...['servers', 'authorizationpolicies', 'meshtlsauthentications', 'networkauthentications'].map((resource) => ({ group: POLICY_GROUP, resource, required: false })),
    ...['httproutes', 'grpcroutes', 'referencegrants'].map((resource) => ({ group: GATEWAY_GROUP, resource, required: false })),
  ];

  async start(sink: ObjectSink): Promise<void> {
    const gaps = await findAccessGaps(this.kc, KubernetesSource.resources);
    if (gaps.required.length > 0) throw accessError(gaps);
    if (gaps.optional.length > 0) this.log.warn({ missing: gaps.optional }, 'no access to some weft CRDs: their profiles/policies will be empty');
    const core = this.kc.makeApiClient(k8s.CoreV1Api);
    const discovery = this.kc.makeApiClient(k8s.DiscoveryV1Api);
    const custom = this.kc.makeApiClient(k8s.CustomObjectsApi);
    const crd = (group: string, plural: string, version = CRD_VERSION) => () =>
      custom.listClusterCustomObject({ group, version, plural }) as Promise<k8s.KubernetesListObject<k8s.KubernetesObject>>;
    const kinds: KindWatch[] = [
      { kind: 'Service', path: '/api/v1/services', list: () => core.listServiceForAllNamespaces(), required: true },
      { kind: 'EndpointSlice', path: '/apis/discovery.k8s.io/v1/endpointslices', list: () => discovery.listEndpointSliceForAllNamespaces(), required: true },
      { kind: 'Pod', path: '/api/v1/pods', list: () => core.listPodForAllNamespaces(), required: true },
      { kind: 'Namespace', path: '/api/v1/namespaces', list: () => core.listNamespace(), required: true },
      { kind: 'ServiceProfile', path: `/apis/${PROFILE_GROUP}/${CRD_VERSION}/serviceprofiles`, list: crd(PROFILE_GROUP, 'serviceprofiles'), required: false },
      { kind: 'Server', path: `/apis/${POLICY_GROUP}/${CRD_VERSION}/servers`, list: crd(POLICY_GROUP, 'servers'), required: false },
      { kind: 'AuthorizationPolicy', path: `/apis/${POLICY_GROUP}/${CRD_VERSION}/authorizationpolicies`, list: crd(POLICY_GROUP, 'authorizationpolicies'), required: false },
      { kind: 'MeshTLSAuthentication', path: `/apis/${POLICY_GROUP}/${CRD_VERSION}/meshtlsauthentications`, list: crd(POLICY_GROUP, 'meshtlsauthentications'), required: false },
      { kind: 'NetworkAuthentication', path: `/apis/${POLICY_GROUP}/${CRD_VERSION}/networkauthentications`, list: crd(POLICY_GROUP, 'networkauthentications'), required: false },
      // Gateway API (standard channel): absent CRDs leave these empty.
      { kind: 'HTTPRoute', path: `/apis/${GATEWAY_GROUP}/v1/httproutes`, list: crd(GATEWAY_GROUP, 'httproutes', 'v1'), required: false },
      { kind: 'GRPCRoute', path: `/apis/${GATEWAY_GROUP}/v1/grpcroutes`, list: crd(GATEWAY_GROUP, 'grpcroutes', 'v1'), required: false },
      { kind: 'ReferenceGrant', path: `/apis/${GATEWAY_GROUP}/v1beta1/referencegrants`, list: crd(GATEWAY_GROUP, 'referencegrants', 'v1beta1'), required: false },
    ];
    const synced: Promise<void>[] = [];
    for (const k of kinds) {
      let markSynced!: () => void;
      const done = new Promise<void>((r) => (markSynced = r));
      if (k.required) synced.push(done);
      // The informer swallows list failures (it emits `error` and retries), so
      // sync is observed at the list call: after a successful list the
      // informer adds the items synchronously, before the next macrotask.
      const list = async () => {
        const result = await k.list();
        setImmediate(markSynced);
        return result;
      };
      const apply = (obj: k8s.KubernetesObject) => {
        // managedFields are often the largest part of an object and destination never reads them;
        // dropping them here shrinks the informer's cache too (it holds the same object).
        if (obj.metadata?.managedFields) delete obj.metadata.managedFields;
        sink.apply(k.kind, obj as KindMap[Kind]);
      };
      const w = watch(this.kc, { path: k.path, list, resyncMs: this.resyncMs, log: this.log }, { add: apply, update: apply, delete: (obj) => sink.delete(k.kind, obj as KindMap[Kind]) });
      this.watches.push(w);
      void w.start();
    }
    await Promise.all(synced);
    this.log.info({ kinds: kinds.length }, 'kubernetes caches synced');
  }

  async stop(): Promise<void> {
    await Promise.all(this.watches.splice(0).map((w) => w.stop()));
  }

  publishRouteStatus(cache: ClusterCache, settings: MeshSettings, log: Logger): () => Promise<void> {
    const writer = new RouteStatusWriter(this.kc, cache, settings, log.child({ component: 'route-status' }));
    writer.start();
    return () => writer.stop();
  }
}
