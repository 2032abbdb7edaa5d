/**
 * The DHCP engine: a decoded request in, at most one reply out. Modes, pools, leases and the
 * boot answer live here; sockets do not (server.ts). Every decision is counted and reported as
 * a boot event.
 */
import type { Logger } from 'pino';
import type { Client } from '../boot/client.js';
import type { DhcpConfig } from '../config/types.js';
import type { EventSink } from '../events/types.js';
import { intToIp, ipToInt } from '../net/ipv4.js';
import type { Mac } from '../net/mac.js';
import { applyBootAnswer, type DhcpBootAnswer } from './answer.js';
import { classify, clientMac } from './classify.js';
import { BOOTREPLY, BOOTREQUEST, BROADCAST_FLAG, decodeHeader, decodeOptions, encode, maxReplySize, ZERO_IP, type DhcpPacket } from './codec.js';
import type { LeaseStore } from './lease-store.js';
import { LeaseTable } from './lease-table.js';
import { ipBytes, ipListBytes, MessageType, messageTypeName, Opt, optionIp, optionText, optionU16, u32Bytes } from './options.js';
import { poolsFromConfig, reservationProblem, type Pool } from './pool.js';

/** How long an OFFER keeps its address from other clients. */
export const OFFER_HOLD_MS = 60_000;
/** A declined address (someone else answered ARP for it) stays out of the pool this long. */
export const DECLINE_PROBATION_MS = 3_600_000;
/**
 * At most this many DECLINEs are honoured per window. A genuine address conflict declines a
 * handful of addresses; a spoofed storm would otherwise park the whole pool for an hour.
 */
export const DECLINE_LIMIT = 16;
export const DECLINE_WINDOW_MS = 60_000;
const EXHAUSTION_LOG_INTERVAL_MS = 10_000;

export interface EngineHooks {
  /** `kind`: the message (discover, request, inform): a boot ROM's DISCOVER starts a new boot of the node. */
  bootAnswer(client: Client, kind: string): DhcpBootAnswer | null;
  reservation(mac: Mac): string | undefined;
  /** Optional reverse lookup so the pool never hands out an address reserved for another MAC. */
  reservedMac?(ip: string): Mac | undefined;
  leases: LeaseStore;
  events: EventSink;
}

export interface EngineOptions {
  config: DhcpConfig;
  serverAddress: string;
  hooks: EngineHooks;
  log: Logger;
  now?: () => number;
}

/** Which socket a request came in on: the DHCP port or the ProxyDHCP port (4011). */
export type Via = 'dhcp' | 'proxy';

export interface Sender {
  address: string;
  port: number;
}

export interface Outbound {
  buffer: Buffer;
  address: string;
  port: number;
  /** The reply acknowledges a lease change: send only after the lease is persisted. */
  durable: boolean;
  /** Hold the reply this long first (the Pi 3 boot ROM, see delayed-replies.ts); one held reply per `mac`. */
  delayMs?: number;
  mac: Mac;
}

interface Request {
  packet: DhcpPacket;
  type: number;
  mac: Mac;
  from: Sender;
  via: Via;
}

export class DhcpEngine {
  readonly counters: Record<string, number> = Object.create(null);
  /** Replies to relays go to giaddr at the server port (RFC 2131 4.1); the socket's bound port. */
  relayPort: number;
  /** Set by the socket adapter: under overload new exchanges wait, started ones finish. */
  admitDiscover: () => boolean = () => true;
  private readonly config: DhcpConfig;
  private readonly serverAddress: string;
  private readonly serverId: Buffer;
  private readonly hooks: EngineHooks;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly pools: Pool[];
  private readonly table: LeaseTable;
  private readonly proxy: boolean;
  private exhaustionLoggedAt = -Infinity;
  private exhaustedSinceLog = 0;
  private declineWindowStart = -Infinity;
  private declinesInWindow = 0;

  constructor(options: EngineOptions) {
    this.config = options.config;
    this.serverAddress = options.serverAddress;
    this.serverId = ipBytes(options.serverAddress);
    this.hooks = options.hooks;
    this.log = options.log;
    this.now = options.now ?? Date.now;
    this.pools = poolsFromConfig(options.config, options.serverAddress);
    this.proxy = options.config.mode === 'proxy';
    this.relayPort = options.config.port;
    this.table = new LeaseTable(this.proxy ? [] : options.hooks.leases.loadAll());
  }

  get leaseCount(): number {
    return this.table.size;
  }

  /** MACs the lease table remembers; bounded by the leases, exported for the bound's test. */
  get macCount(): number {
    return this.table.macCount;
  }

