/**
 * Bounds on establishing a connection to an endpoint: the TCP connect, then
 * (for mesh mTLS) the handshake. A connection that is not up in time is
 * destroyed with a ConnectTimeoutError, which says nothing was delivered, so
 * the balance layer sends the request to another endpoint (balance.ts
 * `redispatch`) and failure accrual counts the failure.
 *
 * Why the TCP bound is short: a pod's address that just went away does not
 * refuse. A caller that has not yet seen the endpoint's removal (destination's
 * update is still on its way) sends its SYN to a neighbour entry that stays
 * valid for up to ~30 s after the pod's last packet; nobody answers, and the
 * kernel keeps retrying for about two minutes. Between pods the SYN-ACK comes
 * from the peer's kernel within milliseconds, whatever its process is doing,
 * so one second unanswered means the address is gone.
 */
import type net from 'node:net';
import tls from 'node:tls';
import { ConnectTimeoutError } from '../errors.js';

export interface ConnectBounds {
  /** How long a TCP connect may stay unanswered. */
  readonly connectMs: number;
  /** How long the TLS handshake may take once TCP is up (TLS sockets only). */
  readonly handshakeMs: number;
}

export const CONNECT_BOUNDS: ConnectBounds = { connectMs: 1_000, handshakeMs: 10_000 };

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
  return socket;
}

function expireAfter(socket: net.Socket, ms: number, message: string): NodeJS.Timeout {
  const timer = setTimeout(() => socket.destroy(new ConnectTimeoutError(message)), ms);
  // A pending connect keeps the process alive by itself; the bound must not.
  timer.unref();
  return timer;
}
