/**
 * Destination's core, independent of gRPC: the cluster cache fed by a
 * source, and watches on it. Each watch resolves its target now and again
 * whenever an object it read changes, and hands protocol messages to a
 * callback (the benchmark, tests), or endpoint states to the gRPC server,
 * which translates them when its client is ready (server-stream.ts).
 */
import { equals } from '@bufbuild/protobuf';
import { destination, policy } from '@weft/api';
import { InvalidArgumentError } from '@weft/common/errors';
import type { Logger } from '@weft/common/log';
import { ClusterCache } from './watchers/cluster-cache.js';
import { SubscriptionIndex } from './watchers/subscriptions.js';
import { parseAuthority } from './resolve/authority.js';
import { resolveEndpointState, type EndpointState, type Resolution } from './resolve/endpoints.js';
import { resolveProfile } from './resolve/profile.js';
import { resolvePolicy } from './resolve/policy.js';
import { EndpointTranslator } from './translators/endpoint-translator.js';
import type { MeshSettings } from './settings.js';

export type Unwatch = () => void;

/**
 * One resolution shared by every watcher of the same target (many proxies
 * watch the same service): resolved once per change, fanned out to each
 * watcher's own translator. A late joiner starts from the current state.
 */
class Topic<S> {
  readonly listeners = new Set<(state: S) => void>();
  state!: S;
  readonly sub = {
    refresh: (): readonly string[] => {
      const r = this.resolve();
      this.state = r.state;
      for (const l of this.listeners) l(r.state);
      return r.deps;
    },
  };
  constructor(private readonly resolve: () => Resolution<S>) {}
}

export class WatchHub {
  readonly cache = new ClusterCache();
  private readonly subs: SubscriptionIndex;
  private readonly topics = new Map<string, Topic<unknown>>();

  constructor(
    readonly settings: MeshSettings,
    private readonly log: Logger,
  ) {
    this.subs = new SubscriptionIndex(this.cache, (err) => this.log.error({ err: String((err as Error)?.stack ?? err) }, 'resolving a watch failed; keeping its last state'));
  }

  /** Number of live watches (all kinds). */
  get watches(): number {
    let n = 0;
    for (const t of this.topics.values()) n += t.listeners.size;
    return n;
  }

  /** Number of distinct resolutions kept up to date (watches of the same target share one). */
  get topicCount(): number {
    return this.topics.size;
  }

  /** Streams endpoint updates of an authority: a snapshot now, diffs after. Throws InvalidArgumentError for a malformed authority. */
  watchEndpoints(authority: string, onUpdate: (u: destination.Update) => void): Unwatch {
    const translator = new EndpointTranslator(onUpdate);
    return this.watchEndpointStates(authority, (state) => translator.update(state));
  }

  /** The endpoint states of an authority, now and on every change, for a caller that translates them itself (the gRPC server, when its client is ready). */
  watchEndpointStates(authority: string, onState: (s: EndpointState) => void): Unwatch {
    const target = parseAuthority(authority, this.settings.clusterDomain);
    return this.join(`get|${JSON.stringify(target)}`, () => resolveEndpointState(this.cache, target, this.settings), onState);
  }

  /** Streams the profile of an authority; a new message replaces the previous one and is sent only on change. */
  watchProfile(authority: string, onProfile: (p: destination.DestinationProfile) => void): Unwatch {
    const target = parseAuthority(authority, this.settings.clusterDomain);
    let last: destination.DestinationProfile | undefined;
    let lastProblem: string | undefined;
    const resolve = () => {
      const r = resolveProfile(this.cache, target, this.settings);
      if (r.state.problem && r.state.problem !== lastProblem) this.log.warn({ authority }, r.state.problem);
      lastProblem = r.state.problem;
      return r;
    };
    return this.join(`profile|${JSON.stringify(target)}`, resolve, (state) => {
      if (!last || !equals(destination.DestinationProfileSchema, last, state.profile)) {
        last = state.profile;
        onProfile(state.profile);
      }
    });
  }

  /** Streams the inbound policy of `<namespace>:<pod>` port `port`; sent only on change. */
  watchPolicy(workload: string, port: number, onServer: (s: policy.Server) => void): Unwatch {
    const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/.exec(workload);
    if (!m) throw new InvalidArgumentError(`workload "${workload}" is not <namespace>:<pod>`);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError(`port ${port} is not 1-65535`);
    const target = { namespace: m[1]!, pod: m[3]!, port };
    let last: policy.Server | undefined;
    return this.join(`policy|${workload}|${port}`, () => resolvePolicy(this.cache, target, this.settings), (state) => {
      if (!last || !equals(policy.ServerSchema, last, state)) {
        last = state;
        onServer(state);
      }
    });
  }

  close(): void {
    this.subs.close();
  }

  private join<S>(key: string, resolve: () => Resolution<S>, listener: (state: S) => void): Unwatch {
    let topic = this.topics.get(key) as Topic<S> | undefined;
    if (topic) {
      topic.listeners.add(listener);
      listener(topic.state);
    } else {
      topic = new Topic(resolve);
      topic.listeners.add(listener);
      this.topics.set(key, topic as Topic<unknown>);
      try {
        this.subs.add(topic.sub);
      } catch (err) {
        this.topics.delete(key);
        throw err;
      }
    }
    const t = topic;
    return () => {
      if (!t.listeners.delete(listener) || t.listeners.size > 0) return;
      this.subs.remove(t.sub);
      this.topics.delete(key);
    };
  }
}
