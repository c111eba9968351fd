/** The Kubernetes objects identity reads (ARCHITECTURE §1), without loading the Kubernetes client. */
export const ISSUER_SECRET = 'weft-identity-issuer';
export const TRUST_ROOTS_CONFIGMAP = 'weft-identity-trust-roots';
export const TRUST_ROOTS_KEY = 'ca-bundle.crt';
