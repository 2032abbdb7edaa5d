import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import schema from './config.schema.json' with { type: 'json' };
import type { Config } from './types.js';
import { isPublishedToken } from './published-tokens.js';
import { describeSchemaError } from './schema-errors.js';
import { poolsFromConfig } from '../dhcp/pool.js';
import { cidrContains, ipToInt, parseCidr } from '../net/ipv4.js';

/** Overrides http.adminToken, so the token need not sit in a file (e.g. `npm start` on the shipped config). */
export const ADMIN_TOKEN_ENV = 'RACKBOOT_ADMIN_TOKEN';

export class ConfigError extends Error {
  readonly code = 'RB_CONFIG';
}

const shippedAssetsDir = fileURLToPath(new URL('../../../boot-assets', import.meta.url));
export const schemaPath = fileURLToPath(new URL('../../../server/config/config.schema.json', import.meta.url));

// ajv-formats is CommonJS; its default export arrives wrapped under NodeNext.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, strictRequired: false, allowUnionTypes: true });
addFormats(ajv);
const validate = ajv.compile(schema);

/** A CIDR setting's problem as `field: what is wrong`, or undefined when it parses. */
function cidrProblem(field: string, text: string): string | undefined {
  try {
    parseCidr(text);
    return undefined;
  } catch (error) {
    return `${field}: ${(error as Error).message}`;
  }
}

function rangeChecks(config: Config): string[] {
  const { dhcp } = config;
  // Named as the DHCP engine builds its pools, in its order: the local subnet first, then the relays.
  const subnets = [
    ...(dhcp.subnet ? [{ where: 'dhcp', subnet: dhcp.subnet, pool: dhcp.pool }] : []),
    ...dhcp.relaySubnets.map((relay, i) => ({ where: `dhcp.relaySubnets.${i}`, subnet: relay.subnet, pool: relay.pool })),
  ];
  const networkProblems = config.images.allowUrlNetworks
    .map((network, i) => cidrProblem(`images.allowUrlNetworks.${i}`, network))
    .filter((problem) => problem !== undefined);
  const subnetProblems = subnets.map(({ where, subnet }) => cidrProblem(`${where}.subnet`, subnet)).filter((problem) => problem !== undefined);
  // The pools can be checked only once every subnet parses.
  if (subnetProblems.length) return [...subnetProblems, ...networkProblems];
  const problems: string[] = [];
  for (const { where, subnet, pool } of subnets) {
    if (!pool) continue;
    for (const end of ['start', 'end'] as const) {
      if (!cidrContains(parseCidr(subnet), pool[end])) problems.push(`${where}.pool.${end}: ${pool[end]} is outside ${subnet}`);
    }
    if (ipToInt(pool.start) > ipToInt(pool.end)) problems.push(`${where}.pool: start ${pool.start} is after end ${pool.end}`);
  }
  poolsFromConfig(dhcp, config.serverAddress).forEach((pool, i) => {
    // Handed to a client, any of these would take over the server, the gateway or the whole segment.
    for (const conflict of pool.rangeConflicts()) problems.push(`${subnets[i]!.where}.pool: contains ${conflict}; no client may be given it`);
  });
  return [...problems, ...networkProblems];
}

function tokenChecks(config: Config): string[] {
  if (config.http.adminToken === undefined || !isPublishedToken(config.http.adminToken)) return [];
  return [
    'http.adminToken: this token is published (an example, placeholder or test token) and anyone could write with it; ' +
      `set a random one (openssl rand -hex 32) in the config or in ${ADMIN_TOKEN_ENV}, or remove it for a read-only API`,
  ];
}

/** Validates a parsed config object; `source` is the file it came from, used to resolve relative paths. */
export function parseConfig(raw: unknown, source: string): Config {
  const data = structuredClone(raw);
  if (!validate(data)) {
    const lines = [...new Set((validate.errors ?? []).filter((e) => e.keyword !== 'if').map((error) => describeSchemaError(error, { unknownFieldHint: 'check the spelling against config.schema.json' })))];
    throw new ConfigError(`invalid config ${source}:\n  ${lines.join('\n  ')}`);
  }
  const base = path.dirname(path.resolve(source));
  const parsed = data as unknown as Omit<Config, 'source'>;
  const config: Config = {
    ...parsed,
    // The schema cannot default one field to another; see tftp.address in config.schema.json for why this one.
    tftp: { ...parsed.tftp, address: (parsed.tftp.address as string | undefined) ?? parsed.serverAddress },
    dataDir: path.resolve(base, parsed.dataDir),
    assetsDir: parsed.assetsDir ? path.resolve(base, parsed.assetsDir) : shippedAssetsDir,
    images: { ...parsed.images, importRoots: parsed.images.importRoots.map((root) => path.resolve(base, root)) },
    httpBoot: { ...parsed.httpBoot, ...(parsed.httpBoot.signingKey && { signingKey: path.resolve(base, parsed.httpBoot.signingKey) }) },
    source: path.resolve(source),
  };
  const problems = [...rangeChecks(config), ...tokenChecks(config)];
  if (problems.length) throw new ConfigError(`invalid config ${source}:\n  ${problems.join('\n  ')}`);
  return config;
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`config ${file} is not valid JSON: ${(error as Error).message}`);
  }
  const token = env[ADMIN_TOKEN_ENV];
  return parseConfig(token ? withAdminToken(raw, token) : raw, file);
}

function withAdminToken(raw: unknown, token: string): unknown {
  if (!raw || typeof raw !== 'object') return raw;
  const http = (raw as { http?: unknown }).http;
  return { ...raw, http: { ...(http && typeof http === 'object' ? http : {}), adminToken: token } };
}

/** Base URL nodes use to reach the HTTP server. */
export function publicBaseUrl(config: Config, boundPort = config.http.port): string {
  if (config.http.publicUrl) return config.http.publicUrl.replace(/\/+$/, '');
  return boundPort === 80 ? `http://${config.serverAddress}` : `http://${config.serverAddress}:${boundPort}`;
}