  get pendingWrites(): number {
    return this.table.pendingWrites;
  }

  /** Persists queued lease changes in one transaction; throws (changes stay queued) on failure. */
  persist(): number {
    const written = this.table.persist(this.hooks.leases);
    this.count('leases-persisted', written);
    return written;
  }

  count(name: string, by = 1): void {
    this.counters[name] = (this.counters[name] ?? 0) + by;
  }

  /** Never throws on what arrives: a malformed or foreign packet is a counted, logged drop. */
  handle(buffer: Buffer, from: Sender, via: Via): Outbound | null {
    this.count('received');
    // Header checks first (op, hardware, relay subnet): a foreign packet is turned away before its options are read.
    const head = decodeHeader(buffer);
    if (!head.ok) return this.drop('malformed', from, head.reason);
    const { header } = head;
    if (header.op !== BOOTREQUEST) return this.drop('not-request', from, `op ${header.op}`);
    if (header.htype !== 1 || header.hlen !== 6) {
      return this.drop('not-ethernet', from, `htype ${header.htype} hlen ${header.hlen}`);
    }
    if (header.giaddr !== ZERO_IP && !this.pools.some((pool) => pool.contains(header.giaddr))) {
      return this.drop('foreign-subnet', from, `giaddr ${header.giaddr}`);
    }
    const decoded = decodeOptions(buffer, header);
    if (!decoded.ok) return this.drop('malformed', from, decoded.reason);
    const packet = decoded.packet;
    const type = packet.options.get(Opt.messageType)?.[0];
    const name = messageTypeName(type);
    if (type === undefined || !name) return this.drop('no-message-type', from, 'no option 53');
    if (type === MessageType.discover && !this.admitDiscover()) {
      // Counted as a drop (exported as reason "overload"), but not logged: this is a flood.
      this.count('dropped-overload');
      return null;
    }
    this.count(`in-${name}`);
    const request: Request = { packet, type, mac: clientMac(packet), from, via };
    if (this.proxy) return this.handleProxy(request);
    if (via !== 'dhcp') return this.drop('proxy-port-in-server-mode', from, name);
    switch (type) {
      case MessageType.discover:
        return this.discover(request);
      case MessageType.request:
        return this.request(request);
      case MessageType.decline:
        return this.decline(request);
      case MessageType.release:
        return this.release(request);
      case MessageType.inform:
        return this.inform(request);
      default:
        return this.drop('server-message', from, name);
    }
  }

  private drop(reason: string, from: Sender, detail: string): null {
    this.count('dropped');
    this.count(`dropped-${reason}`);
    this.log.debug({ from: `${from.address}:${from.port}`, reason, detail }, 'dhcp packet dropped');
    return null;
  }

  private event(kind: string, request: Request, client: Client | null, ip?: string): void {
    const detail: Record<string, unknown> = {
      xid: request.packet.xid.toString(16).padStart(8, '0'),
      mode: this.config.mode,
    };
    if (client) {
      detail['firmware'] = client.firmware;
      detail['arch'] = client.arch;
      if (client.model) detail['model'] = client.model;
    }
    if (ip && ip !== ZERO_IP) detail['ip'] = ip;
    if (request.packet.giaddr !== ZERO_IP) detail['relay'] = request.packet.giaddr;
    const event: Parameters<EventSink['record']>[0] = { source: 'dhcp', kind, mac: request.mac, detail };
    if (client?.serial) event.serial = client.serial;
    this.hooks.events.record(event);
  }

  /**
   * Classifies the client, asks the policy for its boot answer, then records the request as
   * `kind`: the policy records a new node, so the event that made it is the node's own.
   */
  private classified(request: Request, kind: string, ip?: string): { client: Client; answer: DhcpBootAnswer | null } {
    const client = classify(request.packet, request.mac);
    const answer = this.hooks.bootAnswer(client, kind);
    this.event(kind, request, client, ip);
    return { client, answer };
  }

  /** The pool a request belongs to: the relay's subnet, else the sender's, else the local one. */
  private poolFor(request: Request): Pool | undefined {
    const { packet, from } = request;
    if (packet.giaddr !== ZERO_IP) return this.pools.find((pool) => pool.contains(packet.giaddr));
    const local = this.pools[0];
    if (!local) return undefined;
    if (packet.ciaddr !== ZERO_IP && !local.contains(packet.ciaddr)) return undefined;
    if (from.address !== ZERO_IP && !local.contains(from.address)) return undefined;
    return local;
  }

  private reservedForOther(mac: Mac): (ip: number) => boolean {
    const lookup = this.hooks.reservedMac;
    if (!lookup) return () => false;
    return (ip) => {
      const owner = lookup(intToIp(ip));
      return owner !== undefined && owner !== mac;
    };
  }

