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
  /** Read (or subscribed to) since the last idle sweep. */
  used = true;
  /** Called on use while the stream behind this watch is closed for idleness (DestinationProfiles reopens it). */
  onWake: (() => void) | undefined;
  /** The watch opened for the same authority while this one slept: read through from then on. */
  delegate: LiveProfile | undefined;

  current(): Profile | undefined {
    if (this.delegate) return this.delegate.current();
    this.used = true;
    if (this.onWake) this.wake();
    return this.latest;
  }

  set(p: Profile): void {
    this.latest = p;
    for (const l of this.listeners) l(p);
  }

  subscribe(listener: (p: Profile) => void): () => void {
    if (this.delegate) return this.delegate.subscribe(listener);
    this.used = true;
    if (this.onWake) this.wake();
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get subscribed(): boolean {
    return this.listeners.size > 0;
  }

  private wake(): void {
    const wake = this.onWake!;
    this.onWake = undefined;
    wake();
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

/**
 * How often watches are swept: a watch not read for a whole period has its stream closed (destination drops the
 * subscription). It keeps its last profile, and the next read reopens the stream; until the reopened stream's first
 * message, that read and the ones after it see the last profile. Without it every authority a pod ever called kept a
 * stream open for the life of the pod.
 */
export const PROFILE_IDLE_MS = 60_000;

/** One `GetProfile` stream per authority over mTLS, reopened with backoff when it breaks, closed when unused. */
export class DestinationProfiles implements Profiles {
  private readonly watches = new Map<string, { readonly w: LiveProfile; readonly abort: AbortController }>();
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly client: () => DestinationClient,
    private readonly contextToken: string,
    private readonly log: Logger,
    idleMs = PROFILE_IDLE_MS,
  ) {
    this.sweeper = setInterval(() => this.sweep(), idleMs).unref();
  }

  watch(authority: string): ProfileWatch {
    const open = this.watches.get(authority);
    if (open) return open.w;
    const w = new LiveProfile();
    this.open(authority, w);
    return w;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const { abort } of this.watches.values()) abort.abort();
    this.watches.clear();
  }

  /** Streams open now (one per authority read within the last sweep period or two). */
  get openStreams(): number {
    return this.watches.size;
  }

  private open(authority: string, w: LiveProfile): void {
    if (this.closed) return;
    const abort = new AbortController();
    this.watches.set(authority, { w, abort });
    void this.run(authority, w, abort.signal, 0);
  }

  private sweep(): void {
    for (const [authority, { w, abort }] of this.watches) {
      if (w.used || w.subscribed) {
        w.used = false;
        continue;
      }
      abort.abort();
      this.watches.delete(authority);
      // A layer built for this authority still holds `w`: its next read reopens the stream, or, when another watch
      // for the authority was opened meanwhile, reads through that one from then on.
      w.onWake = () => {
        const live = this.watches.get(authority);
        if (live) w.delegate = live.w;
        else this.open(authority, w);
      };
    }
  }

  private async run(authority: string, w: LiveProfile, signal: AbortSignal, attempt: number): Promise<void> {
    try {
      for await (const p of this.client().getProfile({ scheme: 'k8s', path: authority, contextToken: this.contextToken }, { signal })) {
        attempt = 0;
        w.set(p);
      }
    } catch (err) {
      if (signal.aborted) return;
      this.log.debug({ err, authority }, 'GetProfile stream failed');
    }
    if (signal.aborted) return;
    const delay = reconnectDelayMs(attempt);
    setTimeout(() => void this.run(authority, w, signal, attempt + 1), delay).unref();
  }
}
