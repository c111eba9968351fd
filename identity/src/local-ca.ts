/**
 * A throwaway trust anchor and issuer for the local demo (and tests): the
 * shape cert-manager provides in a cluster, generated in memory at start.
 * The anchor's private key is dropped on return; weft never needs it.
 */
import type { webcrypto } from 'node:crypto';
import { toPem } from '@weft/common/x509';
import type { IssuerMaterial } from './issuer.js';
import { generateEcdsaKeyPair, privateKeyPem, px509, signingAlgorithm } from './pki-keys.js';

export interface LocalCa {
  /** PEM trust anchor (the `ca-bundle.crt` of the trust roots). */
  readonly anchorPem: string;
  /** PEM issuer certificate and key (the `tls.crt` / `tls.key` of the issuer Secret). */
  readonly issuer: IssuerMaterial;
}

export interface LocalCaOptions {
  readonly trustDomain?: string;
  /** Anchor lifetime in ms; the issuer lives half as long. Default one year. */
  readonly lifetimeMs?: number;
  readonly now?: Date;
}

export async function generateLocalCa(opts: LocalCaOptions = {}): Promise<LocalCa> {
  const trustDomain = opts.trustDomain ?? 'cluster.local';
  const now = opts.now ?? new Date();
  const lifetimeMs = opts.lifetimeMs ?? 365 * 24 * 3_600_000;
  const notBefore = new Date(now.getTime() - 60_000);
  const alg = signingAlgorithm('ecdsa-p256');
  const caExtensions = async (publicKey: webcrypto.CryptoKey): Promise<px509.Extension[]> => [
    new px509.BasicConstraintsExtension(true, undefined, true),
    new px509.KeyUsagesExtension(px509.KeyUsageFlags.keyCertSign | px509.KeyUsageFlags.cRLSign, true),
    await px509.SubjectKeyIdentifierExtension.create(publicKey),
  ];

  const anchorKeys = await generateEcdsaKeyPair();
  const anchor = await px509.X509CertificateGenerator.createSelfSigned({
    name: `CN=root.${trustDomain}, O=weft local demo`,
    keys: anchorKeys,
    notBefore,
    notAfter: new Date(now.getTime() + lifetimeMs),
    signingAlgorithm: alg,
    extensions: await caExtensions(anchorKeys.publicKey),
  });
  const issuerKeys = await generateEcdsaKeyPair();
  const issuer = await px509.X509CertificateGenerator.create({
    subject: `CN=identity.weft.${trustDomain}, O=weft local demo`,
    issuer: anchor.subjectName,
    notBefore,
    notAfter: new Date(now.getTime() + lifetimeMs / 2),
    publicKey: issuerKeys.publicKey,
    signingKey: anchorKeys.privateKey,
    signingAlgorithm: alg,
    extensions: [
      ...(await caExtensions(issuerKeys.publicKey)),
      await px509.AuthorityKeyIdentifierExtension.create(anchorKeys.publicKey),
    ],
  });
  return {
    anchorPem: toPem(new Uint8Array(anchor.rawData)),
    issuer: { certPem: toPem(new Uint8Array(issuer.rawData)), keyPem: await privateKeyPem(issuerKeys.privateKey) },
  };
}
