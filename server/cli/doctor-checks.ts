import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { AdminContext } from '../admin/context.js';
import { FIRMWARE_SOURCE, PI_FAMILIES, piFamilyOf, piModel } from '../boot/pi-models.js';
import { BootPolicy } from '../boot/policy.js';
import { publicBaseUrl } from '../config/load.js';
import type { Config } from '../config/types.js';
import { checkPiLimits, type RolloverFamily } from '../images/pi-limits.js';
import { formatBytes } from '../timeline/format.js';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

/** One finding; `id` is stable (scripts match on it), `fix` says what to do when it is not ok. */
export interface DoctorCheck {
  id: string;
  status: CheckStatus;
  message: string;
  fix?: string;
}

const MIN_YEAR = 2024;

/**
 * What a node of `model` cannot boot without and `has` (a path under the firmware root, or in the
 * node's image) does not find: firmware, the family's required files, and one of the model's device
 * trees. Undefined for a model that is no known Pi.
 */
export function missingPiFiles(model: string, has: (file: string) => boolean): string[] | undefined {
  const known = piModel(model);
  if (!known) return undefined;
  const family = PI_FAMILIES[known.family];
  // config.txt is generated per node; the plan check below covers it.
  const files = [...family.firmware, ...family.required.filter((file) => file !== 'config.txt')].filter((file) => !has(file));
  if (!known.dtbs.some(has)) files.push(known.dtbs.join(' or '));
  return files;
}

export function checkClock(now = new Date()): DoctorCheck {
  const year = now.getUTCFullYear();
  return year >= MIN_YEAR
    ? { id: 'clock', status: 'ok', message: `clock reads ${now.toISOString()}` }
    : {
        id: 'clock',
        status: 'fail',
        message: `clock reads ${now.toISOString()} (before ${MIN_YEAR}): lease times, event retention and HTTPS image downloads go wrong`,
        fix: 'set the time (timedatectl set-ntp true, or chrony/systemd-timesyncd with a reachable NTP server)',
      };
}

/** Is a rackboot daemon answering at this URL? */
export async function daemonRunning(url: string | undefined): Promise<boolean> {
  if (!url) return false;
  try {
    const { request } = await import('undici');
    const response = await request(`${url}/healthz`, { headersTimeout: 1500, bodyTimeout: 1500 });
    await response.body.dump();
    return response.statusCode === 200;
  } catch {
    return false;
  }
}

function tryBind(protocol: 'tcp' | 'udp', address: string, port: number): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => {
    if (protocol === 'tcp') {
      const server = net.createServer();
      server.once('error', (error) => resolve(error));
      server.listen({ host: address, port, exclusive: true }, () => server.close(() => resolve(null)));
    } else {
      const socket = dgram.createSocket('udp4');
      socket.once('error', (error) => {
        socket.close();
        resolve(error);
      });
      socket.bind({ address, port, exclusive: true }, () => socket.close(() => resolve(null)));
    }
  });
}

interface Listener {
  id: string;
  what: string;
  protocol: 'tcp' | 'udp';
  address: string;
  port: number;
}

export function listeners(config: Config): Listener[] {
  const list: Listener[] = [{ id: 'port.http', what: 'HTTP', protocol: 'tcp', address: config.http.address, port: config.http.port }];
  if (config.tftp.enabled) list.push({ id: 'port.tftp', what: 'TFTP', protocol: 'udp', address: config.tftp.address, port: config.tftp.port });
  if (config.dhcp.enabled) {
    list.push({ id: 'port.dhcp', what: 'DHCP', protocol: 'udp', address: '0.0.0.0', port: config.dhcp.port });
    if (config.dhcp.mode === 'proxy') {
      list.push({ id: 'port.proxy', what: 'proxyDHCP', protocol: 'udp', address: '0.0.0.0', port: config.dhcp.proxyPort });
    }
  }
  return list;
}

