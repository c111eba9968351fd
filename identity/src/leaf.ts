/**
 * Workload leaf certificates: what every proxy presents for mTLS. Short-lived
 * (24 h by default), named in both DNS and SPIFFE form, usable as TLS client
 * and server, signed by the current issuer.
 */
import { randomBytes } from 'node:crypto';
import { formatDnsIdentity, formatSpiffeIdentity, type WorkloadIdentity } from '@weft/common/identity-name';
import type { IssuerCertificate } from './issuer.js';
import { px509, signingAlgorithm, type KeyType } from './pki-keys.js';

export interface LeafPolicy {
  /** Leaf lifetime in ms. */
  readonly lifetimeMs: number;
  /** NotBefore is back-dated by this much so peers with a slow clock accept a fresh leaf. */
  readonly clockSkewMs: number;
}

export const DEFAULT_LEAF_POLICY: LeafPolicy = { lifetimeMs: 24 * 3_600_000, clockSkewMs: 20_000 };

export interface IssuedLeaf {
  readonly cert: px509.X509Certificate;
  readonly der: Uint8Array;
  readonly notAfter: Date;
}

export async function issueLeaf(
  issuer: IssuerCertificate,
  subject: { identity: WorkloadIdentity; publicKey: px509.PublicKey; keyType: KeyType },
  policy: LeafPolicy,
  now: Date,
): Promise<IssuedLeaf> {
  const dns = formatDnsIdentity(subject.identity);
  const spiffe = formatSpiffeIdentity(subject.identity);
  // A leaf never outlives its issuer: a chain with an expired link fails verification anyway.
  const notAfter = new Date(Math.min(now.getTime() + policy.lifetimeMs, issuer.notAfter.getTime()));
  const notBefore = new Date(now.getTime() - policy.clockSkewMs);
  // RSA keys may be used for key transport in TLS 1.2; ECDSA keys only sign.
  const usages = px509.KeyUsageFlags.digitalSignature | (subject.keyType === 'rsa' ? px509.KeyUsageFlags.keyEncipherment : 0);
  const extensions: px509.Extension[] = [
    new px509.BasicConstraintsExtension(false, undefined, true),
    new px509.KeyUsagesExtension(usages, true),
    new px509.ExtendedKeyUsageExtension([px509.ExtendedKeyUsage.serverAuth, px509.ExtendedKeyUsage.clientAuth]),
    new px509.SubjectAlternativeNameExtension([
      { type: 'dns', value: dns },
      { type: 'url', value: spiffe },
    ]),
    await px509.SubjectKeyIdentifierExtension.create(subject.publicKey),
    await authorityKeyIdentifier(issuer),
  ];
  const cert = await px509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: [{ CN: [dns] }],
    issuer: issuer.parsed.subjectName,
    notBefore,
    notAfter,
    publicKey: subject.publicKey,
    signingKey: issuer.key.cryptoKey,
    signingAlgorithm: signingAlgorithm(issuer.key.type),
    extensions,
  });
  return { cert, der: new Uint8Array(cert.rawData), notAfter: cert.notAfter };
}

/** 128 random bits, positive (RFC 5280 §4.1.2.2: serials are positive integers of at most 20 octets). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex');
}

/** Chain builders (openssl) match a leaf's AKID against the issuer's SKID, so reuse the issuer's own SKID when it has one. */
async function authorityKeyIdentifier(issuer: IssuerCertificate): Promise<px509.AuthorityKeyIdentifierExtension> {
  const skid = issuer.parsed.getExtension(px509.SubjectKeyIdentifierExtension);
  return skid ? new px509.AuthorityKeyIdentifierExtension(skid.keyId) : px509.AuthorityKeyIdentifierExtension.create(issuer.parsed.publicKey);
}
