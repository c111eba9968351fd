/**
 * X.509 helpers over Node's crypto.X509Certificate (which verifies ECDSA P-256
 * and RSA signatures natively) and @peculiar/x509 (for structured SAN
 * extraction). Used by identity, viz and `weft check`. Everything but the SAN
 * extraction lives in x509-chain.ts (no @peculiar/x509) and is re-exported here.
 */
// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata polyfill.
import 'reflect-metadata';
import { X509Certificate, webcrypto } from 'node:crypto';
import * as px509 from '@peculiar/x509';

px509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof px509.cryptoProvider.set>[0]);

export * from './x509-chain.js';

export interface SubjectAltNames {
  readonly dns: string[];
  readonly uri: string[];
  readonly ip: string[];
}

export function subjectAltNames(cert: X509Certificate | Uint8Array): SubjectAltNames {
  const raw = cert instanceof X509Certificate ? cert.raw : cert;
  const parsed = new px509.X509Certificate(raw);
  const ext = parsed.getExtension(px509.SubjectAlternativeNameExtension);
  const out = { dns: [] as string[], uri: [] as string[], ip: [] as string[] };
  for (const name of ext?.names.items ?? []) {
    if (name.type === 'dns') out.dns.push(name.value);
    else if (name.type === 'url') out.uri.push(name.value);
    else if (name.type === 'ip') out.ip.push(name.value);
  }
  return out;
}
