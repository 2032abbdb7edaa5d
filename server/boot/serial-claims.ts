import type { Mac } from '../net/mac.js';

/** Enough for every Pi of a large site booting at once; beyond it the oldest claim is forgotten. */
const MAX_CLAIMS = 4_096;

/**
 * Pi serials that DHCP option 97 said a MAC has, not yet confirmed. Option 97 is whatever the
 * sender wrote, so a claim changes no node: it only waits for the TFTP request that proves it.
 */
export class SerialClaims {
  private readonly claims = new Set<string>();

  get size(): number {
    return this.claims.size;
  }

  /** Returns false when the claim was already pending (nothing new to report). */
  note(mac: Mac, serial: string): boolean {
    const key = `${mac} ${serial}`;
    if (this.claims.has(key)) return false;
    if (this.claims.size >= MAX_CLAIMS) this.claims.delete(this.claims.values().next().value!);
    this.claims.add(key);
    return true;
  }

  /** Whether `mac` claimed `serial`; a claim confirms one link, so it is forgotten here. */
  take(mac: Mac, serial: string): boolean {
    return this.claims.delete(`${mac} ${serial}`);
  }
}