/** Binds each configured port briefly; when the daemon runs they are its own, so nothing is tried. */
export async function checkPorts(config: Config, running: boolean): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  for (const listener of listeners(config)) {
    const where = `${listener.protocol.toUpperCase()} ${listener.address}:${listener.port}`;
    if (running) {
      checks.push({ id: listener.id, status: 'ok', message: `${listener.what} ${where}: in use by the running rackboot daemon` });
      continue;
    }
    if (listener.port === 0) {
      checks.push({ id: listener.id, status: 'skip', message: `${listener.what}: port 0 (ephemeral), nothing to check` });
      continue;
    }
    const error = await tryBind(listener.protocol, listener.address, listener.port);
    if (!error) {
      checks.push({ id: listener.id, status: 'ok', message: `${listener.what} ${where}: free and bindable by this user` });
    } else if (error.code === 'EACCES') {
      checks.push({
        id: listener.id,
        status: 'fail',
        message: `${listener.what} ${where}: this user may not bind ports below 1024`,
        fix: 'run as the systemd service (AmbientCapabilities=CAP_NET_BIND_SERVICE), or setcap cap_net_bind_service=+ep on node, or run doctor as the service user',
      });
    } else if (error.code === 'EADDRINUSE') {
      checks.push({
        id: listener.id,
        status: 'fail',
        message: `${listener.what} ${where}: in use by another program`,
        fix: `find it with \`ss -${listener.protocol === 'tcp' ? 't' : 'u'}lpn 'sport = :${listener.port}'\` (dnsmasq, tftpd-hpa, another DHCP server?) and stop it, or change the port in ${config.source}`,
      });
    } else {
      checks.push({
        id: listener.id,
        status: 'fail',
        message: `${listener.what} ${where}: ${error.code ?? ''} ${error.message}`,
        fix: error.code === 'EADDRNOTAVAIL' ? 'the address is not on any interface of this host: fix the address in the config' : 'see the error',
      });
    }
  }
  return checks;
}

/** Per Pi model seen in the inventory: the files it cannot boot without are in the shared firmware directory or in the image it boots. */
export function checkFirmware(admin: AdminContext): DoctorCheck[] {
  const { config, inventory } = admin;
  const policy = new BootPolicy(config, inventory, { http: publicBaseUrl(config) });
  const firmwareDir = path.join(config.assetsDir, 'firmware');
  const missing = new Map<string, { files: Set<string>; nodes: number; total: number; noImage: number }>();
  for (const node of inventory.nodes.list()) {
    if (!node.model || !piModel(node.model)) continue;
    const image = policy.plan(node)?.image;
    const entry = missing.get(node.model) ?? { files: new Set<string>(), nodes: 0, total: 0, noImage: 0 };
    entry.total++;
    const absent = missingPiFiles(node.model, (file) => existsSync(path.join(firmwareDir, file)) || Boolean(image?.firmware[file] ?? image?.dtbs[file]))!;
    for (const file of absent) entry.files.add(file);
    if (absent.length) entry.nodes++;
    // A Pi 5 boots its prefix only with config.txt, which rackboot generates for a node with an image.
    if (!image && piModel(node.model)!.family === 'pi5') entry.noImage++;
    missing.set(node.model, entry);
  }
  if (!missing.size) {
    return [{ id: 'firmware', status: 'skip', message: 'no Pi model learnt from DHCP yet: the firmware each model needs is checked once one has been seen' }];
  }
  return [...missing].map(([model, entry]): DoctorCheck => {
    const id = `firmware.${model}`;
    const files = [...entry.files];
    const osCheck = piModel(model)!.family === 'pi5' && files.some((file) => file.endsWith('.dtb') && file.startsWith('bcm2712-'));
    const problems = [
      ...(files.length ? [`${files.join(', ')} missing for ${entry.nodes} of ${entry.total} node(s): neither in ${firmwareDir} nor in the image they boot`] : []),
      ...(osCheck ? [`the bootloader refuses to boot an OS without a BCM2712 device tree (os_check)`] : []),
      ...(entry.noImage ? [`${entry.noImage} node(s) have no image, so no config.txt: a Pi 5 boots its TFTP prefix only with one`] : []),
    ];
    if (!problems.length) return { id, status: 'ok', message: `${model} (${entry.total} node(s)): firmware, device tree and required overlays present` };
    const fixes = [
      ...(files.length ? [`copy ${files.join(', ')} from ${FIRMWARE_SOURCE} into ${firmwareDir}/ (overlays/ files into ${firmwareDir}/overlays/), or give the image its firmware (image add --firmware)`] : []),
      ...(entry.noImage ? ['assign those nodes an image (rackboot node assign NODE IMAGE) or set defaultImage'] : []),
    ];
    return { id, status: 'fail', message: `${model}: ${problems.join('; ')}`, fix: fixes.join('; ') };
  });
}

