/**
 * The CSR a proxy sends to Certify, written with node:crypto alone: a fresh
 * ECDSA P-256 key, the identity as CN and as the only DNS SAN (RFC 2986,
 * extensionRequest of RFC 2985), signed ecdsa-with-SHA256. Every sidecar
 * certifies at start; building the request with @peculiar/x509 kept it and its
 * ASN.1 libraries resident in each proxy (~10 MiB) for this one message.
 * identity checks what it receives with csr.ts.
 */
import { generateKeyPair, sign, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { InvalidArgumentError } from '@weft/common/errors';

const generateEcKeyPair = promisify(generateKeyPair);

// DER tags and the object identifiers the request uses (pre-encoded).
const SEQUENCE = 0x30;
const SET = 0x31;
const INTEGER = 0x02;
const OID = 0x06;
const UTF8_STRING = 0x0c;
const OCTET_STRING = 0x04;
const BIT_STRING = 0x03;
const ATTRIBUTES = 0xa0; // [0] IMPLICIT SET OF Attribute
const DNS_NAME = 0x82; // GeneralName dNSName [2] IMPLICIT IA5String
const OID_COMMON_NAME = '550403'; // 2.5.4.3
const OID_EXTENSION_REQUEST = '2a864886f70d01090e'; // 1.2.840.113549.1.9.14
const OID_SUBJECT_ALT_NAME = '551d11'; // 2.5.29.17
const OID_ECDSA_WITH_SHA256 = '2a8648ce3d040302'; // 1.2.840.10045.4.3.2

/** One DER TLV (definite length; a CSR stays far below 64 KiB). */
function der(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  if (n >= 0x10000) throw new RangeError(`DER value of ${n} bytes is too long for a CSR`);
  return Buffer.concat([Buffer.from([tag, ...length]), body]);
}

const oid = (hex: string): Buffer => der(OID, Buffer.from(hex, 'hex'));

export interface EcdsaCsr {
  /** DER PKCS#10, as Certify takes it. */
  readonly der: Buffer;
  readonly privateKey: KeyObject;
  /** DER SubjectPublicKeyInfo of the key, to check the returned leaf against. */
  readonly publicKeySpki: Buffer;
}

/** A new ECDSA P-256 key and a CSR naming `identity` (a DNS name: printable ASCII). */
export async function ecdsaCsr(identity: string): Promise<EcdsaCsr> {
  if (!/^[\x21-\x7e]{1,253}$/.test(identity)) {
    throw new InvalidArgumentError(`identity "${identity}" is not a DNS name a CSR can carry (printable ASCII, 1-253 characters)`);
  }
  const { privateKey, publicKey } = await generateEcKeyPair('ec', { namedCurve: 'prime256v1' });
  const publicKeySpki = publicKey.export({ type: 'spki', format: 'der' });
  const name = Buffer.from(identity, 'ascii');
  const subject = der(SEQUENCE, der(SET, der(SEQUENCE, oid(OID_COMMON_NAME), der(UTF8_STRING, name))));
  const san = der(SEQUENCE, oid(OID_SUBJECT_ALT_NAME), der(OCTET_STRING, der(SEQUENCE, der(DNS_NAME, name))));
  const attributes = der(ATTRIBUTES, der(SEQUENCE, oid(OID_EXTENSION_REQUEST), der(SET, der(SEQUENCE, san))));
  const info = der(SEQUENCE, der(INTEGER, Buffer.from([0])), subject, publicKeySpki, attributes);
  // node:crypto signs EC keys as a DER Ecdsa-Sig-Value, the form X.509 carries.
  const signature = sign('sha256', info, privateKey);
  const csr = der(SEQUENCE, info, der(SEQUENCE, oid(OID_ECDSA_WITH_SHA256)), der(BIT_STRING, Buffer.from([0]), signature));
  return { der: csr, privateKey, publicKeySpki };
}
