// The real consumer of pack and overlay output is the Linux kernel's initramfs unpacker: boot a
// Debian kernel in QEMU (no network) on `base + overlay` and read what /init sees.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { BlobStore } from '../server/images/blob-store.js';
import { OverlayCache } from '../server/images/overlay.js';
import { packToFile } from '../server/images/pack.js';
import { debianKernel, staticBusybox } from './helpers/e2e-debian.js';
import { tempDir } from './helpers/images-fixtures.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKernelTestKey rack@admin';
const BOOT_TIMEOUT_MS = 180_000;

const INIT = `#!/bin/sh
/bin/busybox mkdir -p /proc
/bin/busybox mount -t proc proc /proc
echo "RB-IMAGES hostname=$(/bin/busybox cat /etc/hostname) motd=$(/bin/busybox cat /etc/motd) key=$(/bin/busybox cat /root/.ssh/authorized_keys) keymode=$(/bin/busybox stat -c %a /root/.ssh/authorized_keys) sshdir=$(/bin/busybox stat -c %a /root/.ssh) app=$(/bin/busybox stat -c %a:%u:%g /bin/app) END"
echo o > /proc/sysrq-trigger
`;

/** Boots the kernel on `initrd` and returns the RB-IMAGES line /init printed. */
function boot(initrd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const qemu = spawn(
      'qemu-system-x86_64',
      ['-m', '256', '-display', 'none', '-serial', 'stdio', '-no-reboot', '-kernel', debianKernel(), '-initrd', initrd, '-append', 'console=ttyS0 panic=-1 quiet'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let serial = '';
    const timer = setTimeout(() => qemu.kill('SIGKILL'), BOOT_TIMEOUT_MS);
    qemu.stdout.on('data', (chunk: Buffer) => (serial += chunk.toString('latin1')));
    qemu.stderr.on('data', (chunk: Buffer) => (serial += chunk.toString('latin1')));
    qemu.on('error', reject);
    qemu.on('exit', () => {
      clearTimeout(timer);
      const line = /RB-IMAGES .* END/.exec(serial)?.[0];
      if (line) resolve(line);
      else reject(new Error(`no RB-IMAGES line from the booted kernel; serial tail:\n${serial.slice(-3000)}`));
    });
  });
}

async function setup(t: Parameters<typeof tempDir>[0], compressed: boolean) {
  const dir = await tempDir(t, 'kernel');
  await writeFile(path.join(dir, 'init'), INIT);
  await writeFile(path.join(dir, 'motd'), 'from-base');
  await writeFile(path.join(dir, 'hostname'), 'base-image');
  await writeFile(
    path.join(dir, 'list'),
    [
      'dir /bin 755 0 0',
      `file /bin/busybox ${staticBusybox()} 755 0 0`,
      'slink /bin/sh busybox 777 0 0',
      'file /bin/app motd 4750 1000 100',
      'dir /dev 755 0 0',
      'nod /dev/console 600 0 0 c 5 1',
      'dir /etc 755 0 0',
      'file /etc/motd motd 644 0 0',
      'file /etc/hostname hostname 644 0 0',
      'file /init init 755 0 0',
    ].join('\n'),
  );
  await packToFile(path.join(dir, 'list'), path.join(dir, 'base.cpio.gz'));
  let base = path.join(dir, 'base.cpio.gz');
  if (!compressed) {
    // An uncompressed base whose length is not a multiple of 4: the overlay must be padded.
    base = path.join(dir, 'base.cpio');
    await writeFile(base, Buffer.concat([gunzipSync(await readFile(path.join(dir, 'base.cpio.gz'))), Buffer.alloc(2)]));
  }
  const store = new BlobStore(path.join(dir, 'store'));
  await store.init();
  const cache = new OverlayCache(store, path.join(dir, 'overlays'));
  const file = await cache.initramfsFor(await store.putFile(base), { hostname: 'node-42', sshAuthorizedKeys: [KEY] });
  const served = path.join(dir, 'served.img');
  await writeFile(served, Buffer.concat(await Promise.all(file.parts.map((part) => readFile(part.path)))));
  return served;
}

const EXPECTED = `RB-IMAGES hostname=node-42 motd=from-base key=${KEY} keymode=600 sshdir=700 app=4750:1000:100 END`;

test('a Debian kernel unpacks our packed gzip base plus the node overlay', { timeout: BOOT_TIMEOUT_MS + 60_000 }, async (t) => {
  assert.equal(await boot(await setup(t, true)), EXPECTED);
});

test('a Debian kernel unpacks an uncompressed, unaligned base plus the padded overlay', { timeout: BOOT_TIMEOUT_MS + 60_000 }, async (t) => {
  assert.equal(await boot(await setup(t, false)), EXPECTED);
});
