/**
 * The proxy's side of Certify, so no caller rebuilds CSRs: generate an ECDSA
 * P-256 key, send a CSR naming our identity with the projected token, check
 * that the leaf we got back names us and chains to our trust anchors.
 */
import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { identity as api } from '@weft/api';
import { createGrpcClient } from '@weft/common/grpc';
import { InvalidArgumentError } from '@weft/common/errors';
// Node's crypto only (no @peculiar/x509): this runs inside every proxy, which keeps what it loads.
import { parseCertificateBundle, verifyChain } from '@weft/common/x509-chain';
import { ecdsaCsr } from './pkcs10.js';

export interface CertifyClientOptions {
  /** `host:port` of identity (`WEFT_PROXY_IDENTITY_SVC_ADDR`). */
  readonly addr: string;
  /** The name identity's certificate carries (`WEFT_PROXY_IDENTITY_SVC_NAME`). */
  readonly serverName: string;
  readonly trustAnchorsPem: string;
  /** Projected ServiceAccount token, read afresh on each call (the kubelet rotates it). */
  readonly tokenFile: string;
  /** Our DNS identity (`WEFT_PROXY_IDENTITY_LOCAL_NAME`). */
  readonly identity: string;
  readonly timeoutMs?: number;
}

export interface Credentials {
  /** The leaf alone. */
  readonly certPem: string;
  /** Intermediates (issuer first), to send after the leaf. */
  readonly chainPem: string;
  readonly keyPem: string;
  readonly validUntil: Date;
}

export async function certify(opts: CertifyClientOptions): Promise<Credentials> {
  const anchors = parseCertificateBundle(opts.trustAnchorsPem, 'trust anchors');
  const token = await readFile(opts.tokenFile);
  const csr = await ecdsaCsr(opts.identity);
  const client = createGrpcClient(api.Identity, { baseUrl: `https://${opts.addr}`, ca: opts.trustAnchorsPem, serverName: opts.serverName });
  const res = await client.certify(
    { identity: opts.identity, token, certificateSigningRequest: new Uint8Array(csr.der) },
    { timeoutMs: opts.timeoutMs ?? 10_000 },
  );
  const leaf = new X509Certificate(res.leafCertificate);
  const intermediates = res.intermediateCertificates.map((der) => new X509Certificate(der));
  // Do not serve with a certificate peers would refuse: it must be ours, for our key, and chain to our anchors.
  // A DNS SAN equal to our name (OpenSSL's host check on SANs only, no wildcards).
  if (leaf.checkHost(opts.identity, { subject: 'never', wildcards: false }) === undefined) {
    throw new InvalidArgumentError(`identity returned a certificate that does not name ${opts.identity}`);
  }
  if (!leaf.publicKey.export({ type: 'spki', format: 'der' }).equals(csr.publicKeySpki)) {
    throw new InvalidArgumentError('identity returned a certificate for another key');
  }
  verifyChain(leaf, intermediates, anchors);
  return {
    certPem: leaf.toString(),
    chainPem: intermediates.map((c) => c.toString()).join(''),
    keyPem: csr.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    validUntil: res.validUntil ? timestampDate(res.validUntil) : new Date(leaf.validTo),
  };
}
