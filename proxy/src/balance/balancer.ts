/**
 * The outbound load balancer: power of two choices (P2C) over peak-EWMA
 * latency, weighted, with draining removal and failure accrual. It knows
 * nothing about HTTP or sockets: the caller picks an endpoint, does the work,
 * and reports the outcome on the returned lease. Standalone on purpose (no
 * imports from the rest of the proxy) so any stack layer can wrap it.
 *
 * Request level (HTTP):   const lease = b.pick(); ...; lease.done(ok)
 * Connection level (TCP): const lease = b.pick(); connect; lease.connected();
 *                         ... bytes ...; lease.done(true) at close
 *                         (or lease.done(false) when the connect failed).
 */
import { PeakEwma } from './peak-ewma.js';
import { DEFAULT_FAILURE_ACCRUAL, FailureAccrual, type AccrualState, type FailureAccrualOptions } from './failure-accrual.js';

export interface BalancerOptions<T> {
  /** Decay time constant of the peak-EWMA estimate (default 10 s). */
  readonly decayMs?: number;
  /** Latency assumed for an endpoint before its first sample (default 30 ms). */
  readonly defaultLatencyMs?: number;
  /** Failure accrual settings, or false to never eject. */
  readonly failureAccrual?: Partial<FailureAccrualOptions> | false;
  /**
   * Out-of-band check of an ejected endpoint once its backoff expired (e.g. a
   * TCP connect or a request to a health path). Resolve true to readmit it.
   * Without a probe, the first real request after the backoff is the probe
   * (so a client may see one failure per backoff period of a dead endpoint).
   */
  readonly probe?: (endpoint: T, key: string) => Promise<boolean>;
  /** Called once a removed endpoint has no request/connection in flight: close its connections now. */
  readonly onDrained?: (endpoint: T, key: string) => void;
  /** Clock in ms (default performance.now); injectable for deterministic tests. */
  readonly now?: () => number;
  /** Uniform [0, 1) source (default Math.random); injectable for deterministic tests. */
  readonly random?: () => number;
}

/** One member of the balancer's set. */
export interface EndpointSpec<T> {
  /** Stable identity of the endpoint, e.g. `10.0.0.7:8080`. */
  readonly key: string;
  /** Relative weight (> 0); an endpoint with twice the weight gets about twice the traffic at equal latency. */
  readonly weight: number;
  readonly endpoint: T;
}

/** What the balancer knows about one endpoint (for admin pages and tests). */
export interface EndpointStatus {
  readonly key: string;
  readonly weight: number;
  readonly pending: number;
  readonly latencyEstimateMs: number;
  readonly state: AccrualState;
  readonly draining: boolean;
}

/** A picked endpoint; report the outcome exactly once with `done`. */
export interface Lease<T> {
  readonly key: string;
  readonly endpoint: T;
  /** Connection-level balancing: the connection is up; records the connect latency as the sample. */
  connected(): void;
  /**
   * The request (or connection) finished. `ok` false counts toward failure
   * accrual (connection failure, 5xx per the caller's classification). The
   * latency sample is the time since pick unless given or already recorded by connected().
   */
  done(ok: boolean, latencyMs?: number): void;
}

class Entry<T> {
  pending = 0;
  draining = false;
  constructor(
    readonly key: string,
    public weight: number,
    public endpoint: T,
    readonly ewma: PeakEwma,
    readonly accrual: FailureAccrual | undefined,
  ) {}
}

class LeaseImpl<T> implements Lease<T> {
  private sampled = false;
  private finished = false;
  constructor(
    private readonly balancer: Balancer<T>,
    private readonly entry: Entry<T>,
    private readonly startMs: number,
  ) {}
  get key(): string {
    return this.entry.key;
  }
  get endpoint(): T {
    return this.entry.endpoint;
  }
  connected(): void {
    if (this.sampled || this.finished) return;
    this.sampled = true;
    this.balancer.sample(this.entry, this.startMs);
  }
  done(ok: boolean, latencyMs?: number): void {
    if (this.finished) return;
    this.finished = true;
    this.balancer.finish(this.entry, ok, this.sampled ? null : latencyMs, this.startMs);
  }
}

export class Balancer<T> {
  private readonly entries = new Map<string, Entry<T>>();
  // Reused per pick so the hot path does not allocate an array.
  private readonly scratch: Entry<T>[] = [];
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly decayMs: number;
  private readonly defaultLatencyMs: number;
  private readonly accrual: FailureAccrualOptions | undefined;

  constructor(private readonly opts: BalancerOptions<T> = {}) {
    this.now = opts.now ?? (() => performance.now());
    this.random = opts.random ?? Math.random;
    this.decayMs = opts.decayMs ?? 10_000;
    this.defaultLatencyMs = opts.defaultLatencyMs ?? 30;
    this.accrual = opts.failureAccrual === false ? undefined : { ...DEFAULT_FAILURE_ACCRUAL, ...opts.failureAccrual };
  }

  /** Adds an endpoint, or updates the weight/value of an existing (even draining) one. */
  add(spec: EndpointSpec<T>): void {
    if (!(spec.weight > 0)) throw new RangeError(`endpoint ${spec.key}: weight must be > 0, got ${spec.weight}`);
    const existing = this.entries.get(spec.key);
    if (existing) {
      existing.weight = spec.weight;
      existing.endpoint = spec.endpoint;
      existing.draining = false;
      return;
    }
    const accrual = this.accrual ? new FailureAccrual(this.accrual, this.random) : undefined;
    this.entries.set(spec.key, new Entry(spec.key, spec.weight, spec.endpoint, new PeakEwma(this.defaultLatencyMs, this.now(), this.decayMs), accrual));
  }

