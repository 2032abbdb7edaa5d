/**
 * `rackboot doctor --probe-dhcp` inside a namespace pair this test creates: the "other" DHCP
 * server is a rackboot daemon in server mode on the server side; doctor runs on the client side.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { mainJs, startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { createLab, type Lab } from './helpers/netns.js';
import type { DoctorReport } from '../server/cli/doctor.js';
import { dhcpDaemonConfig } from './helpers/dhcp-daemon.js';

const net = '10.199.83';

function doctorIn(lab: Lab, configFile: string): Promise<{ code: number; report: DoctorReport }> {
  return new Promise((resolve, reject) => {
    execFile(
      'ip',
      ['netns', 'exec', lab.client, process.execPath, mainJs, '--config', configFile, 'doctor', '--probe-dhcp', '--json'],
      { timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? Number((error as { code?: number }).code ?? -1) : 0;
        try {
          resolve({ code, report: JSON.parse(stdout) as DoctorReport });
        } catch {
          reject(new Error(`doctor printed no JSON (exit ${code}):\n${stdout}\n${stderr}`));
        }
      },
    );
  });
}

describe('doctor --probe-dhcp: DHCP mode against the servers seen on the segment', () => {
  let lab: Lab;
  let other: RunningDaemon | undefined;
  const dir = mkdtempSync(path.join(tmpdir(), 'rbt-ops-probe-'));

  const config = (mode: 'proxy' | 'server') => {
    const file = path.join(dir, `${mode}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        serverAddress: `${net}.2`,
        dataDir: path.join(dir, 'data'),
        http: { address: '127.0.0.1', port: 0 },
        tftp: { address: '127.0.0.1', port: 0 },
        dhcp: { enabled: true, mode, interface: lab.clientDev, subnet: `${net}.0/24`, pool: { start: `${net}.200`, end: `${net}.210` } },
      }),
    );
    return file;
  };

  before(async () => {
    lab = createLab({ prefix: 'rbt-ops-', tag: 'p', serverCidr: `${net}.1/24`, clientCidr: `${net}.2/24`, broadcastRoutes: true });
    other = await startDaemon({
      netns: lab.server,
      config: dhcpDaemonConfig(net, { interface: lab.serverDev }),
    });
  });
  after(async () => {
    await other?.stop();
    lab?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('proxy mode beside another DHCP server is fine, and names it', async () => {
    const { code, report } = await doctorIn(lab, config('proxy'));
    const dhcp = report.checks.find((check) => check.id === 'dhcp')!;
    assert.equal(dhcp.status, 'ok', dhcp.message);
    assert.match(dhcp.message, new RegExp(`other DHCP servers seen: ${net.replace(/\./g, '\\.')}\\.1`));
    assert.equal(code, 0, JSON.stringify(report.checks));
  });

  it('server mode beside another DHCP server fails with the fix', async () => {
    const { code, report } = await doctorIn(lab, config('server'));
    const dhcp = report.checks.find((check) => check.id === 'dhcp')!;
    assert.equal(dhcp.status, 'fail');
    assert.match(dhcp.fix!, /set dhcp\.mode to "proxy"/);
    assert.equal(code, 1);
  });

  it('proxy mode with no DHCP server on the segment fails', async () => {
    await other!.stop();
    other = undefined;
    const { report } = await doctorIn(lab, config('proxy'));
    const dhcp = report.checks.find((check) => check.id === 'dhcp')!;
    assert.equal(dhcp.status, 'fail');
    assert.match(dhcp.message, /no DHCP server answered/);
  });
});
