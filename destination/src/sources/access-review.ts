/**
 * destination may list and watch everything it informs on: a missing
 * permission on a core kind stops it with every gap named (instead of an
 * informer retrying 403s forever); a missing permission on a weft CRD is a
 * warning, as the CRD itself is optional. The review: common/k8s/access-review.
 */
import { FailedPreconditionError } from '@weft/common/errors';
import { findDenied } from '@weft/common/k8s/access-review';
import type { k8s } from '@weft/common/k8s/client';

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
  const checks = resources.flatMap((r) =>
    ['list', 'watch'].map((verb) => ({ verb, group: r.group, resource: r.resource, required: r.required })),
  );
  const denied = await findDenied(kc, 'destination', checks);
  const required: string[] = [];
  const optional: string[] = [];
  for (const d of denied) ((d.permission as (typeof checks)[number]).required ? required : optional).push(d.description);
  return { required, optional };
}

export function accessError(gaps: AccessGaps): FailedPreconditionError {
  return new FailedPreconditionError(
    `destination lacks Kubernetes permissions it needs (check the weft-destination ClusterRole and its binding):\n  - ${gaps.required.join('\n  - ')}`,
  );
}