/** Image id -> the Pi families of the nodes that boot it now: the limit advice differs between them. */
function familiesBooting(admin: AdminContext): Map<number, Set<RolloverFamily>> {
  const policy = new BootPolicy(admin.config, admin.inventory, { http: publicBaseUrl(admin.config) });
  const families = new Map<number, Set<RolloverFamily>>();
  for (const node of admin.inventory.nodes.list()) {
    const family = piFamilyOf(node.model);
    if (family !== 'pi4' && family !== 'pi5') continue;
    const image = policy.plan(node)?.image;
    if (!image) continue;
    families.set(image.id, (families.get(image.id) ?? new Set()).add(family));
  }
  return families;
}

/** Every ARM image against what a Pi bootloader can fetch over TFTP. */
export function checkImages(admin: AdminContext): DoctorCheck[] {
  const images = admin.inventory.images.list().filter((image) => image.arch === 'arm64' || image.arch === 'arm32');
  if (!images.length) return [{ id: 'images', status: 'skip', message: 'no ARM image registered: nothing to check against the Pi limits' }];
  const booting = familiesBooting(admin);
  return images.map((image) => {
    const id = `image.${image.name}.v${image.version}`;
    const sizes = { kernelSize: image.kernel.size, ...(image.initrd && { initramfsSize: image.initrd.size }) };
    const warnings = checkPiLimits(sizes, { families: [...(booting.get(image.id) ?? [])] });
    const size = `kernel ${formatBytes(image.kernel.size)}${image.initrd ? `, initramfs ${formatBytes(image.initrd.size)}` : ''}`;
    if (!warnings.length) return { id, status: 'ok', message: `${image.name} v${image.version} (${size}): within the Pi TFTP limits` };
    const rollover = warnings.some((warning) => warning.code === 'RB_PI_TFTP_BLOCK_ROLLOVER');
    // Served as boot.img too: only Pis that fall back to TFTP meet the limit.
    const overHttp = image.httpBoot ? ' (marked --http-boot: Pis booting over HTTP are not affected)' : '';
    return {
      id,
      status: rollover && !image.httpBoot ? 'fail' : 'warn',
      message: `${image.name} v${image.version}${overHttp}: ${warnings.map((warning) => `[${warning.code}] ${warning.message}`).join('; ')}`,
      fix: warnings.map((warning) => warning.whatToDo).join('; '),
    };
  });
}

export function checkDhcpMode(config: Config, otherServers: string[] | undefined): DoctorCheck {
  if (!config.dhcp.enabled) {
    return {
      id: 'dhcp',
      status: 'ok',
      message: 'DHCP is disabled: the network\'s DHCP server must send nodes here (next-server/option 66 = serverAddress, and for Pis option 43 "Raspberry Pi Boot")',
    };
  }
  const mode = config.dhcp.mode;
  if (!otherServers) {
    return { id: 'dhcp', status: 'skip', message: `DHCP ${mode} mode on ${config.dhcp.interface}; other DHCP servers not probed (pass --probe-dhcp to send one DISCOVER)` };
  }
  if (mode === 'server' && otherServers.length) {
    return {
      id: 'dhcp',
      status: 'fail',
      message: `DHCP server mode, but other DHCP servers answer on ${config.dhcp.interface}: ${otherServers.join(', ')}`,
      fix: 'two servers handing out addresses fight: set dhcp.mode to "proxy" to add boot information beside them, or stop the other server',
    };
  }
  if (mode === 'proxy' && !otherServers.length) {
    return {
      id: 'dhcp',
      status: 'fail',
      message: `DHCP proxy mode, but no DHCP server answered on ${config.dhcp.interface}: nodes get boot information and no address`,
      fix: 'set dhcp.mode to "server" with dhcp.pool, or start the network\'s DHCP server',
    };
  }
  return { id: 'dhcp', status: 'ok', message: `DHCP ${mode} mode; other DHCP servers seen: ${otherServers.join(', ') || 'none'}` };
}
