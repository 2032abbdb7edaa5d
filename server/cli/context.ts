import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import pino from 'pino';
import type { AdminContext } from '../admin/context.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import { openAdminContext } from '../daemon.js';
import { databaseFile } from '../inventory/db.js';

/** The last resort: the config.example.json rackboot ships with, so `npm start` runs on a fresh clone. */
export const embeddedConfig = fileURLToPath(new URL('../../../config.example.json', import.meta.url));
/** Overrides where the system-wide config is looked for: packagers with another /etc, and tests that must not write /etc. */
const SYSTEM_CONFIG_ENV = 'RACKBOOT_SYSTEM_CONFIG';
const systemConfig = () => process.env[SYSTEM_CONFIG_ENV] || '/etc/rackboot/config.json';

export interface ConfigChoice {
  file: string;
  from: '--config' | 'RACKBOOT_CONFIG' | 'system' | 'embedded';
}

/** --config, then RACKBOOT_CONFIG, then the system config when it exists, then the shipped example. */
export function configChoice(command: Command): ConfigChoice {
  const flag = command.optsWithGlobals<{ config?: string }>().config;
  if (flag) return { file: flag, from: '--config' };
  const env = process.env['RACKBOOT_CONFIG'];
  if (env) return { file: env, from: 'RACKBOOT_CONFIG' };
  const system = systemConfig();
  // existsSync, not readable: an unreadable system config must fail loudly, not fall back to the example.
  if (existsSync(system)) return { file: system, from: 'system' };
  return { file: embeddedConfig, from: 'embedded' };
}

export const configPath = (command: Command): string => configChoice(command).file;

/** The config a command runs on; says on stderr when that is the shipped example, whose dataDir is rarely the daemon's. */
export function commandConfig(command: Command): Config {
  const { file, from } = configChoice(command);
  if (!existsSync(file)) throw new Error(`config file ${file} (from ${from}) does not exist (copy config.example.json and edit it)`);
  const config = loadConfig(file);
  if (from === 'embedded') {
    console.error(
      `rackboot: using the shipped example config ${file} (dataDir ${config.dataDir}): ` +
        `no --config, no RACKBOOT_CONFIG and no ${systemConfig()}`,
    );
  }
  return config;
}

/** Who a CLI change is recorded as: the login name, even where $USER is unset (cron, systemd, docker exec). */
export function cliActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    // A uid with no passwd entry (a container's --user 1234): the environment or the bare uid still says who.
    return `cli:${process.env['USER'] || process.env['LOGNAME'] || `uid${process.getuid?.() ?? '?'}`}`;
  }
}

/** A command that only reads (or would empty the store) found no database where the config points. */
export class NoInventoryError extends Error {
  readonly code = 'RB_NO_INVENTORY';
  constructor(
    readonly problem: string,
    readonly fix: string,
  ) {
    super(`${problem}; ${fix}`);
  }
}

function noInventory(config: Config): NoInventoryError {
  return new NoInventoryError(
    `dataDir: ${config.dataDir} holds no inventory (${databaseFile(config.dataDir)}), and this command does not create one (config ${config.source})`,
    "point --config or RACKBOOT_CONFIG at the daemon's config; on a new install start the daemon or add an image or node first, which create it",
  );
}

/**
 * Runs an admin command on the same database and store as the daemon (WAL lets both write).
 * `create: false` is for commands that only read: a missing database means the wrong config, not a new install.
 */
export function withAdmin<T>(command: Command, work: (admin: AdminContext) => Promise<T> | T, options: { create?: boolean } = {}): Promise<T> {
  return withAdminOn(commandConfig(command), work, options);
}

export async function withAdminOn<T>(
  config: Config,
  work: (admin: AdminContext) => Promise<T> | T,
  { create = true }: { create?: boolean } = {},
): Promise<T> {
  if (!create && !existsSync(databaseFile(config.dataDir))) throw noInventory(config);
  const admin = await openAdminContext(config, pino({ level: 'warn' }, pino.destination(2)));
  try {
    return await work(admin);
  } finally {
    admin.events.flushAll();
    admin.inventory.close();
  }
}
