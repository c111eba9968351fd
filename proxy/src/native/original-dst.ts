/**
 * The original destination of a connection that iptables REDIRECTed to the
 * proxy (SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST), through the small native
 * addon in proxy/native. The addon is loaded on first use, so importing this
 * module never fails; `nativeAddonProblem()` lets the proxy refuse to start
 * with a clear message when interception is expected but the addon is absent.
 */
import { createRequire } from 'node:module';
import { isIPv4 } from 'node:net';
import type { Socket } from 'node:net';
import { FailedPreconditionError } from '@weft/common/errors';

export interface OriginalDst {
  readonly address: string;
  readonly port: number;
}

interface OriginalDstAddon {
  getOriginalDst(fd: number, family: 4 | 6): OriginalDst;
}

/** Relative to dist/native/ (and src/native/): proxy/native/build/Release. */
const ADDON_PATH = '../../native/build/Release/weft_original_dst.node';

export class NativeAddonMissingError extends FailedPreconditionError {}

let addon: OriginalDstAddon | undefined;
let loadError: NativeAddonMissingError | undefined;

function load(): OriginalDstAddon {
  if (addon) return addon;
  if (loadError) throw loadError;
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as OriginalDstAddon;
    return addon;
  } catch (err) {
    loadError = new NativeAddonMissingError(
      `the SO_ORIGINAL_DST addon (proxy/native) is not built or cannot load: ${(err as Error).message}. ` +
        'Build it with `npm run build:native -w proxy` (needs a C++ compiler, make, python3 and the Node headers).',
      { cause: err },
    );
    throw loadError;
  }
}

/** Why the addon cannot be used, or undefined when it loads. */
export function nativeAddonProblem(): NativeAddonMissingError | undefined {
  try {
    load();
    return undefined;
  } catch (err) {
    return err as NativeAddonMissingError;
  }
}

interface HandleWithFd {
  fd?: number;
}

/** The kernel fd behind a net.Socket (libuv exposes it on the TCP handle on Unix). */
function socketFd(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: HandleWithFd | null })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
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
  const native = load();
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
