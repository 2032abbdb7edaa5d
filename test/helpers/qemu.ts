/**
 * An x86_64 QEMU VM that network-boots from its NIC's iPXE ROM (Debian ipxe-qemu), inside a
 * namespace, on a tap. TCG only (KVM is not usable here), 256 MiB, one vCPU, no disk, no reboot:
 * the guest's `poweroff -f` ends the process. The serial port (SeaBIOS and iPXE, then the
 * kernel's ttyS0) is captured in memory and in a log file for post-mortems.
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
    ...['-netdev', `tap,id=n0,ifname=${options.tap},script=no,downscript=no`],
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
