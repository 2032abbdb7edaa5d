import type { EepromUpdates } from './eeprom.js';
import { FileNotFound, isImageFile, NoImageForNode, planDetail, type BootFiles, type ServedFile } from './files.js';
import type { BootPolicy } from './policy.js';
import type { NodeRecord } from '../inventory/nodes.js';
import { parseMac, type Mac } from '../net/mac.js';
import { PI_START_FILES } from '../timeline/boundaries.js';

const SERIAL_PREFIX = /^[0-9a-f]{8}$/;
const MAC_PREFIX = /^[0-9a-f]{2}(-[0-9a-f]{2}){5}$/;

/** The node a Pi names in its path prefix (serial or dashed MAC), and the path without it. */
export function splitPrefix(requested: string): { key?: NodeKey; relative: string; rest: string } {
  // tftp-hpa and some ROMs send a leading slash; the root is ours either way.
  const relative = requested.replace(/^\/+/, '');
  const slash = relative.indexOf('/');
  const prefix = slash > 0 ? relative.slice(0, slash).toLowerCase() : '';
  const rest = relative.slice(slash + 1);
  if (SERIAL_PREFIX.test(prefix)) return { key: { serial: prefix }, relative, rest };
  if (MAC_PREFIX.test(prefix)) return { key: { mac: parseMac(prefix)! }, relative, rest };
  return { relative, rest: relative };
}

type NodeKey = { mac: Mac } | { serial: string };

export interface TftpLookup {
  file: ServedFile;
  node?: NodeRecord;
  /** For the transfer's event: the image and assignment the node's boot is served from (planDetail). */
  detail?: Record<string, unknown>;
}

/**
 * Maps a TFTP path to a file. A Pi asks with its serial or dashed MAC as the first segment;
 * such a node is recorded (auto-discovery) and gets its image's files, and the shared firmware for
 * everything else. Paths without a prefix come from the shared assets.
 */
export class TftpFiles {
  constructor(
    private readonly policy: BootPolicy,
    private readonly files: BootFiles,
    private readonly eeprom?: EepromUpdates,
  ) {}

  /** `address`: the client's, which confirms a Pi serial its MAC claimed over DHCP and marks where its boot comes from. */
  async lookup(requested: string, address: string): Promise<TftpLookup> {
    const { key, relative, rest } = splitPrefix(requested);
    if (!key) return { file: await this.files.shared(relative, ['firmware', 'ipxe']) };
    const node = this.policy.observeTftp(key, address, rest);
    if (!node) return { file: await this.files.shared(rest, ['firmware']) };
    const plan = this.policy.bootPlan(node, PI_START_FILES.has(rest) ? 'start' : 'file');
    const own = (await this.eeprom?.fileFor(node, rest)) ?? (plan && (await this.files.forPlan(plan, rest, address)));
    // After the lookup: a one-shot is used up from where the boot's earlier files went, so a
    // stranger's first request (straight for the initramfs) cannot use it up.
    this.policy.bootContact(node, address);
    const detail = plan && planDetail(plan, rest);
    if (own) return { file: own, node, ...(detail && { detail }) };
    try {
      return { file: await this.files.shared(rest, ['firmware']), node, ...(detail && { detail }) };
    } catch (error) {
      if (plan || !isImageFile(rest) || !(error instanceof FileNotFound)) throw error;
      // Said to the Pi and stored in its boot event: "not in assetsDir/firmware" would send the operator looking for firmware.
      const name = node.mac ?? node.serial!;
      const reason = this.policy.explainNoPlan(node);
      throw new NoImageForNode(
        `${rest}: node ${name}${reason.startsWith(':') ? '' : ' '}${reason}; assign an image with \`rackboot node assign ${name} IMAGE\` or on the page`,
      );
    }
  }
}
