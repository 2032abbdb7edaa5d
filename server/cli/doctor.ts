import type { Command } from 'commander';
import { commandConfig, configPath, NoInventoryError, withAdminOn } from './context.js';
import { daemonUrl } from './daemon-url.js';
import { probeDhcpServers } from './dhcp-probe.js';
import { checkAdminToken, checkServerAddress } from './doctor-access.js';
import { checkHttpBoot } from './doctor-http-boot.js';
import {
  checkClock,
  checkDhcpMode,
  checkFirmware,
  checkImages,
  checkPorts,
  daemonRunning,
  type DoctorCheck,
} from './doctor-checks.js';
import { checkRefusedFirmware } from './doctor-refusals.js';
import { printJson } from './output.js';
import type { Config } from '../config/types.js';

export interface DoctorReport {
  /** false when any check failed; warnings alone keep it true. */
  ok: boolean;
  config: string;
  daemon: { url: string | null; running: boolean };
  checks: DoctorCheck[];
}

async function dhcpCheck(config: Config, probe: boolean): Promise<DoctorCheck> {
  if (!probe || !config.dhcp.enabled) return checkDhcpMode(config, undefined);
  try {
    return checkDhcpMode(config, await probeDhcpServers(config.dhcp, config.serverAddress));
  } catch (error) {
    return {
      id: 'dhcp',
      status: 'warn',
      message: `could not probe for other DHCP servers: ${(error as Error).message}`,
      fix: 'port 68 is taken when a DHCP client runs on this host; probe from another machine on the segment (e.g. nmap --script broadcast-dhcp-discover)',
    };
  }
}

async function inventoryChecks(config: Config, daemon: string | null): Promise<DoctorCheck[]> {
  try {
    return await withAdminOn(
      config,
      async (admin) => [...checkFirmware(admin), checkRefusedFirmware(admin), ...checkImages(admin), ...(await checkHttpBoot(admin, daemon))],
      { create: false },
    );
  } catch (error) {
    if (!(error instanceof NoInventoryError)) throw error;
    return [{ id: 'inventory', status: 'warn', message: error.problem, fix: error.fix }];
  }
}

export async function runDoctor(command: Command, options: { url?: string; probeDhcp?: boolean }): Promise<DoctorReport> {
  let config: Config;
  try {
    config = commandConfig(command);
  } catch (error) {
    const file = configPath(command);
    const check: DoctorCheck = { id: 'config', status: 'fail', message: (error as Error).message, fix: `fix ${file} (the fields are described in server/config/config.schema.json)` };
    return { ok: false, config: file, daemon: { url: null, running: false }, checks: [check] };
  }
  let url: string | null = null;
  try {
    url = daemonUrl(config, options.url);
  } catch {
    // Port 0 without --url: the daemon cannot be found, so the ports are probed as if it were down.
  }
  const running = await daemonRunning(url ?? undefined);
  const checks: DoctorCheck[] = [{ id: 'config', status: 'ok', message: `${config.source} is valid` }, checkClock()];
  checks.push(...checkServerAddress(config));
  checks.push(await checkAdminToken(config, running ? (url ?? undefined) : undefined));
  checks.push(...(await checkPorts(config, running)));
  checks.push(...(await inventoryChecks(config, running ? url : null)));
  checks.push(await dhcpCheck(config, Boolean(options.probeDhcp)));
  return { ok: !checks.some((check) => check.status === 'fail'), config: config.source, daemon: { url, running }, checks };
}

const MARK: Record<DoctorCheck['status'], string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL', skip: '-   ' };

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check the config, serverAddress, the admin token, ports, Pi firmware (by model and by what nodes were refused), images against the Pi limits, HTTP boot, the clock and DHCP; exits 1 on a failed check')
    .option('--json', 'print the report as JSON')
    .option('--url <url>', 'daemon URL (default: from the config http section)')
    .option('--probe-dhcp', 'send one DHCPDISCOVER on dhcp.interface to find other DHCP servers on the segment')
    .action(async (options, command: Command) => {
      const report = await runDoctor(command, { url: options.url, probeDhcp: options.probeDhcp });
      if (options.json) printJson(report);
      else {
        console.log(`config ${report.config}; daemon ${report.daemon.running ? `running at ${report.daemon.url}` : 'not running'}`);
        for (const check of report.checks) {
          console.log(`${MARK[check.status]}  ${check.id.padEnd(22)} ${check.message}`);
          if (check.fix && check.status !== 'ok') console.log(`      ${''.padEnd(22)} fix: ${check.fix}`);
        }
        const failed = report.checks.filter((check) => check.status === 'fail').length;
        const warned = report.checks.filter((check) => check.status === 'warn').length;
        console.log(failed || warned ? `\n${failed} failed, ${warned} warning(s)` : '\nall checks passed');
      }
      if (!report.ok) process.exitCode = 1;
    });
}
