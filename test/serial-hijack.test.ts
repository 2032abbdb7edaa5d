/**
 * Option 97 is whatever the sender writes: a forged Pi serial in a DISCOVER must not attach the
 * sender's MAC to the node that serial names, nor merge nodes. Only a Pi that asks TFTP under the
 * serial from the address our DHCP gave its MAC links the two. Real engine, policy and inventory.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { Mac } from '../server/net/mac.js';
import { neighbourMac } from '../server/net/neighbours.js';
import { ipxeDiscover, pi4Discover } from './helpers/dhcp-packets.js';
import { policyEngineLab } from './helpers/policy-engine.js';

const labs: ReturnType<typeof policyEngineLab>[] = [];
after(() => labs.forEach((lab) => lab.cleanup()));

const SERIAL = '1a2b3c4d';
const VICTIM = 'dc:a6:32:00:00:01' as Mac;
const ATTACKER = '02:00:00:00:00:66' as Mac;

function lab() {
  const made = policyEngineLab();
  labs.push(made);
  return { ...made, discover: made.bind };
}

describe('option 97 serial hijack', () => {
  it('a forged serial for a node registered by serial takes neither its reservation nor its node; TFTP from another address does not link', () => {
    const { inventory, policy, discover, kinds } = lab();
    const victim = inventory.nodes.upsert({ serial: SERIAL }, { hostname: 'rack1-n7', sshKeys: ['ssh-ed25519 AAAA victim'], reservedIp: '10.50.0.150' });
    const offered = discover(pi4Discover(ATTACKER, 0x1a2b3c4d));
    assert.notEqual(offered, '10.50.0.150', "the victim's reservation is not handed to the forged MAC");
    const after = inventory.nodes.byId(victim.id)!;
    assert.equal(after.mac, null, 'the MAC is not attached to the victim node');
    assert.equal(after.hostname, 'rack1-n7');
    const attacker = inventory.nodes.byMac(ATTACKER)!;
    assert.notEqual(attacker.id, victim.id);
    assert.equal(attacker.serial, null);
    assert.ok(kinds(victim.id).includes('serial-claimed'), 'the claim is on the victim node for the operator to see');
    // The attacker asks under the serial from an address our DHCP did not give it.
    policy.observeTftp({ serial: SERIAL }, '10.50.0.77');
    assert.equal(inventory.nodes.byId(victim.id)!.mac, null);
    assert.equal(inventory.nodes.list().length, 2);
  });

  it('a forged serial of a booted Pi from another known MAC merges nothing, even with TFTP from its own address', () => {
    const { inventory, policy, discover, kinds } = lab();
    const victim = inventory.nodes.observe({ mac: VICTIM, serial: SERIAL });
    inventory.nodes.upsert({ mac: VICTIM }, { sshKeys: ['ssh-ed25519 AAAA victim'] });
    discover(ipxeDiscover(ATTACKER));
    const address = discover(pi4Discover(ATTACKER, 0x1a2b3c4d));
    const unchanged = () => {
      assert.equal(inventory.nodes.list().length, 2, 'no node was merged away');
      assert.equal(inventory.nodes.byId(victim.id)!.mac, VICTIM);
      assert.equal(inventory.nodes.bySerial(SERIAL)!.id, victim.id);
      assert.equal(inventory.nodes.byMac(ATTACKER)!.serial, null);
    };
    unchanged();
    policy.observeTftp({ serial: SERIAL }, address);
    unchanged();
    assert.ok(kinds(victim.id).includes('serial-conflict'), JSON.stringify(kinds(victim.id)));
  });

  it('a real Pi (DHCP with its serial, then TFTP under it from the address it was given) is linked to its registered node, with an event', () => {
    const { inventory, policy, discover, kinds } = lab();
    const registered = inventory.nodes.upsert({ serial: SERIAL }, { hostname: 'rack1-n7' });
    inventory.assignments.assign(registered.id, { imageName: 'pi-image' }, 'test');
    const address = discover(pi4Discover(VICTIM, 0x1a2b3c4d));
    const node = policy.observeTftp({ serial: SERIAL }, address)!;
    assert.equal(node.mac, VICTIM);
    assert.equal(node.serial, SERIAL);
    assert.equal(node.hostname, 'rack1-n7');
    assert.equal(inventory.nodes.list().length, 1);
    assert.equal(inventory.assignments.current(node.id)?.imageName, 'pi-image');
    assert.ok(kinds(node.id).includes('serial-linked'));
  });
});

describe('the ARP table as the proxy-mode confirmation', () => {
  it('names the MAC of a complete entry only', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rbt-arp-'));
    const table = path.join(dir, 'arp');
    writeFileSync(
      table,
      [
        'IP address       HW type     Flags       HW address            Mask     Device',
        '10.78.0.50       0x1         0x2         DC:A6:32:01:36:C2     *        veth0',
        '10.78.0.51       0x1         0x0         00:00:00:00:00:00     *        veth0',
        '',
      ].join('\n'),
    );
    assert.equal(neighbourMac('10.78.0.50', table), 'dc:a6:32:01:36:c2');
    assert.equal(neighbourMac('10.78.0.51', table), undefined, 'still being resolved');
    assert.equal(neighbourMac('10.78.0.52', table), undefined);
    assert.equal(neighbourMac('10.78.0.50', path.join(dir, 'missing')), undefined);
    rmSync(dir, { recursive: true, force: true });
  });
});
