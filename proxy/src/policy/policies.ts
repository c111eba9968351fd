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
  close(): void;
}

/** Policies set by the caller per port; other ports get the default. */
export class StaticPolicies implements InboundPolicies {
  private readonly byPort = new Map<number, ServerPolicy>();

  constructor(private fallback: ServerPolicy) {}

  set(port: number, p: ServerPolicy | policy.Server): void {
    this.byPort.set(port, 'authorizations' in p && !('$typeName' in p) ? p : compileServer(p as policy.Server));
  }

  /** Back to the default for this port. */
  clear(port: number): void {
    this.byPort.delete(port);
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
 * One `Inbound.Watch` stream per watched port, reopened with backoff when it
 * breaks. Until a port's first policy arrives, its connections wait for it
 * (at most `firstPolicyWaitMs`, and not at all once the stream failed), so
 * a Server's restrictions are not bypassed at start-up by a laxer default.
 */
export class WatchedPolicies implements InboundPolicies {
  private readonly byPort = new Map<number, ServerPolicy>();
  private readonly first = new Map<number, { promise: Promise<ServerPolicy>; resolve: (p: ServerPolicy) => void }>();
  private readonly abort = new AbortController();

  constructor(
    /** Undefined until the proxy holds a certificate (the policy API is mTLS only). */
    private readonly client: () => PolicyClient | undefined,
    /** `<namespace>:<pod>`. */
    private readonly workload: string,
    ports: readonly number[],
    private readonly fallback: ServerPolicy,
    private readonly log: Logger,
    firstPolicyWaitMs = 5000,
  ) {
    for (const port of new Set(ports)) {
      let resolve!: (p: ServerPolicy) => void;
      const promise = new Promise<ServerPolicy>((r) => (resolve = r));
      this.first.set(port, { promise, resolve });
      setTimeout(() => this.settle(port, this.fallback), firstPolicyWaitMs).unref();
      void this.run(port, 0);
    }
  }

  policyFor(port: number | undefined): ServerPolicy | Promise<ServerPolicy> {
    if (port === undefined) return this.fallback;
    return this.byPort.get(port) ?? this.first.get(port)?.promise ?? this.fallback;
  }

  close(): void {
    this.abort.abort();
    for (const port of this.first.keys()) this.settle(port, this.fallback);
  }

  /** Ends a port's wait for its first policy. */
  private settle(port: number, p: ServerPolicy): void {
    const f = this.first.get(port);
    if (!f) return;
    this.first.delete(port);
    f.resolve(p);
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
        const compiled = compileServer(s);
        this.byPort.set(port, compiled);
        this.settle(port, compiled);
        this.log.debug({ port, server: s.labels.name }, 'inbound policy updated');
      }
    } catch (err) {
      if (this.abort.signal.aborted) return;
      this.settle(port, this.fallback);
      // The last policy received stays in force; before any, the default applies.
      const level = attempt === 0 ? 'warn' : 'debug';
      this.log[level]({ err, port }, 'policy Watch failed; keeping the last policy (or the default)');
    }
    if (this.abort.signal.aborted) return;
    const delay = Math.min(30_000, 500 * 2 ** attempt);
    setTimeout(() => void this.run(port, attempt + 1), delay).unref();
  }
}
