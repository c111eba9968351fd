/**
 * Certificate signing requests from proxies: PKCS#10, DER encoded. A CSR is
 * accepted when it parses, its self-signature verifies (the caller holds the
 * private key), its key is ECDSA P-256 or RSA >= 2048, and every name it
 * carries is the identity being certified. Anything else is INVALID_ARGUMENT.
 */
import { InvalidArgumentError } from '@weft/common/errors';
import { classifyPublicKey, px509, type KeyType } from './pki-keys.js';

/** Far above any honest CSR (an RSA-4096 CSR is ~1.7 KiB); bounds parsing work. */
export const MAX_CSR_BYTES = 16 * 1024;

export interface VerifiedCsr {
  readonly publicKey: px509.PublicKey;
  readonly keyType: KeyType;
}

export interface ExpectedNames {
  /** DNS-form identity, e.g. `web.demo.serviceaccount.identity.weft.cluster.local`. */
  readonly dns: string;
  /** SPIFFE form, e.g. `spiffe://cluster.local/ns/demo/sa/web`. */
  readonly spiffe: string;
}

export async function verifyCsr(der: Uint8Array, expected: ExpectedNames): Promise<VerifiedCsr> {
  if (der.length === 0) throw new InvalidArgumentError('certificate signing request is empty');
  if (der.length > MAX_CSR_BYTES) throw new InvalidArgumentError(`certificate signing request is ${der.length} bytes (at most ${MAX_CSR_BYTES})`);
  let csr: px509.Pkcs10CertificateRequest;
  try {
    csr = new px509.Pkcs10CertificateRequest(Buffer.from(der));
  } catch (err) {
    throw new InvalidArgumentError(`certificate signing request is not DER PKCS#10: ${(err as Error).message}`, { cause: err });
  }
  let kind: ReturnType<typeof classifyPublicKey>;
  try {
    kind = classifyPublicKey(csr.publicKey.rawData);
  } catch (err) {
    // A key whose inner encoding is broken (found by the CSR fuzzer: an RSA key that is not RSAPublicKey DER).
    throw new InvalidArgumentError(`certificate signing request key cannot be read: ${(err as Error).message}`, { cause: err });
  }
  if ('problem' in kind) throw new InvalidArgumentError(`certificate signing request key: ${kind.problem}`);
  let signed = false;
  try {
    signed = await csr.verify();
  } catch (err) {
    throw new InvalidArgumentError(`certificate signing request signature cannot be checked: ${(err as Error).message}`, { cause: err });
  }
  if (!signed) throw new InvalidArgumentError('certificate signing request signature does not verify');
  checkNames(csr, expected);
  return { publicKey: csr.publicKey, keyType: kind.type };
}

/** The CN and SANs are optional (weft writes its own), but when present they must name exactly this identity. */
function checkNames(csr: px509.Pkcs10CertificateRequest, expected: ExpectedNames): void {
  for (const cn of csr.subjectName.getField('CN')) {
    if (cn !== expected.dns) throw new InvalidArgumentError(`certificate signing request CN "${cn}" is not the identity "${expected.dns}"`);
  }
  for (const ext of csr.extensions) {
    if (!(ext instanceof px509.SubjectAlternativeNameExtension)) continue;
    for (const name of ext.names.items) {
      if (name.type === 'dns' && name.value === expected.dns) continue;
      if (name.type === 'url' && name.value === expected.spiffe) continue;
      throw new InvalidArgumentError(`certificate signing request names ${name.type}:${name.value}, which is not the identity "${expected.dns}"`);
    }
  }
}
