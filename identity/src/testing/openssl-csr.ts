/** CSRs built with the real openssl binary, as a non-weft client would build them. For tests only. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestPki } from '@weft/common/testing/pki';

let n = 0;

export interface CsrOptions {
  /** `ec` (P-256), `ec384`, `rsa1024`, `rsa2048`. */
  readonly key: 'ec' | 'ec384' | 'rsa1024' | 'rsa2048';
  readonly subject: string;
  readonly dns?: readonly string[];
}

export function opensslCsr(pki: TestPki, opts: CsrOptions): { der: Uint8Array; keyPath: string } {
  const id = ++n;
  const keyPath = join(pki.dir, `csr-key-${id}.pem`);
  const csrPath = join(pki.dir, `csr-${id}.der`);
  const keyArgs = {
    ec: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
    ec384: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
    rsa1024: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'],
    rsa2048: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
  }[opts.key];
  pki.openssl(['genpkey', ...keyArgs, '-out', keyPath]);
  const san = opts.dns?.length ? ['-addext', `subjectAltName=${opts.dns.map((d) => `DNS:${d}`).join(',')}`] : [];
  pki.openssl(['req', '-new', '-key', keyPath, '-subj', opts.subject, ...san, '-outform', 'DER', '-out', csrPath]);
  return { der: new Uint8Array(readFileSync(csrPath)), keyPath };
}
