/**
 * A scripted Raspberry Pi 4 or Pi 5 EEPROM bootloader: replays the DHCP and TFTP traffic a real Pi
 * sends when it network-boots (facts note), so the Pi path is tested end to end without a Pi.
 *
 * It builds its packets byte by byte and parses replies with its own small BOOTP reader rather
 * than the server's codec, so a codec bug cannot hide on both sides of the wire.
 *
 * Run inside the client's network namespace as a child process (a socket cannot be moved between
 * namespaces): `RACKBOOT_PI_CLIENT='<json ReplayOptions>' node pi-client.js` prints the JSON
 * Transcript on stdout. The options come from the environment, not argv, because `node --test
 * dist/test/` also runs every file under test/helpers/: without the variable this file does nothing.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomInt } from 'node:crypto';
import dgram from 'node:dgram';

const PI_VENDOR_CLASS = 'PXEClient:Arch:00000:UNDI:002001';
const PI_PARAMETERS = [1, 3, 43, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135];
/** Files a Pi 4 asks for after the probe, in its order (firmware extras left out). */
export const PI4_FILES = ['start4.elf', 'config.txt', 'cmdline.txt', 'Image', 'rootfs.cpio.gz'];
/**
 * A Pi 5 after its config.txt probe (no start*.elf); the kernel and initramfs follow, named by the
 * config.txt it received (kernel_2712.img when it names none). The firmware goes on past a file it
 * does not find, so every miss is recorded, not fatal.
 */
export const PI5_FILES = [
  'config.txt',
  'pieeprom.sig',
  'bcm2712-rpi-5-b.dtb',
  'overlays/overlay_map.dtb',
  'overlays/bcm2712d0.dtbo',
  'cmdline.txt',
  'armstub8-2712.bin',
  'bootsig.bin',
];
const DHCP_MAGIC = 0x63825363;
const STEP_TIMEOUT_MS = 2_000;
const STEP_TRIES = 4;

export interface ReplayOptions {
  mac: string;
  /** Which bootloader to replay; default pi4. */
  board?: 'pi4' | 'pi5';
  /** 32-bit board serial (a Pi 5's low 32 bits); its 8 hex digits are the TFTP prefix. */
  serial: number;
  revision: number;
  mode: 'server' | 'proxy';
  /** Client network device: in server mode the leased address is put on it, like the Pi does. */
  dev: string;
  tftpPort: number;
  /** Proxy mode: the lease the site's DHCP server gave (the address is already on `dev`). */
  siteLease?: { address: string; serverId: string };
}

export interface TftpResult {
  file: string;
  oack: Record<string, string>;
  size: number;
  sha256: string;
  /** Text files come back whole, for content checks. */
  text?: string;
  retransmits: number;
}

export interface Transcript {
  offer: string;
  /** Server mode: the ACK; proxy mode: whatever answered the REQUEST to the site server (should be nothing). */
  afterRequest: string[];
  tftpServer: string;
  probe: { oack: Record<string, string> };
  files: TftpResult[];
  /** Pi 5: files the server did not have (TFTP ERROR 1), in request order. */
  misses: string[];
}

export interface Bootp {
  op: number;
  xid: number;
  flags: number;
  yiaddr: string;
  siaddr: string;
  chaddr: Buffer;
  options: Map<number, Buffer>;
}

function macBytes(mac: string): Buffer {
  return Buffer.from(mac.replace(/:/g, ''), 'hex');
}

/** Option 97 of a Pi 4/5 EEPROM: 0, "RPi4"/"RPi5", revision LE32, MAC bytes 2..5, serial LE32. */
export function piOption97(mac: string, revision: number, serial: number, fourcc = 'RPi4'): Buffer {
  const value = Buffer.alloc(17);
  value.write(fourcc, 1, 'latin1');
  value.writeUInt32LE(revision, 5);
  macBytes(mac).copy(value, 9, 2, 6);
  value.writeUInt32LE(serial >>> 0, 13);
  return value;
}

function ipBytes(ip: string): Buffer {
  return Buffer.from(ip.split('.').map(Number));
}

