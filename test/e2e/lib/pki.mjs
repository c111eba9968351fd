// The cluster's PKI, made with the real openssl binary as kubeadm would:
// one cluster CA that signs the API server's serving certificate and the
// client certificates of the admin (system:masters), the controller-manager,
// the scheduler, kube-proxy and the node agent (system:node:<name>), plus the
// RSA key pair that signs and verifies ServiceAccount tokens.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function openssl(dir, args) {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
}

export class ClusterPki {
  constructor(dir) {
    this.dir = dir;
    this.caCert = join(dir, 'ca.crt');
    this.caKey = join(dir, 'ca.key');
    this.saKey = join(dir, 'sa.key');
    this.saPub = join(dir, 'sa.pub');
    this.serial = 1;
  }

  init() {
    openssl(this.dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', this.caKey]);
    openssl(this.dir, ['req', '-x509', '-new', '-key', this.caKey, '-subj', '/CN=weft-e2e-cluster-ca', '-days', '3',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', this.caCert]);
    openssl(this.dir, ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', this.saKey]);
    openssl(this.dir, ['pkey', '-in', this.saKey, '-pubout', '-out', this.saPub]);
    return this;
  }

  /**
   * Issues a leaf signed by the cluster CA. `sans` are openssl SAN entries
   * (`DNS:x`, `IP:y`); `usage` is serverAuth, clientAuth or both.
   */
  issue(name, subject, { sans = [], usage = 'clientAuth' } = {}) {
    const key = join(this.dir, `${name}.key`);
    const csr = join(this.dir, `${name}.csr`);
    const crt = join(this.dir, `${name}.crt`);
    const ext = join(this.dir, `${name}.ext`);
    const lines = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', `extendedKeyUsage=${usage}`];
    if (sans.length) lines.push(`subjectAltName=${sans.join(',')}`);
    writeFileSync(ext, `[v3]\n${lines.join('\n')}\n`);
    openssl(this.dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
    openssl(this.dir, ['req', '-new', '-key', key, '-subj', subject, '-out', csr]);
    openssl(this.dir, ['x509', '-req', '-in', csr, '-CA', this.caCert, '-CAkey', this.caKey, '-set_serial', String(++this.serial),
      '-days', '2', '-sha256', '-extfile', ext, '-extensions', 'v3', '-out', crt]);
    return { cert: crt, key };
  }

  caPem() {
    return readFileSync(this.caCert, 'utf8');
  }
}
