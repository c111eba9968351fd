/**
 * TCP_USER_TIMEOUT on connections between pods (the mesh's mTLS connections, both ends), through the proxy's native
 * addon (./addon.ts): bytes sent and not acknowledged for USER_TIMEOUT_MS close the connection with ETIMEDOUT.
 *
 * TCP keepalive (@weft/common/connect-bound KEEPALIVE_MS) probes a connection only while nothing is in flight. A
 * peer whose node went away just as a request or a response was being written leaves bytes unacknowledged, and the
 * kernel retransmits them for ~15 minutes (tcp_retries2) before it gives up; with the user timeout it gives up when
 * an idle connection's probes would have (10 s idle, then ten probes a second apart).
 */
import type { Socket } from 'node:net';
import { loadNativeAddon, nativeAddonProblem, socketFd, type TcpTimers } from './addon.js';

export const USER_TIMEOUT_MS = 20_000;

/**
 * Sets the user timeout on a connected socket. False when it could not: the addon is not built (a proxy that
 * intercepts says so at start; docs/proxy.md), or the socket has closed.
 */
export function setUserTimeout(socket: Socket, ms = USER_TIMEOUT_MS): boolean {
  if (nativeAddonProblem() !== undefined) return false;
  const fd = socketFd(socket);
  if (fd === undefined) return false;
  try {
    loadNativeAddon().setTcpUserTimeout(fd, ms);
    return true;
  } catch {
    // EBADF: closed in between; nothing left to bound.
    return false;
  }
}

/** What the kernel holds for a connected socket (for tests and diagnostics); undefined once it has closed. Throws when the addon is not built. */
export function tcpTimers(socket: Socket): TcpTimers | undefined {
  const fd = socketFd(socket);
  return fd === undefined ? undefined : loadNativeAddon().tcpTimers(fd);
}
