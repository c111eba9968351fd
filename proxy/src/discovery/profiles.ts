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
 * subscription); until a reopened stream's first message, reads see the last profile.
 */
export const PROFILE_IDLE_MS = 60_000;

/**
 * Watches opened on first use and closed when idle: a watch neither read nor subscribed to for a whole sweep period
 * has its source closed. It keeps its last profile, and a layer that still holds it reopens the source on its next
 * read (or, when another watch for the authority was opened meanwhile, reads through that one from then on). Without
 * it every authority a pod ever called kept its source open for the life of the pod.
 */
export abstract class SweptProfiles implements Profiles {
  private readonly watches = new Map<string, { readonly w: LiveProfile; readonly stop: () => void }>();
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(idleMs: number) {
    this.sweeper = setInterval(() => this.sweep(), idleMs).unref();
  }

  /** Opens the source of an authority's profiles, which sets them on `w`; returns what closes it. */
  protected abstract start(authority: string, w: { set(p: Profile): void }): () => void;

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
    for (const { stop } of this.watches.values()) stop();
    this.watches.clear();
  }

  /** Sources open now (one per authority read within the last sweep period or two). */
  get openStreams(): number {
    return this.watches.size;
  }

  /** The open watch of an authority, for sources that deliver from outside `start`. */
  protected opened(authority: string): { set(p: Profile): void } | undefined {
    return this.watches.get(authority)?.w;
  }

  private open(authority: string, w: LiveProfile): void {
    if (this.closed) return;
    // Set before the source starts: a source may deliver at once.
    const entry = { w, stop: () => {} };
    this.watches.set(authority, entry);
    entry.stop = this.start(authority, w);
  }

  private sweep(): void {
    for (const [authority, { w, stop }] of this.watches) {
      if (w.used || w.subscribed) {
        w.used = false;
        continue;
      }
      stop();
      this.watches.delete(authority);
      w.onWake = () => {
        const live = this.watches.get(authority);
        if (live) w.delegate = live.w;
        else this.open(authority, w);
      };
    }
  }
}

/** One `GetProfile` stream per authority over mTLS, reopened with backoff when it breaks, closed when unused. */
export class DestinationProfiles extends SweptProfiles {
  constructor(
    private readonly client: () => DestinationClient,
    private readonly contextToken: string,
    private readonly log: Logger,
    idleMs = PROFILE_IDLE_MS,
  ) {
    super(idleMs);
  }

  protected start(authority: string, w: { set(p: Profile): void }): () => void {
    const abort = new AbortController();
    void this.run(authority, w, abort.signal, 0);
    return () => abort.abort();
  }

  private async run(authority: string, w: { set(p: Profile): void }, signal: AbortSignal, attempt: number): Promise<void> {
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
