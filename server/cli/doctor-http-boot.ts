import { accessSync, constants } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { DoctorCheck } from './doctor-checks.js';
import type { AdminContext } from '../admin/context.js';
import { checkRamdiskSize, estimateRamdisk } from '../boot/ramdisk.js';
import { publicBaseUrl } from '../config/load.js';
import type { Config } from '../config/types.js';
import { HTTP_BOOT_PATH } from '../http/routes/pi-http-boot.js';
import { loadSigningKey } from '../images/boot-sig.js';

const TOOLS: [string, string][] = [
  ['mkfs.fat', 'dosfstools'],
  ['mmd', 'mtools'],
  ['mcopy', 'mtools'],
];

function onPath(tool: string): boolean {
  return (process.env['PATH'] ?? '').split(path.delimiter).some((dir) => {
    try {
      accessSync(path.join(dir, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The EEPROM settings (rpi-eeprom-config) a Pi needs to boot over HTTP from this server. */
function eepromCheck(config: Config, daemonUrl: string | null): DoctorCheck {
  // An ephemeral port (0) is known only from the running daemon.
  const boundPort = config.http.port === 0 && daemonUrl ? Number(new URL(daemonUrl).port) : config.http.port;
  const url = new URL(publicBaseUrl(config, boundPort));
  const port = url.port || '80';
  const settings = [`HTTP_HOST=${url.hostname}`, ...(port === '80' ? [] : [`HTTP_PORT=${port}`]), `HTTP_PATH=${HTTP_BOOT_PATH}`];
  const message =
    `Pis boot images marked --http-boot over HTTP with these EEPROM settings (sudo rpi-eeprom-config --edit; bootloader 2022-03-10 or later, Ethernet only): ${settings.join(' ')} ` +
    `and a BOOT_ORDER holding 7 (HTTP), e.g. BOOT_ORDER=0xf7 (HTTP, then retry) or 0xf71 (SD card, then HTTP). ` +
    `HTTP_PATH=${HTTP_BOOT_PATH} finds the node by its address (reservation, our DHCP lease or the ARP table: same segment); ` +
    `HTTP_PATH=${HTTP_BOOT_PATH}/<MAC with dashes> names it (e.g. in a [0x<serial>] section), needed behind a router. The bootloader follows no redirect.`;
  if (url.protocol !== 'http:') {
    return {
      id: 'http-boot.eeprom',
      status: 'warn',
      message: `${message} http.publicUrl is ${url.protocol.slice(0, -1)}, but with HTTP_HOST set the bootloader speaks plain HTTP`,
      fix: 'serve rackboot on plain HTTP for the Pis (HTTPS needs HTTP_CACERT_HASH and a CA certificate in the EEPROM)',
    };
  }
  return { id: 'http-boot.eeprom', status: 'ok', message };
}

function signingCheck(config: Config): DoctorCheck {
  const file = config.httpBoot.signingKey;
  const embed =
    'embed the public key in every Pi\'s EEPROM: openssl rsa -in KEY -pubout -out pub.pem; rpi-eeprom-config -c boot.conf -p pub.pem -o pieeprom.upd pieeprom.original.bin; ' +
    'rpi-eeprom-digest -i pieeprom.upd -o pieeprom.sig; flash it (a later public EEPROM update drops the key: add it again)';
  if (!file) {
    return {
      id: 'http-boot.signing',
      status: 'warn',
      message:
        'httpBoot.signingKey is not set: boot.sig carries the sha256 and ts only. Raspberry Pi documents HTTP boot from your own HTTP_HOST with boot.img signed by your key ' +
        'and its public key embedded in the EEPROM; with secure boot (or any custom public key in the EEPROM) an unsigned boot.img is refused',
      fix: `openssl genrsa -out KEY 2048, set httpBoot.signingKey to it, and ${embed}`,
    };
  }
  try {
    loadSigningKey(file);
  } catch (error) {
    return { id: 'http-boot.signing', status: 'fail', message: (error as Error).message, fix: 'give a PEM file of a 2048-bit RSA private key the daemon can read' };
  }
  return { id: 'http-boot.signing', status: 'ok', message: `boot.sig is signed with ${file} (rsa2048); the bootloader checks it only against a public key in its EEPROM: ${embed}` };
}

/** HTTP boot (Pi bootloader mode 7): only when an image is marked for it. */
export async function checkHttpBoot(admin: AdminContext, daemonUrl: string | null): Promise<DoctorCheck[]> {
  const images = admin.inventory.images.list().filter((image) => image.httpBoot);
  if (!images.length) return [{ id: 'http-boot', status: 'skip', message: 'no image is marked --http-boot: Pis boot over TFTP only' }];
  const { config } = admin;
  const checks: DoctorCheck[] = [];
  const missing = TOOLS.filter(([tool]) => !onPath(tool));
  checks.push(
    missing.length
      ? {
          id: 'http-boot.tools',
          status: 'fail',
          message: `${missing.map(([tool]) => tool).join(', ')} not found on PATH: boot.img cannot be built`,
          fix: `apt install ${[...new Set(missing.map(([, pkg]) => pkg))].join(' ')}`,
        }
      : { id: 'http-boot.tools', status: 'ok', message: 'mkfs.fat (dosfstools), mmd and mcopy (mtools) found' },
  );
  checks.push(eepromCheck(config, daemonUrl), signingCheck(config));
  for (const image of images) {
    const id = `http-boot.image.${image.name}.v${image.version}`;
    try {
      const files = await estimateRamdisk(config, image, async (_, digest) => (await stat(admin.store.pathOf(digest))).size);
      const size = checkRamdiskSize(files, `image ${image.name} v${image.version}`);
      checks.push({ id, status: 'ok', message: `${image.name} v${image.version}: boot.img about ${size} bytes, within the 128 MiB ramdisk limit` });
    } catch (error) {
      checks.push({ id, status: 'fail', message: (error as Error).message, fix: 'shrink the image, or remove files from assetsDir/firmware the nodes do not need' });
    }
  }
  return checks;
}
