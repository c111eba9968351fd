/**
 * Peak-EWMA latency estimate of one endpoint (as in finagle / tower /
 * linkerd2-proxy): a sample above the estimate replaces it at once (the
 * "peak"), a sample below it is folded in with an exponentially weighted
 * moving average. Between samples the estimate decays toward zero, so an
 * endpoint that was slow once is tried again after a while instead of being
 * starved forever.
 */
export class PeakEwma {
  private estimateMs: number;
  private stampMs: number;

  constructor(
    initialMs: number,
    nowMs: number,
    /** Time constant of the decay (tau): how fast old samples are forgotten. */
    private readonly decayMs: number,
  ) {
    this.estimateMs = initialMs;
    this.stampMs = nowMs;
  }

  /** Folds in one observed latency. */
  observe(latencyMs: number, nowMs: number): void {
    const sample = latencyMs < 0 ? 0 : latencyMs;
    if (sample > this.estimateMs) {
      this.estimateMs = sample;
    } else {
      const w = Math.exp(-Math.max(0, nowMs - this.stampMs) / this.decayMs);
      this.estimateMs = this.estimateMs * w + sample * (1 - w);
    }
    this.stampMs = nowMs;
  }

  /** The current estimate, decayed by the time since the last sample. */
  estimate(nowMs: number): number {
    const elapsed = nowMs - this.stampMs;
    return elapsed <= 0 ? this.estimateMs : this.estimateMs * Math.exp(-elapsed / this.decayMs);
  }
}
