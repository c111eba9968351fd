/**
 * destination checks at start-up, with SelfSubjectAccessReviews, that it may
 * list and watch everything it informs on: a missing permission on a core
 * kind stops it with every gap named (instead of an informer retrying 403s
 * forever); a missing permission on a weft CRD is a warning, as the CRD
 * itself is optional.
 */
import { FailedPreconditionError, UnavailableError } from '@weft/common/errors';
import { k8s } from '@weft/common/k8s/client';

export interface WatchedResource {
  readonly group: string;
  readonly resource: string;
  readonly required: boolean;
}

export interface AccessGaps {
  readonly required: readonly string[];
  readonly optional: readonly string[];
}

export async function findAccessGaps(kc: k8s.KubeConfig, resources: readonly WatchedResource[]): Promise<AccessGaps> {
  const authz = kc.makeApiClient(k8s.AuthorizationV1Api);
  const checks = resources.flatMap((r) => ['list', 'watch'].map((verb) => ({ ...r, verb })));
  const results = await Promise.all(
    checks.map(async (c) => {
      try {
        const review = await authz.createSelfSubjectAccessReview({
          body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { verb: c.verb, group: c.group, resource: c.resource } } },
        });
        return review.status?.allowed === true;
      } catch (err) {
        throw new UnavailableError(`cannot review destination's permissions with the Kubernetes API: ${(err as Error).message}`, { cause: err });
      }
    }),
  );
  const required: string[] = [];
  const optional: string[] = [];
  checks.forEach((c, i) => {
    if (results[i]) return;
    (c.required ? required : optional).push(`${c.verb} ${c.resource}${c.group ? `.${c.group}` : ''} (cluster-wide)`);
  });
  return { required, optional };
}

export function accessError(gaps: AccessGaps): FailedPreconditionError {
  return new FailedPreconditionError(
    `destination lacks Kubernetes permissions it needs (check the weft-destination ClusterRole and its binding):\n  - ${gaps.required.join('\n  - ')}`,
  );
}
