/**
 * Mesh mTLS between proxies: TLS 1.3 only, both sides present their pod
 * certificate, the server certificate must carry the DNS identity discovery
 * said to expect. ALPN names what travels inside: `weft.h2` (HTTP/2, HTTP/1
 * requests carried as HTTP/2), `weft.tcp` (opaque TCP behind a 3-byte
 * header naming the application port, see opaque-header.ts) or `weft.mux`
 * (streams that each carry what a `weft.tcp` connection does, mux.ts).
 */
import type { OnReadOpts } from 'node:net';
import tls from 'node:tls';
import type { PeerCertificate } from 'node:tls';
import { ALPN_TCP } from '@weft/api/names';
import type { TlsCredentials } from '../identity/local-identity.js';
import { boundConnect } from '@weft/common/connect-bound';
import { setUserTimeout } from '../native/tcp-user-timeout.js';
import type { ConnectionSettings } from './connections.js';
import type { ALPN_MUX } from './mux.js';

export const ALPN_H2 = 'weft.h2';
export { ALPN_TCP };
export type MeshAlpn = typeof ALPN_H2 | typeof ALPN_TCP | typeof ALPN_MUX;

export function serverSecureContext(creds: TlsCredentials, anchors: string): tls.SecureContext {
  return tls.createSecureContext({ cert: creds.cert, key: creds.key, ca: anchors, minVersion: 'TLSv1.3' });
}

/** The peer's mesh identity: the first DNS SAN of its verified certificate. */
export function peerIdentity(cert: PeerCertificate | undefined): string | undefined {
  return identityOfSans(cert?.subjectaltname);
}

/** The mesh identity in a certificate's subject alternative names (`DNS:a, URI:b` as Node prints them). */
export function identityOfSans(sans: string | undefined): string | undefined {
  if (!sans) return undefined;
  for (const part of sans.split(', ')) if (part.startsWith('DNS:')) return part.slice(4);
  return undefined;
}

export interface MeshConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly identity: string;
  /** What we offer; a list in our order of preference (the server picks by its own). */
  readonly alpn: MeshAlpn | readonly MeshAlpn[];
  readonly creds: TlsCredentials;
  readonly anchors: string;
  /** The connect and handshake bounds, keepalive and the user timeout. */
  readonly connections: ConnectionSettings;
}

/**
 * The client context for mesh connections: built once per certificate (a renewal brings new credentials) and trust
 * anchors, not per connect — parsing the key, certificate and anchors costs more than the TLS 1.3 handshake itself.
 */
const clientContexts = new WeakMap<TlsCredentials, { readonly anchors: string; readonly context: tls.SecureContext }>();

export function clientSecureContext(creds: TlsCredentials, anchors: string): tls.SecureContext {
  const cached = clientContexts.get(creds);
  if (cached && cached.anchors === anchors) return cached.context;
  const context = tls.createSecureContext({ cert: creds.cert, key: creds.key, ca: anchors, minVersion: 'TLSv1.3' });
  clientContexts.set(creds, { anchors, context });
  return context;
}

/**
 * Opens mTLS to a peer proxy's inbound port, verifying it is `identity`. With `onread`, decrypted bytes land in its
 * buffer and go to its callback instead of through the socket's Readable side (net.Socket's `onread`: no Buffer and
 * no stream machinery per read).
 */
export function connectMesh(o: MeshConnectOptions, onread?: OnReadOpts): tls.TLSSocket {
  // TLS makes the TCP socket itself (it applies `onread` only to a socket of its own). Half-open, so an opaque
  // stream's FIN in one direction does not close the other.
  // (`allowHalfOpen` and `onread` are honoured by tls.connect, which hands them to the TLSSocket, but missing from
  // its option type.)
  const options: tls.ConnectionOptions & { readonly allowHalfOpen: boolean; readonly onread: OnReadOpts | undefined } = {
    host: o.host,
    port: o.port,
    allowHalfOpen: true,
    onread,
    // SNI names the identity we want; the peer's inbound uses it to tell mesh TLS from the app's own TLS.
    servername: o.identity,
    secureContext: clientSecureContext(o.creds, o.anchors),
    minVersion: 'TLSv1.3',
    ALPNProtocols: typeof o.alpn === 'string' ? [o.alpn] : [...o.alpn],
    checkServerIdentity: (_host, cert) => tls.checkServerIdentity(o.identity, cert),
  };
  const socket = tls.connect(options);
  // No Nagle: small frames (HTTP/2 HEADERS, WINDOW_UPDATE) must not wait for the ACK of the previous write. Set on
  // the TCP handle before it connects; applied as its socket opens.
  socket.setNoDelay(true);
  // Bytes in flight to a peer whose node went away: ETIMEDOUT after the user timeout, not ~15 minutes
  // (native/tcp-user-timeout.ts).
  const userTimeoutMs = o.connections.userTimeoutMs;
  socket.once('connect', () => setUserTimeout(socket, userTimeoutMs));
  // A peer whose address went away does not refuse: bound the connect and the handshake (@weft/common/connect-bound).
  return boundConnect(socket, `${o.host}:${o.port} (${o.identity})`, o.connections);
}
