/**
 * Who is asking for a certificate: a TokenValidator turns the projected
 * ServiceAccount token a proxy sends into the ServiceAccount (and pod) it was
 * issued to, or refuses it with UNAUTHENTICATED. The Kubernetes TokenReview
 * implementation lives in kubernetes-token-validator.ts; tests use fakes.
 */

import { TOKEN_AUDIENCES } from '@weft/api/names';

/** The audience proxies' projected tokens are minted for (ARCHITECTURE §3). */
export const TOKEN_AUDIENCE: string = TOKEN_AUDIENCES.identity;

/** Far above any real JWT; bounds the work a garbage token can cause. */
export const MAX_TOKEN_BYTES = 16 * 1024;

export interface ServiceAccountToken {
  readonly serviceAccount: string;
  readonly namespace: string;
  /** The pod the token is bound to. */
  readonly podName: string;
}

export interface TokenValidator {
  /** Resolves the token's ServiceAccount; rejects with UnauthenticatedError for a bad token, UnavailableError when it cannot tell. */
  validate(token: string): Promise<ServiceAccountToken>;
}
