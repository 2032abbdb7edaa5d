import type { Mac } from '../net/mac.js';

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
