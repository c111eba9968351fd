/**
 * What the proxy's main thread and its worker threads say to each other
 * (docs/proxy.md, "More than one core"). One `MessagePort` per worker, in
 * order; every value is structured-cloneable (protobuf messages are plain
 * objects).
 */
import type { policy, tap } from '@weft/api';
import type { Endpoint } from '../svc.js';
import type { Profile } from '../discovery/profiles.js';
import type { TapSubscriberView } from '../tap/tap-hub.js';
import type { ProxyConfig } from '../config.js';

/** The worker's `workerData`. */
export interface WorkerData {
  readonly weftProxyWorker: true;
  readonly config: ProxyConfig;
  /** 1, 2, …: the main thread is 0. */
  readonly index: number;
  readonly threads: number;
  /** The ports the main thread bound, which every thread listens on too (SO_REUSEPORT). */
  readonly ports: { readonly outbound: number; readonly inbound: number };
  readonly identity: { readonly name: string; readonly trustAnchors: string };
  readonly drainMs: number;
  readonly headersTimeoutMs: number | undefined;
}

export type ToWorker =
  | { readonly t: 'identity'; readonly cert: string; readonly key: string }
  | { readonly t: 'endpoints'; readonly authority: string; readonly endpoints: readonly Endpoint[] }
  | { readonly t: 'resolveFailed'; readonly authority: string; readonly unknown: boolean; readonly message: string }
  | { readonly t: 'profile'; readonly authority: string; readonly profile: Profile }
  | { readonly t: 'policy'; readonly port: number; readonly server: policy.Server | null }
  | { readonly t: 'tap'; readonly subscribers: readonly TapSubscriberView[] }
  | { readonly t: 'metrics'; readonly id: number }
  | { readonly t: 'shutdown' };

export type FromWorker =
  | { readonly t: 'listening' }
  | { readonly t: 'resolve'; readonly authority: string }
  | { readonly t: 'release'; readonly authority: string }
  | { readonly t: 'watchProfile'; readonly authority: string }
  | { readonly t: 'unwatchProfile'; readonly authority: string }
  | { readonly t: 'metrics'; readonly id: number; readonly metrics: unknown[] }
  | { readonly t: 'tapEvent'; readonly sid: number; readonly event: tap.TapEvent }
  | { readonly t: 'closed' };
