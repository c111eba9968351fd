/**
 * What one tap request watches: a namespace (or every namespace) and the
 * objects of a kind in it. It is derived once per request from the query, and
 * both the authorizer and the proxy selection read this one value, so viz
 * never authorizes one namespace and taps another.
 */
import { InvalidArgumentError } from '../errors.js';
import { isNamespaceName, isWorkloadKind, type ResourceRef } from '../resource.js';
import type { ProxyTarget } from '../targets.js';

export interface TapScope {
  /** The namespace tapped (and authorized); undefined = every namespace, which needs a cluster-wide grant. */
  readonly namespace: string | undefined;
  /** A namespace, a workload or a pod; a namespace's name is `namespace`. */
  readonly resource: ResourceRef;
}

/**
 * `ns/shop` taps namespace shop whatever the `namespace` parameter says (the
 * CLI always sends its current namespace); `ns` taps the `namespace`
 * parameter, or every namespace without one; other kinds live in the
 * `namespace` parameter, or in every namespace without one.
 */
export function tapScope(resource: ResourceRef, namespace: string | undefined): TapScope {
  if (resource.kind === 'service' || resource.kind === 'route') {
    throw new InvalidArgumentError(`tap watches proxies: tap a namespace, deployment, statefulset, daemonset or pod, not a ${resource.kind}`);
  }
  if (resource.kind !== 'namespace') return { namespace, resource };
  const tapped = resource.name ?? namespace;
  if (tapped === undefined) return { namespace: undefined, resource: { kind: 'namespace' } };
  if (!isNamespaceName(tapped)) throw new InvalidArgumentError(`"${tapped}" is not a valid namespace name`);
  return { namespace: tapped, resource: { kind: 'namespace', name: tapped } };
}

/** The proxies a scope taps: never one outside its namespace. */
export function proxiesOf(all: readonly ProxyTarget[], scope: TapScope): ProxyTarget[] {
  const { namespace, resource } = scope;
  return all.filter((t) => {
    if (namespace !== undefined && t.namespace !== namespace) return false;
    if (resource.kind === 'namespace') return true;
    if (resource.kind === 'pod') return !resource.name || t.name === resource.name;
    if (isWorkloadKind(resource.kind)) return t.workload.kind === resource.kind && (!resource.name || t.workload.name === resource.name);
    return false;
  });
}

export function describeScope(scope: TapScope): string {
  const what = `${scope.resource.kind}${scope.resource.name ? `/${scope.resource.name}` : ''}`;
  if (scope.resource.kind === 'namespace') return scope.namespace ? what : 'every namespace';
  return scope.namespace ? `${what} in namespace ${scope.namespace}` : `${what} in every namespace`;
}
