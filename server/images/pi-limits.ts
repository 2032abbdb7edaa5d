/**
 * Raspberry Pi TFTP limits guard: a pure check of an image's kernel and initramfs sizes against
 * what the Pi bootloader can fetch over TFTP, returning warnings that say what to do.
 *
 * Exports `checkPiLimits(sizes, options)` -> `PiLimitWarning[]`, `PiLimitOptions`, `RolloverFamily`,
 * `tftpBlockLimit(blksize)`.
 *
 * - Older bootloaders do not roll the 16-bit TFTP block counter over: a file needing more than
 *   65535 blocks is silently truncated (block 65536, including the empty final block of a file
 *   that is an exact multiple of blksize, never arrives).
 * - The bootloader gives each file 30 s (TFTP_FILE_TIMEOUT). TFTP is lock-step: one block per
 *   round trip, so the estimate is blocks x round-trip time, at a conservative round trip.
 */
import type { PiFamily } from '../boot/pi-models.js';

export interface PiLimitSizes {
  kernelSize: number;
  /** The size actually served (base + per-node overlay), when there is an initramfs. */
  initramfsSize?: number;
}

export interface PiLimitOptions {
  /** Block size the bootloader negotiates: 1024 (Pi 4/5 before 2022-10; the safe default), 1468 newer, 512 without the option. */
  blksize?: number;
  /** Round trip per block assumed for the time estimate. Default 1 ms (about 1 MB/s at 1024). */
  roundTripMs?: number;
  /** The bootloader's per-file timeout. Default 30 s. */
  fileTimeoutSeconds?: number;
  /** Pi families that boot the image, for advice that fits them; default both. */
  families?: readonly RolloverFamily[];
}

/** The Pi families whose advice for the block roll-over differs (a Pi 3 cannot boot such images anyway). */
export type RolloverFamily = Extract<PiFamily, 'pi4' | 'pi5'>;

/**
 * What lifts the block-counter limit differs: on a Pi 5 the EEPROM fetches every file, and EEPROM
 * builds since 2025-09-23 roll the counter over (rpi-eeprom #720); on a Pi 4 start4.elf fetches the
 * kernel and initramfs (rpi-eeprom #375), so a new EEPROM does not help and HTTP boot does.
 */
const ROLLOVER_FIX: Record<RolloverFamily, string> = {
  pi4: 'on a Pi 4 an EEPROM update does not help (start4.elf, not the EEPROM, loads the kernel and initramfs): boot it over HTTP (`rackboot image add ... --http-boot`, BOOT_ORDER with 7, see `rackboot doctor`)',
  pi5: 'on a Pi 5 update the bootloader EEPROM to 2025-09-23 or later (rpi-eeprom-update -a), or boot it over HTTP (`rackboot image add ... --http-boot`)',
};

export interface PiLimitWarning {
  code: 'RB_PI_TFTP_BLOCK_ROLLOVER' | 'RB_PI_TFTP_FILE_TIMEOUT';
  file: 'kernel' | 'initramfs';
  size: number;
  /** Largest safe size in bytes. */
  limit: number;
  message: string;
  whatToDo: string;
}

const MAX_BLOCKS = 65535;

/** Largest file that fits in 65535 blocks: one byte less than 65535 x blksize. */
export function tftpBlockLimit(blksize: number): number {
  return MAX_BLOCKS * blksize - 1;
}

export function checkPiLimits(sizes: PiLimitSizes, options: PiLimitOptions = {}): PiLimitWarning[] {
  const blksize = options.blksize ?? 1024;
  const roundTripMs = options.roundTripMs ?? 1;
  const timeoutSeconds = options.fileTimeoutSeconds ?? 30;
  const families = options.families?.length ? options.families : (['pi4', 'pi5'] as const);
  const blockLimit = tftpBlockLimit(blksize);
  // Blocks sent = floor(size / blksize) + 1 (the last one short or empty).
  const timeLimit = Math.floor((timeoutSeconds * 1000) / roundTripMs) * blksize - 1;
  const files: [PiLimitWarning['file'], number | undefined][] = [
    ['kernel', sizes.kernelSize],
    ['initramfs', sizes.initramfsSize],
  ];
  const warnings: PiLimitWarning[] = [];
  for (const [file, size] of files) {
    if (size === undefined) continue;
    const mib = (size / 2 ** 20).toFixed(1);
    if (size > blockLimit) {
      warnings.push({
        code: 'RB_PI_TFTP_BLOCK_ROLLOVER',
        file,
        size,
        limit: blockLimit,
        message: `the ${file} is ${size} bytes (${mib} MiB), more than ${MAX_BLOCKS} TFTP blocks of ${blksize} bytes: bootloaders without block-counter rollover (older Pi 4 EEPROMs) silently truncate it and the boot fails late`,
        whatToDo: `${families.map((family) => ROLLOVER_FIX[family]).join('; ')}; or shrink the ${file} below ${blockLimit + 1} bytes (stronger compression such as xz or zstd, fewer modules)`,
      });
    } else if (size > timeLimit) {
      const seconds = Math.ceil(((Math.floor(size / blksize) + 1) * roundTripMs) / 1000);
      warnings.push({
        code: 'RB_PI_TFTP_FILE_TIMEOUT',
        file,
        size,
        limit: timeLimit,
        message: `the ${file} is ${size} bytes (${mib} MiB): lock-step TFTP with ${blksize}-byte blocks at ${roundTripMs} ms per block needs about ${seconds} s, over the bootloader's ${timeoutSeconds} s per-file timeout`,
        whatToDo: `shrink the ${file}, or raise TFTP_FILE_TIMEOUT in the bootloader EEPROM config, or boot this Pi over HTTP; a busy network or many Pis booting at once make this worse`,
      });
    }
  }
  return warnings;
}