  /**
   * Removes an endpoint from new picks. Requests already on it finish
   * normally; `onDrained` fires when the last one is done (at once when idle).
   */
  remove(key: string): void {
    const e = this.entries.get(key);
    if (!e || e.draining) return;
    e.draining = true;
    if (e.pending === 0) this.drop(e);
  }

  /** Replaces the whole set: adds and updates the given endpoints, drains the others. */
  replace(specs: Iterable<EndpointSpec<T>>): void {
    const keep = new Set<string>();
    for (const s of specs) {
      keep.add(s.key);
      this.add(s);
    }
    for (const key of [...this.entries.keys()]) if (!keep.has(key)) this.remove(key);
  }

  /** Endpoints that are not draining. */
  get size(): number {
    let n = 0;
    for (const e of this.entries.values()) if (!e.draining) n++;
    return n;
  }

  status(): EndpointStatus[] {
    const now = this.now();
    return [...this.entries.values()].map((e) => ({
      key: e.key,
      weight: e.weight,
      pending: e.pending,
      latencyEstimateMs: e.ewma.estimate(now),
      state: e.accrual?.state ?? 'healthy',
      draining: e.draining,
    }));
  }

  /**
   * Picks an endpoint: two distinct candidates drawn at random in proportion
   * to weight, the one with the lower cost wins, cost = latency estimate ×
   * (pending + 1) / weight. Returns undefined when no endpoint is available
   * (none, all draining or all ejected): the caller fails fast (503).
   *
   * `avoid` (keys of endpoints a request just failed to reach) are skipped while another endpoint is
   * available; when only avoided ones are left, they are picked as usual (a retry has nowhere else to go).
   */
  pick(avoid?: ReadonlySet<string>): Lease<T> | undefined {
    const now = this.now();
    const avail = this.scratch;
    avail.length = 0;
    let total = 0;
    for (const e of this.entries.values()) {
      if (e.draining || !this.available(e, now)) continue;
      avail.push(e);
      total += e.weight;
    }
    if (avoid !== undefined && avoid.size > 0) total = this.without(avail, total, avoid);
    if (avail.length === 0) return undefined;
    let chosen: Entry<T>;
    if (avail.length === 1) {
      chosen = avail[0]!;
    } else {
      const a = this.draw(avail, total, undefined);
      const b = this.draw(avail, total - a.weight, a);
      chosen = this.cost(a, now) <= this.cost(b, now) ? a : b;
    }
    avail.length = 0;
    chosen.pending++;
    return new LeaseImpl(this, chosen, now);
  }

  /** Drops avoided entries from `avail` in place unless that would leave none; returns the remaining total weight. */
  private without(avail: Entry<T>[], total: number, avoid: ReadonlySet<string>): number {
    let others = 0;
    for (const e of avail) if (!avoid.has(e.key)) others++;
    if (others === 0 || others === avail.length) return total;
    let n = 0;
    let kept = 0;
    for (const e of avail) {
      if (avoid.has(e.key)) continue;
      avail[n++] = e;
      kept += e.weight;
    }
    avail.length = n;
    return kept;
  }

  /** @internal records the time since the pick as a latency sample (the lease connected). */
  sample(e: Entry<T>, startMs: number): void {
    const now = this.now();
    e.ewma.observe(now - startMs, now);
  }

  /** @internal ends a lease. `latencyMs` null: no sample (already taken by connected()). */
  finish(e: Entry<T>, ok: boolean, latencyMs: number | undefined | null, startMs: number): void {
    e.pending--;
    const now = this.now();
    if (latencyMs !== null) e.ewma.observe(latencyMs ?? now - startMs, now);
    e.accrual?.record(ok, now);
    if (e.draining && e.pending === 0) this.drop(e);
  }

  private cost(e: Entry<T>, now: number): number {
    return (e.ewma.estimate(now) * (e.pending + 1)) / e.weight;
  }

  /** Weighted draw from `avail`, skipping `exclude` (whose weight is already taken out of `total`). */
  private draw(avail: readonly Entry<T>[], total: number, exclude: Entry<T> | undefined): Entry<T> {
    let r = this.random() * total;
    let last: Entry<T> | undefined;
    for (const e of avail) {
      if (e === exclude) continue;
      last = e;
      r -= e.weight;
      if (r < 0) return e;
    }
    return last!; // floating-point remainder: the last eligible entry
  }

  /** Advances failure accrual lazily at pick time: no timers per endpoint. */
  private available(e: Entry<T>, now: number): boolean {
    const acc = e.accrual;
    if (!acc) return true;
    switch (acc.state) {
      case 'healthy':
        return true;
      case 'probation':
        // One probe request at a time: a sick endpoint fails one request per backoff, not a burst.
        return e.pending === 0;
      case 'probing':
        return false;
      case 'ejected':
        if (now < acc.ejectedUntilMs) return false;
        if (!this.opts.probe) {
          acc.state = 'probation';
          return true;
        }
        acc.state = 'probing';
        this.runProbe(e, acc);
        return false;
    }
  }

  private runProbe(e: Entry<T>, acc: FailureAccrual): void {
    const settle = (ok: boolean): void => {
      if (this.entries.get(e.key) !== e || acc.state !== 'probing') return;
      if (ok) acc.restore();
      else acc.eject(this.now());
    };
    let probe: Promise<boolean>;
    try {
      probe = this.opts.probe!(e.endpoint, e.key);
    } catch {
      probe = Promise.resolve(false);
    }
    probe.then(settle, () => settle(false));
  }

  private drop(e: Entry<T>): void {
    if (this.entries.get(e.key) === e) this.entries.delete(e.key);
    this.opts.onDrained?.(e.endpoint, e.key);
  }
}
