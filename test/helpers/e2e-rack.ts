/**
 * A rack the QEMU tests boot in: a bridged segment, the daemon on it with DHCP in server mode and
 * HTTP on the segment, the Debian kernel and one test initramfs per image registered through the
 * admin API. `boot()` starts a VM and resolves with the marker its initramfs printed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startDaemon, type RunningDaemon } from './daemon.js';
import { debianKernel } from './e2e-debian.js';
import { nsApi } from './e2e-api.js';
import { buildTestInitramfs, parseMarker, MARKER, type BootMarker } from './e2e-initramfs.js';
import { createSegment, type Segment } from './e2e-net.js';
import { startVm, type NicModel, type Vm } from './qemu.js';

/** iPXE's ~16 s IPv6 wait, DHCP, HTTP and a TCG kernel boot: about 30 s on an idle 2-core box. */
const BOOT_TIMEOUT_MS = 150_000;
const EXIT_TIMEOUT_MS = 20_000;
/** iPXE or SeaBIOS giving up, or rackboot telling the node it has nothing to boot. */
const BOOT_FAILED = /No bootable device|has no image assigned|Could not boot/;
/** The whole marker line, newline included (serial output arrives in pieces). */
const MARKER_LINE_DONE = new RegExp(`${MARKER} mac=[^\\n]*\\n`);

export interface Rack {
  segment: Segment;
  daemon: RunningDaemon;
  api(method: string, url: string, body?: unknown): ReturnType<typeof nsApi>;
  /** Boots the VM with this MAC until its marker appears and it powers off. */
  boot(mac: string, nic?: NicModel): Promise<{ marker: BootMarker; seconds: number }>;
  close(): Promise<void>;
}

/** The tap a MAC's VM uses: one per VM, reused across its boots. */
function tapName(mac: string): string {
  return `tap${mac.replace(/:/g, '').slice(-4)}`;
}

export async function startRack(options: { tag: string; images: string[]; routerAdvertisements?: boolean }): Promise<Rack> {
  const segment = createSegment(options.tag);
  const workDir = mkdtempSync(path.join(tmpdir(), `rbt-e2e-${options.tag}-`));
  const vms = new Set<Vm>();
  let daemon: RunningDaemon | undefined;
  const teardown = async () => {
    for (const vm of vms) vm.kill();
    await daemon?.stop();
    segment.cleanup();
    // RACKBOOT_E2E_KEEP=1 keeps the serial logs and initramfs for a post-mortem.
    if (process.env['RACKBOOT_E2E_KEEP'] !== '1') rmSync(workDir, { recursive: true, force: true });
  };
  try {
    if (options.routerAdvertisements) segment.advertiseRouter();
    const kernel = debianKernel();
    const initrds = await Promise.all(options.images.map((name) => buildTestInitramfs(name, workDir)));
    daemon = await startDaemon({
      netns: segment.ns,
      config: {
        serverAddress: segment.serverAddress,
        http: { address: '0.0.0.0', port: 8080 },
        tftp: { address: '0.0.0.0', port: 69 },
        dhcp: { enabled: true, mode: 'server', interface: segment.bridge, subnet: segment.subnet, pool: segment.pool },
      },
    });
    const running = daemon;
    const api = (method: string, url: string, body?: unknown) => nsApi(segment.ns, running, method, url, body);
    for (const [index, name] of options.images.entries()) {
      const created = await api('POST', '/images', { name, arch: 'x86_64', kernel, initrd: initrds[index] });
      if (created.status !== 201) throw new Error(`registering image ${name}: ${created.status} ${JSON.stringify(created.json)}`);
    }
    const taps = new Set<string>();
    const boot = async (mac: string, nic: NicModel = 'e1000') => {
      const tap = tapName(mac);
      if (!taps.has(tap)) segment.addTap(tap);
      taps.add(tap);
      const started = Date.now();
      const serialLog = path.join(workDir, `${mac.replace(/:/g, '')}-${started}.log`);
      const vm = startVm({ ns: segment.ns, tap, mac, nic, serialLog });
      vms.add(vm);
      try {
        await vm.waitFor(MARKER_LINE_DONE, BOOT_TIMEOUT_MS, BOOT_FAILED);
        await vm.waitExit(EXIT_TIMEOUT_MS);
        return { marker: parseMarker(vm.output())!, seconds: (Date.now() - started) / 1000 };
      } catch (error) {
        throw new Error(`${(error as Error).message}\n(full serial log: ${serialLog}, kept with RACKBOOT_E2E_KEEP=1)`);
      } finally {
        vm.kill();
        vms.delete(vm);
      }
    };
    return {
      segment,
      daemon,
      api,
      boot,
      close: teardown,
    };
  } catch (error) {
    await teardown();
    throw error;
  }
}
