/**
 * The trust anchors of the mesh (ConfigMap `weft-identity-trust-roots`, key
 * `ca-bundle.crt`). During an anchor rotation the bundle holds the old and
 * the new anchor, so it is always a list.
 */
import type { X509Certificate } from 'node:crypto';
import { InvalidArgumentError } from '@weft/common/errors';
import { parseCertificateBundle } from '@weft/common/x509';

export class TrustBundle {
  private constructor(
    readonly pem: string,
    readonly anchors: readonly X509Certificate[],
  ) {}

  /** Parses a PEM bundle; every certificate must be a CA. */
  static parse(pem: string, what = 'trust anchor bundle'): TrustBundle {
    const anchors = parseCertificateBundle(pem, what);
    anchors.forEach((a, i) => {
      if (!a.ca) throw new InvalidArgumentError(`${what}: certificate #${i + 1} ("${a.subject.replace(/\n/g, ', ')}") is not a CA`);
    });
    return new TrustBundle(pem, anchors);
  }

  /** True when `cert` is one of the anchors (same DER). */
  contains(cert: X509Certificate): boolean {
    return this.anchors.some((a) => a.raw.equals(cert.raw));
  }
}
