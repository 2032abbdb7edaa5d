import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Db } from './db.js';

const INTERVAL_MS = 100;
/** SQLite's default, back in force on the daemon's connection whenever no worker checkpoints. */
const AUTO_CHECKPOINT_PAGES = 1_000;

/**
 * Takes WAL checkpoints off the event loop. A checkpoint copies the WAL into the database file
 * and fsyncs it (10-20 ms on this kind of VM), and SQLite runs it inside whichever commit crosses
 * 1,000 WAL pages: in a boot storm, a batch of boot events, stalling every request in flight.
 * Once a worker thread with a connection of its own is running, the daemon's connection stops
 * checkpointing and the worker runs a PASSIVE checkpoint (it never blocks a writer) ten times a
 * second: a DHCP flood commits once per lease, and a WAL left to grow for a whole second slowed it.
 * Returns the closer.
 */
export function startCheckpointer(db: Db, log: Logger): () => Promise<void> {
  const worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), { workerData: { file: db.name, intervalMs: INTERVAL_MS } });
  let stopping = false;
  worker.once('online', () => db.pragma('wal_autocheckpoint = 0'));
  worker.on('error', (error) => log.error({ err: error }, 'the WAL checkpoint worker failed; the daemon checkpoints itself again'));
  worker.once('exit', () => {
    if (!stopping) db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
  });
  return async () => {
    stopping = true;
    const exited = once(worker, 'exit');
    worker.postMessage('stop');
    await exited;
  };
}
