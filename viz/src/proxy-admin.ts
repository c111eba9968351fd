/**
 * What viz reads from one proxy directly: its Prometheus text (`/metrics` on
 * the admin port) and the certificate it presents on its tap port (its
 * workload identity, for `weft identity`).
 */
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { subjectAltNames, toPem } from '@weft/common/x509';
import { UnavailableError } from './errors.js';
import type { TapClientTls } from './tap/aggregator.js';
import type { ProxyTarget } from './targets.js';

export async function fetchProxyMetrics(t: ProxyTarget, timeoutMs = 5000): Promise<string> {
  try {
    const res = await fetch(`http://${t.adminAddr}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
    return text;
  } catch (err) {
    throw new UnavailableError(`cannot read /metrics of ${t.namespace}/${t.name} at ${t.adminAddr}: ${(err as Error).message}`, { cause: err });
  }
}

export interface PresentedCertificate {
  readonly subject: string;
  readonly issuer: string;
  readonly dnsNames: string[];
  readonly uris: string[];
  readonly validFrom: string;
  readonly validTo: string;
  readonly serialNumber: string;
  readonly fingerprint256: string;
  /** Leaf first. */
  readonly chainPem: string;
}

function split(host: string): { host: string; port: number } {
  const i = host.lastIndexOf(':');
  return { host: host.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(host.slice(i + 1)) };
}

/** Completes a TLS handshake with the proxy's tap server, verifying it against the trust anchors, and returns what it presented. */
export function fetchPresentedCertificate(t: ProxyTarget, material: TapClientTls, timeoutMs = 5000): Promise<PresentedCertificate> {
  const { host, port } = split(t.tapAddr);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host, port, servername: t.identity, ca: material.ca, cert: material.cert, key: material.key, ALPNProtocols: ['h2'], minVersion: 'TLSv1.3' });
    const timer = setTimeout(() => socket.destroy(new Error(`no TLS handshake within ${timeoutMs} ms`)), timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const leaf = socket.getPeerX509Certificate();
      const chain: string[] = [];
      let c = socket.getPeerCertificate(true);
      const seen = new Set<string>();
      while (c?.raw && !seen.has(c.fingerprint256)) {
        seen.add(c.fingerprint256);
        chain.push(toPem(c.raw));
        c = c.issuerCertificate;
      }
      socket.end();
      if (!leaf) return reject(new UnavailableError(`${t.namespace}/${t.name} presented no certificate`));
      const sans = subjectAltNames(leaf as X509Certificate);
      resolve({
        subject: leaf.subject.replace(/\n/g, ', '),
        issuer: leaf.issuer.replace(/\n/g, ', '),
        dnsNames: sans.dns,
        uris: sans.uri,
        validFrom: new Date(leaf.validFrom).toISOString(),
        validTo: new Date(leaf.validTo).toISOString(),
        serialNumber: leaf.serialNumber,
        fingerprint256: leaf.fingerprint256,
        chainPem: chain.join(''),
      });
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(new UnavailableError(`TLS handshake with ${t.namespace}/${t.name} at ${t.tapAddr} failed: ${err.message}`, { cause: err }));
    });
  });
}
