/**
 * Resolves the profile of an authority: the service's `ServiceProfile`
 * (named by the service FQDN, in its namespace), opaque ports from the
 * Service's (or, for a pod IP, the pod's) `config.weft.io/opaque-ports`.
 * Unknown authorities get the default profile (no routes, default retry
 * budget) at once, so the proxy never waits.
 */
import { create } from '@bufbuild/protobuf';
import { destination } from '@weft/api';
import type { ClusterCache } from '../watchers/cluster-cache.js';
import type { MeshSettings } from '../settings.js';
import type { Target } from './authority.js';
import type { Resolution } from './endpoints.js';
import { declaresPort, opaquePorts } from './workload.js';
import { defaultRetryBudget, parseServiceProfileSpec } from './service-profile.js';
import { gatewayRoutesFor } from './gateway-routes.js';

export interface ProfileState {
  readonly profile: destination.DestinationProfile;
  /** Why the ServiceProfile was ignored, when it was invalid. */
  readonly problem?: string;
}

export function serviceFqdn(name: string, namespace: string, settings: MeshSettings): string {
  return `${name}.${namespace}.svc.${settings.clusterDomain}`;
}

export function resolveProfile(cache: ClusterCache, target: Target, settings: MeshSettings): Resolution<ProfileState> {
  const deps: string[] = [];
  let ns: string | undefined;
  let name: string | undefined;
  const port = target.port;
  if (target.kind === 'service') {
    ns = target.namespace;
    name = target.name;
  } else if (target.kind === 'ip') {
    deps.push(`ip:${target.ip}`);
    const svc = cache.serviceByClusterIP(target.ip);
    if (svc) {
      ns = svc.metadata?.namespace;
      name = svc.metadata?.name;
    } else {
      const pods = cache.podsByAddress(target.ip);
      const pod = pods.find((p) => declaresPort(p, target.port)) ?? pods[0];
      if (pod) {
        deps.push(`pod:${pod.metadata?.namespace}/${pod.metadata?.name}`);
        const opaque = opaquePorts(pod.metadata?.annotations);
        return { deps, state: { profile: base('', opaque, port) } };
      }
    }
  }
  if (ns === undefined || name === undefined) return { deps, state: { profile: base('', [], port) } };
  deps.push(`svc:${ns}/${name}`);
  const fqdn = serviceFqdn(name, ns, settings);
  deps.push(`sp:${ns}/${fqdn}`);
  const svc = cache.service(ns, name);
  const opaque = opaquePorts(svc?.metadata?.annotations);
  const profile = base(fqdn, opaque, port);
  const sp = cache.serviceProfile(ns, fqdn);
  if (!sp) {
    // No ServiceProfile: Gateway API routes attached to the Service, if any (a ServiceProfile takes precedence).
    deps.push(`route:${ns}`);
    const gw = gatewayRoutesFor(cache, ns, name, port, settings);
    if (!gw) return { deps, state: { profile } };
    deps.push(...gw.deps);
    profile.routes = gw.routes;
    return { deps, state: { profile } };
  }
  try {
    const spec = parseServiceProfileSpec(sp.spec);
    profile.routes = spec.routes;
    profile.retryBudget = spec.retryBudget;
    profile.dstOverrides = spec.dstOverrides;
    return { deps, state: { profile } };
  } catch (err) {
    return { deps, state: { profile, problem: `ServiceProfile ${ns}/${fqdn} ignored: ${(err as Error).message}` } };
  }
}

function base(fqdn: string, opaque: number[], port: number): destination.DestinationProfile {
  return create(destination.DestinationProfileSchema, {
    fullyQualifiedName: fqdn,
    retryBudget: defaultRetryBudget(),
    opaquePorts: opaque,
    opaqueProtocol: opaque.includes(port),
  });
}
