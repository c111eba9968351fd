/**
 * Live request events for `tap.Observe` subscribers. Each subscriber has a
 * match (method, path prefix, authority) and a request limit; the tap layer
 * asks `hub.matching(req)` once per request and does nothing more when no
 * one listens, so tap costs nothing while idle.
 */
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { DurationSchema, type Duration } from '@bufbuild/protobuf/wkt';
import { tap } from '@weft/api';
import type { HttpRequest } from '../svc.js';

export interface TapSubscriber {
  readonly match: { method: string; pathPrefix: string; authority: string };
  /** Requests still to observe; the subscription ends at 0. */
  remaining: number;
  push(event: tap.TapEvent): void;
}

/** A subscriber as a worker thread mirrors it (proxy/src/workers): its number in the main thread's hub and its match. */
export interface TapSubscriberView {
  readonly sid: number;
  readonly match: TapSubscriber['match'];
  readonly remaining: number;
}

export class TapHub {
  private readonly subscribers = new Map<TapSubscriber, number>();
  private readonly bySid = new Map<number, TapSubscriber>();
  private lastSid = 0;
  private nextStream: number;
  private readonly watchers = new Set<() => void>();

  /**
   * `firstStream`/`streamStep`: the stream ids this hub hands out (`firstStream + 1`, then every `streamStep`), so
   * the hubs of a proxy's worker threads never give two requests the same id.
   */
  constructor(
    firstStream = 0,
    private readonly streamStep = 1,
  ) {
    this.nextStream = firstStream + 1 - streamStep;
  }

  get active(): boolean {
    return this.subscribers.size > 0;
  }

  subscribe(s: TapSubscriber): () => void {
    const sid = ++this.lastSid;
    this.subscribers.set(s, sid);
    this.bySid.set(sid, s);
    this.changed();
    return () => {
      if (!this.subscribers.delete(s)) return;
      this.bySid.delete(sid);
      this.changed();
    };
  }

  /** Subscribers that want this request (and count it against their limit). */
  matching(req: HttpRequest): TapSubscriber[] | undefined {
    let out: TapSubscriber[] | undefined;
    for (const s of this.subscribers.keys()) {
      if (s.remaining <= 0) continue;
      const m = s.match;
      if (m.method && m.method !== req.method) continue;
      if (m.pathPrefix && !req.path.startsWith(m.pathPrefix)) continue;
      if (m.authority && m.authority !== req.authority) continue;
      s.remaining--;
      (out ??= []).push(s);
    }
    return out;
  }

  streamId(): bigint {
    return BigInt((this.nextStream += this.streamStep));
  }

  /** The subscribers now, for worker threads to mirror; `watch` hears every change of the set. */
  views(): TapSubscriberView[] {
    return [...this.subscribers].map(([s, sid]) => ({ sid, match: s.match, remaining: s.remaining }));
  }

  watch(listener: () => void): () => void {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  /** An event a worker thread observed for subscriber `sid` (dropped when that subscriber has gone). */
  deliver(sid: number, event: tap.TapEvent): void {
    this.bySid.get(sid)?.push(event);
  }

  /**
   * In a worker thread: replaces the subscribers with mirrors of the main thread's, each pushing to `forward`.
   * A mirror counts its own limit, so all threads together may observe more requests than a subscriber's limit;
   * the tap stream ends after its limit of responses and the extra events are dropped.
   */
  mirror(views: readonly TapSubscriberView[], forward: (sid: number, event: tap.TapEvent) => void): void {
    this.subscribers.clear();
    this.bySid.clear();
    for (const v of views) {
      const s: TapSubscriber = { match: v.match, remaining: v.remaining, push: (e) => forward(v.sid, e) };
      this.subscribers.set(s, v.sid);
      this.bySid.set(v.sid, s);
    }
  }

  private changed(): void {
    for (const w of this.watchers) w();
  }
}

export type TapEventBase = MessageInitShape<typeof tap.TapEventSchema>;

export function tapEvent(base: TapEventBase, event: tap.TapEvent['event']): tap.TapEvent {
  const e = create(tap.TapEventSchema, base);
  e.event = event;
  return e;
}

/** A protobuf Duration from fractional milliseconds (performance.now() deltas), keeping sub-millisecond precision. */
export function durationFromMs(ms: number): Duration {
  const whole = Math.max(0, ms);
  const seconds = Math.floor(whole / 1000);
  return create(DurationSchema, { seconds: BigInt(seconds), nanos: Math.min(999_999_999, Math.round((whole - seconds * 1000) * 1e6)) });
}
