/**
 * X.509 helpers over Node's crypto alone (ECDSA P-256 and RSA signatures are
 * verified natively): PEM, certificate bundles, validity, chain verification.
 * Kept apart from x509.ts (which re-exports all of it) so that a process that
 * needs only these — the proxy certifying its workload — does not load
 * @peculiar/x509 and its ASN.1 libraries (~10 MiB resident).
 */
import { X509Certificate } from 'node:crypto';
import { InvalidArgumentError } from './errors.js';

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)\r?\n-----END \1-----/g;

export interface PemBlock {
  readonly label: string;
  readonly der: Buffer;
}

/** Splits a PEM document into its blocks; rejects text that holds none. */
export function parsePem(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    blocks.push({ label: m[1]!, der: Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64') });
  }
  return blocks;
}

export function toPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** Parses every certificate of a PEM bundle; fails naming the bad block. */
export function parseCertificateBundle(text: string, what = 'certificate bundle'): X509Certificate[] {
  const blocks = parsePem(text).filter((b) => b.label === 'CERTIFICATE');
  if (blocks.length === 0) throw new InvalidArgumentError(`${what} holds no PEM CERTIFICATE block`);
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b.der);
    } catch (err) {
      throw new InvalidArgumentError(`${what}: certificate #${i + 1} is not valid X.509: ${(err as Error).message}`, { cause: err });
    }
  });
}

export function notBefore(cert: X509Certificate): Date {
  return new Date(cert.validFrom);
}

export function notAfter(cert: X509Certificate): Date {
  return new Date(cert.validTo);
}

/** Milliseconds until the certificate expires (negative when expired). */
export function timeToExpiry(cert: X509Certificate, now = new Date()): number {
  return notAfter(cert).getTime() - now.getTime();
}

export class ChainError extends InvalidArgumentError {}

/**
 * Verifies `leaf` up to one of `anchors`, through `intermediates`, at `now`:
 * every link is issued by and signed with the next, every issuer is a CA, and
 * every certificate is within its validity. Returns the path, leaf first,
 * anchor last.
 */
export function verifyChain(
  leaf: X509Certificate,
  intermediates: readonly X509Certificate[],
  anchors: readonly X509Certificate[],
  now = new Date(),
): X509Certificate[] {
  const path = [leaf];
  let current = leaf;
  for (let depth = 0; depth <= intermediates.length; depth++) {
    checkValidity(current, now);
    const anchor = anchors.find((a) => issuedBy(current, a));
    if (anchor) {
      checkValidity(anchor, now);
      path.push(anchor);
      return path;
    }
    const next = intermediates.find((c) => !path.includes(c) && issuedBy(current, c));
    if (!next) {
      throw new ChainError(`certificate "${current.subject.replace(/\n/g, ', ')}" is not signed by any trust anchor or intermediate`);
    }
    path.push(next);
    current = next;
  }
  throw new ChainError('certificate chain does not end at a trust anchor');
}

function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  return issuer.ca && cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
}

function checkValidity(cert: X509Certificate, now: Date): void {
  const subject = cert.subject.replace(/\n/g, ', ');
  if (now < notBefore(cert)) throw new ChainError(`certificate "${subject}" is not valid before ${cert.validFrom}`);
  if (now > notAfter(cert)) throw new ChainError(`certificate "${subject}" expired at ${cert.validTo}`);
}

/** Short SHA-256 fingerprint for logs and `weft check`. */
export function fingerprint(cert: X509Certificate): string {
  return cert.fingerprint256;
}
