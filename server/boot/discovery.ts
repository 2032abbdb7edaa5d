import type { DiscoveryConfig } from '../config/types.js';
import { TokenBucket } from '../net/token-bucket.js';

export type DiscoveryRefusal = 'rate' | 'unconfirmed';

/**
 * How many nodes auto-discovery may still record: a token bucket (a rack powering on spends the
 * burst, a flood of made-up MACs runs dry) and a cap on unconfirmed nodes, so the inventory stops
 * growing until the operator vouches for some. Operator registrations never come through here.
 */
export class DiscoveryBudget {
  /** Refusals by reason, for the metrics. */
  readonly refused: Record<DiscoveryRefusal, number> = { rate: 0, unconfirmed: 0 };
  private readonly bucket: TokenBucket;

  constructor(
    private readonly config: DiscoveryConfig,
    private readonly countUnconfirmed: () => number,
    now: () => number = Date.now,
  ) {
    this.bucket = new TokenBucket(config.burst, config.perMinute / 60, now);
  }

  /** Takes one new node's allowance; the reason when there is none. */
  admit(): DiscoveryRefusal | undefined {
    // Counted only with a token in hand: under a flood the bucket is dry and no query runs.
    const refusal = !this.bucket.ready() ? 'rate' : this.countUnconfirmed() >= this.config.maxUnconfirmed ? 'unconfirmed' : undefined;
    if (refusal) this.refused[refusal]++;
    else this.bucket.take();
    return refusal;
  }
}
