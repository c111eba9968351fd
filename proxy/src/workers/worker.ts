/**
 * A proxy worker thread: the same outbound and inbound stacks as the main
 * thread, on listeners of its own for the same ports (SO_REUSEPORT), with
 * the control plane as the main thread sees it. Identity, discovery, profiles
 * and policies arrive over the thread's port (./messages.ts); the worker holds
 * no certificate request, no destination stream and no admin or tap server of
 * its own. Its metrics are read by the main thread's `/metrics`, and tap
 * events go to the main thread's tap subscribers.
 */
import { parentPort } from 'node:worker_threads';
import { UnavailableError } from '@weft/common/errors';
import { createLogger } from '@weft/common/log';
import { UnknownAuthorityError } from '../errors.js';
import type { Endpoint } from '../svc.js';
import { StaticIdentity } from '../identity/local-identity.js';
import { LiveEndpointSet, type Discovery, type EndpointSet } from '../discovery/discovery.js';
import { PROFILE_IDLE_MS, SweptProfiles, type Profile } from '../discovery/profiles.js';
import { IDLE_STREAM_MS, UNKNOWN_AUTHORITY_TTL_MS } from '../discovery/destination-client.js';
import { FIRST_POLICY_WAIT_MS, PortPolicies } from '../policy/policies.js';
import { defaultPolicy, type ServerPolicy } from '../policy/server-policy.js';
import { TapHub } from '../tap/tap-hub.js';
import { installAsyncBind } from '../async-bind.js';
import { watchIdleMemory } from '../idle-memory.js';
import { startProxy, type Proxy } from '../proxy.js';
import type { FromWorker, ToWorker, WorkerData } from './messages.js';
import type { policy } from '@weft/api';

/** Runs in the worker thread (main.ts starts it when `workerData.weftProxyWorker` is set). */
export async function runProxyWorker(data: WorkerData): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('runProxyWorker: not in a worker thread');
  installAsyncBind();
  const c = data.config;
  const log = createLogger('proxy', c.logLevel, 'stdout', c.logFormat).child({ worker: data.index });
  const post = (m: FromWorker): void => port.postMessage(m);

  const identity = new StaticIdentity(data.identity.name, data.identity.trustAnchors);
  const discovery = new FedDiscovery(post);
  const profiles = new FedProfiles(post);
  const policies = new FedPolicies(c.inboundPorts, defaultPolicy(c.defaultInboundPolicy, data.identity.name));
  const tap = new TapHub(data.index, data.threads);
  // Set once the stacks listen; messages may come before.
  const running: { proxy?: Proxy; shutdownAsked?: boolean } = {};

  port.on('message', (m: ToWorker) => {
    switch (m.t) {
      case 'identity':
        identity.set({ cert: m.cert, key: m.key });
        break;
      case 'endpoints':
        discovery.update(m.authority, m.endpoints);
        break;
      case 'resolveFailed':
        discovery.fail(m.authority, m.unknown ? new UnknownAuthorityError(m.authority) : new UnavailableError(m.message));
        break;
      case 'profile':
        profiles.update(m.authority, m.profile);
        break;
      case 'policy':
        policies.update(m.port, m.server);
        break;
      case 'tap':
        tap.mirror(m.subscribers, (sid, event) => post({ t: 'tapEvent', sid, event }));
        break;
      case 'metrics':
        if (running.proxy)
          void running.proxy.registry
            .getMetricsAsJSON()
            .then((metrics) => post({ t: 'metrics', id: m.id, metrics: threadMetrics(metrics) }));
        else post({ t: 'metrics', id: m.id, metrics: [] });
        break;
      case 'shutdown':
        running.shutdownAsked = true;
        void (running.proxy ? running.proxy.shutdown() : Promise.resolve()).then(() => {
          discovery.close();
          profiles.close();
          post({ t: 'closed' });
          port.close();
        });
        break;
    }
  });

  const proxy = await startProxy({
    config: c,
    log,
    identity,
    discovery,
    profiles,
    policies,
    tap,
    drainMs: data.drainMs,
    headersTimeoutMs: data.headersTimeoutMs,
    worker: { ports: data.ports },
  });
  running.proxy = proxy;
  if (running.shutdownAsked) void proxy.shutdown();
  // Each thread's heap grows under load and shrinks only at a collection: give it back when quiet, as the main thread does.
  const idle = watchIdleMemory(log);
  void proxy.closed.then(() => idle.stop());
  post({ t: 'listening' });
}

