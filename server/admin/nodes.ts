import { AdminError } from './errors.js';
import type { AdminContext } from './context.js';
import { poolsFromConfig, reservationProblem } from '../dhcp/pool.js';
import { imageWarnings, type ImageWarning } from './images.js';
import { OverlayError, overlayEntries } from '../images/overlay.js';
import type { Assignment } from '../inventory/assignments.js';
import type { ImageRecord } from '../inventory/images.js';
import type { NodeRecord, NodeSettings } from '../inventory/nodes.js';
import { parseMac, type Mac } from '../net/mac.js';
import { isoTime } from '../timeline/format.js';

const SERIAL = /^[0-9a-f]{8}$/;

/** A node is named by MAC (any common spelling) or by its 8-hex-digit Pi serial. */
export function parseNodeKey(text: string, field = 'node'): { mac?: Mac; serial?: string } {
  const lower = text.trim().toLowerCase();
  if (SERIAL.test(lower)) return { serial: lower };
  const mac = parseMac(lower);
  if (mac) return { mac };
  throw new AdminError(
    'RB_BAD_NODE',
    400,
    `${field}: "${text}" is neither a MAC address (aa:bb:cc:dd:ee:ff) nor an 8-hex-digit Pi serial`,
  );
}

export function findNode(context: AdminContext, text: string): NodeRecord {
  const key = parseNodeKey(text);
  const node = context.inventory.nodes.find(key);
  if (!node) throw new AdminError('RB_NODE_NOT_FOUND', 404, `no node ${text}: it appears once it boots, or add it first`);
  return node;
}

export function saveNode(context: AdminContext, text: string, settings: NodeSettings): NodeRecord {
  try {
    // The overlay initramfs carries these to the node: refuse now what it could not carry at boot.
    overlayEntries({
      ...(settings.hostname && { hostname: settings.hostname }),
      ...(settings.sshKeys && { sshAuthorizedKeys: settings.sshKeys }),
    });
  } catch (error) {
    // Named as the node settings name it (the API's sshKeys, the CLI's --ssh-key).
    if (error instanceof OverlayError) {
      throw new AdminError('RB_BAD_NODE', 400, `${error.field === 'sshAuthorizedKeys' ? 'sshKeys' : error.field}: ${error.problem}`);
    }
    throw error;
  }
  if (settings.reservedIp) {
    const problem = reservationProblem(poolsFromConfig(context.config.dhcp, context.config.serverAddress), settings.reservedIp);
    if (problem) throw new AdminError('RB_BAD_RESERVATION', 400, `reservedIp: ${problem}`);
    const holder = context.inventory.nodes.byReservedIp(settings.reservedIp);
    const key = parseNodeKey(text);
    if (holder && holder.mac !== key.mac && holder.serial !== key.serial) {
      throw new AdminError('RB_IP_RESERVED', 409, `reservedIp: ${settings.reservedIp} is reserved for ${holder.mac ?? holder.serial}`);
    }
  }
  return context.inventory.nodes.upsert(parseNodeKey(text), settings);
}

/** Stored reservations the current DHCP config cannot honour, as `<node>: reservedIp: <what is wrong>`. */
export function invalidReservations(context: AdminContext): string[] {
  const pools = poolsFromConfig(context.config.dhcp, context.config.serverAddress);
  const found: string[] = [];
  for (const node of context.inventory.nodes.list()) {
    const problem = node.reservedIp ? reservationProblem(pools, node.reservedIp) : undefined;
    if (problem) found.push(`${node.mac ?? node.serial}: reservedIp: ${problem}`);
  }
  return found;
}

/**
 * Whether the Pi TFTP limits can matter for this node: a Pi by serial, model or bootloader, or a
 * node we know too little about. Only a node that already booted through other firmware (iPXE,
 * PXE, UEFI; it fetches over HTTP or is no Pi) or reported a non-ARM arch is known not to be one.
 */
function mayBePi(node: NodeRecord | undefined): boolean {
  if (!node || node.serial || node.model || node.firmware === 'pi-rom' || node.firmware === 'pi-eeprom') return true;
  const otherFirmware = node.firmware !== null && node.firmware !== 'unknown';
  const otherArch = node.arch !== null && !['unknown', 'arm64', 'arm32'].includes(node.arch);
  return !otherFirmware && !otherArch;
}

export interface AssignInput {
  image: string | null;
  version?: number;
  once?: boolean;
}

