/**
 * The proxy's native addon (proxy/native): loaded on first use, so importing
 * a module that uses it never fails; `nativeAddonProblem()` says clearly why
 * it cannot be used.
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { FailedPreconditionError } from '@weft/common/errors';

export interface NativeAddon {
  getOriginalDst(fd: number, family: 4 | 6): { readonly address: string; readonly port: number };
  releaseExecutablePages(): { readonly mappings: number; readonly bytes: number; readonly residentBytes: number };
  setTcpUserTimeout(fd: number, ms: number): void;
  tcpTimers(fd: number): TcpTimers;
  /** A listening socket with SO_REUSEPORT for a numeric address, as its fd (proxy/native/reuse_port.cc). */
  listenReusePort(host: string, port: number, backlog: number): number;
}

/** What a TCP socket has: its user timeout (0: the kernel's retransmissions decide) and its keepalive settings. */
export interface TcpTimers {
  readonly userTimeoutMs: number;
  /** 1 when SO_KEEPALIVE is on. */
  readonly keepAlive: number;
  readonly keepIdleS: number;
  readonly keepIntvlS: number;
  readonly keepCnt: number;
}

/** Relative to dist/native/ (and src/native/): proxy/native/build/Release. */
const ADDON_PATH = '../../native/build/Release/weft_original_dst.node';

export class NativeAddonMissingError extends FailedPreconditionError {}

let addon: NativeAddon | undefined;
let loadError: NativeAddonMissingError | undefined;

export function loadNativeAddon(): NativeAddon {
  if (addon) return addon;
  if (loadError) throw loadError;
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as NativeAddon;
    return addon;
  } catch (err) {
    loadError = new NativeAddonMissingError(
      `the proxy's native addon (proxy/native: SO_ORIGINAL_DST) is not built or cannot load: ${(err as Error).message}. ` +
        'Build it with `npm run build:native -w proxy` (needs a C++ compiler, make, python3 and the Node headers).',
      { cause: err },
    );
    throw loadError;
  }
}

interface HandleWithFd {
  fd?: number;
}

/** The kernel fd behind a socket (libuv exposes it on the TCP handle on Unix, and so does a TLS client's handle once connected). */
export function socketFd(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: HandleWithFd | null })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/** Why the addon cannot be used, or undefined when it loads. */
export function nativeAddonProblem(): NativeAddonMissingError | undefined {
  try {
    loadNativeAddon();
    return undefined;
  } catch (err) {
    return err as NativeAddonMissingError;
  }
}
