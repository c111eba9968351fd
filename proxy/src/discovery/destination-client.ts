/**
 * Discovery from weft's destination service: one `Get` stream per
 * authority, over mTLS with the pod certificate. The first message decides
 * whether the authority exists (fail fast on unknown ones); later messages
 * add and remove endpoints. A broken stream is re-opened with backoff while
 * the last known endpoints keep serving; the reopened stream's first message
 * (destination's whole state) replaces them.
 */
import type { Client } from '@connectrpc/connect';
import { ConnectError, Code } from '@connectrpc/connect';
import { destination } from '@weft/api';
import type { Logger } from '@weft/common/log';
import { UnavailableError } from '@weft/common/errors';
import type { Endpoint } from '../svc.js';
import { UnknownAuthorityError } from '../errors.js';
import { type Discovery, type EndpointSet, LiveEndpointSet } from './discovery.js';

export type DestinationClient = Client<typeof destination.Destination>;

/**
 * Wait before reopening a broken stream: 250 ms doubling, capped at 2 s, each wait jittered to 50-100 % so a
 * fleet of proxies does not reconnect in step. While the stream is down, endpoint removals are not seen; during
 * a control-plane rollout the first attempts can still reach the pod that is going away, and a 10 s cap (as
 * before) left streams down for up to 16 s after a few refused attempts.
 */
export function reconnectDelayMs(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(2_000, 250 * 2 ** attempt);
  return Math.round(ceiling * (0.5 + random() / 2));
}

/**
 * How long an authority's stream stays open once nothing subscribes to its endpoints (the proxy's cache dropped the
 * balancer of a target it no longer calls). Without it every authority a pod ever called, each pod IP a scraper
 * visited, kept a stream here and a subscription in destination for the life of the pod.
 */
export const IDLE_STREAM_MS = 60_000;

/** How long an unknown authority stays unknown before destination is asked again (a client hammering a wrong name fails fast). */
export const UNKNOWN_AUTHORITY_TTL_MS = 5_000;

export class DestinationDiscovery implements Discovery {
  private readonly sets = new Map<string, Promise<EndpointSet>>();
  /** One controller per open stream (not one signal shared by all, which every stream would add a listener to). */
  private readonly streams = new Set<AbortController>();
  private closed = false;

  constructor(
    /** Returns a client built with the current pod certificate (rebuilt after renewal). */
    private readonly client: () => DestinationClient,
    private readonly contextToken: string,
    private readonly log: Logger,
    /** How long an unknown authority stays unknown before destination is asked again. */
    private readonly unknownTtlMs = UNKNOWN_AUTHORITY_TTL_MS,
    /** How long a stream without subscribers stays open (IDLE_STREAM_MS). */
    private readonly idleMs = IDLE_STREAM_MS,
  ) {}

  resolve(authority: string): Promise<EndpointSet> {
    let p = this.sets.get(authority);
    if (!p) {
      p = this.watch(authority, (done) => this.sets.get(authority) === done && this.sets.delete(authority));
      this.sets.set(authority, p);
      // Unreachable: forget at once, so the next request asks again. Unknown: remember for a few seconds, so a
      // client hammering a wrong name fails fast without opening a destination stream per request.
      p.catch((err: unknown) => {
        if (!(err instanceof UnknownAuthorityError)) this.sets.delete(authority);
        else setTimeout(() => this.sets.get(authority) === p && this.sets.delete(authority), this.unknownTtlMs).unref();
      });
    }
    return p;
  }

  close(): void {
    this.closed = true;
    for (const c of this.streams) c.abort();
    this.streams.clear();
  }

  /** Open streams (one per authority resolved and still subscribed, or idle for less than `idleMs`). */
  get openStreams(): number {
    return this.streams.size;
  }

