import type { Mac } from '../net/mac.js';

/** Enough for every Pi of a large site booting at once; beyond it the oldest claim is forgotten. */
const MAX_CLAIMS = 4_096;

/**
 * Pi serials that DHCP option 97 said a MAC has, not yet confirmed. Option 97 is whatever the
 * sender wrote, so a claim changes no node: it only waits for the TFTP request that proves it.
 *
 * A serial already on another MAC's node is shared: the TFTP prefix is only the low 32 bits of a
 * Pi 5's 64-bit serial, so two boards can ask under one prefix. Such claims are kept (not taken):
 * every request under the prefix from the address of a MAC that claimed it is that MAC's node's.
 */
export class SerialClaims {
  private readonly claims = new Set<string>();
  /** Serial -> MACs that claimed it while another MAC's node holds it (and whether TFTP confirmed each). */
  private readonly shared = new Map<string, Map<Mac, boolean>>();
  private sharedCount = 0;

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

  /** `mac` claimed a serial another MAC's node holds. */
  share(mac: Mac, serial: string): void {
    let macs = this.shared.get(serial);
    if (macs?.has(mac)) return;
    if (this.sharedCount >= MAX_CLAIMS) {
      const [oldest, oldestMacs] = this.shared.entries().next().value!;
      this.shared.delete(oldest);
      this.sharedCount -= oldestMacs.size;
      if (oldest === serial) macs = undefined;
    }
    if (!macs) this.shared.set(serial, (macs = new Map()));
    macs.set(mac, false);
    this.sharedCount++;
  }

  /** Whether any MAC shares this serial: only then is the asker's address worth looking up. */
  isShared(serial: string): boolean {
    return this.shared.has(serial);
  }

  sharedBy(mac: Mac, serial: string): boolean {
    return this.shared.get(serial)?.has(mac) ?? false;
  }

  /** True the first time TFTP showed that `mac` asks under `serial` (to be reported once). */
  markSeen(mac: Mac, serial: string): boolean {
    const macs = this.shared.get(serial);
    if (!macs?.has(mac) || macs.get(mac)) return false;
    macs.set(mac, true);
    return true;
  }
}
