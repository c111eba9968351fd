/**
 * Inbound: terminates mesh mTLS. A ClientHello whose SNI is this pod's
 * identity is a peer proxy: the handshake requires a client certificate
 * from the trust anchors, the client's identity is read from it, and ALPN
 * says what follows (`weft.h2` → HTTP/2 server, `weft.tcp` → 3-byte port
 * header then opaque bytes). Any other TLS (the application's own) is passed
 * through untouched as opaque TCP. A failed handshake closes only that
 * connection.
 */
import tls from 'node:tls';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '@weft/common/log';
import type { ConnMeta, TcpConn } from '../svc.js';
import type { LocalIdentity, TlsCredentials } from '../identity/local-identity.js';
import { ALPN_H2, ALPN_TCP, peerIdentity } from '../transport/tls.js';
import { readOpaqueHeader } from '../transport/opaque-header.js';
import { ALPN_MUX, MuxSession } from '../transport/mux.js';

export interface MeshRoutes {
  http2(socket: Socket, meta: ConnMeta): void;
  opaque(conn: TcpConn): void;
}

export interface TlsTerminateOptions {
  readonly identity: LocalIdentity;
  readonly headerTimeoutMs: number;
  readonly log: Logger;
  /** A failed handshake (garbage, untrusted client) is counted here. */
  readonly onHandshakeError?: (err: Error) => void;
  /** Called with each `weft.mux` session (the inbound drains them with its HTTP server). */
  readonly onMuxSession?: (session: MuxSession) => void;
}

export type TlsRoute = (socket: Socket, meta: ConnMeta, sni: string | undefined) => void;

export function terminateMeshTls(opts: TlsTerminateOptions, mesh: MeshRoutes, passthrough: (conn: TcpConn) => void): TlsRoute {
  const server = tls.createServer({
    // In our order of preference: a client that offers weft.mux and weft.tcp gets weft.mux (an earlier release,
    // which has no weft.mux, answers weft.tcp: the client falls back, transport/mux.ts).
    ALPNProtocols: [ALPN_H2, ALPN_MUX, ALPN_TCP],
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
    allowHalfOpen: true,
  });
  const install = (creds: TlsCredentials): void =>
    server.setSecureContext({ cert: creds.cert, key: creds.key, ca: opts.identity.trustAnchors, minVersion: 'TLSv1.3' });
  const current = opts.identity.current();
  if (current) install(current);
  opts.identity.onChange(install);

  const metaOf = new WeakMap<object, ConnMeta>();
  server.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
    opts.log.debug({ err: err.message }, 'inbound TLS handshake failed');
    opts.onHandshakeError?.(err);
    socket.destroy();
  });
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    // tls.Server wraps the socket we emitted; `_parent` is that raw socket.
    const parent = (socket as unknown as { _parent?: object })._parent;
    const raw = parent ? metaOf.get(parent) : undefined;
    if (!raw) {
      socket.destroy();
      return;
    }
    const meta: ConnMeta = { ...raw, tls: { identity: peerIdentity(socket.getPeerCertificate()) } };
    // A weft.tcp connection, or a weft.mux stream (which carries the same): the port header, then the mesh's route.
    const opaque = (stream: Duplex): void => {
      readOpaqueHeader(stream, opts.headerTimeoutMs).then(
        (port) => mesh.opaque({ socket: stream, meta: { ...meta, origDst: { ip: meta.origDst?.ip ?? '127.0.0.1', port } } }),
        (err: Error) => {
          opts.log.debug({ err: err.message }, 'bad weft.tcp header');
          stream.destroy();
        },
      );
    };
    if (socket.alpnProtocol === ALPN_H2) {
      mesh.http2(socket, meta);
    } else if (socket.alpnProtocol === ALPN_TCP) {
      opaque(socket);
    } else if (socket.alpnProtocol === ALPN_MUX) {
      const session = new MuxSession(socket, 'server', {
        onStream: opaque,
        onError: (err) => opts.log.warn({ err: err.message, client: meta.tls.identity }, 'weft.mux session failed'),
      });
      opts.onMuxSession?.(session);
    } else {
      socket.destroy();
    }
  });

  return (socket, meta, sni) => {
    if (sni !== opts.identity.name) {
      passthrough({ socket, meta });
      return;
    }
    if (!opts.identity.current()) {
      // A peer proxy reached us before we hold a certificate: it must retry, not talk TLS to the application.
      socket.destroy();
      return;
    }
    metaOf.set(socket, meta);
    server.emit('connection', socket);
  };
}
