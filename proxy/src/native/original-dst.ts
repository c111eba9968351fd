/**
 * The original destination of a connection that iptables REDIRECTed to the
 * proxy (SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST), through the proxy's native
 * addon (./addon.ts). `nativeAddonProblem()` lets the proxy refuse to start
 * with a clear message when interception is expected but the addon is absent.
 */
import { isIPv4 } from 'node:net';
import type { Socket } from 'node:net';
import { loadNativeAddon, socketFd } from './addon.js';

export { NativeAddonMissingError, nativeAddonProblem } from './addon.js';

export interface OriginalDst {
  readonly address: string;
  readonly port: number;
}

/**
 * Conntrack is per address family of the *connection*: an IPv4 client on a
 * dual-stack `::` listener has a v4-mapped local address and an IPv4 NAT entry.
 */
function connectionFamily(localAddress: string | undefined): 4 | 6 | undefined {
  if (!localAddress) return undefined;
  if (isIPv4(localAddress)) return 4;
  if (localAddress.startsWith('::ffff:') && isIPv4(localAddress.slice(7))) return 4;
  return 6;
}

/**
 * Where the peer meant to connect before REDIRECT rewrote it. For a connection
 * that was not redirected but is tracked, the kernel reports the address it
 * was sent to (our own listener). Undefined when the socket has no fd (closed,
 * not TCP) or the kernel holds no NAT entry for it (conntrack not active).
 * Throws NativeAddonMissingError when the addon is not built.
 */
export function originalDst(socket: Socket): OriginalDst | undefined {
  const native = loadNativeAddon();
  const fd = socketFd(socket);
  const family = connectionFamily(socket.localAddress);
  if (fd === undefined || family === undefined) return undefined;
  try {
    return native.getOriginalDst(fd, family);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENOENT: no conntrack entry; ENOPROTOOPT: nf_conntrack not loaded for this family.
    if (code === 'ENOENT' || code === 'ENOPROTOOPT') return undefined;
    throw err;
  }
}
