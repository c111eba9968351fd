/**
 * The main thread's side of a proxy with more than one thread
 * (WEFT_PROXY_WORKERS > 1; docs/proxy.md, "More than one core"). The main
 * thread keeps the one control-plane client — the certificate, destination's
 * streams, the policy watches — and the admin and tap servers, and serves
 * requests like every worker. Each worker thread gets what it needs over its
 * port (./messages.ts): the certificate and every renewal, the endpoints,
 * profiles and policies it asks for and their changes, and the tap
 * subscribers. `/metrics` adds the workers' families to the main thread's;
 * `/ready` waits until every thread listens.
 */
import { Worker } from 'node:worker_threads';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Logger } from '@weft/common/log';
import type { ProxyConfig } from '../config.js';
import type { LocalIdentity } from '../identity/local-identity.js';
import type { Discovery } from '../discovery/discovery.js';
import type { Profiles } from '../discovery/profiles.js';
import type { InboundPolicies } from '../policy/policies.js';
import type { TapHub } from '../tap/tap-hub.js';
import { UnknownAuthorityError } from '../errors.js';
import type { FromWorker, ToWorker, WorkerData } from './messages.js';

export interface WorkerThreadsOptions {
  /** The module a worker runs: the proxy's main (main.ts starts `runProxyWorker` in a worker thread). */
  readonly entry: URL;
  /** Worker threads besides the main thread. */
  readonly count: number;
  readonly config: ProxyConfig;
  readonly ports: WorkerData['ports'];
  readonly identity: LocalIdentity;
  readonly discovery: Discovery;
  readonly profiles: Profiles;
  readonly policies: InboundPolicies;
  readonly tap: TapHub;
  readonly log: Logger;
  readonly drainMs: number;
  readonly headersTimeoutMs: number | undefined;
  /** A worker thread failed or exited on its own (default: log it and exit the process, so the kubelet restarts the proxy). */
  readonly onFailure?: (err: Error) => void;
}

export interface WorkerThreads {
  /** Why not every worker listens yet, or undefined when they do. */
  notReadyReason(): string | undefined;
  /** Every thread's families, added up: the main thread's registry and each worker's. */
  metrics(own: Registry): Promise<string>;
  /** Each worker's own families (`getMetricsAsJSON` form), by thread; for tests and diagnostics. */
  threadMetrics(): Promise<unknown[][]>;
  /** Asks every worker to drain (up to `graceMs`), then ends the threads. */
  shutdown(graceMs: number): Promise<void>;
}

/** How long `/metrics` waits for a worker's answer. */
const METRICS_TIMEOUT_MS = 5000;

