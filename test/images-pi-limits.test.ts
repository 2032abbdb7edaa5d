import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkPiLimits, tftpBlockLimit } from '../server/images/pi-limits.js';

const MiB = 2 ** 20;

test('small images get no warning', () => {
  assert.deepEqual(checkPiLimits({ kernelSize: 8 * MiB, initramfsSize: 20 * MiB }), []);
  assert.deepEqual(checkPiLimits({ kernelSize: 8 * MiB }), []);
});

test('the block-counter limit is 65535 blocks, counting the empty final block of an exact multiple', () => {
  assert.equal(tftpBlockLimit(1024), 65535 * 1024 - 1);
  const fits = checkPiLimits({ kernelSize: 1, initramfsSize: 65535 * 1024 - 1 }, { roundTripMs: 0.1 });
  assert.deepEqual(fits, []);
  const [warning, ...rest] = checkPiLimits({ kernelSize: 1, initramfsSize: 65535 * 1024 }, { roundTripMs: 0.1 });
  assert.deepEqual(rest, []);
  assert.equal(warning?.code, 'RB_PI_TFTP_BLOCK_ROLLOVER');
  assert.equal(warning?.file, 'initramfs');
  assert.equal(warning?.limit, 65535 * 1024 - 1);
  assert.match(warning!.message, /silently truncate/);
  assert.match(warning!.whatToDo, /Pi 4 an EEPROM update does not help.*start4\.elf.*HTTP.*--http-boot.*Pi 5 update the bootloader EEPROM to 2025-09-23.*shrink the initramfs below 67107840 bytes/);
});

test('the rollover advice tells a Pi 4 (start4.elf loads the files: HTTP boot) from a Pi 5 (EEPROM update)', () => {
  const sizes = { kernelSize: 1, initramfsSize: 70 * MiB };
  const [pi4] = checkPiLimits(sizes, { roundTripMs: 0.1, families: ['pi4'] });
  assert.match(pi4!.whatToDo, /^on a Pi 4 an EEPROM update does not help .*boot it over HTTP/);
  assert.doesNotMatch(pi4!.whatToDo, /rpi-eeprom-update/);
  const [pi5] = checkPiLimits(sizes, { roundTripMs: 0.1, families: ['pi5'] });
  assert.match(pi5!.whatToDo, /^on a Pi 5 update the bootloader EEPROM to 2025-09-23 or later \(rpi-eeprom-update -a\)/);
  assert.doesNotMatch(pi5!.whatToDo, /Pi 4/);
});

test('a larger blksize moves the rollover limit', () => {
  const size = 80 * MiB;
  assert.equal(checkPiLimits({ kernelSize: size }, { roundTripMs: 0.1 })[0]?.code, 'RB_PI_TFTP_BLOCK_ROLLOVER');
  assert.deepEqual(checkPiLimits({ kernelSize: size }, { blksize: 1468, roundTripMs: 0.1 }), []);
  assert.equal(checkPiLimits({ kernelSize: 40 * MiB }, { blksize: 512, roundTripMs: 0.1 })[0]?.code, 'RB_PI_TFTP_BLOCK_ROLLOVER');
});

test('files too slow for the 30 s per-file timeout at the assumed round trip are flagged, with the estimate', () => {
  // 1 ms per 1024-byte block: 30 000 blocks fit in 30 s.
  assert.deepEqual(checkPiLimits({ kernelSize: 30_000 * 1024 - 1 }), []);
  const [warning] = checkPiLimits({ kernelSize: 9 * MiB, initramfsSize: 40 * MiB });
  assert.equal(warning?.code, 'RB_PI_TFTP_FILE_TIMEOUT');
  assert.equal(warning?.file, 'initramfs');
  assert.equal(warning?.limit, 30_000 * 1024 - 1);
  assert.match(warning!.message, /about 41 s, over the bootloader's 30 s per-file timeout/);
  assert.match(warning!.whatToDo, /TFTP_FILE_TIMEOUT/);
  // A longer timeout or a faster network lifts it; a slower one lowers it.
  assert.deepEqual(checkPiLimits({ kernelSize: 40 * MiB }, { fileTimeoutSeconds: 60 }), []);
  assert.deepEqual(checkPiLimits({ kernelSize: 40 * MiB }, { roundTripMs: 0.5 }), []);
  assert.equal(checkPiLimits({ kernelSize: 12 * MiB }, { roundTripMs: 3 }).length, 1);
});

test('both files are checked and a rollover is reported instead of (not besides) a timeout', () => {
  const warnings = checkPiLimits({ kernelSize: 70 * MiB, initramfsSize: 35 * MiB });
  assert.deepEqual(
    warnings.map((w) => [w.file, w.code]),
    [
      ['kernel', 'RB_PI_TFTP_BLOCK_ROLLOVER'],
      ['initramfs', 'RB_PI_TFTP_FILE_TIMEOUT'],
    ],
  );
});
