import { networkInterfaces } from 'node:os';
import { ADMIN_TOKEN_ENV, publicBaseUrl } from '../config/load.js';
import type { Config } from '../config/types.js';
import type { DoctorCheck } from './doctor-checks.js';

/** Loopback (127/8) and the unspecified address: a node on the LAN reaches neither as this server. */
function unreachable(address: string): boolean {
  return address === '0.0.0.0' || address.startsWith('127.') || address === 'localhost';
}

/** This host's own IPv4 addresses, as candidates for serverAddress. */
function hostAddresses(): string[] {
  return Object.entries(networkInterfaces()).flatMap(([name, addresses]) =>
    (addresses ?? []).filter((entry) => entry.family === 'IPv4' && !entry.internal).map((entry) => `${entry.address} (${name})`),
  );
}

/**
 * Nodes find this server through serverAddress (DHCP next-server and option 66, the TFTP answers)
 * and through the boot URLs built from it or http.publicUrl; a loopback or unspecified address
 * there passes every other check and boots nothing.
 */
export function checkServerAddress(config: Config): DoctorCheck[] {
  const own = hostAddresses();
  const candidates = own.length ? `this host's addresses: ${own.join(', ')}` : 'this host has no non-loopback IPv4 address';
  const checks: DoctorCheck[] = [];
  if (unreachable(config.serverAddress)) {
    checks.push({
      id: 'serverAddress',
      status: 'fail',
      message:
        `serverAddress ${config.serverAddress} is a loopback/unspecified address: DHCP sends nodes there (next-server, option 66) and every boot URL ` +
        `(${publicBaseUrl(config)}/...) points there, so no node can reach this server`,
      fix: `set serverAddress in ${config.source} to this host's address on the boot network (${candidates})`,
    });
  } else {
    checks.push({ id: 'serverAddress', status: 'ok', message: `serverAddress ${config.serverAddress}: nodes are sent there` });
  }
  if (config.http.publicUrl) {
    const host = new URL(config.http.publicUrl).hostname;
    if (unreachable(host)) {
      checks.push({
        id: 'http.publicUrl',
        status: 'fail',
        message: `http.publicUrl ${config.http.publicUrl} names a loopback/unspecified host: every HTTP boot URL (iPXE chain, kernel, initramfs, booted callback) points there`,
        fix: `set http.publicUrl to a URL nodes reach (e.g. http://<serverAddress>:${config.http.port}), or remove it to use serverAddress`,
      });
    }
  }
  // The listeners themselves, on loopback only: nodes reach neither (0.0.0.0 listens everywhere). Only a
  // warning: a reverse proxy or port forward on this host may stand in front of HTTP (then set http.publicUrl).
  for (const [field, address, enabled] of [
    ['http.address', config.http.address, !config.http.publicUrl],
    ['tftp.address', config.tftp.address, config.tftp.enabled],
  ] as const) {
    if (enabled && unreachable(address) && address !== '0.0.0.0' && !unreachable(config.serverAddress)) {
      checks.push({
        id: field,
        status: 'warn',
        message: `${field} ${address} listens on loopback only: nodes sent to ${config.serverAddress} get no answer from it`,
        fix: `set ${field} to ${config.serverAddress} (or 0.0.0.0), or remove it to use the default`,
      });
    }
  }
  return checks;
}

/** How the running daemon answers an unauthenticated write: 401 when it has a token, 403 RB_NO_TOKEN when it has none. */
async function daemonHasToken(url: string): Promise<boolean | undefined> {
  try {
    const { request } = await import('undici');
    // Refused by the token check before any route runs: nothing is changed whatever the daemon holds.
    const response = await request(`${url}/api/v1/nodes/00000000/rollback`, { method: 'POST', headersTimeout: 1500, bodyTimeout: 1500 });
    const body = (await response.body.json().catch(() => ({}))) as { error?: string };
    if (response.statusCode === 401) return true;
    if (response.statusCode === 403 && body.error === 'RB_NO_TOKEN') return false;
    return undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes from the API and the page need http.adminToken. A published one is refused when the config
 * loads (the config check); an absent one leaves the page's Assign buttons answering 403, which an
 * operator finds out only when trying. When the daemon runs, its own answer counts: its token may
 * come from its service environment, or be missing there although this shell has one.
 */
export async function checkAdminToken(config: Config, daemonUrl: string | undefined): Promise<DoctorCheck> {
  const here = config.http.adminToken !== undefined;
  const daemon = daemonUrl ? await daemonHasToken(daemonUrl) : undefined;
  const setIt = `set a random token (openssl rand -hex 32) in http.adminToken of ${config.source}, or ${ADMIN_TOKEN_ENV} in the daemon's environment (systemctl edit rackboot: Environment=${ADMIN_TOKEN_ENV}=...)`;
  if (daemon === false) {
    return {
      id: 'adminToken',
      status: 'warn',
      message: `the running daemon has no admin token${here ? ', though this config (or this shell\'s ' + ADMIN_TOKEN_ENV + ') has one: it was started without it' : ''}: the API is read-only and the page's Assign, Unassign and Rollback answer 403 RB_NO_TOKEN`,
      fix: `${setIt}, then restart the daemon; leave it unset only if the API should stay read-only (the CLI on this host still writes)`,
    };
  }
  if (daemon === true || here) {
    const where = daemon ? 'the running daemon has an admin token' : 'http.adminToken is set';
    return { id: 'adminToken', status: 'ok', message: `${where}: the API and the page accept writes with it` };
  }
  return {
    id: 'adminToken',
    status: 'warn',
    message: `no admin token (http.adminToken, ${ADMIN_TOKEN_ENV}): the API is read-only and the page's Assign, Unassign and Rollback answer 403 RB_NO_TOKEN`,
    fix: `${setIt}; leave it unset only if the API should stay read-only (the CLI on this host still writes)`,
  };
}
