/**
 * The gRPC client of destination's policy API (`weft.policy.v1.Inbound`,
 * port 8090) over mTLS with the pod certificate; rebuilt when the
 * certificate is renewed. Undefined until the proxy holds a certificate.
 */
import { policy } from '@weft/api';
import { createGrpcClient } from '@weft/common/grpc';
import type { LocalIdentity, TlsCredentials } from '../identity/local-identity.js';
import type { PolicyClient } from './policies.js';

export function policyClientFactory(svcAddr: string, serverName: string, identity: LocalIdentity): () => PolicyClient | undefined {
  let client: PolicyClient | undefined;
  let clientCreds: TlsCredentials | undefined;
  return () => {
    const creds = identity.current();
    if (!creds) return undefined;
    if (!client || clientCreds !== creds) {
      client = createGrpcClient(policy.Inbound, { baseUrl: `https://${svcAddr}`, ca: identity.trustAnchors, cert: creds.cert, key: creds.key, serverName });
      clientCreds = creds;
    }
    return client;
  };
}