  /**
   * The client's reservation if this pool may hand it out. One outside the subnet, or on the
   * network, broadcast, router or server address, is ignored (start-up lists such reservations):
   * the client is then served from the pool like any other.
   */
  private usableReservation(mac: Mac, pool: Pool): string | undefined {
    const reserved = this.hooks.reservation(mac);
    if (!reserved || !pool.contains(reserved)) return undefined;
    return reservationProblem([pool], reserved) === undefined ? reserved : undefined;
  }

  /** Reservation, then the client's previous address, then the one it asks for, then the pool. */
  private chooseAddress(request: Request, pool: Pool, now: number): number | null {
    const { mac, packet } = request;
    const otherOwner = this.reservedForOther(mac);
    const reserved = this.usableReservation(mac, pool);
    if (reserved) {
      const ip = ipToInt(reserved);
      if (this.table.availableFor(ip, mac, now)) return ip;
      this.log.warn({ mac, ip: reserved }, 'reserved address is leased to another client; using the pool');
    }
    const previous = this.table.ofMac(mac);
    if (previous && pool.inRange(previous.ip) && this.table.availableFor(previous.ip, mac, now) && !otherOwner(previous.ip)) {
      return previous.ip;
    }
    const asked = optionIp(packet.options, Opt.requestedIp);
    if (asked) {
      const ip = ipToInt(asked);
      if (pool.inRange(ip) && this.table.availableFor(ip, mac, now) && !otherOwner(ip)) return ip;
    }
    return pool.allocate(mac, this.table, now, otherOwner);
  }

  private reply(request: Request, type: number, yiaddr = ZERO_IP): DhcpPacket {
    const { packet } = request;
    const options = new Map<number, Buffer>([
      [Opt.messageType, Buffer.from([type])],
      [Opt.serverId, this.serverId],
    ]);
    return {
      op: BOOTREPLY,
      htype: packet.htype,
      hlen: packet.hlen,
      hops: 0,
      xid: packet.xid,
      secs: 0,
      flags: packet.flags,
      ciaddr: type === MessageType.ack ? packet.ciaddr : ZERO_IP,
      yiaddr,
      siaddr: this.serverAddress,
      giaddr: packet.giaddr,
      chaddr: packet.chaddr,
      sname: '',
      file: '',
      options,
    };
  }

  private addNetworkOptions(reply: DhcpPacket, pool: Pool, withLease: boolean): void {
    const { options } = reply;
    if (withLease) {
      const seconds = this.config.leaseSeconds;
      options.set(Opt.leaseTime, u32Bytes(seconds));
      options.set(Opt.renewalTime, u32Bytes(Math.floor(seconds / 2)));
      options.set(Opt.rebindingTime, u32Bytes(Math.floor((seconds * 7) / 8)));
    }
    options.set(Opt.subnetMask, ipBytes(pool.mask));
    if (pool.settings.router) options.set(Opt.router, ipBytes(pool.settings.router));
    if (pool.settings.dns.length) options.set(Opt.dns, ipListBytes(pool.settings.dns));
    if (pool.settings.domain) options.set(Opt.domain, Buffer.from(pool.settings.domain, 'latin1'));
    options.set(Opt.broadcast, ipBytes(pool.broadcast));
  }

  /** Adds the boot answer, echoes option 82 and picks the destination. */
  private finish(request: Request, reply: DhcpPacket, client: Client | null, answer: DhcpBootAnswer | null, durable = false): Outbound {
    const { packet, from, via } = request;
    if (client && answer) applyBootAnswer(reply, answer, packet, client, this.proxy);
    // In every reply, relayed or not: a switch snooping DHCP adds option 82 without a giaddr (RFC 3046 2.2).
    const agent = packet.options.get(Opt.relayAgent);
    if (agent) reply.options.set(Opt.relayAgent, agent);
    const type = reply.options.get(Opt.messageType)![0]!;
    let address: string;
    let port: number;
    if (via === 'proxy') {
      address = from.address;
      port = from.port;
    } else if (packet.giaddr !== ZERO_IP) {
      address = packet.giaddr;
      port = this.relayPort;
      if (type === MessageType.nak) reply.flags |= BROADCAST_FLAG;
    } else if (type !== MessageType.nak && packet.ciaddr !== ZERO_IP) {
      address = packet.ciaddr;
      port = this.config.clientPort;
    } else {
      // Without raw sockets we cannot unicast to an address the client does not hold yet (no ARP entry).
      address = '255.255.255.255';
      port = this.config.clientPort;
    }
    const { buffer, dropped } = encode(reply, maxReplySize(optionU16(packet.options, Opt.maxMessageSize)));
    if (dropped.length) this.log.warn({ mac: request.mac, dropped }, 'dhcp reply options did not fit the client message size');
    this.count(`out-${messageTypeName(type)}`);
    this.event(messageTypeName(type)!, request, client, reply.yiaddr);
    const out: Outbound = { buffer, address, port, durable, mac: request.mac };
    if (client?.firmware === 'pi-rom' && this.config.piRomReplyDelayMs > 0) out.delayMs = this.config.piRomReplyDelayMs;
    return out;
  }

