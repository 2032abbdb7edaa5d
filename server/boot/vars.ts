import type { BootPlan } from './policy.js';
import type { TemplateVars } from './templates.js';
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

/** Variables every template may use; see README "Templates". */
export function planVars(plan: BootPlan, httpUrl: string, serverAddress: string): TemplateVars {
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