export function startWorkerThreads(o: WorkerThreadsOptions): WorkerThreads {
  const threads = Array.from({ length: o.count }, (_, i) => new WorkerThread(o, i + 1, o.count + 1));
  return {
    notReadyReason() {
      const waiting = threads.filter((t) => !t.listening).length;
      return waiting === 0 ? undefined : `${waiting} of ${threads.length} worker threads not listening yet`;
    },
    async metrics(own) {
      const [mine, ...theirs] = await Promise.all([own.getMetricsAsJSON(), ...threads.map((t) => t.metrics())]);
      // The process-wide families are the main thread's alone (the workers leave them out): keep them as they are,
      // where prom-client's cluster aggregation would omit or add some.
      const main = mine!.map((m) =>
        m.name.startsWith('process_') || m.name.startsWith('nodejs_') ? { ...m, aggregator: 'first' as const } : m,
      );
      return AggregatorRegistry.aggregate([main, ...theirs] as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics();
    },
    threadMetrics: () => Promise.all(threads.map((t) => t.metrics())),
    async shutdown(graceMs) {
      await Promise.all(threads.map((t) => t.shutdown(graceMs)));
    },
  };
}

class WorkerThread {
  listening = false;
  private readonly worker: Worker;
  private readonly endpoints = new Map<string, { unsubscribe?: () => void }>();
  private readonly profileWatches = new Map<string, () => void>();
  private readonly pendingMetrics = new Map<number, (metrics: unknown[]) => void>();
  private nextMetricsId = 0;
  private stopping = false;
  private readonly exited: Promise<void>;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    private readonly o: WorkerThreadsOptions,
    private readonly index: number,
    threads: number,
  ) {
    const data: WorkerData = {
      weftProxyWorker: true,
      config: o.config,
      index,
      threads,
      ports: o.ports,
      identity: { name: o.identity.name, trustAnchors: o.identity.trustAnchors },
      drainMs: o.drainMs,
      headersTimeoutMs: o.headersTimeoutMs,
    };
    this.worker = new Worker(o.entry, { workerData: data });
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    const fail =
      o.onFailure ??
      ((err: Error) => {
        o.log.fatal({ err, worker: index }, 'proxy worker thread failed: exiting');
        process.exit(70);
      });
    this.worker.on('error', (err) => fail(err));
    this.worker.once('exit', (code) => {
      if (!this.stopping) fail(new Error(`proxy worker thread ${index} exited (code ${code})`));
    });
    this.worker.on('message', (m: FromWorker) => this.onMessage(m));

    const creds = o.identity.current();
    if (creds) this.post({ t: 'identity', cert: creds.cert, key: creds.key });
    o.identity.onChange((c) => this.post({ t: 'identity', cert: c.cert, key: c.key }));
    this.unsubscribe.push(o.policies.feed((port, server) => this.post({ t: 'policy', port, server })));
    const sendTap = (): void => this.post({ t: 'tap', subscribers: o.tap.views() });
    sendTap();
    this.unsubscribe.push(o.tap.watch(sendTap));
  }

  metrics(): Promise<unknown[]> {
    const id = ++this.nextMetricsId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingMetrics.delete(id);
        reject(new Error(`proxy worker thread ${this.index} did not answer for its metrics within ${METRICS_TIMEOUT_MS} ms`));
      }, METRICS_TIMEOUT_MS);
      this.pendingMetrics.set(id, (metrics) => {
        clearTimeout(timer);
        resolve(metrics);
      });
      this.post({ t: 'metrics', id });
    });
  }

  async shutdown(graceMs: number): Promise<void> {
    this.stopping = true;
    this.post({ t: 'shutdown' });
    // The worker drains its own connections within graceMs; past that (and a little), end the thread.
    const timer = setTimeout(() => void this.worker.terminate(), graceMs + 2000);
    timer.unref();
    await this.exited;
    clearTimeout(timer);
    this.release();
  }

  private release(): void {
    for (const u of this.unsubscribe) u();
    for (const e of this.endpoints.values()) e.unsubscribe?.();
    for (const u of this.profileWatches.values()) u();
    this.endpoints.clear();
    this.profileWatches.clear();
  }

  private post(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  private onMessage(m: FromWorker): void {
    switch (m.t) {
      case 'listening':
        this.listening = true;
        break;
      case 'resolve':
        this.resolve(m.authority);
        break;
      case 'release':
        this.endpoints.get(m.authority)?.unsubscribe?.();
        this.endpoints.delete(m.authority);
        break;
      case 'watchProfile': {
        if (this.profileWatches.has(m.authority)) break;
        const authority = m.authority;
        const w = this.o.profiles.watch(authority);
        this.profileWatches.set(
          authority,
          w.subscribe((profile) => this.post({ t: 'profile', authority, profile })),
        );
        const now = w.current();
        if (now) this.post({ t: 'profile', authority, profile: now });
        break;
      }
      case 'unwatchProfile':
        this.profileWatches.get(m.authority)?.();
        this.profileWatches.delete(m.authority);
        break;
      case 'metrics':
        this.pendingMetrics.get(m.id)?.(m.metrics);
        this.pendingMetrics.delete(m.id);
        break;
      case 'tapEvent':
        this.o.tap.deliver(m.sid, m.event);
        break;
      case 'closed':
        break;
    }
  }

  private resolve(authority: string): void {
    if (this.endpoints.has(authority)) return;
    const entry: { unsubscribe?: () => void } = {};
    this.endpoints.set(authority, entry);
    this.o.discovery.resolve(authority).then(
      (set) => {
        // Released (or released and asked again) while discovery was answering.
        if (this.endpoints.get(authority) !== entry) return;
        entry.unsubscribe = set.subscribe((endpoints) => this.post({ t: 'endpoints', authority, endpoints }));
        this.post({ t: 'endpoints', authority, endpoints: set.endpoints });
      },
      (err: Error) => {
        if (this.endpoints.get(authority) !== entry) return;
        this.endpoints.delete(authority);
        this.post({ t: 'resolveFailed', authority, unknown: err instanceof UnknownAuthorityError, message: err.message });
      },
    );
  }
}
