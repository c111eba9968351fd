/**
 * Start-up permission check (STYLE: fail early, like linkerd's validator):
 * before serving, identity asks the API server, with SelfSubjectAccessReviews,
 * whether its own credentials may do everything it will need, and refuses to
 * start naming every missing permission instead of failing at the first
 * proxy's Certify.
 */
import { FailedPreconditionError, UnavailableError } from '@weft/common/errors';
import { k8s } from '@weft/common/k8s/client';

export interface Permission {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly namespace?: string;
  readonly name?: string;
}

export function describePermission(p: Permission): string {
  const what = `${p.resource}${p.group ? `.${p.group}` : ''}${p.name ? `/${p.name}` : ''}`;
  return `${p.verb} ${what}${p.namespace ? ` in namespace ${p.namespace}` : ' (cluster-wide)'}`;
}

export async function requirePermissions(kc: k8s.KubeConfig, permissions: readonly Permission[]): Promise<void> {
  const authz = kc.makeApiClient(k8s.AuthorizationV1Api);
  const missing: string[] = [];
  for (const p of permissions) {
    let review: k8s.V1SelfSubjectAccessReview;
    try {
      review = await authz.createSelfSubjectAccessReview({
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: { resourceAttributes: { verb: p.verb, group: p.group, resource: p.resource, namespace: p.namespace, name: p.name } },
        },
      });
    } catch (err) {
      throw new UnavailableError(`cannot check permissions with the Kubernetes API (SelfSubjectAccessReview): ${(err as Error).message}`, { cause: err });
    }
    if (!review.status?.allowed) missing.push(`${describePermission(p)}${review.status?.reason ? ` (${review.status.reason})` : ''}`);
  }
  if (missing.length > 0) {
    throw new FailedPreconditionError(`identity lacks Kubernetes permissions it needs (check the weft-identity ClusterRole/Role bindings):\n  - ${missing.join('\n  - ')}`);
  }
}
