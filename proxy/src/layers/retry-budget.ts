/**
 * The retry budget of one logical service: retries may add at most `ratio`
 * of the original requests plus `minPerSecond` retries per second, both
 * counted over the last `ttlMs` (a ring of ten buckets). During an outage
 * every request fails, so without a budget each one would become several
 * and the retries would deepen the outage; with it, load grows by `ratio`
 * at most.
 */
import { performance } from 'node:perf_hooks';
import type { RetryBudgetParams } from '../profile/route-table.js';

const BUCKETS = 10;

export class RetryBudget {
  private readonly requests = new Float64Array(BUCKETS);
  private readonly retries = new Float64Array(BUCKETS);
  private readonly bucketMs: number;
  /** The absolute bucket index (time / bucketMs) last written. */
  private head = 0;

  constructor(
    readonly params: RetryBudgetParams,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.bucketMs = Math.max(1, params.ttlMs / BUCKETS);
    this.head = Math.floor(this.now() / this.bucketMs);
  }

  /** An original request: earns `ratio` of a retry. */
  deposit(): void {
    this.requests[this.advance()]! += 1;
  }

  /** Takes one retry from the budget; false when the budget is exhausted. */
  withdraw(): boolean {
    const i = this.advance();
    let reqs = 0;
    let rets = 0;
    for (let b = 0; b < BUCKETS; b++) {
      reqs += this.requests[b]!;
      rets += this.retries[b]!;
    }
    const allowed = (this.params.minPerSecond * this.params.ttlMs) / 1000 + this.params.ratio * reqs;
    if (rets + 1 > allowed) return false;
    this.retries[i]! += 1;
    return true;
  }

  /** Clears the buckets that fell out of the window; returns the current bucket's slot. */
  private advance(): number {
    const abs = Math.floor(this.now() / this.bucketMs);
    const steps = Math.min(BUCKETS, abs - this.head);
    for (let s = 1; s <= steps; s++) {
      const slot = (this.head + s) % BUCKETS;
      this.requests[slot] = 0;
      this.retries[slot] = 0;
    }
    if (abs > this.head) this.head = abs;
    return this.head % BUCKETS;
  }
}
