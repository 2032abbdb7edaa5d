/**
 * The bootloader configuration properties Raspberry Pi documents (raspberrypi/documentation,
 * computers/raspberry-pi/eeprom-bootloader.adoc; HTTP_CACERT_HASH from boot-http.adoc, USE_IPV6
 * from boot-net.adoc, PCIE_PROBE from boot-nvme.adoc), each with the values the documentation
 * allows. A key not listed is refused rather than guessed at: the bootloader silently ignores
 * what it does not know, and a typo would then look applied.
 */

type Check = (value: string) => string | undefined;

const NUMBER = /^(-?\d+|0x[0-9a-fA-F]+)$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function int(min?: number, max?: number): Check {
  return (value) => {
    if (!NUMBER.test(value)) return 'must be a number (decimal or 0x hex)';
    const number = Number(value.startsWith('-') ? value : Number.parseInt(value, value.startsWith('0x') ? 16 : 10));
    if (min !== undefined && number < min) return `must be at least ${min}`;
    if (max !== undefined && number > max) return `must be at most ${max}`;
    return undefined;
  };
}

const oneOf =
  (...allowed: string[]): Check =>
  (value) =>
    allowed.includes(value) ? undefined : `must be one of ${allowed.join(', ')}`;

const flag = oneOf('0', '1');

const matches =
  (pattern: RegExp, what: string, maxLength?: number): Check =>
  (value) => {
    if (maxLength !== undefined && value.length > maxLength) return `must be at most ${maxLength} characters`;
    return value === '' || pattern.test(value) ? undefined : `must be ${what}`;
  };

const ipv4 = matches(IPV4, 'a dotted IPv4 address or empty');

/** BOOT_ORDER: up to 8 nibbles, each a documented boot mode (0-7, e STOP, f RESTART). */
const bootOrder: Check = (value) =>
  /^0x[0-7ef]{1,8}$/i.test(value) ? undefined : 'must be 0x followed by 1-8 boot modes (hex digits 0-7, e or f), e.g. 0xf21';

/** NETCONSOLE: `src_port@src_ip/dev_name,dst_port@dst_ip/dst_mac`, every separator present. */
const netconsole = matches(/^\d{0,5}@(\d{1,3}\.){3}\d{1,3}\/[^,]*,\d{0,5}@((\d{1,3}\.){3}\d{1,3})?\/[0-9a-fA-F:]*$/, 'src_port@src_ip/,dst_port@dst_ip/dst_mac (e.g. 6665@10.0.0.21/,6666@10.0.0.1/)', 32);

export const EEPROM_KEYS: Readonly<Record<string, Check>> = {
  BOOT_UART: flag,
  UART_BAUD: oneOf('9600', '19200', '38400', '57600', '115200', '230400', '460800', '921600'),
  WAKE_ON_GPIO: oneOf('0', '1', '2'),
  POWER_OFF_ON_HALT: flag,
  WAIT_FOR_POWER_BUTTON: flag,
  BOOT_ORDER: bootOrder,
  BOOT_WATCHDOG_TIMEOUT: int(0),
  BOOT_WATCHDOG_PARTITION: int(0),
  MAX_RESTARTS: int(-1),
  SD_BOOT_MAX_RETRIES: int(-1),
  SD_OVERCURRENT_CHECK: flag,
  SD_QUIRKS: int(0),
  NET_BOOT_MAX_RETRIES: int(-1),
  DHCP_TIMEOUT: int(5000),
  DHCP_REQ_TIMEOUT: int(500),
  TFTP_FILE_TIMEOUT: int(5000),
  TFTP_IP: ipv4,
  TFTP_PREFIX: oneOf('0', '1', '2'),
  TFTP_PREFIX_STR: matches(/^[A-Za-z0-9._\-/]+$/, 'letters, digits, ".", "_", "-" or "/"', 32),
  PXE_OPTION43: matches(/^[ -~]+$/, 'printable ASCII'),
  DHCP_OPTION97: int(0),
  MAC_ADDRESS: matches(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, 'a MAC address like dc:a6:32:01:36:c2'),
  MAC_ADDRESS_OTP: matches(/^[0-7],[0-7]$/, 'two customer OTP rows, e.g. 0,1'),
  CLIENT_IP: ipv4,
  SUBNET: ipv4,
  GATEWAY: ipv4,
  DISABLE_HDMI: flag,
  HDMI_DELAY: int(0),
  ENABLE_SELF_UPDATE: flag,
  FREEZE_VERSION: flag,
  HTTP_HOST: matches(/^[a-z0-9.-]+$/, 'a host name or IP address (lower-case letters, digits, "-" and "."; no scheme, no slashes)'),
  HTTP_PORT: int(1, 65535),
  HTTP_PATH: matches(/^[!-~]+$/, 'a path without spaces'),
  HTTP_CACERT_HASH: matches(/^[0-9a-f]{64}$/, 'a sha256 hex digest'),
  IMAGER_REPO_URL: matches(/^https?:\/\/[!-~]+$/, 'an http(s) URL'),
  NET_INSTALL_ENABLED: flag,
  NET_INSTALL_AT_POWER_ON: flag,
  NET_INSTALL_KEYBOARD_WAIT: int(0),
  NETCONSOLE: netconsole,
  PARTITION: int(0),
  PARTITION_WALK: flag,
  BOOTVAR0: int(0),
  PSU_MAX_CURRENT: int(0),
  USB_MSD_EXCLUDE_VID_PID: matches(/^[0-9a-fA-F]{8}(,[0-9a-fA-F]{8}){0,3}$/, 'up to four 8-hex-digit VID/PID pairs separated by commas'),
  USB_MSD_DISCOVER_TIMEOUT: int(5000),
  USB_MSD_LUN_TIMEOUT: int(100),
  USB_MSD_PWR_OFF_TIME: int(0, 5000),
  USB_MSD_STARTUP_DELAY: int(0, 30000),
  VL805: flag,
  XHCI_DEBUG: int(0),
  SDRAM_BANKLOW: oneOf('0', '1', '2', '3', '4'),
  USE_IPV6: flag,
  PCIE_PROBE: flag,
};

export type EepromSettings = Record<string, string>;

/** Every problem with the settings as `KEY: what is wrong`; empty when the bootloader would take them. */
export function eepromSettingsProblems(settings: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(settings)) {
    const check = EEPROM_KEYS[key];
    if (!check) {
      problems.push(`${key}: not a documented bootloader setting (see the Raspberry Pi bootloader configuration docs; keys are upper case)`);
      continue;
    }
    if (typeof value !== 'string') {
      problems.push(`${key}: must be given as a string`);
      continue;
    }
    // The file is line-based with `KEY=value`: a newline or '=' would smuggle in another setting or section.
    const problem = /[\s=[\]#]/.test(value) && key !== 'PXE_OPTION43' ? 'must not contain spaces, "=", "#", "[" or "]"' : check(value);
    if (problem) problems.push(`${key}: ${problem} (got "${value}")`);
  }
  return problems;
}

/** bootconf.txt for the settings, keys in the documentation's order so equal settings give equal bytes. */
export function renderBootconf(settings: EepromSettings): string {
  const order = Object.keys(EEPROM_KEYS);
  const keys = Object.keys(settings).sort((a, b) => order.indexOf(a) - order.indexOf(b));
  return `[all]\n${keys.map((key) => `${key}=${settings[key]}\n`).join('')}`;
}
