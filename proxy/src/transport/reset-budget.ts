/**
 * Streams a client may reset before the proxy answered them: a burst, refilled per second. Past it the connection is
 * abusive — each reset stream may have cost the application a request the client never waits for (HTTP/2 rapid
 * reset, CVE-2023-44487; the same holds for weft.mux streams) — and the server ends it.
 */
import { performance } from 'node:perf_hooks';

export const RESET_BURST = 200;
export const RESETS_PER_SECOND = 20;

/** A token bucket of stream resets for one connection, refilled lazily (no timer). */
export class ResetBudget {
  private tokens = RESET_BURST;
  private at = performance.now();

  /** Spends one reset; false when the connection has none left. */
  take(): boolean {
    const now = performance.now();
    this.tokens = Math.min(RESET_BURST, this.tokens + ((now - this.at) / 1000) * RESETS_PER_SECOND);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}
