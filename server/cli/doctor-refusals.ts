import { existsSync } from 'node:fs';
import path from 'node:path';
import type { AdminContext } from '../admin/context.js';
import { BootPolicy } from '../boot/policy.js';
import { splitPrefix } from '../boot/tftp-files.js';
import { publicBaseUrl } from '../config/load.js';
import { NO_IMAGE_REASON } from '../events/types.js';
import { FIRMWARE_SOURCE, isExpectedMiss, piFamilyOf } from '../boot/pi-models.js';
import type { DoctorCheck } from './doctor-checks.js';

/** The newest events read per node: a few Pi boots' worth, through the (node_id, id) index. */
const EVENTS_PER_NODE = 300;
const NODES_NAMED = 5;
const TFTP_NOT_FOUND = 1;

interface Refused {
  nodes: Set<string>;
  firstAt: number;
  lastAt: number;
}

/**
 * Files nodes actually asked for over TFTP and were refused as missing, and still lack (neither in
 * the shared firmware directory nor in the image the node boots now). This needs no model from
 * DHCP: behind another DHCP server or in proxy mode the refusals are all there is to go on.
 */
export function checkRefusedFirmware(admin: AdminContext): DoctorCheck {
  const { config, inventory } = admin;
  const policy = new BootPolicy(config, inventory, { http: publicBaseUrl(config) });
  const firmwareDir = path.join(config.assetsDir, 'firmware');
  const refused = new Map<string, Refused>();
  for (const node of inventory.nodes.list()) {
    const events = inventory.events.forNode(node.id, EVENTS_PER_NODE); // newest first
    const gotten = new Set<string>();
    const image = policy.plan(node)?.image;
    const name = node.mac ?? node.serial!;
    for (const event of events) {
      const file = typeof event.detail['file'] === 'string' ? splitPrefix(event.detail['file']).rest : '';
      if (event.source !== 'tftp' || !file) continue;
      if (event.kind === 'tftp-complete' || event.kind === 'tftp-probe') gotten.add(file);
      if (event.kind !== 'tftp-refused' || event.detail['errorCode'] !== TFTP_NOT_FOUND || event.detail['reason'] === NO_IMAGE_REASON) continue;
      if (gotten.has(file) || isExpectedMiss(piFamilyOf(node.model), file)) continue;
      if (existsSync(path.join(firmwareDir, file)) || image?.firmware[file] || image?.dtbs[path.posix.basename(file)]) continue;
      const entry = refused.get(file) ?? { nodes: new Set<string>(), firstAt: event.at, lastAt: event.at };
      entry.nodes.add(name);
      entry.firstAt = Math.min(entry.firstAt, event.at);
      entry.lastAt = Math.max(entry.lastAt, event.at);
      refused.set(file, entry);
    }
  }
  if (!refused.size) {
    return { id: 'firmware.refused', status: 'ok', message: 'no node was refused a firmware file it still lacks (stored TFTP events)' };
  }
  // In the order the nodes first asked, as a Pi's boot goes.
  const byFirstAsked = [...refused].sort(([, a], [, b]) => a.firstAt - b.firstAt);
  const files = byFirstAsked.map(([file]) => file);
  const nodes = new Set(byFirstAsked.flatMap(([, entry]) => [...entry.nodes]));
  const perFile = byFirstAsked.map(([file, entry]) => {
    const named = [...entry.nodes].slice(0, NODES_NAMED).join(', ');
    const more = entry.nodes.size > NODES_NAMED ? ` and ${entry.nodes.size - NODES_NAMED} more` : '';
    return `${file} to ${named}${more} (last ${new Date(entry.lastAt).toISOString()})`;
  });
  return {
    id: 'firmware.refused',
    status: 'fail',
    message: `${nodes.size} node(s) asked for firmware this server does not have and were refused: ${perFile.join('; ')}`,
    fix: `copy ${files.join(', ')} from ${FIRMWARE_SOURCE} into ${firmwareDir}/, or add them to the image the nodes boot (rackboot image add --firmware DIR); the Pis retry by themselves`,
  };
}
