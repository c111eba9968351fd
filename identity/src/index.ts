// @weft/identity: the Certify service and its client. main.ts runs it as a process;
// the local demo and e2e tests start it in-process with startIdentityService.
export { startIdentityService, IDENTITY_SERVICE_ACCOUNT, type IdentityService, type IdentityServiceOptions } from './identity-service.js';
export { generateLocalCa, type LocalCa, type LocalCaOptions } from './local-ca.js';
export { certify, type CertifyClientOptions, type Credentials } from './client.js';
export { MemorySource, type Source, type SourceListener, type IssuerSource, type TrustAnchorSource } from './sources.js';
export { IssuerCertificate, IssuerError, type IssuerMaterial } from './issuer.js';
export { TrustBundle } from './trust-bundle.js';
export { DEFAULT_LEAF_POLICY, type LeafPolicy } from './leaf.js';
export { TOKEN_AUDIENCE, type TokenValidator, type ServiceAccountToken } from './token-validator.js';
export { fileIssuerSource, fileTrustSource } from './file-sources.js';
// Kubernetes parts load @kubernetes/client-node; import them deeply when needed:
// '@weft/identity/kubernetes-token-validator', '@weft/identity/kubernetes-sources'.