  private discover(request: Request): Outbound | null {
    const pool = this.poolFor(request);
    if (!pool) return this.drop('foreign-subnet', request.from, `giaddr ${request.packet.giaddr}`);
    const { client, answer } = this.classified(request, 'discover');
    const now = this.now();
    const ip = this.chooseAddress(request, pool, now);
    if (ip === null) return this.exhausted(request, pool);
    // The Pi 3B ROM boots from the OFFER and never REQUESTs: hold its address for a full lease.
    const hold = client.firmware === 'pi-rom' ? this.config.leaseSeconds * 1000 : OFFER_HOLD_MS;
    const current = this.table.atIp(ip);
    if (!(current?.mac === request.mac && current.state === 'bound' && current.expiresAt > now)) {
      this.table.put(ip, request.mac, 'offered', now + hold);
    }
    const reply = this.reply(request, MessageType.offer, intToIp(ip));
    this.addNetworkOptions(reply, pool, true);
    return this.finish(request, reply, client, answer);
  }

  private exhausted(request: Request, pool: Pool): null {
    this.count('pool-exhausted');
    this.exhaustedSinceLog++;
    const now = this.now();
    if (now - this.exhaustionLoggedAt >= EXHAUSTION_LOG_INTERVAL_MS) {
      this.log.warn(
        { code: 'RB_DHCP_POOL_EXHAUSTED', subnet: pool.subnet, unanswered: this.exhaustedSinceLog, mac: request.mac },
        'dhcp pool exhausted: DISCOVERs go unanswered until leases expire or are released (widen dhcp.pool or shorten dhcp.leaseSeconds)',
      );
      this.exhaustionLoggedAt = now;
      this.exhaustedSinceLog = 0;
    }
    this.event('exhausted', request, null);
    return null;
  }

  private nak(request: Request, reason: string): Outbound {
    this.count(`nak-${reason}`);
    const reply = this.reply(request, MessageType.nak);
    reply.siaddr = ZERO_IP;
    reply.options.set(Opt.message, Buffer.from(reason, 'latin1'));
    return this.finish(request, reply, null, null);
  }

  private request(request: Request): Outbound | null {
    const { packet, mac } = request;
    const now = this.now();
    const chosen = optionIp(packet.options, Opt.serverId);
    if (chosen && chosen !== this.serverAddress) {
      // The client took another server's offer: let ours go.
      const offered = this.table.ofMac(mac);
      if (offered?.state === 'offered') offered.expiresAt = now;
      this.event('request', request, null);
      return this.drop('other-server', request.from, chosen);
    }
    const pool = this.poolFor(request);
    if (!pool) return this.drop('foreign-subnet', request.from, `ciaddr ${packet.ciaddr} giaddr ${packet.giaddr}`);
    const asked = optionIp(packet.options, Opt.requestedIp) ?? (packet.ciaddr !== ZERO_IP ? packet.ciaddr : undefined);
    const { client, answer } = this.classified(request, 'request', asked);
    if (!asked) return this.drop('request-without-address', request.from, 'no option 50 and no ciaddr');
    if (!pool.contains(asked)) return this.nak(request, 'wrong subnet');
    const ip = ipToInt(asked);
    const reserved = this.usableReservation(mac, pool);
    if (reserved && reserved !== asked) return this.nak(request, 'address reserved elsewhere for this client');
    if (!reserved && !pool.inRange(ip)) return this.nak(request, 'address outside the pool');
    if (this.reservedForOther(mac)(ip)) return this.nak(request, 'address reserved for another client');
    if (!this.table.availableFor(ip, mac, now)) return this.nak(request, 'address in use');
    const hostname = optionText(packet.options, Opt.hostname);
    this.table.put(ip, mac, 'bound', now + this.config.leaseSeconds * 1000, hostname);
    const reply = this.reply(request, MessageType.ack, asked);
    this.addNetworkOptions(reply, pool, true);
    return this.finish(request, reply, client, answer, true);
  }

