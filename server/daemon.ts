import path from 'node:path';
import type { Logger } from 'pino';
import type { AdminContext } from './admin/context.js';
import { invalidReservations } from './admin/nodes.js';
import { EEPROM_UPDATE_FILE, EepromUpdates } from './boot/eeprom.js';
import { BootFiles, type ServedFile } from './boot/files.js';
import { IpxeScripts } from './boot/ipxe.js';
import { BootPolicy } from './boot/policy.js';
import { Ramdisks } from './boot/ramdisk.js';
import { TemplateLibrary } from './boot/templates.js';
import { splitPrefix, TftpFiles } from './boot/tftp-files.js';
import { ConfigError, publicBaseUrl } from './config/load.js';
import type { Config } from './config/types.js';
import { interfaceProblem, startDhcpServer } from './dhcp/server.js';
import { EventRecorder } from './events/recorder.js';
import { refusalOf } from './files/refusals.js';
import { buildHttpApp } from './http/app.js';
import { closeHttpApp } from './http/shutdown.js';
import type { EngineCounters } from './http/routes/metrics.js';
import { BlobStore } from './images/blob-store.js';
import { loadSigningKey } from './images/boot-sig.js';
import { openConcat } from './images/concat.js';
import { OverlayCache } from './images/overlay.js';
import { startCheckpointer } from './inventory/checkpointer.js';
import { openInventory, type Inventory } from './inventory/index.js';
import { sqliteLeaseStore } from './inventory/leases.js';
import { neighbourMac } from './net/neighbours.js';
import { startNetconsole } from './netconsole/server.js';
import { bufferSource, handleSource } from './tftp/sources.js';
import { startTftpServer, TftpError, type TftpServer, type TftpSource } from './tftp/server.js';
import { startEventRetention } from './timeline/retention.js';

export interface Daemon {
  config: Config;
  inventory: Inventory;
  events: EventRecorder;
  ports: { http: number; tftp?: number; dhcp?: number; proxy?: number; netconsole?: number };
  close(): Promise<void>;
}

/** Opens the store and inventory: what the daemon and the CLI share. */
export async function openAdminContext(config: Config, log: Logger): Promise<AdminContext & { events: EventRecorder }> {
  const inventory = openInventory(config.dataDir);
  const store = new BlobStore(path.join(config.dataDir, 'blobs'));
  await store.init();
  return { config, inventory, store, events: new EventRecorder(inventory, log) };
}

function tftpSource(file: ServedFile): Promise<TftpSource> | TftpSource {
  if (file.kind === 'bytes') return bufferSource(file.data);
  return file.kind === 'open' ? handleSource(file.handle, file.size) : openConcat(file.parts);
}

function toTftpError(error: unknown): TftpError {
  if (error instanceof TftpError) return error;
  const refusal = refusalOf(error);
  if (refusal) return new TftpError(refusal.tftp, (error as Error).message, (error as { reason?: string }).reason);
  return new TftpError(0, `cannot serve: ${(error as Error).message}`);
}

/** A bind failure an operator can act on. */
function bindError(what: string, address: string, port: number, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException).code;
  const hint =
    code === 'EACCES'
      ? 'ports below 1024 need root or CAP_NET_BIND_SERVICE (see the systemd unit), or set another port in the config'
      : code === 'EADDRINUSE'
        ? 'another server already uses it (dnsmasq, tftpd-hpa, another rackboot?): stop it or change the port'
        : code === 'EADDRNOTAVAIL'
          ? 'the address is not on any interface of this host'
          : (error as Error).message;
  return Object.assign(new Error(`cannot listen for ${what} on ${address}:${port}: ${code ?? ''} ${hint}`), { code: 'RB_BIND' });
}

