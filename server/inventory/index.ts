import { Assignments } from './assignments.js';
import { openDatabase, type Db } from './db.js';
import { Eeprom } from './eeprom.js';
import { Events } from './events.js';
import { ExternalCommits } from './external-commits.js';
import { Images } from './images.js';
import { leaseHolder } from './leases.js';
import { Nodes } from './nodes.js';
import { PlanGroups } from './plan-groups.js';
import { ReadCache } from './read-cache.js';
import type { Mac } from '../net/mac.js';

/** Every table's access object over one database connection. */
export interface Inventory {
  db: Db;
  nodes: Nodes;
  images: Images;
  assignments: Assignments;
  events: Events;
  /** Nodes counted and paged by what decides their plan (the page's counts and waiting-first list). */
  planGroups: PlanGroups;
  eeprom: Eeprom;
  /** The MAC holding an address by our DHCP leases. */
  leaseHolder(ip: string, now?: number): Mac | undefined;
  close(): void;
}

export function openInventory(dataDir: string): Inventory {
  const db = openDatabase(dataDir);
  const commits = new ExternalCommits(db);
  const cache = new ReadCache(db, commits);
  return {
    db,
    nodes: new Nodes(db, commits, cache),
    images: new Images(db, cache),
    assignments: new Assignments(db, cache),
    events: new Events(db),
    planGroups: new PlanGroups(db),
    eeprom: new Eeprom(db),
    leaseHolder: leaseHolder(db),
    close: () => db.close(),
  };
}
