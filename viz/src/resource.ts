/**
 * The Kubernetes resources viz reports on, and how each maps to the label a
 * proxy puts on its metrics (docs/contracts.md: `namespace`, `pod`,
 * `<workload_kind>` on every series; `dst_<kind>` on outbound series).
 */
import { InvalidArgumentError } from '@weft/common/errors';

export const RESOURCE_KINDS = ['namespace', 'deployment', 'statefulset', 'daemonset', 'pod', 'service', 'route'] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

/** Workload kinds a proxy labels its own series with. */
export const WORKLOAD_KINDS = ['deployment', 'statefulset', 'daemonset'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

const ALIASES: Record<string, ResourceKind> = {
  ns: 'namespace', namespace: 'namespace', namespaces: 'namespace',
  deploy: 'deployment', deployment: 'deployment', deployments: 'deployment',
  sts: 'statefulset', statefulset: 'statefulset', statefulsets: 'statefulset',
  ds: 'daemonset', daemonset: 'daemonset', daemonsets: 'daemonset',
  po: 'pod', pod: 'pod', pods: 'pod',
  svc: 'service', service: 'service', services: 'service',
  rt: 'route', route: 'route', routes: 'route',
};

/** A resource kind, optionally one named object of it (`deploy`, `deploy/web`). */
export interface ResourceRef {
  readonly kind: ResourceKind;
  readonly name?: string;
}

const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
/** A namespace name is a DNS label (RFC 1123), stricter than other object names. */
const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function isNamespaceName(name: string): boolean {
  return NAMESPACE_NAME.test(name);
}

export function parseKind(raw: string): ResourceKind {
  const kind = ALIASES[raw.toLowerCase()];
  if (!kind) throw new InvalidArgumentError(`"${raw}" is not a resource kind (use one of ${Object.keys(ALIASES).join(', ')})`);
  return kind;
}

/** Parses `deploy`, `deploy/web` or `deploy web` (name given separately). */
export function parseResource(raw: string, name?: string): ResourceRef {
  const [kindPart, namePart, extra] = raw.split('/');
  if (extra !== undefined) throw new InvalidArgumentError(`"${raw}" is not a resource (use kind or kind/name)`);
  const kind = parseKind(kindPart ?? '');
  const n = namePart ?? name;
  if (n === undefined || n === '') return { kind };
  if (kind !== 'route' && !NAME.test(n)) throw new InvalidArgumentError(`"${n}" is not a valid ${kind} name`);
  return { kind, name: n };
}

export function formatResource(ref: ResourceRef): string {
  return ref.name ? `${ref.kind}/${ref.name}` : ref.kind;
}

export function isWorkloadKind(kind: ResourceKind): kind is WorkloadKind {
  return (WORKLOAD_KINDS as readonly string[]).includes(kind);
}
