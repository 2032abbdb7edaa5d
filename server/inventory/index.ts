import { Assignments } from './assignments.js';
import { openDatabase, type Db } from './db.js';
import { Events } from './events.js';
import { Images } from './images.js';
import { Nodes } from './nodes.js';

/** Every table's access object over one database connection. */
export interface Inventory {
  db: Db;
  nodes: Nodes;
  images: Images;
  assignments: Assignments;
  events: Events;
  close(): void;
}

export function openInventory(dataDir: string): Inventory {
  const db = openDatabase(dataDir);
  return {
    db,
    nodes: new Nodes(db),
    images: new Images(db),
    assignments: new Assignments(db),
    events: new Events(db),
    close: () => db.close(),
  };
}
