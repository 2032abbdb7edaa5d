/** A transfer takes at most 1/SHARE of what is left, so the ones that come last still get a buffer. */
const SHARE = 4;

/**
 * The memory all transfers may hold in read buffers, in total and per client address. A flood of
 * requests from a few hosts must not be able to take what the rest of the rack needs to boot.
 */
export class ReadBudget {
  /** Bytes granted and not given back yet. */
  used = 0;
  /** The most `used` has ever been. */
  peak = 0;
  private readonly byClient = new Map<string, number>();

  constructor(
    private readonly totalBytes: number,
    private readonly perClientBytes: number,
  ) {}

  /** Grants `wanted` or, when memory runs short, a share of what both limits leave, never less than `needed`; 0 when `needed` does not fit. */
  take(client: string, needed: number, wanted: number): number {
    const held = this.byClient.get(client) ?? 0;
    const free = Math.min(this.totalBytes - this.used, this.perClientBytes - held);
    if (free < needed) return 0;
    const granted = Math.min(wanted, Math.max(needed, Math.floor(free / SHARE)));
    this.byClient.set(client, held + granted);
    this.used += granted;
    this.peak = Math.max(this.peak, this.used);
    return granted;
  }

  give(client: string, bytes: number): void {
    if (bytes === 0) return;
    const left = (this.byClient.get(client) ?? bytes) - bytes;
    if (left > 0) this.byClient.set(client, left);
    else this.byClient.delete(client);
    this.used -= bytes;
  }
}
