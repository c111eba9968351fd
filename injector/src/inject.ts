/**
 * The pure core shared by the webhook and `weft inject`: decide whether a pod
 * (or pod template) is meshed, and add or remove weft's containers, volume,
 * annotations and label. No I/O; the input object is never modified.
 */
import type { k8s } from '@weft/common/k8s/client';
import {
  CONTROL_PLANE_NS_LABEL,
  INIT_CONTAINER,
  INJECT_ANNOTATION,
  INJECT_MODES,
  INJECT_STATUS_ANNOTATION,
  INJECT_STATUS_INJECTED,
  PROMETHEUS_ANNOTATIONS,
  PROXY_CONTAINER,
  PROXY_VERSION_ANNOTATION,
  TOKEN_VOLUME,
  XTABLES_VOLUME,
  type InjectMode,
} from './annotations.js';
import type { MeshConfig } from './mesh-config.js';
import { resolveSettings } from './overrides.js';
import { initContainer, proxyContainer, tokenVolume, xtablesVolume } from './proxy-spec.js';

/** A Pod or a pod template: what the injector changes. */
export interface PodLike {
  metadata?: k8s.V1ObjectMeta;
  spec?: k8s.V1PodSpec;
}

export interface InjectOptions {
  /** The pod's namespace when known (the webhook always knows it). */
  readonly namespace?: string;
  readonly namespaceAnnotations?: Readonly<Record<string, string>>;
  /** The owning workload, for metrics labels, e.g. `{kind: 'deployment', name: 'web'}`. */
  readonly workload?: { readonly kind: string; readonly name: string };
  /**
   * What to do when neither the pod nor its namespace carries `weft.io/inject`:
   * the webhook leaves such pods alone; `weft inject` meshes them.
   */
  readonly defaultMode?: 'enabled' | 'ingress';
}

export interface InjectResult<T> {
  readonly pod: T;
  readonly injected: boolean;
  /** Why the pod was or was not injected, for summaries and logs. */
  readonly reason: string;
  readonly warnings: readonly string[];
}

/** Namespaces that are never meshed, whatever their annotations say. */
const KUBE_SYSTEM = 'kube-system';

export function isInjected(pod: PodLike): boolean {
  if (pod.metadata?.annotations?.[INJECT_STATUS_ANNOTATION] !== undefined) return true;
  const named = (cs: readonly k8s.V1Container[] | undefined): boolean => (cs ?? []).some((c) => c.name === PROXY_CONTAINER);
  return named(pod.spec?.containers) || named(pod.spec?.initContainers);
}

function readMode(value: string | undefined, where: string, warnings: string[]): InjectMode | undefined {
  if (value === undefined) return undefined;
  if ((INJECT_MODES as readonly string[]).includes(value)) return value as InjectMode;
  warnings.push(`${where} annotation ${INJECT_ANNOTATION}="${value}" is not one of ${INJECT_MODES.join(', ')}; ignored`);
  return undefined;
}

type Decision = { inject: true; mode: 'enabled' | 'ingress' } | { inject: false; reason: string };

function decide(pod: PodLike, mesh: MeshConfig, opts: InjectOptions, warnings: string[]): Decision {
  if (isInjected(pod)) return { inject: false, reason: 'already injected' };
  const ns = opts.namespace;
  if (ns === KUBE_SYSTEM) return { inject: false, reason: `namespace ${KUBE_SYSTEM} is never injected` };
  if (ns === mesh.controlPlaneNamespace) return { inject: false, reason: `namespace ${ns} is weft's control plane` };
  if (pod.spec?.hostNetwork) return { inject: false, reason: 'hostNetwork pods share the node network and cannot be meshed' };
  if (!pod.spec?.containers?.length) return { inject: false, reason: 'no containers' };
  const podMode = readMode(pod.metadata?.annotations?.[INJECT_ANNOTATION], 'pod', warnings);
  const nsMode = readMode(opts.namespaceAnnotations?.[INJECT_ANNOTATION], 'namespace', warnings);
  const mode = podMode ?? nsMode ?? opts.defaultMode;
  if (mode === undefined) return { inject: false, reason: `neither the pod nor its namespace has ${INJECT_ANNOTATION}` };
  if (mode === 'disabled') return { inject: false, reason: `${INJECT_ANNOTATION}: disabled on the ${podMode ? 'pod' : 'namespace'}` };
  return { inject: true, mode };
}

function inboundPorts(spec: k8s.V1PodSpec): number[] {
  const ports = new Set<number>();
  for (const c of spec.containers) {
    for (const p of c.ports ?? []) if ((p.protocol ?? 'TCP') === 'TCP') ports.add(p.containerPort);
  }
  return [...ports];
}