  /** Watches one authority; `forget(promise)` drops it from the resolved sets once its stream closed for idleness. */
  private watch(authority: string, forget: (p: Promise<EndpointSet>) => void): Promise<EndpointSet> {
    const abort = new AbortController();
    if (this.closed) abort.abort();
    else this.streams.add(abort);
    const stop = (): void => {
      abort.abort();
      this.streams.delete(abort);
    };
    let idle: NodeJS.Timeout | undefined;
    // The idle clock runs while the set has no subscriber, and restarts each time it loses its last one.
    const subscribersChanged = (subscribers: number): void => {
      clearTimeout(idle);
      idle = subscribers > 0 || abort.signal.aborted ? undefined : setTimeout(closeIdle, this.idleMs).unref();
    };
    const set = new LiveEndpointSet(subscribersChanged);
    const closeIdle = (): void => {
      if (set.subscribers > 0) return;
      stop();
      forget(watched);
    };
    const watched = new Promise<EndpointSet>((resolve, reject) => {
      const byAddr = new Map<string, Endpoint>();
      let first = true;
      const run = async (attempt: number): Promise<void> => {
        try {
          const stream = this.client().get({ scheme: 'k8s', path: authority, contextToken: this.contextToken }, { signal: abort.signal });
          // Each stream opens with destination's whole state for the authority (endpoint-translator.ts): on a
          // reopened stream that snapshot replaces what we held, or endpoints removed while the stream was
          // broken (pods replaced during a control-plane rollout) would be kept, and picked, for good.
          let snapshot = true;
          for await (const u of stream) {
            attempt = 0;
            if (snapshot) {
              byAddr.clear();
              snapshot = false;
            }
            if (u.update.case === 'add') {
              for (const a of u.update.value.addrs) {
                const ep = toEndpoint(a, u.update.value.metricLabels);
                if (ep) byAddr.set(`${ep.addr.ip}:${ep.addr.port}`, ep);
              }
            } else if (u.update.case === 'remove') {
              for (const a of u.update.value.addrs) byAddr.delete(`${a.ip}:${a.port}`);
            } else if (u.update.case === 'noEndpoints') {
              byAddr.clear();
              if (first && !u.update.value.exists) throw new UnknownAuthorityError(authority);
            }
            set.replace([...byAddr.values()]);
            if (first) {
              first = false;
              resolve(set);
              // Nobody may subscribe (the request that asked went elsewhere): the idle clock starts now.
              subscribersChanged(set.subscribers);
            }
          }
          throw new Error('destination closed the stream');
        } catch (err) {
          if (abort.signal.aborted) return;
          if (first) {
            stop();
            if (err instanceof UnknownAuthorityError) reject(err);
            else if (err instanceof ConnectError && (err.code === Code.NotFound || err.code === Code.InvalidArgument)) reject(new UnknownAuthorityError(authority));
            else reject(new UnavailableError(`weft: discovery for "${authority}" failed: ${(err as Error).message}`, { cause: err }));
            return;
          }
          const delay = reconnectDelayMs(attempt);
          this.log.warn({ err, authority, retryInMs: delay }, 'destination stream broke; keeping last endpoints');
          setTimeout(() => void run(attempt + 1), delay).unref();
        }
      };
      if (abort.signal.aborted) reject(new UnavailableError(`weft: discovery for "${authority}": discovery closed`));
      else void run(0);
    });
    return watched;
  }
}

function toEndpoint(a: destination.WeightedAddr, setLabels: Record<string, string>): Endpoint | undefined {
  if (!a.addr) return undefined;
  const hint = a.protocolHint?.protocol.case;
  const identity = a.tlsIdentity?.dnsName || undefined;
  return {
    addr: { ip: a.addr.ip, port: a.addr.port },
    identity,
    inboundPort: identity ? a.protocolHint?.inboundPort || 4143 : undefined,
    hint: hint === 'h2' ? 'h2' : hint === 'opaque' ? 'opaque' : 'unknown',
    labels: { ...setLabels, ...a.metricLabels },
    weight: a.weight || 1,
  };
}
