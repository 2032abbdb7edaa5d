/**
 * Replies held back before they are sent, one per client at most and a bounded number in all.
 *
 * Why: the Pi 3 boot ROM loops when its DHCP and TFTP answers both arrive within 2 s (firmware
 * #934, #859), so its OFFER goes out after `dhcp.piRomReplyDelayMs` (dnsmasq's dhcp-reply-delay;
 * piserver uses 1 s). A timer per held reply keeps the event loop free; the bound keeps a LAN
 * flood of Pi-3-looking DISCOVERs from queueing without end: past it a reply is dropped and the
 * ROM asks again 5 s later.
 */
export const MAX_DELAYED_REPLIES = 256;

export class DelayedReplies {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly max = MAX_DELAYED_REPLIES) {}

  get size(): number {
    return this.timers.size;
  }

  /**
   * Runs `send` after `ms`. A client's newer reply replaces its held one (the ROM asked again).
   * Returns false, and holds nothing, when `max` replies are already held.
   */
  hold(client: string, ms: number, send: () => void): boolean {
    const previous = this.timers.get(client);
    if (previous) {
      clearTimeout(previous);
      this.timers.delete(client);
    } else if (this.timers.size >= this.max) return false;
    const timer = setTimeout(() => {
      this.timers.delete(client);
      send();
    }, ms);
    this.timers.set(client, timer);
    return true;
  }

  /** Drops every held reply (shutdown). */
  close(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
