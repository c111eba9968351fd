/**
 * identity refuses to start, naming every missing permission, rather than
 * failing at the first proxy's Certify (the review itself: common/k8s/access-review).
 */
import { FailedPreconditionError } from '@weft/common/errors';
import { findDenied, type Permission } from '@weft/common/k8s/access-review';
import type { k8s } from '@weft/common/k8s/client';

export type { Permission } from '@weft/common/k8s/access-review';

export async function requirePermissions(kc: k8s.KubeConfig, permissions: readonly Permission[]): Promise<void> {
  const denied = await findDenied(kc, 'identity', permissions);
  if (denied.length > 0) {
    throw new FailedPreconditionError(
      `identity lacks Kubernetes permissions it needs (check the weft-identity ClusterRole/Role bindings):\n  - ${denied.map((d) => d.description).join('\n  - ')}`,
    );
  }
}
