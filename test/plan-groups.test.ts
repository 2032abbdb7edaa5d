/**
 * The page counts and lists waiting nodes from plan groups (SQL picks each node's assignment in
 * force, the policy plans each group once). Over a mix of histories, arches and a default image,
 * that must agree node for node with policy.plan().
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { BootPolicy } from '../server/boot/policy.js';
import { parseConfig } from '../server/config/load.js';
import { openInventory } from '../server/inventory/index.js';
import { parseMac, type Mac } from '../server/net/mac.js';

type Arch = 'arm64' | 'x86_64' | 'riscv64';
const ARCHES: (Arch | undefined)[] = ['arm64', 'x86_64', 'riscv64', undefined];

function rack(defaultImage: string | null) {
  const dir = mkdtempSync(path.join(tmpdir(), 'rackboot-plan-groups-'));
  const config = parseConfig({ serverAddress: '10.0.0.1', dataDir: dir, defaultImage }, path.join(dir, 'config.json'));
  const inventory = openInventory(dir);
  const blob = (n: number) => ({ digest: n.toString(16).padStart(64, '0'), size: n });
  inventory.images.add({ name: 'os', arch: 'arm64', kernel: blob(1) });
  inventory.images.add({ name: 'os', arch: 'x86_64', kernel: blob(2) });
  inventory.images.add({ name: 'arm-only', arch: 'arm64', kernel: blob(3) });
  const policy = new BootPolicy(config, inventory, { http: 'http://10.0.0.1:8080' });
  const now = Date.now();
  // Every history the page can meet, on every arch (and none).
  const histories: ((id: number) => void)[] = [
    () => {},
    (id) => inventory.assignments.assign(id, { imageName: 'os' }, 't', now - 5000),
    (id) => inventory.assignments.assign(id, { imageName: 'arm-only' }, 't', now - 5000),
    (id) => inventory.assignments.assign(id, { imageName: null }, 't', now - 5000),
    (id) => inventory.assignments.assign(id, { imageName: 'os', imageVersion: 99 }, 't', now - 5000),
    (id) => inventory.assignments.assign(id, { imageName: 'os', once: true }, 't', now - 5000),
    (id) => {
      inventory.assignments.assign(id, { imageName: null }, 't', now - 9000);
      inventory.assignments.assign(id, { imageName: 'os', once: true }, 't', now - 5000);
    },
    (id) => {
      inventory.assignments.assign(id, { imageName: 'arm-only' }, 't', now - 9000);
      inventory.assignments.consume(inventory.assignments.assign(id, { imageName: 'os', once: true }, 't', now - 8000).id, now - 7000);
    },
    (id) => {
      inventory.assignments.assign(id, { imageName: 'os', once: true }, 't', now - 9000);
      inventory.assignments.assign(id, { imageName: null }, 't', now - 5000);
    },
  ];
  let n = 0;
  for (const history of histories) {
    for (const arch of ARCHES) {
      n++;
      const mac = parseMac(`52:54:00:00:00:${n.toString(16).padStart(2, '0')}`) as Mac;
      const node = inventory.nodes.observe(arch ? { mac, arch } : { mac });
      history(node.id);
    }
  }
  return { dir, inventory, policy };
}

describe('plan groups', () => {
  for (const defaultImage of [null, 'os', 'arm-only']) {
    it(`count and order nodes as policy.plan() decides them (defaultImage ${defaultImage})`, () => {
      const { dir, inventory, policy } = rack(defaultImage);
      try {
        const nodes = inventory.nodes.list();
        const expected: Record<string, number> = {};
        for (const node of nodes) {
          const reason = policy.plan(node)?.reason ?? 'waiting';
          expected[reason] = (expected[reason] ?? 0) + 1;
        }
        const groups = policy.planGroups();
        const counted: Record<string, number> = {};
        for (const group of groups) counted[group.reason ?? 'waiting'] = (counted[group.reason ?? 'waiting'] ?? 0) + group.nodes;
        assert.deepEqual(counted, expected);
        assert.ok(expected['waiting']! > 0 && Object.keys(expected).length >= 3, JSON.stringify(expected));

        const waitingKeys = groups.filter((group) => !group.reason).map((group) => group.key);
        const listed = inventory.planGroups.page(waitingKeys, 0, nodes.length);
        const waiting = expected['waiting']!;
        assert.deepEqual(listed.slice(0, waiting).map((node) => policy.plan(node)), Array(waiting).fill(undefined), 'waiting nodes first');
        assert.ok(listed.slice(waiting).every((node) => policy.plan(node)), 'then the nodes with an image');
        assert.deepEqual(listed.map((node) => node.id).sort((a, b) => a - b), nodes.map((node) => node.id), 'each node once');
        assert.deepEqual(inventory.planGroups.page(waitingKeys, 3, 4), listed.slice(3, 7));
      } finally {
        inventory.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
