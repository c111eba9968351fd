/**
 * The issuer certificate identity signs workload leaves with (Secret
 * `weft-identity-issuer`, `tls.crt` + `tls.key`). Loading it checks
 * everything that would otherwise break every proxy later: the key matches,
 * the certificate is a CA allowed to sign certificates, it is within its
 * validity, and it chains to an anchor of the trust bundle.
 */
import { X509Certificate } from 'node:crypto';
import { FailedPreconditionError } from '@weft/common/errors';
import { parseCertificateBundle, verifyChain } from '@weft/common/x509';
import { importSigningKey, px509, type SigningKey } from './pki-keys.js';
import type { TrustBundle } from './trust-bundle.js';

/** The issuer as its source holds it: PEM chain (issuer first) and PEM key. */
export interface IssuerMaterial {
  readonly certPem: string;
  readonly keyPem: string;
}

/** The issuer cannot be used; the message names the problem. */
export class IssuerError extends FailedPreconditionError {}

export class IssuerCertificate {
  private constructor(
    readonly cert: X509Certificate,
    /** Issuer first, then any further intermediates up to (not including) an anchor: what leaves are sent with. */
    readonly chain: readonly X509Certificate[],
    readonly key: SigningKey,
    /** The issuer in @peculiar/x509 form, for the issuer name and key identifier of leaves. */
    readonly parsed: px509.X509Certificate,
  ) {}

  get notAfter(): Date {
    return new Date(this.cert.validTo);
  }

  get subject(): string {
    return this.cert.subject.replace(/\n/g, ', ');
  }

  get chainPem(): string {
    return this.chain.map((c) => c.toString()).join('');
  }

  /** Validates the material against the trust bundle at `now`; throws IssuerError naming the problem. */
  static async load(material: IssuerMaterial, trust: TrustBundle, now: Date, what = 'issuer'): Promise<IssuerCertificate> {
    let certs: X509Certificate[];
    try {
      certs = parseCertificateBundle(material.certPem, `${what} certificate`);
    } catch (err) {
      throw new IssuerError((err as Error).message, { cause: err });
    }
    const cert = certs[0]!;
    const subject = cert.subject.replace(/\n/g, ', ');
    let key: SigningKey;
    try {
      key = await importSigningKey(material.keyPem);
    } catch (err) {
      throw new IssuerError(`${what} key: ${(err as Error).message}`, { cause: err });
    }
    if (!cert.checkPrivateKey(key.keyObject)) throw new IssuerError(`${what} key does not match the ${what} certificate "${subject}"`);
    if (!cert.ca) throw new IssuerError(`${what} certificate "${subject}" is not a CA (basicConstraints CA:TRUE is required)`);
    const parsed = new px509.X509Certificate(cert.raw);
    const usage = parsed.getExtension(px509.KeyUsagesExtension);
    if (usage && (usage.usages & px509.KeyUsageFlags.keyCertSign) === 0) {
      throw new IssuerError(`${what} certificate "${subject}" may not sign certificates (keyUsage lacks keyCertSign)`);
    }
    if (now.getTime() > Date.parse(cert.validTo)) throw new IssuerError(`${what} certificate "${subject}" expired at ${cert.validTo}`);
    if (now.getTime() < Date.parse(cert.validFrom)) throw new IssuerError(`${what} certificate "${subject}" is not valid before ${cert.validFrom}`);
    const rest = certs.slice(1);
    try {
      verifyChain(cert, rest, trust.anchors, now);
    } catch (err) {
      throw new IssuerError(`${what} certificate "${subject}" does not chain to an anchor of the trust bundle: ${(err as Error).message}`, { cause: err });
    }
    // Anchors are distributed to proxies separately; sending one in the chain only wastes bytes.
    const chain = [cert, ...rest.filter((c) => !trust.contains(c))];
    return new IssuerCertificate(cert, chain, key, parsed);
  }
}
