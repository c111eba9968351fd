/**
 * Bounds on establishing a connection: the TCP connect, then (for TLS) the
 * handshake. A connection that is not up in time is destroyed with a
 * ConnectTimeoutError: nothing was sent over it.
 *
 * Why bounds at all: an address that went away does not refuse. A pod's
 * address is gone a moment after the pod stops, and a client that has not
 * yet seen it leave (the proxy's endpoints, a Service rule not yet updated)
 * sends SYNs to a neighbour entry that stays valid for up to ~30 s after the
 * pod's last packet; nobody answers, and the kernel keeps retrying for about
 * two minutes. The proxy bounds its connects to endpoints at 1 s (the SYN-ACK
 * comes from the peer's kernel within milliseconds whatever its process is
 * doing; proxy/src/errors.ts counts the timeout as not delivered), the
 * control-plane clients theirs at 10 s (grpc.ts: a name to resolve, a
 * Service between).
 *
 * Once up, such a connection has TCP keepalive: idle for keepAliveMs, the
 * kernel probes the peer every second, and ten unanswered probes close the
 * connection with ETIMEDOUT (Node sets the interval and count). A peer whose
 * node went away sends no FIN or RST; without probes an idle pooled
 * connection to it, or one waiting for an answer the peer's kernel already
 * acknowledged the request of, would stay open for good (Linkerd's proxy
 * keeps its connections alive the same way, every 10 s).
 */
import type net from 'node:net';
import tls from 'node:tls';

/** A connection not established within its bound: the peer never answered the TCP connect, or never finished the TLS handshake. */
export class ConnectTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';

  constructor(message: string) {
    super(message);
    this.name = 'ConnectTimeoutError';
  }
}

export interface ConnectBounds {
  /** How long a TCP connect may stay unanswered. */
  readonly connectMs: number;
  /** How long the TLS handshake may take once TCP is up (TLS sockets only). */
  readonly handshakeMs: number;
  /** Idle time before the connection's first keepalive probe (whole seconds: the kernel counts in seconds). */
  readonly keepAliveMs: number;
}

/** Idle time before the kernel's first keepalive probe on a bounded connection (and on the proxy's inbound connections). */
export const KEEPALIVE_MS = 10_000;

/** The proxy's bounds on connections to endpoints. */
export const CONNECT_BOUNDS: ConnectBounds = { connectMs: 1_000, handshakeMs: 10_000, keepAliveMs: KEEPALIVE_MS };

/** Arms the bounds on a socket that is connecting (net.connect, tls.connect); returns it. */
export function boundConnect<S extends net.Socket>(socket: S, target: string, bounds: ConnectBounds = CONNECT_BOUNDS): S {
  const secure = socket instanceof tls.TLSSocket;
  let timer = expireAfter(socket, bounds.connectMs, `weft: no answer from ${target} within ${bounds.connectMs} ms (TCP connect)`);
  const settled = (): void => {
    clearTimeout(timer);
    socket.off('connect', connected);
    socket.off('secureConnect', settled);
    socket.off('close', settled);
  };
  const connected = (): void => {
    clearTimeout(timer);
    if (secure)
      timer = expireAfter(socket, bounds.handshakeMs, `weft: ${target} did not finish the TLS handshake within ${bounds.handshakeMs} ms`);
    else settled();
  };
  socket.on('connect', connected);
  if (secure) socket.on('secureConnect', settled);
  socket.on('close', settled);
  // Applied by Node once the socket is connected.
  socket.setKeepAlive(true, bounds.keepAliveMs);
  return socket;
}

function expireAfter(socket: net.Socket, ms: number, message: string): NodeJS.Timeout {
  const timer = setTimeout(() => socket.destroy(new ConnectTimeoutError(message)), ms);
  // A pending connect keeps the process alive by itself; the bound must not.
  timer.unref();
  return timer;
}