export async function startDaemon(config: Config, log: Logger): Promise<Daemon> {
  // Before anything is opened: a key that cannot sign stops the start with the reason.
  const signingKey = config.httpBoot.signingKey ? loadSigningKey(config.httpBoot.signingKey) : undefined;
  const admin = await openAdminContext(config, log);
  const { inventory, events } = admin;
  const templates = new TemplateLibrary(path.join(config.assetsDir, 'templates'));
  const urls = { http: publicBaseUrl(config) };
  const policy = new BootPolicy(config, inventory, urls, { events, macAt: (ip) => inventory.leaseHolder(ip) ?? neighbourMac(ip) });
  const overlays = new OverlayCache(admin.store, path.join(config.dataDir, 'cache', 'overlays'));
  const files = new BootFiles(config, policy, templates, admin.store, overlays);
  const scripts = new IpxeScripts(config, policy, files, templates);
  const eeprom = new EepromUpdates(inventory, admin.store, (node, address) => policy.isNodeAddress(node, address));
  const tftpFiles = new TftpFiles(policy, files, eeprom);
  const ramdisks = new Ramdisks(config, files, admin.store, path.join(config.dataDir, 'cache', 'ramdisks'), signingKey);

  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const closer of closers.reverse()) await closer().catch((error) => log.error({ err: error }, 'shutdown step failed'));
    events.flushAll();
    inventory.close();
  };

  try {
    const engines: EngineCounters = { discovery: policy.discovery.refused };
    closers.push(startEventRetention(inventory.events, config.events, log));
    const app = await buildHttpApp({ admin, policy, files, scripts, events, engines, log, ramdisks });
    try {
      await app.listen({ host: config.http.address, port: config.http.port });
    } catch (error) {
      throw bindError('HTTP', config.http.address, config.http.port, error);
    }
    closers.push(() => closeHttpApp(app, config.http.shutdownGraceMs));
    const httpPort = (app.server.address() as { port: number }).port;
    urls.http = publicBaseUrl(config, httpPort);
    const ports: Daemon['ports'] = { http: httpPort };

    if (config.tftp.enabled) {
      let tftp: TftpServer;
      try {
        tftp = await startTftpServer({
          ...config.tftp,
          log: log.child({ component: 'tftp' }),
          resolve: async (requested, remote) => {
            try {
              const found = await tftpFiles.lookup(requested, remote.address);
              const source = await tftpSource(found.file);
              if (found.detail) source.context = found.detail;
              return source;
            } catch (error) {
              throw toTftpError(error);
            }
          },
          onTransfer: (report) => {
            const { remote, path: file, context, ...detail } = report;
            const { key, rest } = splitPrefix(file);
            if (key && rest === EEPROM_UPDATE_FILE && report.outcome === 'complete') {
              const node = inventory.nodes.find(key);
              if (node) eeprom.transferComplete(node, remote.address);
            }
            events.record({
              source: 'tftp',
              kind: `tftp-${report.outcome}`,
              ...policy.transferKey(file, remote.address),
              address: remote.address,
              detail: { file, ...detail, ...context },
            });
          },
        });
      } catch (error) {
        throw bindError('TFTP', config.tftp.address, config.tftp.port, error);
      }
      closers.push(() => tftp.close());
      ports.tftp = tftp.port;
      engines.tftp = tftp.counters;
    }

    if (config.dhcp.enabled) {
      const dhcpLog = log.child({ component: 'dhcp' });
      const wrongInterface = interfaceProblem(config.dhcp, config.serverAddress);
      if (wrongInterface) throw new ConfigError(`invalid config ${config.source}: dhcp.interface: ${wrongInterface}`);
      const unusable = config.dhcp.mode === 'server' ? invalidReservations(admin) : [];
      if (unusable.length) {
        dhcpLog.warn(
          { code: 'RB_DHCP_BAD_RESERVATION', reservations: unusable },
          'stored reservations the dhcp config cannot honour: those nodes get pool addresses (fix with `rackboot node set <node> --reserve <ip>`)',
        );
      }
      try {
        const dhcp = await startDhcpServer({
          config: config.dhcp,
          serverAddress: config.serverAddress,
          log: dhcpLog,
          hooks: {
            bootAnswer: (client, kind) => policy.dhcpAnswer(client, kind),
            reservation: (mac) => policy.reservation(mac),
            reservedMac: (ip) => inventory.nodes.reservedFor(ip),
            leases: sqliteLeaseStore(inventory.db),
            events,
          },
        });
        closers.push(() => dhcp.close());
        ports.dhcp = dhcp.ports.dhcp;
        engines.dhcp = dhcp.counters;
        if (dhcp.ports.proxy !== undefined) ports.proxy = dhcp.ports.proxy;
      } catch (error) {
        throw bindError('DHCP', '0.0.0.0', config.dhcp.port, error);
      }
    }

    if (config.netconsole.enabled) {
      try {
        const netconsole = await startNetconsole({
          config: config.netconsole,
          log: log.child({ component: 'netconsole' }),
          nodeAt: (address) => policy.nodeAt(address),
          events,
          reportBuild: (node, build) => inventory.eeprom.reported(node.id, { buildTs: build.buildTs ?? null, version: build.version ?? null }),
        });
        closers.push(() => netconsole.close());
        ports.netconsole = netconsole.port;
      } catch (error) {
        throw bindError('NETCONSOLE', config.netconsole.address, config.netconsole.port, error);
      }
    }

    log.info({ ports, serverAddress: config.serverAddress, dataDir: config.dataDir, http: urls.http }, 'ready');
    // Started once ready: nothing needs it sooner, and until it runs SQLite checkpoints as usual.
    closers.push(startCheckpointer(inventory.db, log));
    return { config, inventory, events, ports, close };
  } catch (error) {
    await close();
    throw error;
  }
}
