/**
 * Failure accrual of one endpoint: N consecutive failures eject it for a
 * backoff; when the backoff expires the endpoint must pass a probe (an
 * out-of-band check, or one real request when no probe is configured) before
 * it takes traffic again. Each failed probe doubles the backoff up to a cap.
 */
export interface FailureAccrualOptions {
  /** Consecutive failures that eject an endpoint (default 5). */
  readonly consecutiveFailures: number;
  /** First ejection's backoff (default 1 s). */
  readonly minBackoffMs: number;
  /** Cap of the doubling backoff (default 60 s). */
  readonly maxBackoffMs: number;
  /** Random spread of each backoff, as a fraction (default 0.1 = ±10 %). */
  readonly jitter: number;
}

export const DEFAULT_FAILURE_ACCRUAL: FailureAccrualOptions = {
  consecutiveFailures: 5,
  minBackoffMs: 1_000,
  maxBackoffMs: 60_000,
  jitter: 0.1,
};

/** healthy → ejected → (backoff expires) → probing | probation → healthy or ejected again. */
export type AccrualState = 'healthy' | 'ejected' | 'probing' | 'probation';

export class FailureAccrual {
  state: AccrualState = 'healthy';
  /** When an ejected endpoint's backoff ends (ms, balancer clock). */
  ejectedUntilMs = 0;
  private consecutive = 0;
  private backoffMs = 0;

  constructor(
    private readonly opts: FailureAccrualOptions,
    private readonly random: () => number,
  ) {}

  /** Records a request outcome; returns true when it ejected the endpoint. */
  record(ok: boolean, nowMs: number): boolean {
    if (ok) {
      this.consecutive = 0;
      if (this.state === 'probation') this.restore();
      return false;
    }
    this.consecutive++;
    // In probation one failure is enough: the endpoint has already shown it is sick.
    if (this.state === 'probation' || (this.state === 'healthy' && this.consecutive >= this.opts.consecutiveFailures)) {
      this.eject(nowMs);
      return true;
    }
    return false;
  }

  /** Ejects (again), doubling the backoff after the first time. */
  eject(nowMs: number): void {
    this.backoffMs = this.backoffMs === 0 ? this.opts.minBackoffMs : Math.min(this.backoffMs * 2, this.opts.maxBackoffMs);
    const spread = 1 + this.opts.jitter * (this.random() * 2 - 1);
    this.state = 'ejected';
    this.ejectedUntilMs = nowMs + this.backoffMs * spread;
  }

  restore(): void {
    this.state = 'healthy';
    this.consecutive = 0;
    this.backoffMs = 0;
  }
}
