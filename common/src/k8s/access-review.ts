/**
 * Start-up permission checks (STYLE: fail early, like linkerd's validator):
 * a component asks the API server, with SelfSubjectAccessReviews, whether its
 * own credentials may do what it will need, so a missing RBAC rule is named
 * before serving instead of surfacing later as retried 403s. Each component
 * decides which gaps stop it; this module only asks and describes.
 */
import { UnavailableError } from '../errors.js';
import { k8s } from './client.js';

export interface Permission {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  /** e.g. `status`; unset: the resource itself. */
  readonly subresource?: string;
  /** Unset: cluster-wide. */
  readonly namespace?: string;
  readonly name?: string;
}

export interface AccessDenial {
  readonly permission: Permission;
  /** `describePermission` plus the authorizer's reason when it gave one. */
  readonly description: string;
}

export function describePermission(p: Permission): string {
  const what = `${p.resource}${p.group ? `.${p.group}` : ''}${p.name ? `/${p.name}` : ''}${p.subresource ? `/${p.subresource}` : ''}`;
  return `${p.verb} ${what}${p.namespace ? ` in namespace ${p.namespace}` : ' (cluster-wide)'}`;
}

/** Reviews every permission (in parallel) and returns the denied ones, in the order given. */
export async function findDenied(kc: k8s.KubeConfig, component: string, permissions: readonly Permission[]): Promise<AccessDenial[]> {
  const authz = kc.makeApiClient(k8s.AuthorizationV1Api);
  const reviews = await Promise.all(
    permissions.map(async (p) => {
      try {
        return await authz.createSelfSubjectAccessReview({
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectAccessReview',
            spec: { resourceAttributes: { verb: p.verb, group: p.group, resource: p.resource, subresource: p.subresource, namespace: p.namespace, name: p.name } },
          },
        });
      } catch (err) {
        throw new UnavailableError(
          `cannot check ${component}'s permissions with the Kubernetes API (SelfSubjectAccessReview): ${(err as Error).message}`,
          { cause: err },
        );
      }
    }),
  );
  const denied: AccessDenial[] = [];
  permissions.forEach((permission, i) => {
    const status = reviews[i]!.status;
    if (status?.allowed === true) return;
    denied.push({ permission, description: `${describePermission(permission)}${status?.reason ? ` (${status.reason})` : ''}` });
  });
  return denied;
}
