/**
 * Destination's core, independent of gRPC: the cluster cache fed by a
 * source, and watches on it. Each watch resolves its target now and again
 * whenever an object it read changes, and hands protocol messages to a
 * callback (the gRPC server, the benchmark, tests).
 */
import { equals } from '@bufbuild/protobuf';
import { destination, policy } from '@weft/api';
import { InvalidArgumentError } from '@weft/common/errors';
import type { Logger } from '@weft/common/log';
import { ClusterCache } from './watchers/cluster-cache.js';
import { SubscriptionIndex } from './watchers/subscriptions.js';
import { parseAuthority } from './resolve/authority.js';
import { resolveEndpoints } from './resolve/endpoints.js';
import { resolveProfile } from './resolve/profile.js';
import { resolvePolicy } from './resolve/policy.js';
import { EndpointTranslator } from './translators/endpoint-translator.js';
import type { MeshSettings } from './settings.js';

export type Unwatch = () => void;

export class Discovery {
  readonly cache = new ClusterCache();
  private readonly subs = new SubscriptionIndex(this.cache);

  constructor(
    readonly settings: MeshSettings,
    private readonly log: Logger,
  ) {}

  /** Number of live watches (all kinds). */
  get watches(): number {
    return this.subs.size;
  }

  /** Streams endpoint updates of an authority: a snapshot now, diffs after. Throws InvalidArgumentError for a malformed authority. */
  watchEndpoints(authority: string, onUpdate: (u: destination.Update) => void): Unwatch {
    const target = parseAuthority(authority, this.settings.clusterDomain);
    const translator = new EndpointTranslator(onUpdate);
    const sub = {
      refresh: () => {
        const r = resolveEndpoints(this.cache, target, this.settings);
        translator.update(r.state);
        return r.deps;
      },
    };
    this.subs.add(sub);
    return () => this.subs.remove(sub);
  }

  /** Streams the profile of an authority; a new message replaces the previous one and is sent only on change. */
  watchProfile(authority: string, onProfile: (p: destination.DestinationProfile) => void): Unwatch {
    const target = parseAuthority(authority, this.settings.clusterDomain);
    let last: destination.DestinationProfile | undefined;
    let lastProblem: string | undefined;
    const sub = {
      refresh: () => {
        const r = resolveProfile(this.cache, target, this.settings);
        if (r.state.problem && r.state.problem !== lastProblem) this.log.warn({ authority }, r.state.problem);
        lastProblem = r.state.problem;
        if (!last || !equals(destination.DestinationProfileSchema, last, r.state.profile)) {
          last = r.state.profile;
          onProfile(r.state.profile);
        }
        return r.deps;
      },
    };
    this.subs.add(sub);
    return () => this.subs.remove(sub);
  }

  /** Streams the inbound policy of `<namespace>:<pod>` port `port`; sent only on change. */
  watchPolicy(workload: string, port: number, onServer: (s: policy.Server) => void): Unwatch {
    const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/.exec(workload);
    if (!m) throw new InvalidArgumentError(`workload "${workload}" is not <namespace>:<pod>`);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError(`port ${port} is not 1-65535`);
    const target = { namespace: m[1]!, pod: m[3]!, port };
    let last: policy.Server | undefined;
    const sub = {
      refresh: () => {
        const r = resolvePolicy(this.cache, target, this.settings);
        if (!last || !equals(policy.ServerSchema, last, r.state)) {
          last = r.state;
          onServer(r.state);
        }
        return r.deps;
      },
    };
    this.subs.add(sub);
    return () => this.subs.remove(sub);
  }

  close(): void {
    this.subs.close();
  }
}
