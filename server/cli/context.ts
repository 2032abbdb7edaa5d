import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import pino from 'pino';
import type { AdminContext } from '../admin/context.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import { openAdminContext } from '../daemon.js';

/** Without --config or RACKBOOT_CONFIG, rackboot runs on the config.example.json it ships with. */
export const embeddedConfig = fileURLToPath(new URL('../../../config.example.json', import.meta.url));

export function configPath(command: Command): string {
  const given = command.optsWithGlobals<{ config?: string }>().config ?? process.env['RACKBOOT_CONFIG'];
  return given ?? embeddedConfig;
}

export function commandConfig(command: Command): Config {
  const file = configPath(command);
  if (!existsSync(file)) throw new Error(`config file ${file} does not exist (copy config.example.json and edit it)`);
  return loadConfig(file);
}

/** Runs an admin command on the same database and store as the daemon (WAL lets both write). */
export async function withAdmin<T>(command: Command, work: (admin: AdminContext) => Promise<T> | T): Promise<T> {
  const admin = await openAdminContext(commandConfig(command), pino({ level: 'warn' }, pino.destination(2)));
  try {
    return await work(admin);
  } finally {
    admin.events.flushAll();
    admin.inventory.close();
  }
}
