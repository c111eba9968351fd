// The shared gRPC server over real TLS: TLS 1.3 is the floor on every
// certificate it ever serves, not only the first one.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { startGrpcServer, type GrpcServer, type TlsMaterial } from './grpc.js';
import { TestPki } from './testing/pki.js';

const pki = new TestPki();
const servers: GrpcServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  pki.dispose();
});

const anchor = pki.cert({ subject: '/CN=root.weft', ca: true });
const SERVER_NAME = 'control.weft.serviceaccount.identity.weft.cluster.local';

function material(subject: string): TlsMaterial {
  const c = pki.cert({ subject, issuer: anchor, dns: [SERVER_NAME] });
  return { ca: anchor.cert, cert: c.cert, key: c.key };
}

async function start(tlsMaterial: TlsMaterial): Promise<GrpcServer> {
  const server = await startGrpcServer({ host: '127.0.0.1', port: 0, tls: tlsMaterial, requireClientCert: false, routes: () => undefined });
  servers.push(server);
  return server;
}

/** Handshakes with the given TLS version range; resolves with the negotiated version and the served certificate's subject. */
function handshake(port: number, versions: { minVersion: tls.SecureVersion; maxVersion: tls.SecureVersion }): Promise<{ protocol: string; subject: string }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: SERVER_NAME, ca: anchor.cert, ALPNProtocols: ['h2'], ...versions }, () => {
      const result = { protocol: socket.getProtocol() ?? '', subject: socket.getPeerX509Certificate()?.subject ?? '' };
      socket.destroy();
      resolve(result);
    });
    socket.on('error', reject);
  });
}

const TLS12_ONLY = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' } as const;
const TLS13 = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } as const;

test('a TLS 1.2-only client is refused, before and after the served certificate rotates', async () => {
  const server = await start(material('/CN=first'));
  await assert.rejects(handshake(server.port, TLS12_ONLY), /protocol version|unsupported protocol|alert/i);
  server.setTls(material('/CN=second'));
  assert.deepEqual(await handshake(server.port, TLS13), { protocol: 'TLSv1.3', subject: 'CN=second' });
  await assert.rejects(handshake(server.port, TLS12_ONLY), /protocol version|unsupported protocol|alert/i);
});
