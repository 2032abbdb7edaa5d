/**
 * An x86_64 QEMU VM that network-boots from its NIC's iPXE ROM (Debian ipxe-qemu), inside a
 * namespace, on a tap. TCG only (KVM is not usable here), 256 MiB, one vCPU, no disk, no reboot:
 * the guest's `poweroff -f` ends the process. The serial port (SeaBIOS and iPXE, then the
 * kernel's ttyS0) is captured in memory and in a log file for post-mortems.
 *
 * With `wire`, the NIC is not on the tap itself: its frames go as UDP datagrams to a relay on the
 * namespace's 127.0.0.1 (lossy-frames.ts), and a hub inside this QEMU joins the relay's other end to
 * the tap:  NIC <-> nic port ~ relayNic [relay] relayTap ~ tap port <-> hub <-> tap.
 *
 * Every wait is bounded; `kill()` is safe to call any number of times and cleanup must call it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';

export type NicModel = 'e1000' | 'virtio';

export interface VmOptions {
  ns: string;
  tap: string;
  mac: string;
  nic?: NicModel;
  /** File the serial output is copied to. */
  serialLog: string;
  wire?: WirePorts;
}

/** UDP ports on 127.0.0.1: QEMU binds `nic` and `tap`, the relay `relayNic` and `relayTap`. */
export interface WirePorts {
  nic: number;
  relayNic: number;
  tap: number;
  relayTap: number;
}

/**
 * The ports of the `index`th relayed VM of a namespace: below the ephemeral range (32768+), so
 * no TFTP transfer socket of the daemon can hold one already.
 */
export function wirePorts(index: number): WirePorts {
  const base = 21_000 + 4 * index;
  return { nic: base, relayNic: base + 1, tap: base + 2, relayTap: base + 3 };
}

function udpNetdev(id: string, local: number, remote: number): string[] {
  return ['-netdev', `socket,id=${id},udp=127.0.0.1:${remote},localaddr=127.0.0.1:${local}`];
}

/** The -netdev arguments; the NIC's backend is always `n0`. */
function netdevArgs(tap: string, wire: WirePorts | undefined): string[] {
  const tapNetdev = (id: string) => ['-netdev', `tap,id=${id},ifname=${tap},script=no,downscript=no`];
  if (!wire) return tapNetdev('n0');
  return [
    ...udpNetdev('n0', wire.nic, wire.relayNic),
    ...tapNetdev('t0'),
    ...udpNetdev('w0', wire.tap, wire.relayTap),
    // A hub has no NIC here, which QEMU warns about on stderr ("hub 0 with no nics"): expected.
    ...['-netdev', 'hubport,id=h0,hubid=0,netdev=t0', '-netdev', 'hubport,id=h1,hubid=0,netdev=w0'],
  ];
}

export interface Vm {
  output(): string;
  /**
   * Resolves with the first match of `pattern` in the serial output; rejects after `timeoutMs`,
   * when the VM exits first, or as soon as `failOn` shows up (a boot that cannot succeed any more).
   */
  waitFor(pattern: RegExp, timeoutMs: number, failOn?: RegExp): Promise<RegExpExecArray>;
  /** Resolves with the exit code when QEMU exits within `timeoutMs`, else rejects. */
  waitExit(timeoutMs: number): Promise<number | null>;
  kill(): void;
}

// The 2019 ROM's virtio driver only claims the modern PCI id 1af4:1041.
const NIC_DEVICES: Record<NicModel, string> = { e1000: 'e1000', virtio: 'virtio-net-pci,disable-legacy=on' };

export function startVm(options: VmOptions): Vm {
  const nic = NIC_DEVICES[options.nic ?? 'e1000'];
  const args = [
    ...['netns', 'exec', options.ns, 'qemu-system-x86_64'],
    ...['-machine', 'pc,accel=tcg', '-cpu', 'qemu64', '-m', '256', '-smp', '1'],
    // -nographic also makes SeaBIOS copy the BIOS text console (and so iPXE's messages) to the
    // serial port; -display none with -fw_cfg etc/sercon-port printed nothing with Debian's SeaBIOS.
    ...['-nodefaults', '-no-user-config', '-nographic', '-serial', 'stdio', '-monitor', 'none', '-no-reboot'],
    ...netdevArgs(options.tap, options.wire),
    ...['-device', `${nic},netdev=n0,mac=${options.mac},bootindex=1`],
  ];
  const child: ChildProcess = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(options.serialLog);
  let serial = '';
  const watchers = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    serial += chunk.toString('latin1');
    log.write(chunk);
    for (const watcher of watchers) watcher();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then(() => {
    log.end();
    for (const watcher of watchers) watcher();
  });
  const running = () => child.exitCode === null && child.signalCode === null;
  // Readable in a test report: no colour codes, no iPXE countdown backspaces.
  const tail = () => serial.slice(-3000).replace(/\x1b\[[0-9;?]*[a-zA-Z]|\x1bc|\x08/g, '');

  return {
    output: () => serial,
    waitFor(pattern, timeoutMs, failOn) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(serial);
          if (match) return done(() => resolve(match));
          const failure = failOn?.exec(serial);
          if (failure) return done(() => reject(new Error(`VM ${options.mac}: "${failure[0]}" before ${pattern}; serial tail:\n${tail()}`)));
          if (!running()) done(() => reject(new Error(`VM ${options.mac} exited before ${pattern}; serial tail:\n${tail()}`)));
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`VM ${options.mac}: no ${pattern} within ${timeoutMs} ms; serial tail:\n${tail()}`))),
          timeoutMs,
        );
        const done = (settle: () => void) => {
          clearTimeout(timer);
          watchers.delete(check);
          settle();
        };
        watchers.add(check);
        check();
      });
    },
    waitExit(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`VM ${options.mac} still running after ${timeoutMs} ms; serial tail:\n${tail()}`)), timeoutMs);
      });
      return Promise.race([exited, timeout]).finally(() => clearTimeout(timer));
    },
    kill() {
      if (running()) child.kill('SIGKILL');
    },
  };
}
