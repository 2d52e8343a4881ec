/**
 * Token buckets for throttling (SPEC §8, AWS's algorithm): a bucket holds up to `burstLimit`
 * tokens, refills at `rateLimit` tokens per second, and each request takes one. A full bucket at
 * start, as on AWS, so a quiet API accepts a burst at once.
 */

export interface ThrottleLimits {
  /** Steady-state requests per second (may be fractional, as AWS's `throttlingRateLimit`). */
  readonly rateLimit: number;
  /** Most requests accepted at once (bucket capacity); below 1 nothing is ever accepted. */
  readonly burstLimit: number;
}

/**
 * A request either takes a token now (true), is refused (false), or must wait for a shared
 * bucket to answer (a promise). The in-process bucket always answers at once.
 */
export type Admission = boolean | Promise<boolean>;

export interface Bucket {
  take(): Admission;
}

/** The in-process bucket: a few arithmetic operations per request, no timers, no allocation. */
export class LocalBucket implements Bucket {
  private tokens: number;
  private refilledAt: number;

  constructor(readonly limits: ThrottleLimits, private readonly now: () => number = monotonicMs) {
    this.tokens = limits.burstLimit;
    this.refilledAt = now();
  }

  take(): boolean {
    const now = this.now();
    const { rateLimit, burstLimit } = this.limits;
    this.tokens = refilledTokens(this.tokens, now - this.refilledAt, rateLimit, burstLimit);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** A bucket's tokens after `elapsedMs` more of refill at `rateLimit` per second, capped at `burstLimit` (never drained by a clock read a hair behind). */
export function refilledTokens(tokens: number, elapsedMs: number, rateLimit: number, burstLimit: number): number {
  return Math.min(burstLimit, tokens + (Math.max(0, elapsedMs) * rateLimit) / 1000);
}

export function monotonicMs(): number {
  return performance.now();
}
