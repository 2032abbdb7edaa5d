import type { Mac } from '../net/mac.js';

/** Which boot firmware is talking to us; decides what kind of answer it can use. */
export type Firmware =
  | 'pi-rom' // Pi 3B/3B+ boot ROM: boots from the OFFER, never REQUESTs
  | 'pi-eeprom' // Pi 4 / CM4 / 5 EEPROM bootloader
  | 'ipxe'
  | 'pxe-bios'
  | 'uefi-pxe'
  | 'uefi-http'
  | 'unknown';

export type Arch = 'x86_64' | 'i386' | 'arm64' | 'arm32' | 'riscv32' | 'riscv64' | 'unknown';

/** The 32-bit arch of each 64-bit family: its builds run on the 64-bit machines too. */
const NARROW_BUILD: Partial<Record<Arch, Arch>> = { x86_64: 'i386', arm64: 'arm32', riscv64: 'riscv32' };

/**
 * The machine's arch, from the one recorded for it and iPXE's `${buildarch}` (the arch the running
 * iPXE was built for). The recorded one comes from DHCP option 93, the firmware's own arch; a build
 * arch only says what iPXE binary runs. A 32-bit build runs on a 64-bit machine of its family (BIOS
 * iPXE is always i386, on x86-64 PCs as well), so it never narrows a recorded 64-bit arch; anything
 * else the running binary proves (a 64-bit build needs a 64-bit machine, and no build runs on
 * another family). Without a recorded arch the build arch is the best guess.
 */
export function machineArch(recorded: Arch | null, buildarch: Arch | undefined): Arch | undefined {
  const known = recorded && recorded !== 'unknown' ? recorded : undefined;
  if (!buildarch || buildarch === 'unknown') return known;
  if (known && NARROW_BUILD[known] === buildarch) return known;
  return buildarch;
}

/** What the protocols learned about a client; every field but the MAC is optional. */
export interface Client {
  mac: Mac;
  firmware: Firmware;
  arch: Arch;
  /** Pi serial as the 8 lower-case hex digits the bootloader uses as its TFTP prefix. */
  serial?: string;
  /** e.g. "pi3b", "pi4", "pi5", "cm4" */
  model?: string;
}
