/**
 * Routing profiles as the proxy consumes them: per logical authority, the
 * latest `DestinationProfile` from destination's `GetProfile` stream (routes,
 * retry budget, traffic split, opaque protocol). The route, retry, timeout
 * and split layers (issue 9) read `ProfileWatch.current()` per request, so a
 * profile change applies to the next request without rebuilding the stack.
 */
import type { destination } from '@weft/api';
import type { Logger } from '@weft/common/log';
import { reconnectDelayMs, type DestinationClient } from './destination-client.js';

export type Profile = destination.DestinationProfile;

export interface ProfileWatch {
  /** The latest profile; undefined until the first arrives, or when the authority has none. */
  current(): Profile | undefined;
  subscribe(listener: (profile: Profile) => void): () => void;
}

export interface Profiles {
  /** Starts (or reuses) the watch for an authority; never fails: without a profile, defaults apply. */
  watch(authority: string): ProfileWatch;
  close(): void;
}

class LiveProfile implements ProfileWatch {
  private latest: Profile | undefined;
  private readonly listeners = new Set<(p: Profile) => void>();

  current(): Profile | undefined {
    return this.latest;
  }

  set(p: Profile): void {
    this.latest = p;
    for (const l of this.listeners) l(p);
  }

  subscribe(listener: (p: Profile) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** Profiles set by the caller (tests, demos). */
export class StaticProfiles implements Profiles {
  private readonly watches = new Map<string, LiveProfile>();

  set(authority: string, profile: Profile): void {
    (this.watch(authority) as LiveProfile).set(profile);
  }

  watch(authority: string): ProfileWatch {
    let w = this.watches.get(authority);
    if (!w) this.watches.set(authority, (w = new LiveProfile()));
    return w;
  }

  close(): void {}
}

/** One `GetProfile` stream per authority over mTLS, reopened with backoff when it breaks. */
export class DestinationProfiles implements Profiles {
  private readonly watches = new Map<string, LiveProfile>();
  private readonly abort = new AbortController();

  constructor(
    private readonly client: () => DestinationClient,
    private readonly contextToken: string,
    private readonly log: Logger,
  ) {}

  watch(authority: string): ProfileWatch {
    let w = this.watches.get(authority);
    if (!w) {
      this.watches.set(authority, (w = new LiveProfile()));
      void this.run(authority, w, 0);
    }
    return w;
  }

  close(): void {
    this.abort.abort();
  }

  private async run(authority: string, w: LiveProfile, attempt: number): Promise<void> {
    try {
      for await (const p of this.client().getProfile({ scheme: 'k8s', path: authority, contextToken: this.contextToken }, { signal: this.abort.signal })) {
        attempt = 0;
        w.set(p);
      }
    } catch (err) {
      if (this.abort.signal.aborted) return;
      this.log.debug({ err, authority }, 'GetProfile stream failed');
    }
    if (this.abort.signal.aborted) return;
    const delay = reconnectDelayMs(attempt);
    setTimeout(() => void this.run(authority, w, attempt + 1), delay).unref();
  }
}
