import type { Mac } from '../net/mac.js';

/**
 * `detail.reason` of a TFTP refusal of a node's own boot file (config.txt, kernel, ...) while the
 * node had no image: written by the boot policy's file lookup, read by the boot timeline.
 */
export const NO_IMAGE_REASON = 'RB_NO_IMAGE';

export type EventSource = 'dhcp' | 'tftp' | 'http' | 'api' | 'node' | 'netconsole';

/**
 * A boot event as the protocols report it. A node is named by MAC, by Pi serial or, when
 * neither is known yet (a TFTP request from an address), by its IP address.
 */
export interface BootEventInput {
  source: EventSource;
  kind: string;
  mac?: Mac;
  serial?: string;
  address?: string;
  detail?: Record<string, unknown>;
}

export interface EventSink {
  record(event: BootEventInput): void;
}
