/** TokenReview + SubjectAccessReview against the API server, for the `kubernetes` tap mode. */
import { k8s } from '@weft/common/k8s/client';
import type { KubernetesReviews } from './authorizer.js';

/**
 * The user of a reviewed token, only when the API server authenticated it for
 * `audience`. An API server that ignores `spec.audiences` answers without
 * audiences: such a token may be one for the API server itself, which viz must
 * not accept (whoever it is shown to could replay it against the cluster).
 */
export function userOfTokenReview(review: k8s.V1TokenReview, audience: string): { username: string; groups: string[] } | undefined {
  const s = review.status;
  if (!s?.authenticated || !s.user?.username) return undefined;
  if (!s.audiences?.includes(audience)) return undefined;
  return { username: s.user.username, groups: s.user.groups ?? [] };
}

export function kubernetesReviews(kc: k8s.KubeConfig, audience: string): KubernetesReviews {
  const authn = kc.makeApiClient(k8s.AuthenticationV1Api);
  const authz = kc.makeApiClient(k8s.AuthorizationV1Api);
  return {
    audience,
    async tokenReview(token) {
      return userOfTokenReview(await authn.createTokenReview({ body: { spec: { token, audiences: [audience] } } }), audience);
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
