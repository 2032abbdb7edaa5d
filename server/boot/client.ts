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