export function inject<T extends PodLike>(input: T, mesh: MeshConfig, opts: InjectOptions = {}): InjectResult<T> {
  const warnings: string[] = [];
  const decision = decide(input, mesh, opts, warnings);
  if (!decision.inject) return { pod: input, injected: false, reason: decision.reason, warnings };

  const pod = structuredClone(input);
  const spec = pod.spec!;
  const meta = (pod.metadata ??= {});
  const { settings, warnings: overrideWarnings } = resolveSettings(mesh.proxy, meta.annotations, opts.namespaceAnnotations, mesh);
  warnings.push(...overrideWarnings);

  const proxy = proxyContainer(mesh, {
    settings,
    serviceAccount: spec.serviceAccountName || spec.serviceAccount || 'default',
    namespace: opts.namespace,
    workload: opts.workload,
    inboundPorts: inboundPorts(spec),
    ingress: decision.mode === 'ingress',
  });
  const init = mesh.cniMode ? [] : [initContainer(mesh, settings)];
  if (settings.nativeSidecar) {
    spec.initContainers = [...init, proxy, ...(spec.initContainers ?? [])];
  } else {
    // The app's own init containers run before weft-init: without a running
    // proxy, redirected traffic from them would have nowhere to go.
    spec.initContainers = [...(spec.initContainers ?? []), ...init];
    if (spec.initContainers.length === 0) delete spec.initContainers;
    spec.containers = [proxy, ...spec.containers];
  }
  spec.volumes = [...(spec.volumes ?? []), tokenVolume(mesh), ...(mesh.cniMode ? [] : [xtablesVolume()])];

  const annotations = (meta.annotations ??= {});
  annotations[INJECT_STATUS_ANNOTATION] = INJECT_STATUS_INJECTED;
  annotations[PROXY_VERSION_ANNOTATION] = settings.version;
  if (Object.keys(PROMETHEUS_ANNOTATIONS).some((k) => annotations[k] !== undefined)) {
    warnings.push('pod already has prometheus.io/* annotations; kept, so the proxy metrics on :4191 are not scraped through them');
  } else {
    Object.assign(annotations, PROMETHEUS_ANNOTATIONS);
  }
  (meta.labels ??= {})[CONTROL_PLANE_NS_LABEL] = mesh.controlPlaneNamespace;

  const how = [
    decision.mode === 'ingress' ? 'ingress mode' : undefined,
    settings.nativeSidecar ? 'native sidecar' : 'proxy container first',
    mesh.cniMode ? 'CNI' : undefined,
  ].filter(Boolean);
  return { pod, injected: true, reason: `injected (${how.join(', ')})`, warnings };
}

export interface UninjectResult<T> {
  readonly pod: T;
  readonly uninjected: boolean;
}

/** Removes everything `inject` added; leaves a pod that was not injected as it is. */
export function uninject<T extends PodLike>(input: T): UninjectResult<T> {
  if (!isInjected(input)) return { pod: input, uninjected: false };
  const pod = structuredClone(input);
  const spec = pod.spec;
  if (spec) {
    const ours = (c: k8s.V1Container): boolean => c.name === PROXY_CONTAINER || c.name === INIT_CONTAINER;
    if (spec.containers) spec.containers = spec.containers.filter((c) => !ours(c));
    if (spec.initContainers) {
      spec.initContainers = spec.initContainers.filter((c) => !ours(c));
      if (spec.initContainers.length === 0) delete spec.initContainers;
    }
    if (spec.volumes) {
      spec.volumes = spec.volumes.filter((v) => v.name !== TOKEN_VOLUME && v.name !== XTABLES_VOLUME);
      if (spec.volumes.length === 0) delete spec.volumes;
    }
  }
  const meta = pod.metadata;
  if (meta) {
    const a = meta.annotations;
    if (a) {
      delete a[INJECT_STATUS_ANNOTATION];
      delete a[PROXY_VERSION_ANNOTATION];
      // inject adds the three scrape annotations together, and only when the
      // pod had none; an app's own (partial or different) set stays.
      const ours = Object.entries(PROMETHEUS_ANNOTATIONS);
      if (ours.every(([k, v]) => a[k] === v)) for (const [k] of ours) delete a[k];
      if (Object.keys(a).length === 0) delete meta.annotations;
    }
    if (meta.labels) {
      delete meta.labels[CONTROL_PLANE_NS_LABEL];
      if (Object.keys(meta.labels).length === 0) delete meta.labels;
    }
    if (Object.keys(meta).length === 0) delete pod.metadata;
  }
  return { pod, uninjected: true };
}
