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

export class TapHub {
  private readonly subscribers = new Set<TapSubscriber>();
  private nextStream = 0;

  get active(): boolean {
    return this.subscribers.size > 0;
  }

  subscribe(s: TapSubscriber): () => void {
    this.subscribers.add(s);
    return () => this.subscribers.delete(s);
  }

  /** Subscribers that want this request (and count it against their limit). */
  matching(req: HttpRequest): TapSubscriber[] | undefined {
    let out: TapSubscriber[] | undefined;
    for (const s of this.subscribers) {
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
    return BigInt(++this.nextStream);
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
