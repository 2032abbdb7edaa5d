/** A token bucket: `burst` at once, refilled at `perSecond`; what a flood from the LAN may spend. */
export class TokenBucket {
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.refilledAt = now();
  }

  /** Whether a token is there now, without taking it: for a caller with a costlier check still to make. */
  ready(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) * this.perSecond) / 1000);
    this.refilledAt = now;
    return this.tokens >= 1;
  }

  take(): boolean {
    if (!this.ready()) return false;
    this.tokens--;
    return true;
  }
}