function bootRequest(xid: number, mac: string, options: [number, Buffer][]): Buffer {
  const header = Buffer.alloc(240);
  header[0] = 1; // BOOTREQUEST
  header[1] = 1; // Ethernet
  header[2] = 6;
  header.writeUInt32BE(xid, 4);
  macBytes(mac).copy(header, 28);
  header.writeUInt32BE(DHCP_MAGIC, 236);
  const encoded = options.flatMap(([code, value]) => [Buffer.from([code, value.length]), value]);
  return Buffer.concat([header, ...encoded, Buffer.from([255])]);
}

function piOptions(options: ReplayOptions, type: number, vendorClass: boolean): [number, Buffer][] {
  return [
    [53, Buffer.from([type])],
    [55, Buffer.from(PI_PARAMETERS)],
    ...(vendorClass ? [[60, Buffer.from(PI_VENDOR_CLASS, 'latin1')] as [number, Buffer]] : []),
    [93, Buffer.from([0, 0])],
    [94, Buffer.from([1, 2, 1])],
    [97, piOption97(options.mac, options.revision, options.serial, options.board === 'pi5' ? 'RPi5' : 'RPi4')],
  ];
}

function discoverPacket(options: ReplayOptions, xid: number): Buffer {
  return bootRequest(xid, options.mac, piOptions(options, 1, true));
}

/** The Pi 4 REQUEST carries no option 60. */
function requestPacket(options: ReplayOptions, xid: number, requested: string, serverId: string): Buffer {
  return bootRequest(xid, options.mac, [...piOptions(options, 3, false), [50, ipBytes(requested)], [54, ipBytes(serverId)]]);
}

function ipAt(buf: Buffer, offset: number): string {
  return [...buf.subarray(offset, offset + 4)].join('.');
}

/** Just enough BOOTP/DHCP parsing to check replies; undefined for anything malformed. */
export function parseBootp(buf: Buffer): Bootp | undefined {
  if (buf.length < 241 || buf.readUInt32BE(236) !== DHCP_MAGIC) return undefined;
  const options = new Map<number, Buffer>();
  for (let at = 240; at < buf.length; ) {
    const code = buf[at]!;
    if (code === 255) break;
    if (code === 0) {
      at++;
      continue;
    }
    const length = buf[at + 1];
    if (length === undefined || at + 2 + length > buf.length) return undefined;
    options.set(code, buf.subarray(at + 2, at + 2 + length));
    at += 2 + length;
  }
  return {
    op: buf[0]!,
    xid: buf.readUInt32BE(4),
    flags: buf.readUInt16BE(10),
    yiaddr: ipAt(buf, 16),
    siaddr: ipAt(buf, 20),
    chaddr: buf.subarray(28, 34),
    options,
  };
}

/**
 * Broadcasts `packet` and collects replies to `xid` of one of `types`: until the first one (resent
 * on silence), or for all of `listenMs` when checking that nobody answers.
 */
async function exchange(socket: dgram.Socket, packet: Buffer, xid: number, types: number[], listenMs?: number): Promise<Buffer[]> {
  const replies: Buffer[] = [];
  let heard: (() => void) | undefined;
  const onMessage = (message: Buffer) => {
    const reply = parseBootp(message);
    if (reply?.op !== 2 || reply.xid !== xid || !types.includes(reply.options.get(53)?.[0] ?? 0)) return;
    replies.push(message);
    heard?.();
  };
  socket.on('message', onMessage);
  try {
    for (let attempt = 0; attempt < (listenMs ? 1 : STEP_TRIES) && !replies.length; attempt++) {
      socket.send(packet, 67, '255.255.255.255');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, listenMs ?? STEP_TIMEOUT_MS);
        if (!listenMs) {
          heard = () => {
            clearTimeout(timer);
            resolve();
          };
        }
      });
    }
    return replies;
  } finally {
    socket.off('message', onMessage);
  }
}

function maskBits(mask: Buffer | undefined): number {
  return mask ? [...mask].reduce((bits, byte) => bits + byte.toString(2).replace(/0/g, '').length, 0) : 24;
}

