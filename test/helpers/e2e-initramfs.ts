/**
 * The initramfs the QEMU boots run: busybox-static and an /init that prints one marker line on the
 * serial port and powers off. Packed with the project's own cpio writer (server/images/pack.ts),
 * so the boot also proves the writer produces archives a Debian kernel unpacks.
 *
 * The marker names what the node was told (kernel command line), what image's initramfs it
 * actually runs (a file baked into each image) and the hostname a per-node overlay gave it:
 *   RACKBOOT-E2E mac=<mac> image=<cmdline image> built=<baked image> node=<cmdline node> hostname=<etc/hostname>
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { packToFile } from '../../server/images/pack.js';
import { staticBusybox } from './e2e-debian.js';

export const MARKER = 'RACKBOOT-E2E';

export interface BootMarker {
  mac: string;
  image: string;
  built: string;
  node: string;
  hostname: string;
}

// console=tty0 comes last on the x86 command line, so /dev/console is the screen: write the
// marker to ttyS0 itself. `poweroff -f` with QEMU's -no-reboot ends the VM.
const INIT = `#!/bin/busybox sh
bb=/bin/busybox
$bb mount -t proc proc /proc
$bb mount -t devtmpfs dev /dev
for word in $($bb cat /proc/cmdline); do
  case "$word" in
    rackboot.mac=*) mac="\${word#rackboot.mac=}" ;;
    rackboot.image=*) image="\${word#rackboot.image=}" ;;
    rackboot.node=*) node="\${word#rackboot.node=}" ;;
  esac
done
built=$($bb cat /etc/rackboot-image)
hostname=$($bb cat /etc/hostname 2>/dev/null)
echo "${MARKER} mac=$mac image=$image built=$built node=$node hostname=$hostname" > /dev/ttyS0
$bb poweroff -f
`;

/** Packs the test initramfs for `imageName` under `parentDir`; returns the .cpio.gz path. */
export async function buildTestInitramfs(imageName: string, parentDir: string): Promise<string> {
  const dir = mkdtempSync(path.join(parentDir, `initramfs-${imageName}-`));
  writeFileSync(path.join(dir, 'init'), INIT);
  writeFileSync(path.join(dir, 'rackboot-image'), `${imageName}\n`);
  const list = [
    'dir /bin 755 0 0',
    `file /bin/busybox ${staticBusybox()} 755 0 0`,
    'slink /bin/sh busybox 777 0 0',
    'dir /dev 755 0 0',
    'nod /dev/console 600 0 0 c 5 1',
    'dir /etc 755 0 0',
    'file /etc/rackboot-image rackboot-image 644 0 0',
    'dir /proc 755 0 0',
    'file /init init 755 0 0',
  ];
  writeFileSync(path.join(dir, 'list'), `${list.join('\n')}\n`);
  const output = path.join(dir, `${imageName}.cpio.gz`);
  await packToFile(path.join(dir, 'list'), output);
  return output;
}

const MARKER_LINE = new RegExp(`${MARKER} mac=(\\S*) image=(\\S*) built=(\\S*) node=(\\S*) hostname=(\\S*)`);

/** The marker a serial log carries, if any. */
export function parseMarker(serial: string): BootMarker | undefined {
  const match = MARKER_LINE.exec(serial);
  if (!match) return undefined;
  const [, mac = '', image = '', built = '', node = '', hostname = ''] = match;
  return { mac, image, built, node, hostname };
}
