/**
 * Route status: for every HTTPRoute and GRPCRoute with a Service parent (or,
 * for HTTPRoutes, a weft Server parent: route-level authorization),
 * destination writes `status.parents[]` entries under its controller name
 * (Accepted, ResolvedRefs, with reasons), so `kubectl get httproute -o yaml`
 * says why a route is or is not applied. Entries of other controllers (a
 * Gateway's) are kept as they are.
 *
 * A pass runs shortly after any route, Service, ServiceProfile or
 * ReferenceGrant changes; it writes only what differs, so the write's own
 * watch event ends in a pass that writes nothing. Replicas compute the same
 * status from the same objects; a write that loses a race (409) is retried by
 * the pass its winner's event triggers.
 */
import { GATEWAY_GROUP, ROUTE_CONTROLLER_NAME } from '@weft/api/names';
import type { Logger } from '@weft/common/log';
import { k8s } from '@weft/common/k8s/client';
import { ROUTE_KINDS, type CustomObject, type RouteKind } from '../model.js';
import { evaluateRoute, type RouteEvaluation } from '../resolve/gateway-routes.js';
import type { MeshSettings } from '../settings.js';
import type { ClusterCache } from '../watchers/cluster-cache.js';

interface StatusCondition {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime?: string;
}

interface ParentStatus {
  parentRef: Record<string, unknown>;
  controllerName: string;
  conditions: StatusCondition[];
}

const PLURAL: Record<RouteKind, string> = { HTTPRoute: 'httproutes', GRPCRoute: 'grpcroutes' };
const RELEVANT = /^(route|svc|sp|grant|policy):/;

/** The `status.parents` a route should have: other controllers' entries, then weft's for each Service parent. */
export function desiredParents(ev: RouteEvaluation, now: Date): ParentStatus[] {
  const existing = parentsOf(ev.route);
  const ours = ev.parents.map((p): ParentStatus => {
    const before = existing.find(
      (e) => e.controllerName === ROUTE_CONTROLLER_NAME && sameRef(e.parentRef, p.ref as unknown as Record<string, unknown>),
    );
    return {
      parentRef: { ...(p.ref as unknown as Record<string, unknown>) },
      controllerName: ROUTE_CONTROLLER_NAME,
      conditions: p.conditions.map((c) => {
        const prev = before?.conditions.find((b) => b.type === c.type);
        const unchanged = prev && prev.status === c.status;
        return {
          type: c.type,
          status: c.status,
          reason: c.reason,
          message: c.message,
          observedGeneration: ev.route.metadata.generation ?? 0,
          lastTransitionTime: unchanged && prev.lastTransitionTime ? prev.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
        };
      }),
    };
  });
  return [...existing.filter((e) => e.controllerName !== ROUTE_CONTROLLER_NAME), ...ours];
}

function parentsOf(route: CustomObject): ParentStatus[] {
  const status = route.status as { parents?: ParentStatus[] } | undefined;
  return Array.isArray(status?.parents) ? status.parents : [];
}

function sameRef(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const keys = ['group', 'kind', 'namespace', 'name', 'sectionName', 'port'];
  return keys.every((k) => (a[k] ?? '') === (b[k] ?? ''));
}

/** Equal but for transition times (which a pass must not rewrite by itself). */
function sameStatus(a: ParentStatus[], b: ParentStatus[]): boolean {
  const strip = (ps: ParentStatus[]) =>
    JSON.stringify(ps.map((p) => ({ ...p, conditions: p.conditions.map((c) => ({ ...c, lastTransitionTime: undefined })) })));
  return strip(a) === strip(b);
}

export class RouteStatusWriter {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private unsubscribe: (() => void) | undefined;
  private readonly custom: k8s.CustomObjectsApi;

  constructor(
    kc: k8s.KubeConfig,
    private readonly cache: ClusterCache,
    private readonly settings: MeshSettings,
    private readonly log: Logger,
    private readonly delayMs = 100,
  ) {
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
  }

  start(): void {
    this.unsubscribe = this.cache.onChange((keys) => {
      if (keys.some((k) => RELEVANT.test(k))) this.schedule();
    });
    this.schedule();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(): void {
    if (!this.unsubscribe || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.running) {
        this.again = true;
        return;
      }
      this.running = this.pass().finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.schedule();
        }
      });
    }, this.delayMs);
  }

  private async pass(): Promise<void> {
    const now = new Date();
    for (const kind of ROUTE_KINDS) {
      for (const route of this.cache.list(kind)) {
        const ev = evaluateRoute(this.cache, kind, route, this.settings);
        if (ev.parents.length === 0 && !parentsOf(route).some((p) => p.controllerName === ROUTE_CONTROLLER_NAME)) continue;
        const parents = desiredParents(ev, now);
        if (sameStatus(parents, parentsOf(route))) continue;
        await this.write(kind, route, parents);
      }
    }
  }

  private async write(kind: RouteKind, route: CustomObject, parents: ParentStatus[]): Promise<void> {
    const { namespace = '', name = '' } = route.metadata;
    try {
      await this.custom.replaceNamespacedCustomObjectStatus({
        group: GATEWAY_GROUP,
        version: 'v1',
        namespace,
        plural: PLURAL[kind],
        name,
        body: {
          apiVersion: `${GATEWAY_GROUP}/v1`,
          kind,
          metadata: { name, namespace, resourceVersion: route.metadata.resourceVersion },
          spec: route.spec,
          status: { parents },
        },
      });
      this.log.info(
        {
          kind,
          route: `${namespace}/${name}`,
          accepted: parents.filter((p) => p.controllerName === ROUTE_CONTROLLER_NAME).map((p) => p.conditions[0]?.status),
        },
        'route status written',
      );
    } catch (err) {
      const code = (err as { code?: number }).code;
      if (code === 409 || code === 404) return; // a newer version (or a deletion) is on its way through the watch
      this.log.warn(
        { kind, route: `${namespace}/${name}`, err: (err as Error).message },
        'cannot write route status (RBAC: update on httproutes/status and grpcroutes/status)',
      );
    }
  }
}
