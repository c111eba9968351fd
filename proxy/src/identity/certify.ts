/**
 * The production `Certifier`: identity's client library (identity/src/client.ts)
 * generates the ECDSA P-256 key and CSR, reads the projected token and calls
 * `Certify`, checking the returned chain; here its result becomes the
 * proxy's TLS credentials (leaf followed by intermediates).
 */
import { certify } from '@weft/identity/client';
import type { ProxyConfig } from '../config.js';
import type { TlsCredentials } from './local-identity.js';

export async function certifyWithIdentityService(c: ProxyConfig['identity']): Promise<TlsCredentials> {
  const creds = await certify({
    addr: c.svcAddr,
    serverName: c.svcName,
    trustAnchorsPem: c.trustAnchors,
    tokenFile: c.tokenFile,
    identity: c.localName,
  });
  return { cert: creds.certPem + creds.chainPem, key: creds.keyPem, expiresAt: creds.validUntil };
}
