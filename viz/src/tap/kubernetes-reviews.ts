/** TokenReview + SubjectAccessReview against the API server, for the `kubernetes` tap mode. */
import { k8s } from '@weft/common/k8s/client';
import type { KubernetesReviews } from './authorizer.js';

export function kubernetesReviews(kc: k8s.KubeConfig): KubernetesReviews {
  const authn = kc.makeApiClient(k8s.AuthenticationV1Api);
  const authz = kc.makeApiClient(k8s.AuthorizationV1Api);
  return {
    async tokenReview(token) {
      const r = await authn.createTokenReview({ body: { spec: { token } } });
      if (!r.status?.authenticated || !r.status.user?.username) return undefined;
      return { username: r.status.user.username, groups: r.status.user.groups ?? [] };
    },
    async subjectAccessReview(user, attrs) {
      const r = await authz.createSubjectAccessReview({
        body: {
          spec: {
            user: user.username,
            groups: user.groups,
            resourceAttributes: { group: 'tap.weft.io', resource: attrs.resource, subresource: 'tap', verb: 'watch', namespace: attrs.namespace, name: attrs.name },
          },
        },
      });
      return { allowed: r.status?.allowed === true, reason: r.status?.reason };
    },
  };
}