// TFTP ----------------------------------------------------------------------------------------

function tftpRrq(file: string): Buffer {
  return Buffer.from(`\0\x01${file}\0octet\0tsize\x000\0blksize\x001024\0`, 'latin1');
}

function tftpAck(block: number): Buffer {
  const ack = Buffer.from([0, 4, 0, 0]);
  ack.writeUInt16BE(block, 2);
  return ack;
}

function tftpError(code: number, message: string): Buffer {
  return Buffer.concat([Buffer.from([0, 5, code >> 8, code & 0xff]), Buffer.from(`${message}\0`, 'latin1')]);
}

function parseOack(message: Buffer): Record<string, string> {
  const words = message.toString('latin1', 2).split('\0');
  const oack: Record<string, string> = {};
  for (let i = 0; i + 1 < words.length; i += 2) if (words[i]) oack[words[i]!.toLowerCase()] = words[i + 1]!;
  return oack;
}

function describeError(message: Buffer): string {
  return `TFTP ERROR ${message.readUInt16BE(2)} ${message.toString('latin1', 4).replace(/\0.*$/, '')}`;
}

/**
 * One RRQ as the Pi sends it (tsize 0, blksize 1024). `probe` answers the OACK with ERROR 8
 * "Early terminate", as the bootloader does when it only wanted the size.
 */
async function tftpGet(server: string, port: number, file: string, probe: boolean): Promise<TftpResult & { missing?: true }> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, resolve));
  const queue: { message: Buffer; port: number }[] = [];
  let wake: (() => void) | undefined;
  socket.on('message', (message, remote) => {
    if (remote.address !== server) return;
    queue.push({ message, port: remote.port });
    wake?.();
  });
  const next = async (): Promise<{ message: Buffer; port: number } | undefined> => {
    if (!queue.length) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, STEP_TIMEOUT_MS);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
    return queue.shift();
  };
  // close() drops datagrams still queued: the last ACK and the probe's ERROR must be out first.
  const sendNow = (packet: Buffer, to: number) => new Promise<void>((resolve) => socket.send(packet, to, server, () => resolve()));
  const chunks: Buffer[] = [];
  let retransmits = 0;
  try {
    // RRQ until an OACK comes back; the server's transfer port is its TID from then on.
    let oack: { message: Buffer; port: number } | undefined;
    for (let attempt = 0; attempt < STEP_TRIES && !oack; attempt++) {
      if (attempt) retransmits++;
      socket.send(tftpRrq(file), port, server);
      const reply = await next();
      if (reply && reply.message.readUInt16BE(0) === 5) {
        if (reply.message.readUInt16BE(2) === 1) return { file, oack: {}, size: 0, sha256: '', retransmits, missing: true };
        throw new Error(`${file}: ${describeError(reply.message)}`);
      }
      if (reply && reply.message.readUInt16BE(0) === 6) oack = reply;
    }
    if (!oack) throw new Error(`${file}: no OACK after ${STEP_TRIES} RRQs`);
    const options = parseOack(oack.message);
    const tid = oack.port;
    if (probe) {
      await sendNow(tftpError(8, 'Early terminate'), tid);
      return { file, oack: options, size: 0, sha256: '', retransmits };
    }
    const blksize = Number(options['blksize'] ?? 512);
    let lastAck = tftpAck(0);
    socket.send(lastAck, tid, server);
    for (let expected = 1, silent = 0; ; ) {
      const reply = await next();
      if (!reply) {
        if (++silent >= STEP_TRIES * 2) throw new Error(`${file}: server silent waiting for block ${expected}`);
        retransmits++;
        socket.send(lastAck, tid, server);
        continue;
      }
      silent = 0;
      if (reply.port !== tid) continue;
      const op = reply.message.readUInt16BE(0);
      if (op === 5) throw new Error(`${file}: ${describeError(reply.message)}`);
      if (op !== 3) continue;
      const block = reply.message.readUInt16BE(2);
      if (block !== (expected & 0xffff)) {
        socket.send(lastAck, tid, server); // a duplicate: our ACK was lost
        continue;
      }
      const data = reply.message.subarray(4);
      chunks.push(Buffer.from(data));
      lastAck = tftpAck(block);
      expected++;
      if (data.length < blksize) {
        await sendNow(lastAck, tid);
        break;
      }
      socket.send(lastAck, tid, server);
    }
    const content = Buffer.concat(chunks);
    const result: TftpResult = {
      file,
      oack: options,
      size: content.length,
      sha256: createHash('sha256').update(content).digest('hex'),
      retransmits,
    };
    if (file.endsWith('.txt')) result.text = content.toString('utf8');
    return result;
  } finally {
    socket.close();
  }
}

