import type { Config } from '../config/types.js';
import type { EventSink } from '../events/types.js';
import type { BlobStore } from '../images/blob-store.js';
import type { Inventory } from '../inventory/index.js';

/** What the admin operations work on; the daemon and the CLI each build one. */
export interface AdminContext {
  config: Config;
  inventory: Inventory;
  store: BlobStore;
  events: EventSink;
}
