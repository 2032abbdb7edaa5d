/**
 * What each Raspberry Pi model fetches over TFTP, which of those files it cannot boot without, and
 * which misses are normal. Data only: `rackboot doctor`, the boot timeline and the file resolver all
 * read this one table (facts: shared/notes/netboot-facts.md, "Raspberry Pi TFTP" and "Added 2026-12-05").
 */

export type PiFamily = 'pi3' | 'pi4' | 'pi5';

export interface PiFamilyFiles {
  /** The SoC, as the prefix of its device trees (`bcm2712-...dtb`). */
  soc: string;
  /** Firmware the bootloader loads from TFTP (the Pi 5 keeps its firmware in the EEPROM). */
  firmware: readonly string[];
  /** Files every board of the family loads and cannot boot without, besides its device tree. */
  required: readonly string[];
  /** The kernel the firmware asks for when config.txt names none. */
  defaultKernel: string;
  /** config.txt section filters that apply to the family (`[pi5]`); `[all]` always does. */
  sections: readonly string[];
  /** Files the bootloader asks for and many setups lack on purpose: a miss is no failure. */
  expectedMisses: readonly string[];
}

export interface PiModel {
  family: PiFamily;
  /** Device trees the firmware may load for the model; one of them must be served. */
  dtbs: readonly string[];
  /** config.txt section filters of the model itself (`[cm5]`), besides its family's. */
  sections?: readonly string[];
}

const COMMON_MISSES = ['pieeprom.sig', 'pieeprom.upd', 'recovery.elf', 'recovery.bin', 'bootsig.bin', 'dt-blob.bin'];

/** Where an operator gets the firmware a Pi asks for. */
export const FIRMWARE_SOURCE = 'the boot/ folder of the Raspberry Pi firmware repository (github.com/raspberrypi/firmware)';

export const PI_FAMILIES: Readonly<Record<PiFamily, PiFamilyFiles>> = {
  pi3: {
    soc: 'bcm2710',
    firmware: ['bootcode.bin', 'start.elf', 'fixup.dat'],
    required: [],
    defaultKernel: 'kernel8.img',
    sections: ['pi3'],
    expectedMisses: [...COMMON_MISSES, 'overlay_map.dtb', 'config.txt'],
  },
  pi4: {
    soc: 'bcm2711',
    firmware: ['start4.elf', 'fixup4.dat'],
    required: [],
    defaultKernel: 'kernel8.img',
    sections: ['pi4'],
    // The Pi 4 asks for config.txt before and after start4.elf; without one it boots firmware defaults.
    expectedMisses: [...COMMON_MISSES, 'overlay_map.dtb', 'config.txt'],
  },
  pi5: {
    soc: 'bcm2712',
    firmware: [],
    // A prefix without config.txt is dropped; without the D0 overlay the kernel dies with an SError
    // on D0-stepping boards (raspberrypi/firmware #2018). overlay_map.dtb is how the firmware finds it.
    required: ['config.txt', 'overlays/overlay_map.dtb', 'overlays/bcm2712d0.dtbo'],
    defaultKernel: 'kernel_2712.img',
    sections: ['pi5'],
    expectedMisses: [...COMMON_MISSES, 'armstub8-2712.bin'],
  },
};

/** Model names as DHCP option 97's revision code gives them (dhcp/classify.ts). */
export const PI_MODELS: Readonly<Record<string, PiModel>> = {
  pi3b: { family: 'pi3', dtbs: ['bcm2710-rpi-3-b.dtb'] },
  'pi3b+': { family: 'pi3', dtbs: ['bcm2710-rpi-3-b-plus.dtb'] },
  cm3: { family: 'pi3', dtbs: ['bcm2710-rpi-cm3.dtb'] },
  'cm3+': { family: 'pi3', dtbs: ['bcm2710-rpi-cm3.dtb'] },
  pi4: { family: 'pi4', dtbs: ['bcm2711-rpi-4-b.dtb'] },
  cm4: { family: 'pi4', dtbs: ['bcm2711-rpi-cm4.dtb'] },
  pi400: { family: 'pi4', dtbs: ['bcm2711-rpi-400.dtb'] },
  pi5: { family: 'pi5', dtbs: ['bcm2712-rpi-5-b.dtb'] },
  // CM5 with eMMC or without (CM5 Lite); EEPROM 2025-03-27+ checks these in os_check.
  cm5: { family: 'pi5', dtbs: ['bcm2712-rpi-cm5-cm5io.dtb', 'bcm2712-rpi-cm5l-cm5io.dtb'], sections: ['cm5'] },
  pi500: { family: 'pi5', dtbs: ['bcm2712-rpi-500.dtb'] },
};

/** Why a required file matters, for doctor and the timeline. */
export const REQUIRED_WHY: Readonly<Record<string, string>> = {
  'config.txt': 'a Pi 5 boots a TFTP prefix only when it holds config.txt (rackboot generates it for a node with an image: assign one or set defaultImage)',
  'overlays/overlay_map.dtb': 'the Pi 5 firmware finds the D0-stepping overlay through it',
  'overlays/bcm2712d0.dtbo': 'without it the kernel of a D0-stepping Pi 5 dies with an SError',
  dtb: 'the firmware loads the kernel with the device tree of the board (a Pi 5 bootloader refuses an OS without a BCM2712 device tree: os_check)',
};

export function piModel(name: string | null | undefined): PiModel | undefined {
  return name ? PI_MODELS[name] : undefined;
}

/** The family of a model name. */
export function piFamilyOf(model: string | null | undefined): PiFamily | undefined {
  return piModel(model)?.family;
}

/** The model a requested file names: a model's own device tree. */
export function piModelByFile(relativePath: string): string | undefined {
  for (const [name, model] of Object.entries(PI_MODELS)) if (model.dtbs.includes(relativePath)) return name;
  return undefined;
}

/** Whether a Pi of `family` cannot boot without `relativePath` (a path under its TFTP prefix). */
export function isRequiredFile(family: PiFamily, relativePath: string): boolean {
  const files = PI_FAMILIES[family];
  if (files.required.includes(relativePath)) return true;
  return relativePath.startsWith(`${files.soc}-`) && relativePath.endsWith('.dtb') && !relativePath.includes('/');
}

export function isExpectedMiss(family: PiFamily | undefined, relativePath: string): boolean {
  const base = relativePath.slice(relativePath.lastIndexOf('/') + 1);
  if (family) return PI_FAMILIES[family].expectedMisses.includes(base);
  // Family unknown (no model from DHCP, no device tree asked yet): what any family may miss.
  return Object.values(PI_FAMILIES).some((files) => files.expectedMisses.includes(base));
}

/**
 * The kernel file a Pi asks for under this config.txt: the last `kernel=` in a section that applies
 * to the model (`[all]`, its family's or its own filter, or before any section), else the family's
 * default (`kernel_2712.img` on a Pi 5).
 */
export function piKernelName(configTxt: string, model: string | null | undefined): string | undefined {
  const known = piModel(model);
  const sections = new Set(['all', ...(known ? [...PI_FAMILIES[known.family].sections, ...(known.sections ?? [])] : [])]);
  let applies = true;
  let kernel: string | undefined;
  for (const raw of configTxt.split('\n')) {
    const line = raw.trim();
    const section = /^\[([^\]]*)\]/.exec(line);
    if (section) {
      applies = sections.has(section[1]!.trim().toLowerCase());
      continue;
    }
    const setting = /^kernel\s*=\s*(\S+)/.exec(line);
    if (setting && applies) kernel = setting[1];
  }
  return kernel ?? (known ? PI_FAMILIES[known.family].defaultKernel : undefined);
}
