/**
 * A rack the QEMU tests boot in: a bridged segment, the daemon on it with DHCP in server mode and
 * HTTP on the segment, the Debian kernel and one test initramfs per image registered through the
 * admin API. `boot()` starts a VM and resolves with the marker its initramfs printed; with `wire`
 * impairments the VM's NIC talks through the seeded frame relay (lossy-frames.ts).
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot, startDaemon, type RunningDaemon } from './daemon.js';
import { debianKernel } from './e2e-debian.js';
import { nsApi, nsGet } from './e2e-api.js';
import { buildTestInitramfs, parseMarker, MARKER, type BootMarker } from './e2e-initramfs.js';
import { createSegment, TAP_PREFIX, type Segment } from './e2e-net.js';
import { spawnFrameRelay, type FrameCounters, type WireImpairments } from './lossy-frames.js';
import { parsePrometheus, type Sample } from './prometheus.js';
import { startVm, wirePorts, type NicModel } from './qemu.js';

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
  /** The daemon's /metrics, parsed. */
  metrics(): Promise<Sample[]>;
  /**
   * Boots the VM with this MAC until its marker appears and it powers off. With `wire`, its NIC
   * talks through the frame relay, and `wire` in the result says what the relay did.
   */
  boot(mac: string, nic?: NicModel, wire?: WireImpairments): Promise<{ marker: BootMarker; seconds: number; wire?: FrameCounters }>;
  close(): Promise<void>;
}

export interface RackOptions {
  tag: string;
  images: string[];
  routerAdvertisements?: boolean;
  /** Further `tftp` settings of the daemon (e.g. retransmit timing). */
  tftp?: Record<string, unknown>;
  /** Templates that replace the shipped ones of the same name (e.g. `chain.ipxe`). */
  templates?: Record<string, string>;
}

/** The tap a MAC's VM uses: one per VM, reused across its boots. */
function tapName(mac: string): string {
  return `${TAP_PREFIX}${mac.replace(/:/g, '').slice(-4)}`;
}

/** An assetsDir with the shipped templates, `templates` written over them, and no firmware or iPXE binaries. */
function assetsWith(workDir: string, templates: Record<string, string>): string {
  const dir = path.join(workDir, 'assets');
  cpSync(path.join(repoRoot, 'boot-assets/templates'), path.join(dir, 'templates'), { recursive: true });
  for (const [name, text] of Object.entries(templates)) writeFileSync(path.join(dir, 'templates', name), text);
  for (const empty of ['firmware', 'ipxe']) mkdirSync(path.join(dir, empty));
  return dir;
}

export async function startRack(options: RackOptions): Promise<Rack> {
  const segment = createSegment(options.tag);
  const workDir = mkdtempSync(path.join(tmpdir(), `rbt-e2e-${options.tag}-`));
  /** VMs and frame relays still running: teardown kills them. */
  const children = new Set<{ kill(): void }>();
  let daemon: RunningDaemon | undefined;
  const teardown = async () => {
    for (const child of children) child.kill();
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
        tftp: { address: '0.0.0.0', port: 69, ...options.tftp },
        dhcp: { enabled: true, mode: 'server', interface: segment.bridge, subnet: segment.subnet, pool: segment.pool },
        ...(options.templates && { assetsDir: assetsWith(workDir, options.templates) }),
        // The Debian kernel comes from the package cache, the initramfs from the work dir.
        images: { importRoots: [path.dirname(kernel), workDir] },
      },
    });
    const running = daemon;
    const api = (method: string, url: string, body?: unknown) => nsApi(segment.ns, running, method, url, body);
    for (const [index, name] of options.images.entries()) {
      const created = await api('POST', '/images', { name, arch: 'x86_64', kernel, initrd: initrds[index] });
      if (created.status !== 201) throw new Error(`registering image ${name}: ${created.status} ${JSON.stringify(created.json)}`);
    }
    const taps = new Set<string>();
    let relays = 0;
    const boot = async (mac: string, nic: NicModel = 'e1000', impairments?: WireImpairments) => {
      const tap = tapName(mac);
      if (!taps.has(tap)) segment.addTap(tap);
      taps.add(tap);
      const wire = impairments && wirePorts(relays++);
      const relay = wire && (await spawnFrameRelay(segment.ns, { ...impairments, ports: wire }));
      if (relay) children.add(relay);
      const started = Date.now();
      const serialLog = path.join(workDir, `${mac.replace(/:/g, '')}-${started}.log`);
      const vm = startVm({ ns: segment.ns, tap, mac, nic, serialLog, ...(wire && { wire }) });
      children.add(vm);
      try {
        await vm.waitFor(MARKER_LINE_DONE, BOOT_TIMEOUT_MS, BOOT_FAILED);
        await vm.waitExit(EXIT_TIMEOUT_MS);
        const seconds = (Date.now() - started) / 1000;
        return { marker: parseMarker(vm.output())!, seconds, ...(relay && { wire: await relay.stop() }) };
      } catch (error) {
        throw new Error(`${(error as Error).message}\n(full serial log: ${serialLog}, kept with RACKBOOT_E2E_KEEP=1)`);
      } finally {
        for (const child of [vm, relay]) {
          child?.kill();
          if (child) children.delete(child);
        }
      }
    };
    const metrics = async () => parsePrometheus((await nsGet(segment.ns, `${running.httpUrl}/metrics`)).toString());
    return {
      segment,
      daemon,
      api,
      metrics,
      boot,
      close: teardown,
    };
  } catch (error) {
    await teardown();
    throw error;
  }
}
