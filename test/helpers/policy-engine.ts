/** The DHCP engine answering through the real boot policy, leases and event recorder over one inventory. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { BootPolicy } from '../../server/boot/policy.js';
import { parseConfig } from '../../server/config/load.js';
import type { DhcpPacket } from '../../server/dhcp/codec.js';
import { EventRecorder } from '../../server/events/recorder.js';
import { openInventory } from '../../server/inventory/index.js';
import { sqliteLeaseStore } from '../../server/inventory/leases.js';
import { macFromBytes } from '../../server/net/mac.js';
import { dhcpConfig, engineRig, SERVER } from './dhcp-engine.js';
import { dhcpRequest } from './dhcp-packets.js';

export function policyEngineLab(config: Record<string, unknown> = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'rbt-policy-engine-'));
  const parsed = parseConfig({ serverAddress: SERVER, dataDir: dir, ...config }, path.join(dir, 'config.json'));
  const inventory = openInventory(dir);
  const recorder = new EventRecorder(inventory, pino({ level: 'silent' }));
  const rig = engineRig({
    config: dhcpConfig(),
    hooks: {
      bootAnswer: (client, kind) => policy.dhcpAnswer(client, kind),
      reservation: (mac) => policy.reservation(mac),
      reservedMac: (ip) => inventory.nodes.reservedFor(ip),
      leases: sqliteLeaseStore(inventory.db),
      events: recorder,
    },
  });
  // Leases are checked against the wall clock by the policy; the discovery budget reads the rig's.
  rig.clock.now = Date.now();
  const policy = new BootPolicy(parsed, inventory, { http: `http://${SERVER}:8080` }, { events: recorder, now: () => rig.clock.now });
  return {
    inventory,
    policy,
    recorder,
    rig,
    /** A DISCOVER, then the REQUEST of the address offered, ACKed and persisted: the client's address. */
    bind(packet: DhcpPacket): string {
      const offered = rig.send(packet)!.reply.yiaddr;
      assert.equal(rig.send(dhcpRequest(macFromBytes(packet.chaddr), offered, SERVER))!.reply.yiaddr, offered);
      rig.engine.persist();
      return offered;
    },
    /** Kinds of the node's stored events, held aggregates included. */
    kinds(nodeId: number): string[] {
      recorder.flushAll();
      return inventory.events.forNode(nodeId).map((event) => event.kind);
    },
    cleanup(): void {
      recorder.flushAll();
      inventory.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
