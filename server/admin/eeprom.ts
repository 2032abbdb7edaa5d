import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { AdminError } from './errors.js';
import type { AdminContext } from './context.js';
import { IMAGE_NAME } from './images.js';
import { findNode, parseNodeKey } from './nodes.js';
import { effectiveEeprom } from '../boot/eeprom.js';
import { BOOTCONF_TXT, EEPROM_IMAGE_SIZES, eepromBuild, eepromFile, EepromImageError, MAX_EEPROM_FILE_BYTES } from '../eeprom/image.js';
import { eepromSettingsProblems, renderBootconf, type EepromSettings } from '../eeprom/settings.js';
import type { BlobRef } from '../images/blob-store.js';
import { localPath } from '../images/import.js';
import type { EepromImageRecord, EepromRule } from '../inventory/eeprom.js';

const LABEL_TARGET = /^label:([^=\s]+)=(\S*)$/;

/** Where a rule applies: one node (MAC or serial) or every node with a label, as `label:key=value`. */
export type EepromTarget = { node: string } | { label: string };

export function parseEepromTarget(text: string): EepromTarget {
  const label = LABEL_TARGET.exec(text.trim());
  if (label) return { label: `${label[1]}=${label[2]}` };
  if (text.startsWith('label:')) throw new AdminError('RB_BAD_TARGET', 400, `target: "${text}" must be label:key=value`);
  parseNodeKey(text, 'target');
  return { node: text };
}

/**
 * Stores an operator's pieeprom-*.bin after checking it is an image whose bootconf.txt rackboot
 * can replace. `roots` (API imports) limits where the file may be read from.
 */
export async function addEepromImage(
  context: AdminContext,
  source: string,
  options: { name?: string; roots?: readonly string[]; by: string },
): Promise<EepromImageRecord> {
  const name = options.name ?? path.basename(source).replace(/\.bin$/, '');
  if (!IMAGE_NAME.test(name)) throw new AdminError('RB_IMAGE_NAME', 400, `name: "${name}" must be 1-64 letters, digits, '.', '_' or '-'`);
  let blob: BlobRef;
  let data: Buffer;
  try {
    const file = await localPath(source, options.roots);
    // Checked before it is copied: a wrong file the size of a kernel should not land in the store.
    const { size } = await stat(file);
    if (!(EEPROM_IMAGE_SIZES as readonly number[]).includes(size)) throw new EepromImageError(`is ${size} bytes; a bootloader EEPROM image is 512 KiB (Pi 4) or 2 MiB (Pi 5)`);
    blob = await context.store.putFile(file);
    // The stored copy is what gets served: check that one.
    data = await readFile(context.store.pathOf(blob.digest));
    eepromFile(data, BOOTCONF_TXT);
  } catch (error) {
    const forbidden = (error as { code?: string }).code === 'RB_BLOB_FORBIDDEN';
    throw new AdminError(forbidden ? 'RB_IMAGE_SOURCE_FORBIDDEN' : 'RB_EEPROM_IMAGE', forbidden ? 403 : 400, `file: ${source}: ${(error as Error).message}`);
  }
  const image = context.inventory.eeprom.addImage({ name, digest: blob.digest, size: blob.size, ...eepromBuild(data) });
  context.events.record({ source: 'api', kind: 'eeprom-image-added', detail: { image: name, buildTs: image.buildTs, version: image.version, by: options.by } });
  return image;
}

export function removeEepromImage(context: AdminContext, name: string): void {
  if (context.inventory.eeprom.imagesInUse().has(name)) {
    throw new AdminError('RB_IMAGE_IN_USE', 409, `bootloader image ${name} is named by eeprom settings: point them at another image first`);
  }
  if (!context.inventory.eeprom.removeImage(name)) throw new AdminError('RB_IMAGE_NOT_FOUND', 404, `no bootloader image ${name}`);
}

export interface EepromRuleInput {
  image?: string | null;
  settings: Record<string, unknown>;
}

