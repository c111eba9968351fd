/**
 * Certify, independent of the wire: authenticate the token, authorize the
 * requested identity (exactly the token's ServiceAccount), check the CSR,
 * sign. Each refusal is a WeftError whose code is the gRPC status returned.
 */
import { formatDnsIdentity, formatSpiffeIdentity, parseDnsIdentity, type WorkloadIdentity } from '@weft/common/identity-name';
import { PermissionDeniedError, UnauthenticatedError, UnavailableError } from '@weft/common/errors';
import { verifyCsr } from './csr.js';
import type { IssuerCertificate } from './issuer.js';
import { issueLeaf, type LeafPolicy } from './leaf.js';
import { MAX_TOKEN_BYTES, type TokenValidator } from './token-validator.js';

export interface CertifyRequest {
  /** The DNS-form identity asked for. */
  readonly identity: string;
  readonly token: Uint8Array;
  /** DER PKCS#10. */
  readonly csr: Uint8Array;
}

export interface CertifiedLeaf {
  readonly leafDer: Uint8Array;
  /** Issuer first, up to (not including) the anchor. */
  readonly intermediatesDer: Uint8Array[];
  readonly validUntil: Date;
  readonly identity: string;
}

export interface CertifierOptions {
  readonly validator: TokenValidator;
  /** The issuer in use at the time of the call. */
  readonly issuer: () => IssuerCertificate;
  readonly controlNamespace: string;
  readonly trustDomain: string;
  readonly policy: LeafPolicy;
  readonly now: () => Date;
}

export class Certifier {
  constructor(private readonly opts: CertifierOptions) {}

  async certify(req: CertifyRequest): Promise<CertifiedLeaf> {
    const token = decodeToken(req.token);
    const account = await this.opts.validator.validate(token);
    const allowed: WorkloadIdentity = {
      serviceAccount: account.serviceAccount,
      namespace: account.namespace,
      controlNamespace: this.opts.controlNamespace,
      trustDomain: this.opts.trustDomain,
    };
    const dns = formatDnsIdentity(allowed);
    if (req.identity !== dns) {
      // Parse only to tell a malformed request from an impersonation attempt.
      parseDnsIdentity(req.identity);
      throw new PermissionDeniedError(`token of ServiceAccount ${account.namespace}/${account.serviceAccount} may only be certified as "${dns}", not "${req.identity}"`);
    }
    const csr = await verifyCsr(req.csr, { dns, spiffe: formatSpiffeIdentity(allowed) });
    // Read once: a rotation during this call swaps the reference, never the object we sign with.
    const issuer = this.opts.issuer();
    const now = this.opts.now();
    if (now > issuer.notAfter) throw new UnavailableError(`issuer "${issuer.subject}" expired at ${issuer.notAfter.toISOString()} and has not been renewed`);
    const leaf = await issueLeaf(issuer, { identity: allowed, publicKey: csr.publicKey, keyType: csr.keyType }, this.opts.policy, now);
    return { leafDer: leaf.der, intermediatesDer: issuer.chain.map((c) => new Uint8Array(c.raw)), validUntil: leaf.notAfter, identity: dns };
  }
}

function decodeToken(raw: Uint8Array): string {
  if (raw.length === 0) throw new UnauthenticatedError('no ServiceAccount token in the request');
  if (raw.length > MAX_TOKEN_BYTES) throw new UnauthenticatedError(`token is ${raw.length} bytes (at most ${MAX_TOKEN_BYTES})`);
  let token: string;
  try {
    token = new TextDecoder('utf-8', { fatal: true }).decode(raw).trim();
  } catch {
    throw new UnauthenticatedError('token is not UTF-8 text');
  }
  if (token === '') throw new UnauthenticatedError('no ServiceAccount token in the request');
  return token;
}
