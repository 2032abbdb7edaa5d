import { BootSessions, type PinnedPlan } from './boot-sessions.js';
import { machineArch, type Arch, type Client } from './client.js';
import { DiscoveryBudget, type DiscoveryRefusal } from './discovery.js';
import { piModelByFile } from './pi-models.js';
import { SerialClaims } from './serial-claims.js';
import { splitPrefix } from './tftp-files.js';
import type { Config } from '../config/types.js';
import type { DhcpBootAnswer } from '../dhcp/answer.js';
import type { EventSink, EventSource } from '../events/types.js';
import type { Inventory } from '../inventory/index.js';
import type { Assignment } from '../inventory/assignments.js';
import { archesFor, type ImageRecord } from '../inventory/images.js';
import type { NodeFacts, NodeRecord } from '../inventory/nodes.js';
import type { PlanGroup } from '../inventory/plan-groups.js';
import type { Mac } from '../net/mac.js';
import type { BootStep } from '../timeline/boundaries.js';

type NodeKey = { mac: Mac } | { serial: string };

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
  /** The clock of the discovery budget and of the boot boundaries. */
  now?: () => number;
}

/**
 * The boot policy: given what the protocols learned about a client, decides what it boots. DHCP,
 * TFTP and HTTP all ask here; none of them looks at assignments or images itself.
 */
export class BootPolicy {
  /**
   * Each node's current boot: the plan it serves, and the address it comes from. Only a fetch from
   * there (or the node's reserved IP) completes the boot and uses up a one-shot assignment, so
   * anyone else's unauthenticated GET of the initrd changes nothing.
   */
  private readonly boots: BootSessions;
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
    this.boots = new BootSessions(deps.now ?? Date.now);
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
   * An iPXE chain request from `mac` naming iPXE's `${buildarch}`: records the node with the
   * machine's arch (see machineArch: a 32-bit iPXE on a machine DHCP called x86_64 stays x86_64).
   */
  observeChain(mac: Mac, buildarch: Arch | undefined): NodeRecord | undefined {
    const arch = machineArch(this.inventory.nodes.byMac(mac)?.arch ?? null, buildarch);
    return this.observe({ mac, firmware: 'ipxe', ...(arch && { arch }) }, 'http');
  }

  /**
   * A Pi asks TFTP under its serial from `address`. When the MAC our DHCP gave that address to
   * (or the kernel's ARP table names) claimed this serial in option 97, the claim is confirmed:
   * the MAC and the serial go on one node.
   */
  observeTftp(key: NodeKey, address: string, file = ''): NodeRecord | undefined {
    if ('serial' in key) this.confirmSerial(key.serial, address);
    const asker = 'serial' in key ? this.serialAsker(key.serial, address) : key;
    const node = this.observe(asker, 'tftp');
    // A Pi 5 with an EEPROM older than 2023-10 sends no "RPi5" in option 97: its device tree names the model.
    const model = node && !node.model ? piModelByFile(file) : undefined;
    return model ? this.inventory.nodes.observe({ ...asker, model }) : node;
  }

  /**
   * Who asks under a serial prefix: the serial's node, unless the asker's MAC (by the address it
   * asks from) claimed that serial while another MAC's node holds it. A Pi 5's prefix is only the
   * low 32 bits of its serial, so two boards may share one: each stays its own node, keyed by MAC.
   */
  private serialAsker(serial: string, address: string): NodeKey {
    if (!this.claims.isShared(serial)) return { serial };
    const mac = this.macAt(plainIpv4(address));
    if (!mac || !this.claims.sharedBy(mac, serial)) return { serial };
    if (this.claims.markSeen(mac, serial)) {
      const owner = this.inventory.nodes.bySerial(serial);
      this.events.record({ source: 'tftp', kind: 'serial-shared', mac, address, detail: { serial, ...(owner?.mac && { serialNodeMac: owner.mac }) } });
    }
    return { mac };
  }

