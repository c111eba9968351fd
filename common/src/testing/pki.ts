/**
 * Test-time PKI built with the real `openssl` binary: trust anchors,
 * intermediates (issuers) and leaves, ECDSA P-256 or RSA. For tests only.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type KeyAlgorithm = 'ec' | 'rsa';

export interface CertAndKey {
  readonly cert: string;
  readonly key: string;
  readonly certPath: string;
  readonly keyPath: string;
}

export interface CertOptions {
  readonly subject: string;
  readonly alg?: KeyAlgorithm;
  readonly days?: number;
  readonly ca?: boolean;
  readonly dns?: readonly string[];
  readonly uri?: readonly string[];
  readonly issuer?: CertAndKey;
}

export class TestPki {
  readonly dir = mkdtempSync(join(tmpdir(), 'weft-pki-'));
  private n = 0;

  /** Runs openssl; throws with its stderr on failure. */
  openssl(args: readonly string[], input?: string): string {
    return execFileSync('openssl', args, { cwd: this.dir, input, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
  }

  key(alg: KeyAlgorithm = 'ec'): string {
    const path = join(this.dir, `key-${++this.n}.pem`);
    const args =
      alg === 'ec'
        ? ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]
        : ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', path];
    this.openssl(args);
    return path;
  }

  /** Issues a certificate (self-signed when no issuer is given). */
  cert(opts: CertOptions): CertAndKey {
    const id = ++this.n;
    const keyPath = this.key(opts.alg ?? 'ec');
    const certPath = join(this.dir, `cert-${id}.pem`);
    const extPath = join(this.dir, `ext-${id}.cnf`);
    const sans = [...(opts.dns ?? []).map((d) => `DNS:${d}`), ...(opts.uri ?? []).map((u) => `URI:${u}`)];
    const ext = opts.ca
      ? ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign', 'subjectKeyIdentifier=hash']
      : ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=serverAuth,clientAuth'];
    if (sans.length) ext.push(`subjectAltName=${sans.join(',')}`);
    writeFileSync(extPath, `[v3]\n${ext.join('\n')}\n`);
    const csrPath = join(this.dir, `csr-${id}.pem`);
    this.openssl(['req', '-new', '-key', keyPath, '-subj', opts.subject, '-out', csrPath]);
    const issuerCert = opts.issuer?.certPath;
    const issuerKey = opts.issuer?.keyPath ?? keyPath;
    const validity = ['-days', String(opts.days ?? 365)];
    this.openssl([
      'x509', '-req', '-in', csrPath, '-out', certPath, '-extfile', extPath, '-extensions', 'v3',
      '-sha256', ...validity,
      ...(issuerCert ? ['-CA', issuerCert, '-CAkey', issuerKey, '-CAcreateserial'] : ['-key', issuerKey]),
    ]);
    return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8'), certPath, keyPath };
  }

  /** Writes text into the PKI directory and returns its path. */
  file(name: string, text: string): string {
    const path = join(this.dir, name);
    writeFileSync(path, text);
    return path;
  }

  /** `openssl verify`; returns its output or throws with it. */
  verify(leafPath: string, anchorsPath: string, untrustedPath?: string, purpose?: 'sslclient' | 'sslserver'): string {
    return this.openssl(['verify', '-CAfile', anchorsPath, ...(untrustedPath ? ['-untrusted', untrustedPath] : []), ...(purpose ? ['-purpose', purpose] : []), leafPath]);
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
