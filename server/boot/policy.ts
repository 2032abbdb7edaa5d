import type { Arch, Client } from './client.js';
import { DiscoveryBudget, type DiscoveryRefusal } from './discovery.js';
import { SerialClaims } from './serial-claims.js';
import type { Config } from '../config/types.js';
import type { DhcpBootAnswer } from '../dhcp/answer.js';
import type { EventSink, EventSource } from '../events/types.js';
import type { Inventory } from '../inventory/index.js';
import type { Assignment } from '../inventory/assignments.js';
import type { ImageRecord } from '../inventory/images.js';
import type { NodeFacts, NodeRecord } from '../inventory/nodes.js';
import type { Mac } from '../net/mac.js';

/** How many nodes' boot addresses are remembered; far more than boot at once in a rack. */
export const MAX_BOOT_ADDRESSES = 10_000;

/** A dual-stack listener reports IPv4 peers as `::ffff:a.b.c.d`; reservations are plain. */
function plainIpv4(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/** What a node boots and why; the single answer every protocol works from. */
export interface BootPlan {
  node: NodeRecord;
  image: ImageRecord;
  /** 'once' and 'assigned' come from the node's assignment; 'default' from config.defaultImage. */
  reason: 'once' | 'assigned' | 'default';
  assignment?: Assignment;
}

/** Where nodes reach our HTTP server; known once the listener is bound. */
export interface ServerUrls {
  http: string;
}

export interface PolicyDeps {
  /** Where the policy reports refused discoveries and serial claims; default: nowhere. */
  events?: EventSink;
  /** The MAC holding an address (the confirmation of a Pi serial); default: our DHCP leases. */
  macAt?: (ip: string) => Mac | undefined;
  /** The discovery budget's clock. */
  now?: () => number;
}

/**
 * The boot policy: given what the protocols learned about a client, decides what it boots. DHCP,
 * TFTP and HTTP all ask here; none of them looks at assignments or images itself.
 */
export class BootPolicy {
  /**
   * Node id -> the address its current boot comes from: the one that last fetched its chain script
   * or its Pi files over TFTP. Only a fetch from there (or the node's reserved IP) uses up a one-shot
   * assignment, so anyone else's unauthenticated GET of the initrd changes nothing.
   */
  private readonly bootAddresses = new Map<number, string>();
  readonly discovery: DiscoveryBudget;
  private readonly claims = new SerialClaims();
  private readonly events: EventSink;
  private readonly macAt: (ip: string) => Mac | undefined;

  constructor(
    private readonly config: Config,
    private readonly inventory: Inventory,
    readonly urls: ServerUrls,
    deps: PolicyDeps = {},
  ) {
    this.events = deps.events ?? { record() {} };
    this.macAt = deps.macAt ?? ((ip) => inventory.leaseHolder(ip));
    this.discovery = new DiscoveryBudget(config.discovery, () => inventory.nodes.countUnconfirmed(), deps.now);
  }

  /**
   * Records the client (auto-discovery) and returns its node. A client not yet known takes one of
   * the discovery budget's places; without one it is not recorded and undefined is returned.
   */
  observe(facts: NodeFacts, source: EventSource): NodeRecord | undefined {
    const nodes = this.inventory.nodes;
    if (nodes.idOf(facts) === undefined) {
      const refusal = this.discovery.admit();
      if (refusal) return this.refuseDiscovery(facts, source, refusal);
    }
    return nodes.observe(facts);
  }

  /**
   * A Pi asks TFTP under its serial from `address`. When the MAC our DHCP gave that address to
   * (or the kernel's ARP table names) claimed this serial in option 97, the claim is confirmed:
   * the MAC and the serial go on one node.
   */
  observeTftp(key: { mac: Mac } | { serial: string }, address: string): NodeRecord | undefined {
    if ('serial' in key) this.confirmSerial(key.serial, address);
    return this.observe(key, 'tftp');
  }

  private refuseDiscovery(facts: NodeFacts, source: EventSource, reason: DiscoveryRefusal): undefined {
    const key = facts.mac ? { mac: facts.mac } : facts.serial ? { serial: facts.serial } : {};
    const limit =
      reason === 'rate'
        ? `more than discovery.burst (${this.config.discovery.burst}) new nodes at once, refilled at discovery.perMinute (${this.config.discovery.perMinute})`
        : `discovery.maxUnconfirmed (${this.config.discovery.maxUnconfirmed}) nodes have no assignment, reservation, hostname, labels or keys`;
    this.events.record({ source, kind: 'discovery-refused', ...key, detail: { reason, limit } });
    return undefined;
  }

  /**
   * Option 97 is whatever the sender wrote: a serial learnt from DHCP is only a claim, reported on
   * the node that serial names, and changes no node until TFTP confirms it (confirmSerial).
   */
  private claimSerial(node: NodeRecord, mac: Mac, serial: string): void {
    if (!this.claims.note(mac, serial)) return;
    const owner = this.inventory.nodes.bySerial(serial);
    const conflict = node.serial !== null || Boolean(owner?.mac && owner.mac !== mac);
    this.events.record({
      source: 'dhcp',
      kind: conflict ? 'serial-conflict' : 'serial-claimed',
      ...(owner ? { serial } : { mac }),
      detail: { claimedBy: mac, serial, ...(owner?.mac && { serialNodeMac: owner.mac }), ...(node.serial && { macNodeSerial: node.serial }) },
    });
  }

  private confirmSerial(serial: string, address: string): void {
    // A serial already on a node with a MAC needs nothing; one on another MAC's node was reported as a conflict.
    // Nothing pending: no address lookup for a flood of made-up serials.
    if (this.claims.size === 0 || this.inventory.nodes.bySerial(serial)?.mac) return;
    const mac = this.macAt(address);
    if (!mac || !this.claims.take(mac, serial)) return;
    const { outcome } = this.inventory.nodes.link(mac, serial);
    if (outcome === 'already') return;
    this.events.record({ source: 'tftp', kind: outcome === 'linked' ? 'serial-linked' : 'serial-conflict', mac, address, detail: { serial } });
  }

  /**
   * The plan for a node, or undefined when it has no image and no default applies. `arch`
   * (from the request at hand) wins over the arch recorded for the node.
   */
  plan(node: NodeRecord, arch?: string | null): BootPlan | undefined {
    const clientArch = arch && arch !== 'unknown' ? arch : node.arch;
    const assignment = this.inventory.assignments.current(node.id);
    if (assignment) {
      if (assignment.imageName === null) return undefined;
      const image = this.inventory.images.newest(assignment.imageName, clientArch, assignment.imageVersion);
      if (image) return { node, image, reason: assignment.once ? 'once' : 'assigned', assignment };
      return undefined;
    }
    const defaultName = this.config.defaultImage;
    const image = defaultName ? this.inventory.images.newest(defaultName, clientArch) : undefined;
    return image && { node, image, reason: 'default' };
  }

  /**
   * The node's plan, but with the image a chain script named (by id): every file of one boot then
   * comes from the image the script was made for, even if the assignment changes meanwhile.
   */
  planWithImage(node: NodeRecord, imageId: number): BootPlan | undefined {
    const image = this.inventory.images.byId(imageId);
    if (!image) return undefined;
    const current = this.plan(node, image.arch);
    return { node, image, reason: current?.reason ?? 'assigned', ...(current?.assignment && { assignment: current.assignment }) };
  }

  /** Why `plan` found nothing, in words for the node's console and the operator. */
  explainNoPlan(node: NodeRecord, arch?: string | null): string {
    const clientArch = arch && arch !== 'unknown' ? arch : node.arch;
    const assignment = this.inventory.assignments.current(node.id);
    const name = assignment ? assignment.imageName : this.config.defaultImage;
    if (assignment && name === null) return 'is unassigned (image none)';
    if (!name) return 'has no image assigned and no defaultImage is configured';
    const version = assignment?.imageVersion ? ` version ${assignment.imageVersion}` : '';
    const what = assignment ? `assigned image ${name}${version}` : `defaultImage ${name}`;
    return this.inventory.images.versions(name).length
      ? `: the ${what} has no build for arch ${clientArch ?? 'unknown'}`
      : `: the ${what} does not exist`;
  }

  /** A request that starts or continues a node's boot (its chain script, its Pi files) came from `address`. */
  bootContact(node: NodeRecord, address: string): void {
    this.bootAddresses.delete(node.id);
    this.bootAddresses.set(node.id, plainIpv4(address));
    // Oldest first in a Map: one entry per node that booted lately, however many MACs a LAN invents.
    if (this.bootAddresses.size > MAX_BOOT_ADDRESSES) this.bootAddresses.delete(this.bootAddresses.keys().next().value!);
  }

  /**
   * Called when a boot fetches its last file: a one-shot assignment is used up by it, when the fetch
   * comes from the node itself (see bootAddresses).
   */
  bootServed(plan: BootPlan, address: string): void {
    const { assignment, node } = plan;
    if (!assignment?.once || assignment.consumedAt !== null) return;
    const from = plainIpv4(address);
    if (from === this.bootAddresses.get(node.id) || from === node.reservedIp) this.inventory.assignments.consume(assignment.id);
  }

  /**
   * Whether a request from `address` comes from this node itself, for what changes its state
   * (an EEPROM update used up): its reserved IP, or an address our leases or the ARP table give
   * its MAC. A node known only by serial cannot be told apart from others: any address counts.
   */
  isNodeAddress(node: NodeRecord, address: string): boolean {
    const from = plainIpv4(address);
    if (from === node.reservedIp) return true;
    return node.mac ? this.macAt(from) === node.mac : true;
  }

  /** The known node behind an address (lease, ARP entry or reservation); never records one. */
  nodeAt(address: string): NodeRecord | undefined {
    const from = plainIpv4(address);
    const mac = this.macAt(from);
    return (mac && this.inventory.nodes.find({ mac })) || this.inventory.nodes.byReservedIp(from);
  }

  /** What a DHCP reply should carry so this client boots through us; null for non-boot clients. */
  dhcpAnswer(client: Client): DhcpBootAnswer | null {
    if (client.firmware === 'unknown') return null;
    const facts: NodeFacts = { mac: client.mac, firmware: client.firmware, arch: client.arch };
    if (client.model) facts.model = client.model;
    const node = this.observe(facts, 'dhcp');
    if (node && client.serial && node.serial !== client.serial) this.claimSerial(node, client.mac, client.serial);
    const http = this.urls.http;
    switch (client.firmware) {
      case 'pi-rom':
      case 'pi-eeprom':
        return { kind: 'pi', tftpServer: this.config.serverAddress };
      case 'ipxe':
        return { kind: 'ipxe', chainUrl: this.chainUrlTemplate(), bootFile: `${http}/boot.ipxe` };
      case 'pxe-bios':
      case 'uefi-pxe': {
        const binary = this.ipxeBinary(client);
        return binary ? { kind: 'pxe', nextServer: this.config.serverAddress, bootFile: binary } : null;
      }
      case 'uefi-http': {
        const binary = this.ipxeBinary(client);
        return binary ? { kind: 'http', bootFile: `${http}/ipxe/${binary}` } : null;
      }
    }
  }

  /** Option 224: iPXE expands ${mac} and ${buildarch} itself; it ends in a query so `&uefi=` can follow. */
  chainUrlTemplate(): string {
    return `${this.urls.http}/chain?mac=\${mac}&arch=\${buildarch}`;
  }

  reservation(mac: Mac): string | undefined {
    return this.inventory.nodes.reservedIpOf(mac);
  }

  /**
   * The iPXE build for a ROM's arch, or undefined: a binary of another arch would only crash the
   * ROM, so an arch without its own build configured (or an unknown one) gets no boot answer.
   */
  private ipxeBinary(client: Client): string | undefined {
    const { ipxe } = this.config;
    if (client.firmware === 'pxe-bios') return ipxe.bios;
    const byArch: Record<Arch, string | undefined> = {
      x86_64: ipxe.uefiX64,
      arm64: ipxe.uefiArm64,
      i386: ipxe.uefiIa32,
      arm32: ipxe.uefiArm32,
      riscv32: ipxe.uefiRiscv32,
      riscv64: ipxe.uefiRiscv64,
      unknown: undefined,
    };
    return byArch[client.arch];
  }
}