/** Replaces the rule of a node or label; settings are checked against the documented keys first. */
export function setEepromRule(context: AdminContext, target: EepromTarget, input: EepromRuleInput, by: string): EepromRule {
  const problems = eepromSettingsProblems(input.settings);
  if (problems.length) throw new AdminError('RB_EEPROM_SETTING', 400, problems.join('; '));
  const image = input.image ?? null;
  if (image !== null && !context.inventory.eeprom.image(image)) {
    throw new AdminError('RB_IMAGE_NOT_FOUND', 404, `image: no bootloader image ${image} (see \`rackboot eeprom image ls\`)`);
  }
  const rule = { image, settings: input.settings as EepromSettings };
  // The bootloader must fit it: refuse now, not when a node asks.
  const size = Buffer.byteLength(renderBootconf(rule.settings));
  if (size > MAX_EEPROM_FILE_BYTES) {
    throw new AdminError('RB_EEPROM_SETTING', 400, `settings: they make a ${size}-byte bootconf.txt; the bootloader takes at most ${MAX_EEPROM_FILE_BYTES}`);
  }
  if ('label' in target) {
    context.inventory.eeprom.setLabelRule(target.label, rule);
  } else {
    const key = parseNodeKey(target.node);
    const node = context.inventory.nodes.find(key) ?? context.inventory.nodes.upsert(key, {});
    context.inventory.eeprom.setNodeRule(node.id, rule);
  }
  context.events.record({
    source: 'api',
    kind: 'eeprom-set',
    ...('node' in target ? parseNodeKey(target.node) : {}),
    detail: { ...target, image, settings: rule.settings, by },
  });
  return getEepromRule(context, target)!;
}

export function getEepromRule(context: AdminContext, target: EepromTarget): EepromRule | undefined {
  if ('label' in target) return context.inventory.eeprom.labelRule(target.label);
  return context.inventory.eeprom.nodeRule(findNode(context, target.node).id);
}

export function removeEepromRule(context: AdminContext, target: EepromTarget): void {
  const removed =
    'label' in target
      ? context.inventory.eeprom.removeLabelRule(target.label)
      : context.inventory.eeprom.removeNodeRule(findNode(context, target.node).id);
  if (!removed) throw new AdminError('RB_NOT_FOUND', 404, `no eeprom settings for ${'label' in target ? `label ${target.label}` : target.node}`);
}

export interface EepromDrift {
  node: string;
  image: string | null;
  assigned: { buildTs: number | null; config: string };
  served: { image: string | null; config: string | null; at: number | null };
  reported: { buildTs: number | null; version: string | null; at: number | null };
  /** Why the node is listed. */
  reasons: string[];
}

/**
 * Nodes whose bootloader differs from what is assigned: never fetched an update, fetched another
 * config or image, or report (on NETCONSOLE) another build than the assigned image's.
 */
export function eepromDrift(context: AdminContext): EepromDrift[] {
  const drifts: EepromDrift[] = [];
  for (const node of context.inventory.nodes.list()) {
    const effective = effectiveEeprom(context.inventory, node);
    if (!effective) continue;
    const state = context.inventory.eeprom.state(node.id);
    const reasons: string[] = [];
    if (!effective.image) reasons.push('no bootloader image assigned: nothing can be served');
    if (!state?.servedConfig) reasons.push('has not fetched an update yet');
    else if (state.servedConfig !== effective.config) reasons.push('fetched another bootloader config');
    if (effective.image && state?.servedImage && state.servedImage !== effective.image.digest) reasons.push('fetched another bootloader image');
    const wantTs = effective.image?.buildTs ?? null;
    if (wantTs !== null && state?.reportedBuildTs != null && state.reportedBuildTs !== wantTs) {
      reasons.push(`reports bootloader build ${state.reportedBuildTs}, the assigned image is ${wantTs}`);
    }
    if (!reasons.length) continue;
    drifts.push({
      node: node.mac ?? node.serial!,
      image: effective.image?.name ?? null,
      assigned: { buildTs: wantTs, config: effective.config },
      served: { image: state?.servedImage ?? null, config: state?.servedConfig ?? null, at: state?.servedAt ?? null },
      reported: { buildTs: state?.reportedBuildTs ?? null, version: state?.reportedVersion ?? null, at: state?.reportedAt ?? null },
      reasons,
    });
  }
  return drifts;
}

/** A node's own rule, what applies to it after layering, and what it was served and reports. */
export function eepromNodeView(context: AdminContext, text: string) {
  const node = findNode(context, text);
  const effective = effectiveEeprom(context.inventory, node);
  return {
    node: node.mac ?? node.serial!,
    rule: context.inventory.eeprom.nodeRule(node.id) ?? null,
    effective: effective ? { ...effective, image: effective.image?.name ?? null } : null,
    state: context.inventory.eeprom.state(node.id) ?? null,
  };
}