/** The whole Pi 4 network boot up to the initramfs; throws with what went wrong. */
async function replayPiBoot(options: ReplayOptions): Promise<Transcript> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(68, '0.0.0.0', () => resolve());
  });
  socket.setBroadcast(true);
  const xid = randomInt(1, 0xffffffff);
  let offer: Buffer;
  let afterRequest: Buffer[];
  try {
    const offers = await exchange(socket, discoverPacket(options, xid), xid, [2]);
    if (!offers.length) throw new Error('no DHCP OFFER');
    offer = offers[0]!;
    const parsed = parseBootp(offer)!;
    if (options.mode === 'server') {
      const serverId = [...(parsed.options.get(54) ?? [])].join('.');
      afterRequest = await exchange(socket, requestPacket(options, xid, parsed.yiaddr, serverId), xid, [5, 6]);
      const ack = afterRequest.map(parseBootp).find((reply) => reply?.options.get(53)?.[0] === 5);
      if (!ack) throw new Error(`no DHCP ACK (got ${afterRequest.length} other replies)`);
      // replace, not add: a second boot of the same Pi is given the address it already has.
      execFileSync('ip', ['addr', 'replace', `${ack.yiaddr}/${maskBits(ack.options.get(1))}`, 'dev', options.dev]);
    } else {
      // The address comes from the site's DHCP server; rackboot as a proxy must stay out of it.
      const site = options.siteLease!;
      afterRequest = await exchange(socket, requestPacket(options, xid, site.address, site.serverId), xid, [5, 6], 1_000);
    }
  } finally {
    socket.close();
  }
  const parsed = parseBootp(offer)!;
  const tftpServer = parsed.options.get(66)?.toString('latin1') ?? parsed.siaddr;
  const prefix = (options.serial >>> 0).toString(16).padStart(8, '0');
  const get = async (file: string, probe = false) => {
    const result = await tftpGet(tftpServer, options.tftpPort, `${prefix}/${file}`, probe);
    if (result.missing && options.board !== 'pi5') throw new Error(`${prefix}/${file}: TFTP ERROR 1`);
    return result;
  };
  const probe = await get(options.board === 'pi5' ? 'config.txt' : 'start4.elf', true);
  const files: TftpResult[] = [];
  const misses: string[] = [];
  const fetch = async (file: string) => {
    const result = await get(file);
    if (result.missing) misses.push(file);
    else files.push(result);
  };
  if (options.board === 'pi5') {
    for (const file of PI5_FILES) await fetch(file);
    const config = files.find((file) => file.file === `${prefix}/config.txt`)?.text ?? '';
    await fetch(/^kernel=(\S+)/m.exec(config)?.[1] ?? 'kernel_2712.img');
    const initramfs = /^initramfs (\S+)/m.exec(config)?.[1];
    if (initramfs) await fetch(initramfs);
  } else {
    for (const file of PI4_FILES) await fetch(file);
  }
  return {
    misses,
    offer: offer.toString('hex'),
    afterRequest: afterRequest.map((reply) => reply.toString('hex')),
    tftpServer,
    probe: { oack: probe.oack },
    files,
  };
}

const cliOptions = process.env['RACKBOOT_PI_CLIENT'];
if (cliOptions !== undefined) {
  replayPiBoot(JSON.parse(cliOptions) as ReplayOptions).then(
    (transcript) => process.stdout.write(`${JSON.stringify(transcript)}\n`),
    (error: unknown) => {
      process.stderr.write(`pi-client: ${(error as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