  /**
   * The node a TFTP transfer's event belongs to: its prefix's (or the MAC sharing that serial, as in
   * observeTftp), or for a file asked without a prefix (a Pi 3's bootcode.bin, an iPXE binary) the
   * node our DHCP leased the asking address to. Undefined: the event is known by its address only.
   */
  transferKey(requested: string, address: string): NodeKey | undefined {
    const { key } = splitPrefix(requested);
    if (key && 'serial' in key && this.claims.isShared(key.serial)) {
      const mac = this.macAt(plainIpv4(address));
      return mac && this.claims.sharedBy(mac, key.serial) ? { mac } : key;
    }
    if (key) return key;
    const mac = this.inventory.leaseHolder(plainIpv4(address));
    return mac && this.inventory.nodes.idOf({ mac }) !== undefined ? { mac } : undefined;
  }

  /**
   * The node at a client address, for requests that name none (a Pi's HTTP boot), seen now: the
   * node the address is reserved for, else the one our DHCP lease or the kernel's ARP table names.
   */
  observeAt(address: string): NodeRecord | undefined {
    const node = this.nodeAt(address);
    return node?.mac ? this.observe({ mac: node.mac }, 'http') : node;
  }

  private refuseDiscovery(facts: NodeFacts, source: EventSource, reason: DiscoveryRefusal): undefined {
    const key = facts.mac ? { mac: facts.mac } : facts.serial ? { serial: facts.serial } : {};
    const limit =
      reason === 'rate'
        ? `more than discovery.burst (${this.config.discovery.burst}) new nodes at once, refilled at discovery.perMinute (${this.config.discovery.perMinute})`
        : `discovery.maxUnconfirmed (${this.config.discovery.maxUnconfirmed}) nodes have no assignment, reservation, hostname, labels, keys or bootloader settings`;
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
    if (owner?.mac && owner.mac !== mac) this.claims.share(mac, serial);
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
   * The plan the node's next boot gets (what the page and the API show), or undefined when it has no
   * image and no default applies. `arch` (from the request at hand) wins over the arch recorded for
   * the node. Boot requests ask bootPlan, which keeps one plan for a whole boot.
   */
  plan(node: NodeRecord, arch?: string | null): BootPlan | undefined {
    const clientArch = arch && arch !== 'unknown' ? arch : node.arch;
    const assignment = this.inventory.assignments.current(node.id);
    const chosen = this.imageFor(assignment, clientArch);
    return chosen && { node, ...chosen, ...(assignment && { assignment }) };
  }

  /** The image and reason for an assignment in force (none: the default) and an arch. */
  private imageFor(
    assignment: Pick<Assignment, 'imageName' | 'imageVersion' | 'once'> | null | undefined,
    arch: string | null,
  ): Pick<BootPlan, 'image' | 'reason'> | undefined {
    if (assignment) {
      if (assignment.imageName === null) return undefined;
      const image = this.inventory.images.newest(assignment.imageName, arch, assignment.imageVersion);
      return image && { image, reason: assignment.once ? 'once' : 'assigned' };
    }
    const defaultName = this.config.defaultImage;
    const image = defaultName ? this.inventory.images.newest(defaultName, arch) : undefined;
    return image && { image, reason: 'default' };
  }

  /**
   * The plan reason of every group of nodes sharing an arch and an assignment (null: they wait for
   * an image): what plan() would say of each of their nodes, decided once per group.
   */
  planGroups(): (PlanGroup & { reason: BootPlan['reason'] | null })[] {
    return this.inventory.planGroups.groups().map((group) => ({ ...group, reason: this.imageFor(group.assignment, group.arch)?.reason ?? null }));
  }

  /**
   * The plan for a request of the node's boot (`step` places it: a new boot or the current one).
   * The first request of a boot that finds a plan pins it: every later file of that boot comes from
   * the same image, under the same assignment, after its one-shot was used up too. The next boot
   * plans afresh, and so does the current one when an operator assigns the node meanwhile.
   */
  bootPlan(node: NodeRecord, step: BootStep, arch?: string | null): BootPlan | undefined {
    const session = this.boots.step(node.id, step);
    const pinned = session.pinned && this.pinnedPlan(node, session.pinned, arch);
    if (pinned) return pinned;
    const plan = this.plan(node, arch);
    if (plan) session.pinned = { imageId: plan.image.id, reason: plan.reason, ...(plan.assignment && { assignment: plan.assignment }) };
    return plan;
  }

  /**
   * The pinned plan, unless an assignment was made after it (`node assign` takes effect at once; the
   * boot using up its own one-shot is no new assignment), its image was deleted, or the request names
   * an arch the image cannot run on (other firmware of the machine).
   */
  private pinnedPlan(node: NodeRecord, pinned: PinnedPlan, arch?: string | null): BootPlan | undefined {
    const newest = this.inventory.assignments.current(node.id)?.id ?? 0;
    if (newest > (pinned.assignment?.id ?? 0)) return undefined;
    const image = this.inventory.images.byId(pinned.imageId);
    if (!image || (arch && arch !== 'unknown' && !archesFor(arch).includes(image.arch))) return undefined;
    return { node, image, reason: pinned.reason, ...(pinned.assignment && { assignment: pinned.assignment }) };
  }

  /**
   * The boot's plan, for a file of the image a chain script named (by id): every file of one boot
   * comes from the image the script was made for. A script of an earlier boot still gets its image,
   * but under no assignment of the current boot, which it must not use up.
   */
  planWithImage(node: NodeRecord, imageId: number, step: BootStep): BootPlan | undefined {
    const plan = this.bootPlan(node, step);
    if (plan?.image.id === imageId) return plan;
    const image = this.inventory.images.byId(imageId);
    return image && { node, image, reason: 'assigned' };
  }

  /** Why `plan` found nothing, in words for the node's console and the operator. */
  explainNoPlan(node: NodeRecord): string {
    const assignment = this.inventory.assignments.current(node.id);
    const name = assignment ? assignment.imageName : this.config.defaultImage;
    if (assignment && name === null) return 'is unassigned (image none)';
    if (!name) return 'has no image assigned and no defaultImage is configured';
    const version = assignment?.imageVersion ? ` version ${assignment.imageVersion}` : '';
    const what = assignment ? `assigned image ${name}${version}` : `defaultImage ${name}`;
    return this.inventory.images.versions(name).length
      ? `: the ${what} has no build for arch ${node.arch ?? 'unknown'}`
      : `: the ${what} does not exist`;
  }

  /** A request that starts or continues a node's boot (its chain script, its Pi files) came from `address`. */
  bootContact(node: NodeRecord, address: string): void {
    const session = this.boots.current(node.id);
    if (session) session.address = plainIpv4(address);
  }

  /** The node's init reported that it is up: its next request begins a new boot. */
  booted(node: NodeRecord): void {
    this.boots.step(node.id, 'booted');
  }

  /**
   * Called when a boot fetches its last file (the initramfs, or the kernel of an image without one):
   * when the fetch comes from the node itself (see boots), that completes the boot (its next start
   * request begins another) and uses up the one-shot assignment it was planned with.
   */
  bootServed(plan: BootPlan, address: string): void {
    const { assignment, node } = plan;
    const session = this.boots.current(node.id);
    const from = plainIpv4(address);
    if (!session || session.complete || (from !== session.address && from !== node.reservedIp)) return;
    session.complete = true;
    if (assignment?.once && assignment.consumedAt === null) this.inventory.assignments.consume(assignment.id);
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

  /** The known node behind an address (reservation, lease or ARP entry); never records one. */
  nodeAt(address: string): NodeRecord | undefined {
    const ip = plainIpv4(address);
    const mac = this.inventory.nodes.reservedFor(ip) ?? this.macAt(ip);
    return mac && this.inventory.nodes.find({ mac });
  }

  /**
   * What a DHCP reply should carry so this client boots through us; null for non-boot clients.
   * `kind` is the message: a boot ROM's DISCOVER (not iPXE's own) begins a new boot of the node.
   */
  dhcpAnswer(client: Client, kind?: string): DhcpBootAnswer | null {
    if (client.firmware === 'unknown') return null;
    const facts: NodeFacts = { mac: client.mac, firmware: client.firmware, arch: client.arch };
    if (client.model) facts.model = client.model;
    const node = this.observe(facts, 'dhcp');
    if (node) this.boots.step(node.id, kind === 'discover' && client.firmware !== 'ipxe' ? 'rom-discover' : 'dhcp');
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
