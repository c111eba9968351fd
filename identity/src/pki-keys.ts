/**
 * The key algorithms weft's identity accepts, and the bridge from PEM keys
 * (as cert-manager writes them: PKCS#1, SEC1 or PKCS#8) to WebCrypto keys that
 * @peculiar/x509 signs with.
 */
// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata polyfill.
import 'reflect-metadata';
import { createPrivateKey, createPublicKey, webcrypto, type KeyObject } from 'node:crypto';
import * as px509 from '@peculiar/x509';
import { toPem } from '@weft/common/x509';

px509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof px509.cryptoProvider.set>[0]);

/** ECDSA P-256 (the mesh default) or RSA with a modulus of at least 2048 bits. */
export type KeyType = 'ecdsa-p256' | 'rsa';

export const MIN_RSA_BITS = 2048;

/** Names the key type, or explains why weft does not accept the key. */
export function classifyKey(key: KeyObject): { type: KeyType } | { problem: string } {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    if (details.namedCurve === 'prime256v1') return { type: 'ecdsa-p256' };
    return { problem: `ECDSA curve ${details.namedCurve ?? 'unknown'} is not supported (use P-256)` };
  }
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (bits >= MIN_RSA_BITS) return { type: 'rsa' };
    return { problem: `RSA key of ${bits} bits is too short (at least ${MIN_RSA_BITS})` };
  }
  return { problem: `key type ${key.asymmetricKeyType ?? 'unknown'} is not supported (use ECDSA P-256 or RSA >= ${MIN_RSA_BITS})` };
}

/** Classifies a DER SubjectPublicKeyInfo. */
export function classifyPublicKey(spki: ArrayBuffer | Uint8Array): { type: KeyType } | { problem: string } {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(spki instanceof Uint8Array ? spki : new Uint8Array(spki)), format: 'der', type: 'spki' });
  } catch (err) {
    return { problem: `public key cannot be parsed: ${(err as Error).message}` };
  }
  return classifyKey(key);
}

export function webCryptoAlgorithm(type: KeyType): webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams {
  return type === 'ecdsa-p256' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
}

/** The signature algorithm a certificate signed by a key of this type carries. */
export function signingAlgorithm(type: KeyType): webcrypto.Algorithm | webcrypto.EcdsaParams {
  return type === 'ecdsa-p256' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' };
}

export interface SigningKey {
  readonly type: KeyType;
  readonly keyObject: KeyObject;
  readonly cryptoKey: webcrypto.CryptoKey;
}

/** Parses a PEM private key of an accepted type; throws a plain Error naming the problem. */
export async function importSigningKey(pem: string): Promise<SigningKey> {
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey(pem);
  } catch (err) {
    throw new Error(`private key cannot be parsed: ${(err as Error).message}`);
  }
  const kind = classifyKey(keyObject);
  if ('problem' in kind) throw new Error(kind.problem);
  const pkcs8 = keyObject.export({ type: 'pkcs8', format: 'der' });
  const cryptoKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, webCryptoAlgorithm(kind.type), false, ['sign']);
  return { type: kind.type, keyObject, cryptoKey };
}

/** A fresh ECDSA P-256 key pair (extractable, so its private half can be written as PEM). */
export async function generateEcdsaKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

export async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  return toPem(new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', key)), 'PRIVATE KEY');
}

export { px509 };
