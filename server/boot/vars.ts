import type { BootPlan } from './policy.js';
import { templateVariables } from './templates.js';
import type { NodeRecord } from '../inventory/nodes.js';
import { macDashed } from '../net/mac.js';

/** The file names a Pi asks for; config.txt points it at these. */
export const PI_KERNEL_FILE = 'Image';
export const PI_INITRAMFS_FILE = 'rootfs.cpio.gz';
/** The names iPXE fetches over HTTP; the last URL segment is the initrd's name for `initrd=` on EFI. */
export const HTTP_KERNEL_FILE = 'vmlinuz';
export const HTTP_INITRD_FILE = 'initrd.img';

/** How URLs and TFTP prefixes name a node: dashed MAC, else the Pi serial. */
export function nodeKey(node: NodeRecord): string {
  return node.mac ? macDashed(node.mac) : node.serial!;
}

export function defaultHostname(node: NodeRecord): string {
  return node.hostname ?? `rb-${node.serial ?? node.mac!.replace(/:/g, '')}`;
}

/** Variables every template may use; see README "Templates". An image's cmdline and config.txt may use only these. */
export const PLAN_VARIABLES = [
  'hostname',
  'mac',
  'serial',
  'serverAddress',
  'httpUrl',
  'image',
  'imageVersion',
  'imageArch',
  'kernelFile',
  'initramfsFile',
  'bootedUrl',
] as const;

export type PlanVars = Record<(typeof PLAN_VARIABLES)[number], string | number>;

// A control character (a newline above all) in a kernel command line would end the `kernel` line
// of the chain script and let the rest run as iPXE commands.
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;
const CONTROL_RUNS = new RegExp(`${CONTROL_CHARACTER.source}+`, 'g');

/** A rendered kernel command line as one line: what registration refuses, a row stored before the check still holds. */
export function oneLine(cmdline: string): string {
  return cmdline.replace(CONTROL_RUNS, ' ');
}

/**
 * Why an image's own template cannot be rendered at boot, as `field: what is wrong`; undefined when
 * it can. Checked when an image is registered, so a typo is refused then rather than failing every boot.
 */
export function imageTemplateProblem(field: 'cmdline' | 'configTxt', source: string): string | undefined {
  if (field === 'cmdline') {
    const control = CONTROL_CHARACTER.exec(source);
    if (control) {
      const code = control[0].charCodeAt(0).toString(16).padStart(2, '0');
      return `cmdline: holds a control character (0x${code}) at offset ${control.index}; a kernel command line is one line of printable text`;
    }
  }
  const known: ReadonlySet<string> = new Set(PLAN_VARIABLES);
  const unknown = [...templateVariables(source)].filter((name) => !known.has(name));
  if (unknown.length) {
    return `${field}: unknown template variable ${unknown.map((name) => `{{${name}}}`).join(', ')}; known: ${[...PLAN_VARIABLES].sort().join(', ')}`;
  }
  return undefined;
}

export function planVars(plan: BootPlan, httpUrl: string, serverAddress: string): PlanVars {
  const { node, image } = plan;
  const query = node.mac ? `mac=${node.mac}` : `serial=${node.serial}`;
  return {
    hostname: defaultHostname(node),
    mac: node.mac ?? '',
    serial: node.serial ?? '',
    serverAddress,
    httpUrl,
    image: image.name,
    imageVersion: image.version,
    imageArch: image.arch,
    kernelFile: PI_KERNEL_FILE,
    initramfsFile: image.initrd ? PI_INITRAMFS_FILE : '',
    bootedUrl: `${httpUrl}/booted?${query}`,
  };
}