/** A reason an accepted assignment may not boot: `code` is stable for scripts, `message` says what is wrong, `fix` what to do. */
export type AssignWarning = ImageWarning | { code: 'RB_ASSIGN_NO_BUILD_FOR_ARCH'; message: string; fix: string };

/** The node's arch is known and no build of the assigned image runs on it: the boot policy would find nothing. */
function archWarning(context: AdminContext, node: NodeRecord | undefined, chosen: ImageRecord[], input: AssignInput): AssignWarning | undefined {
  const arch = node?.arch;
  if (!arch || arch === 'unknown' || context.inventory.images.newest(input.image!, arch, input.version ?? null)) return undefined;
  const name = `${input.image}${input.version ? ` version ${input.version}` : ''}`;
  const builds = [...new Set(chosen.map((image) => image.arch))].join(', ');
  return {
    code: 'RB_ASSIGN_NO_BUILD_FOR_ARCH',
    message: `image ${name} has no build for arch ${arch}, which ${node.mac ?? node.serial} reported (its builds: ${builds}): the node will not boot it (iPXE waits, a Pi is refused its files)`,
    fix: `add one with \`rackboot image add ${input.image} --arch ${arch} ...\`, or assign an image built for ${arch}`,
  };
}

/** Assigns (or with image null, unassigns) and returns what may keep the node from booting it: Pi limits when the node may be a Pi, a missing build for its arch. */
export function assignImage(
  context: AdminContext,
  text: string,
  input: AssignInput,
  by: string,
): { node: NodeRecord; assignment: Assignment; warnings: AssignWarning[] } {
  const key = parseNodeKey(text);
  // Looked up, not created: a refused assignment must leave no node behind.
  const existing = context.inventory.nodes.find(key);
  const warnings: AssignWarning[] = [];
  if (input.image !== null) {
    const versions = context.inventory.images.versions(input.image);
    if (!versions.length) throw new AdminError('RB_IMAGE_NOT_FOUND', 404, `image: no image named ${input.image} (see \`rackboot image ls\`)`);
    const chosen = versions.filter((image) => input.version === undefined || image.version === input.version);
    if (!chosen.length) throw new AdminError('RB_IMAGE_NOT_FOUND', 404, `version: image ${input.image} has no version ${input.version}`);
    const wrongArch = archWarning(context, existing, chosen, input);
    if (wrongArch) warnings.push(wrongArch);
    if (mayBePi(existing)) warnings.push(...imageWarnings(chosen.at(-1)!));
  }
  const node = existing ?? context.inventory.nodes.upsert(key, {});
  const assignment = context.inventory.assignments.assign(
    node.id,
    { imageName: input.image, imageVersion: input.version ?? null, once: input.once ?? false },
    by,
  );
  context.events.record({
    source: 'api',
    kind: input.once ? 'assigned-once' : 'assigned',
    ...(node.mac ? { mac: node.mac } : { serial: node.serial! }),
    detail: { image: input.image, version: input.version ?? null, by, warnings },
  });
  return { node, assignment, warnings };
}

/** An assignment as people read it: `alpine v3 (assigned 2026-01-02T03:04:05Z by cli:ann)`. */
export function describeAssignment(entry: Assignment): string {
  const image = entry.imageName === null ? 'no image (unassigned)' : `${entry.imageName}${entry.imageVersion ? ` v${entry.imageVersion}` : ''}`;
  return `${image} (assigned ${isoTime(entry.createdAt)} by ${entry.createdBy})`;
}

/** Steps the node's standing assignment back one place; returns the new entry and the one it restores. */
export function rollbackNode(context: AdminContext, text: string, by: string): { assignment: Assignment; restored: Assignment } {
  const node = findNode(context, text);
  const result = context.inventory.assignments.rollback(node.id, by);
  if (result.outcome === 'no-assignment') {
    throw new AdminError('RB_NO_PREVIOUS', 409, `node ${text}: has no standing assignment to roll back (one-shot --once assignments are not rolled back)`);
  }
  if (result.outcome === 'start-of-history') {
    throw new AdminError('RB_NO_PREVIOUS', 409, `node ${text}: at the start of its history, nothing else was assigned before ${describeAssignment(result.first)}`);
  }
  const { assignment, restored } = result;
  context.events.record({
    source: 'api',
    kind: 'rolled-back',
    ...(node.mac ? { mac: node.mac } : { serial: node.serial! }),
    detail: { image: assignment.imageName, version: assignment.imageVersion, by, restored: restored.id, assignedAt: restored.createdAt, assignedBy: restored.createdBy },
  });
  return { assignment, restored };
}