  /** The live lease of `ip` if it is this client's and the client did not pick another server. */
  private ownedLease(request: Request, ip: string | undefined, now: number) {
    if (!ip) return undefined;
    const chosen = optionIp(request.packet.options, Opt.serverId);
    if (chosen && chosen !== this.serverAddress) return undefined;
    const lease = this.table.atIp(ipToInt(ip));
    if (lease?.mac !== request.mac || lease.expiresAt <= now) return undefined;
    return lease.state === 'bound' || lease.state === 'offered' ? lease : undefined;
  }

  /**
   * A client declines before it holds an address (RFC 2131 4.4.1): the packet comes from 0.0.0.0,
   * or from its relay on a configured subnet. Anything else is a host pretending to be the client.
   */
  private declineSourceOk(request: Request): boolean {
    const { packet, from } = request;
    if (packet.ciaddr !== ZERO_IP) return false;
    const sender = packet.giaddr === ZERO_IP ? from.address === ZERO_IP : from.address === packet.giaddr;
    return sender && this.poolFor(request) !== undefined;
  }

  /** Declines honoured are capped per window: each takes an address out of the pool for an hour. */
  private declineAdmitted(now: number): boolean {
    if (now - this.declineWindowStart >= DECLINE_WINDOW_MS) {
      this.declineWindowStart = now;
      this.declinesInWindow = 0;
    }
    if (this.declinesInWindow >= DECLINE_LIMIT) return false;
    this.declinesInWindow++;
    return true;
  }

  private decline(request: Request): null {
    const ip = optionIp(request.packet.options, Opt.requestedIp);
    this.event('decline', request, null, ip);
    const now = this.now();
    if (!this.declineSourceOk(request)) return this.drop('decline-foreign-source', request.from, ip ?? 'no option 50');
    const lease = this.ownedLease(request, ip, now);
    if (!lease) return this.drop('decline-unknown', request.from, ip ?? 'no option 50');
    if (!this.declineAdmitted(now)) return this.drop('decline-rate', request.from, `more than ${DECLINE_LIMIT} declines in ${DECLINE_WINDOW_MS / 1000} s`);
    this.log.warn({ code: 'RB_DHCP_DECLINED', ip, mac: request.mac }, 'client declined an address (another host answers ARP for it); taken out of the pool for an hour');
    this.count('declined');
    this.table.put(lease.ip, lease.mac, 'declined', now + DECLINE_PROBATION_MS);
    return null;
  }

  /** A RELEASE is unicast by the client from the address it gives back (RFC 2131 4.4.6). */
  private release(request: Request): null {
    const ip = request.packet.ciaddr;
    this.event('release', request, null, ip);
    if (ip === ZERO_IP) return this.drop('release-unknown', request.from, 'no ciaddr');
    if (request.from.address !== ip) return this.drop('release-foreign-source', request.from, `ciaddr ${ip}`);
    const now = this.now();
    const lease = this.ownedLease(request, ip, now);
    if (!lease) return this.drop('release-unknown', request.from, ip);
    this.count('released');
    this.table.put(lease.ip, lease.mac, 'released', now, lease.hostname);
    return null;
  }

  private inform(request: Request): Outbound | null {
    const pool = this.poolFor(request);
    if (!pool) return this.drop('foreign-subnet', request.from, `ciaddr ${request.packet.ciaddr}`);
    const { client, answer } = this.classified(request, 'inform', request.packet.ciaddr);
    const reply = this.reply(request, MessageType.ack);
    this.addNetworkOptions(reply, pool, false);
    return this.finish(request, reply, client, answer);
  }

  /**
   * ProxyDHCP: never an address. A booting client's DISCOVER on port 67 gets a boot-only OFFER;
   * its REQUEST (or INFORM) on 4011, or a REQUEST naming us on 67, a boot-only ACK.
   */
  private handleProxy(request: Request): Outbound | null {
    const { packet, type, via } = request;
    const name = messageTypeName(type)!;
    let replyType: number;
    if (via === 'dhcp' && type === MessageType.discover) replyType = MessageType.offer;
    else if (via === 'proxy' && (type === MessageType.request || type === MessageType.inform)) replyType = MessageType.ack;
    else if (via === 'dhcp' && type === MessageType.request && optionIp(packet.options, Opt.serverId) === this.serverAddress) {
      replyType = MessageType.ack;
    } else return this.drop('not-for-proxy', request.from, `${name} on ${via} port`);
    const { client, answer } = this.classified(request, name);
    if (!answer) return this.drop('not-boot-client', request.from, client.firmware);
    return this.finish(request, this.reply(request, replyType), client, answer);
  }
}