/** The worker's own families only: the process-wide ones (`process_*`) and the runtime's (`nodejs_*`) come from the main thread. */
function threadMetrics(metrics: Array<{ name: string }>): unknown[] {
  return metrics.filter((m) => !m.name.startsWith('process_') && !m.name.startsWith('nodejs_'));
}

interface FedSet {
  readonly set: LiveEndpointSet;
  readonly ready: Promise<EndpointSet>;
  resolve(set: EndpointSet): void;
  reject(err: Error): void;
  idle?: NodeJS.Timeout;
}

/**
 * Endpoint sets resolved by the main thread's discovery. As DestinationDiscovery closes a stream, a set without
 * subscribers for IDLE_STREAM_MS (from its first answer, or from losing its last subscriber) is released there.
 */
export class FedDiscovery implements Discovery {
  private readonly sets = new Map<string, FedSet>();

  constructor(
    private readonly post: (m: FromWorker) => void,
    private readonly unknownTtlMs = UNKNOWN_AUTHORITY_TTL_MS,
  ) {}

  resolve(authority: string): Promise<EndpointSet> {
    const known = this.sets.get(authority);
    if (known) return known.ready;
    let resolve!: (s: EndpointSet) => void;
    let reject!: (err: Error) => void;
    const ready = new Promise<EndpointSet>((res, rej) => ((resolve = res), (reject = rej)));
    const f: FedSet = { set: new LiveEndpointSet((subscribers) => this.idleClock(authority, f, subscribers)), ready, resolve, reject };
    this.sets.set(authority, f);
    this.post({ t: 'resolve', authority });
    return ready;
  }

  update(authority: string, endpoints: readonly Endpoint[]): void {
    const f = this.sets.get(authority);
    if (!f) return;
    f.set.replace(endpoints);
    f.resolve(f.set);
    if (f.set.subscribers === 0 && !f.idle) this.idleClock(authority, f, 0);
  }

  /** As DestinationDiscovery: an unreachable authority is asked for again by the next request, an unknown one after a while. */
  fail(authority: string, err: Error): void {
    const f = this.sets.get(authority);
    if (!f) return;
    clearTimeout(f.idle);
    f.reject(err);
    if (err instanceof UnknownAuthorityError) setTimeout(() => this.sets.get(authority) === f && this.sets.delete(authority), this.unknownTtlMs).unref();
    else this.sets.delete(authority);
  }

  close(): void {
    for (const [authority, f] of this.sets) {
      clearTimeout(f.idle);
      f.reject(new UnavailableError(`weft: discovery for "${authority}": discovery closed`));
    }
    this.sets.clear();
  }

  private idleClock(authority: string, f: FedSet, subscribers: number): void {
    clearTimeout(f.idle);
    f.idle = undefined;
    if (subscribers > 0) return;
    f.idle = setTimeout(() => {
      if (this.sets.get(authority) !== f || f.set.subscribers > 0) return;
      this.sets.delete(authority);
      this.post({ t: 'release', authority });
    }, IDLE_STREAM_MS).unref();
  }
}

/** Profiles watched by the main thread; a watch unused for a sweep period is released and reopened on its next read, as DestinationProfiles does. */
export class FedProfiles extends SweptProfiles {
  constructor(
    private readonly post: (m: FromWorker) => void,
    idleMs = PROFILE_IDLE_MS,
  ) {
    super(idleMs);
  }

  protected start(authority: string): () => void {
    this.post({ t: 'watchProfile', authority });
    return () => this.post({ t: 'unwatchProfile', authority });
  }

  update(authority: string, profile: Profile): void {
    this.opened(authority)?.set(profile);
  }
}

/** Inbound policies as the main thread's feed sends them (a watched port waits for its first, as WatchedPolicies). */
class FedPolicies extends PortPolicies {
  constructor(watched: readonly number[], fallback: ServerPolicy) {
    super(watched, fallback, FIRST_POLICY_WAIT_MS);
  }

  update(port: number, server: policy.Server | null): void {
    this.set(port, server);
  }
}
