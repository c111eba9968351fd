/**
 * Where inbound policies come from: per application port, the latest
 * `Server` from destination's policy `Watch` (`WatchedPolicies`), or set by
 * code (`StaticPolicies`, tests and demos). Ports the proxy does not watch,
 * and watched ports before the policy service answered or while it is
 * unreachable, get the proxy's default policy
 * (WEFT_PROXY_DEFAULT_INBOUND_POLICY): the proxy keeps serving what the
 * default allows instead of failing requests. A new message replaces the
 * previous policy for new connections and requests; established work is
 * not touched.
 */
import { policy } from '@weft/api';
import type { Client as GrpcClient } from '@connectrpc/connect';
import type { Logger } from '@weft/common/log';
import { compileServer, type ServerPolicy } from './server-policy.js';

export interface InboundPolicies {
  /** The policy for an application port; a promise only while a watched port awaits its first policy. */
  policyFor(port: number | undefined): ServerPolicy | Promise<ServerPolicy>;
  /**
   * The proxy's worker threads' copy (proxy/src/workers): `listener` hears each port's current `Server` now and
   * every change after; `null` means the default applies (a watched port's wait ended without a policy, or the
   * port's policy was cleared). Returns the unsubscribe function.
   */
  feed(listener: PolicyFeedListener): () => void;
  close(): void;
}

export type PolicyFeedListener = (port: number, server: policy.Server | null) => void;

/** The feed's listeners and each port's latest `Server` (or `null`), shared by the implementations. */
export class PolicyFeed {
  private readonly latest = new Map<number, policy.Server | null>();
  private readonly listeners = new Set<PolicyFeedListener>();

  set(port: number, server: policy.Server | null): void {
    this.latest.set(port, server);
    for (const l of this.listeners) l(port, server);
  }

  subscribe(listener: PolicyFeedListener): () => void {
    for (const [port, server] of this.latest) listener(port, server);
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** Policies set by the caller per port; other ports get the default. */
export class StaticPolicies implements InboundPolicies {
  private readonly byPort = new Map<number, ServerPolicy>();
  private readonly feeds = new PolicyFeed();
  /** Ports set with a compiled policy, which cannot reach worker threads (they receive `Server` messages). */
  private readonly compiledOnly = new Set<number>();

  constructor(private fallback: ServerPolicy) {}

  set(port: number, p: ServerPolicy | policy.Server): void {
    if ('$typeName' in p) {
      this.byPort.set(port, compileServer(p));
      this.compiledOnly.delete(port);
      this.feeds.set(port, p);
    } else {
      this.byPort.set(port, p);
      this.compiledOnly.add(port);
    }
  }

  /** Back to the default for this port. */
  clear(port: number): void {
    this.byPort.delete(port);
    this.compiledOnly.delete(port);
    this.feeds.set(port, null);
  }

  feed(listener: PolicyFeedListener): () => void {
    if (this.compiledOnly.size > 0) {
      throw new Error(`StaticPolicies: port(s) ${[...this.compiledOnly].join(', ')} hold a compiled ServerPolicy, which worker threads cannot receive; set a policy.Server`);
    }
    return this.feeds.subscribe(listener);
  }

  setDefault(p: ServerPolicy): void {
    this.fallback = p;
  }

  policyFor(port: number | undefined): ServerPolicy {
    return (port !== undefined ? this.byPort.get(port) : undefined) ?? this.fallback;
  }

  close(): void {}
}

export type PolicyClient = GrpcClient<typeof policy.Inbound>;

/**
 * Each port's latest policy, the wait of watched ports for their first one, and the feed: what every source of
 * `Server` messages shares (destination's streams here, the main thread's messages in a worker thread). Until a
 * watched port's first policy arrives, its connections wait for it (at most `firstPolicyWaitMs`, and not at all once
 * the source gave up), so a Server's restrictions are not bypassed at start-up by a laxer default.
 */
export abstract class PortPolicies implements InboundPolicies {
  private readonly byPort = new Map<number, ServerPolicy>();
  private readonly first = new Map<number, { promise: Promise<ServerPolicy>; resolve: (p: ServerPolicy) => void }>();
  private readonly feeds = new PolicyFeed();

  constructor(
    ports: readonly number[],
    private readonly fallback: ServerPolicy,
    firstPolicyWaitMs: number,
  ) {
    for (const port of new Set(ports)) {
      let resolve!: (p: ServerPolicy) => void;
      const promise = new Promise<ServerPolicy>((r) => (resolve = r));
      this.first.set(port, { promise, resolve });
      setTimeout(() => this.giveUp(port), firstPolicyWaitMs).unref();
    }
  }

  policyFor(port: number | undefined): ServerPolicy | Promise<ServerPolicy> {
    if (port === undefined) return this.fallback;
    return this.byPort.get(port) ?? this.first.get(port)?.promise ?? this.fallback;
  }

  feed(listener: PolicyFeedListener): () => void {
    return this.feeds.subscribe(listener);
  }

  close(): void {
    for (const port of [...this.first.keys()]) this.giveUp(port);
  }

  /** A port's new `Server`; `null` puts the port back on the default. */
  protected set(port: number, server: policy.Server | null): void {
    if (server) this.byPort.set(port, compileServer(server));
    else this.byPort.delete(port);
    this.first.get(port)?.resolve(this.byPort.get(port) ?? this.fallback);
    this.first.delete(port);
    this.feeds.set(port, server);
  }

  /** Ends a port's wait for its first policy without one: the default applies until a policy arrives. */
  protected giveUp(port: number): void {
    const f = this.first.get(port);
    if (!f) return;
    this.first.delete(port);
    f.resolve(this.fallback);
    this.feeds.set(port, null);
  }
}

/** How long a watched port waits for its first policy before the default applies. */
export const FIRST_POLICY_WAIT_MS = 5000;

/** One `Inbound.Watch` stream per watched port, reopened with backoff when it breaks. */
export class WatchedPolicies extends PortPolicies {
  private readonly abort = new AbortController();

  constructor(
    /** Undefined until the proxy holds a certificate (the policy API is mTLS only). */
    private readonly client: () => PolicyClient | undefined,
    /** `<namespace>:<pod>`. */
    private readonly workload: string,
    ports: readonly number[],
    fallback: ServerPolicy,
    private readonly log: Logger,
    firstPolicyWaitMs = FIRST_POLICY_WAIT_MS,
  ) {
    super(ports, fallback, firstPolicyWaitMs);
    for (const port of new Set(ports)) void this.run(port, 0);
  }

  override close(): void {
    this.abort.abort();
    super.close();
  }

  private async run(port: number, attempt: number): Promise<void> {
    const client = this.client();
    if (!client) {
      // No certificate yet: not a failure of the policy service, so keep waiting for the first policy.
      setTimeout(() => void this.run(port, attempt), 200).unref();
      return;
    }
    try {
      for await (const s of client.watch({ workload: this.workload, port }, { signal: this.abort.signal })) {
        attempt = 0;
        this.set(port, s);
        this.log.debug({ port, server: s.labels.name }, 'inbound policy updated');
      }
    } catch (err) {
      if (this.abort.signal.aborted) return;
      this.giveUp(port);
      // The last policy received stays in force; before any, the default applies.
      const level = attempt === 0 ? 'warn' : 'debug';
      this.log[level]({ err, port }, 'policy Watch failed; keeping the last policy (or the default)');
    }
    if (this.abort.signal.aborted) return;
    const delay = Math.min(30_000, 500 * 2 ** attempt);
    setTimeout(() => void this.run(port, attempt + 1), delay).unref();
  }
}
