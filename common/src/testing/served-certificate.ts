/** The certificate a TLS server presents, read from a real handshake. For tests only. */
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';

export interface HandshakeOptions {
  readonly host?: string;
  readonly port: number;
  readonly ca: string;
  readonly servername?: string;
  /** Client certificate, for servers that require one. */
  readonly cert?: string;
  readonly key?: string;
  readonly alpn?: readonly string[];
}

/** Connects, verifies the server against `ca` and returns its leaf certificate. */
export function servedCertificate(opts: HandshakeOptions): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: opts.host ?? '127.0.0.1',
      port: opts.port,
      ca: opts.ca,
      ...(opts.servername ? { servername: opts.servername } : {}),
      ...(opts.cert ? { cert: opts.cert, key: opts.key } : {}),
      ...(opts.alpn ? { ALPNProtocols: [...opts.alpn] } : {}),
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error('TLS handshake timed out')));
    socket.once('secureConnect', () => {
      const raw = socket.getPeerCertificate().raw;
      socket.end();
      resolve(new X509Certificate(raw));
    });
    socket.once('error', reject);
  });
}
