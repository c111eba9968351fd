/**
 * Once the proxy is ready, give back the pages of the `node` executable that
 * only start-up needed (docs/proxy.md, "Memory and start-up"): the dynamic
 * linker's symbol and relocation tables, V8's start-up snapshot in the
 * read-only data, code that only ran to start. The addon unmaps every page of
 * the executable's read-only file mappings; the pages the proxy uses again
 * fault back in from the page cache on their next use (a minor fault each),
 * the others stay out of the proxy's RSS.
 */
import type { Logger } from '@weft/common/log';
import type { LocalIdentity } from '../identity/local-identity.js';
import { loadNativeAddon } from './addon.js';

export interface ReleasedPages {
  /** Mappings advised. */
  readonly mappings: number;
  /** Their size. */
  readonly bytes: number;
  /** How much of them was resident just before. */
  readonly residentBytes: number;
}

/** What was resident of the released pages, in MiB to one decimal (as the logs give it). */
export function releasedMiB(released: ReleasedPages): number {
  return Math.round((released.residentBytes / 2 ** 20) * 10) / 10;
}

/** Unmaps the executable's read-only file pages now. Throws NativeAddonMissingError without the addon. */
export function releaseStartupPages(): ReleasedPages {
  return loadNativeAddon().releaseExecutablePages();
}

/** Start-up is over this long after the proxy first holds its certificate (the first watches are open by then). */
export const RELEASE_AFTER_READY_MS = 5_000;

/**
 * Releases the start-up pages once, `delayMs` after `identity` first holds a certificate (the proxy is ready then).
 * A proxy that cannot (no addon, not Linux) says so and runs as before.
 */
export function releaseStartupPagesWhenReady(identity: Pick<LocalIdentity, 'current' | 'onChange'>, log: Logger, delayMs = RELEASE_AFTER_READY_MS): void {
  let scheduled = false;
  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    setTimeout(() => {
      try {
        const released = releaseStartupPages();
        log.info(
          { mappings: released.mappings, residentMiB: releasedMiB(released) },
          'start-up pages of the executable released',
        );
      } catch (err) {
        log.warn({ err }, 'start-up pages of the executable not released (the proxy keeps them resident)');
      }
    }, delayMs).unref();
  };
  if (identity.current()) schedule();
  else identity.onChange(schedule);
}
