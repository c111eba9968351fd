/**
 * TokenValidator over the Kubernetes TokenReview API. A token is accepted
 * only when the API server authenticates it for weft's audience, it belongs to
 * a ServiceAccount, and it is bound to a pod (a projected token), so a
 * long-lived legacy Secret token cannot get mesh certificates.
 */
import type { Logger } from 'pino';
import { UnauthenticatedError, UnavailableError } from '@weft/common/errors';
import { k8s } from '@weft/common/k8s/client';
import { requirePermissions, type Permission } from './access-review.js';
import { TOKEN_AUDIENCE, type ServiceAccountToken, type TokenValidator } from './token-validator.js';

export const POD_NAME_EXTRA = 'authentication.kubernetes.io/pod-name';
const SERVICE_ACCOUNT_USER = /^system:serviceaccount:([^:]+):([^:]+)$/;

export const TOKEN_REVIEW_PERMISSION: Permission = { verb: 'create', group: 'authentication.k8s.io', resource: 'tokenreviews' };

/** What a TokenReview response means for Certify; throws UnauthenticatedError naming why a token is refused. */
export function translateTokenReview(review: k8s.V1TokenReview, audience = TOKEN_AUDIENCE): ServiceAccountToken {
  const status = review.status;
  if (!status) throw new UnauthenticatedError('token review returned no status');
  if (status.error) throw new UnauthenticatedError(`token rejected: ${status.error}`);
  if (!status.authenticated) throw new UnauthenticatedError('token rejected: not authenticated');
  // An API server that ignores spec.audiences returns none; such a token may be for any audience.
  if (!status.audiences?.includes(audience)) {
    throw new UnauthenticatedError(`token is not for audience ${audience} (got ${status.audiences?.join(', ') || 'none'})`);
  }
  const username = status.user?.username ?? '';
  const m = SERVICE_ACCOUNT_USER.exec(username);
  if (!m) throw new UnauthenticatedError(`token of "${username}" is not a ServiceAccount token`);
  const podName = status.user?.extra?.[POD_NAME_EXTRA]?.[0];
  if (!podName) throw new UnauthenticatedError(`token of ${username} is not bound to a pod (use a projected ServiceAccount token)`);
  return { namespace: m[1]!, serviceAccount: m[2]!, podName };
}

export class KubernetesTokenValidator implements TokenValidator {
  private readonly authn: k8s.AuthenticationV1Api;

  constructor(
    private readonly kc: k8s.KubeConfig,
    private readonly log: Logger,
    private readonly audience = TOKEN_AUDIENCE,
  ) {
    this.authn = kc.makeApiClient(k8s.AuthenticationV1Api);
  }

  /** Fails (FAILED_PRECONDITION) when identity may not create TokenReviews. */
  checkAccess(): Promise<void> {
    return requirePermissions(this.kc, [TOKEN_REVIEW_PERMISSION]);
  }

  async validate(token: string): Promise<ServiceAccountToken> {
    let review: k8s.V1TokenReview;
    try {
      review = await this.authn.createTokenReview({
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [this.audience] } },
      });
    } catch (err) {
      // The caller may be honest; the API server is what failed, so the proxy should retry.
      const code = (err as { code?: number }).code;
      this.log.error({ err: (err as Error).message, code }, 'TokenReview failed');
      throw new UnavailableError(`cannot review the token with the Kubernetes API${code ? ` (HTTP ${code})` : ''}`, { cause: err });
    }
    return translateTokenReview(review, this.audience);
  }
}
