/**
 * Service discovery as the proxy consumes it: an authority (`host:port`)
 * resolves to a live set of endpoints with their identities and protocol
 * hints. `DestinationDiscovery` reads destination `Get` streams; the
 * in-memory `StaticDiscovery` feeds endpoints directly (tests, demos).
 */
import type { Endpoint } from '../svc.js';
import { UnknownAuthorityError } from '../errors.js';

export interface EndpointSet {
  /** The authority's current endpoints (may be empty: the service exists but nothing is ready). */
  readonly endpoints: readonly Endpoint[];
  /** Called on every change; returns an unsubscribe function. */
  subscribe(listener: (endpoints: readonly Endpoint[]) => void): () => void;
}

export interface Discovery {
  /** Resolves once the first snapshot arrived; rejects with UnknownAuthorityError when no service has this authority. */
  resolve(authority: string): Promise<EndpointSet>;
  close(): void;
}

/** A mutable endpoint set, shared by both discovery implementations. */
export class LiveEndpointSet implements EndpointSet {
  private current: readonly Endpoint[] = [];
  private readonly listeners = new Set<(endpoints: readonly Endpoint[]) => void>();

  /** `onSubscribers` hears the number of subscribers after each change (the discovery behind it closes unheard sets). */
  constructor(private readonly onSubscribers?: (count: number) => void) {}

  get endpoints(): readonly Endpoint[] {
    return this.current;
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  replace(endpoints: readonly Endpoint[]): void {
    this.current = endpoints;
    for (const l of this.listeners) l(endpoints);
  }

  subscribe(listener: (endpoints: readonly Endpoint[]) => void): () => void {
    this.listeners.add(listener);
    this.onSubscribers?.(this.listeners.size);
    return () => {
      if (this.listeners.delete(listener)) this.onSubscribers?.(this.listeners.size);
    };
  }
}

/** Endpoints set by the caller, per authority. */
export class StaticDiscovery implements Discovery {
  private readonly sets = new Map<string, LiveEndpointSet>();

  /** Declares (or updates) a service's endpoints. */
  set(authority: string, endpoints: readonly Endpoint[]): void {
    let s = this.sets.get(authority);
    if (!s) this.sets.set(authority, (s = new LiveEndpointSet()));
    s.replace(endpoints);
  }

  resolve(authority: string): Promise<EndpointSet> {
    const s = this.sets.get(authority);
    return s ? Promise.resolve(s) : Promise.reject(new UnknownAuthorityError(authority));
  }

  close(): void {}
}

/** Helper for in-memory endpoints: an unmeshed or meshed address with defaults. */
export function endpoint(ip: string, port: number, more: Partial<Omit<Endpoint, 'addr'>> = {}): Endpoint {
  return {
    addr: { ip, port },
    identity: more.identity,
    inboundPort: more.inboundPort ?? (more.identity ? 4143 : undefined),
    hint: more.hint ?? (more.identity ? 'h2' : 'unknown'),
    labels: more.labels ?? {},
    weight: more.weight ?? 1,
  };
}
