/**
 * Certify calls per source (the caller's IP), as token buckets: `burst` calls
 * at once, then `perMinute` regained evenly. Every Certify costs a TokenReview
 * against the API server, so one pod looping on Certify must not multiply them.
 * Bounded without timers: buckets are kept in last-use order and dropped once
 * idle long enough to be full again (a full bucket is the same as none); past
 * `maxSources` the least recently used goes first.
 */

export interface CertifyRateLimit {
  /** Calls one source may make at once. */
  readonly burst: number;
  /** Calls per minute a source regains, up to `burst`. */
  readonly perMinute: number;
}

/** A proxy certifies once at start and then about every 17 h (70 % of 24 h); 10 at once, then one a second, is far above that. */
export const DEFAULT_CERTIFY_RATE_LIMIT: CertifyRateLimit = { burst: 10, perMinute: 60 };

/** Sources tracked at most (~100 bytes each). More only when that many callers are active within one refill period. */
export const MAX_TRACKED_SOURCES = 10_000;

interface Bucket {
  tokens: number;
  lastMs: number;
}

export class SourceRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;
  /** How long an empty bucket takes to fill: a bucket unused this long is full and can be forgotten. */
  private readonly refillMs: number;

  constructor(
    readonly limit: CertifyRateLimit,
    private readonly now: () => number,
    private readonly maxSources = MAX_TRACKED_SOURCES,
  ) {
    this.perMs = limit.perMinute / 60_000;
    this.refillMs = limit.burst / this.perMs;
  }

  /** Spends one call of `source`: 0 when allowed, otherwise the ms until its next call would be. */
  take(source: string): number {
    const now = this.now();
    this.forgetIdle(now);
    let bucket = this.buckets.get(source);
    if (bucket) {
      // Re-inserted below, so the Map's order stays last-use order.
      this.buckets.delete(source);
      bucket.tokens = Math.min(this.limit.burst, bucket.tokens + Math.max(0, now - bucket.lastMs) * this.perMs);
      bucket.lastMs = now;
    } else {
      if (this.buckets.size >= this.maxSources) this.buckets.delete(this.buckets.keys().next().value!);
      bucket = { tokens: this.limit.burst, lastMs: now };
    }
    this.buckets.set(source, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / this.perMs);
  }

  /** Sources currently tracked. */
  get size(): number {
    return this.buckets.size;
  }

  private forgetIdle(now: number): void {
    // Oldest first; the first one still refilling means every later one is too.
    for (const [source, bucket] of this.buckets) {
      if (now - bucket.lastMs < this.refillMs) return;
      this.buckets.delete(source);
    }
  }
}
