/** What a reply can carry for booting: the boot policy chooses, this file encodes it. Pure. */
import type { Client } from '../boot/client.js';
import type { DhcpPacket } from './codec.js';
import { Opt } from './options.js';

export type DhcpBootAnswer =
  /** Raspberry Pi bootloaders: TFTP from tftpServer (siaddr and option 66). */
  | { kind: 'pi'; tftpServer: string }
  /** A PXE ROM (BIOS / UEFI): an iPXE binary over TFTP. */
  | { kind: 'pxe'; nextServer: string; bootFile: string }
  /** iPXE: option 224 = chainUrl, sent unasked; the boot file is the URL of the first-stage script. */
  | { kind: 'ipxe'; chainUrl: string; bootFile: string }
  /** UEFI HTTP boot: option 60 "HTTPClient" echoed, a URL as the boot file. */
  | { kind: 'http'; bootFile: string };

/** dnsmasq's `pxe-service=0,"Raspberry Pi Boot"` option 43, byte for byte (facts note). */
function piOption43(menuText: string): Buffer {
  const text = Buffer.from(menuText, 'latin1');
  return Buffer.concat([
    Buffer.from([0x06, 0x01, 0x03]), // PXE_DISCOVERY_CONTROL: no multicast/broadcast discovery
    Buffer.from([0x0a, 0x04, 0x00, 0x50, 0x58, 0x45]), // PXE_MENU_PROMPT: timeout 0, "PXE"
    Buffer.from([0x09, 2 + 1 + text.length, 0x00, 0x00, text.length]), // PXE_BOOT_MENU: type 0
    text,
    Buffer.from([0xff]),
  ]);
}

export const PI_OPTION_43 = piOption43('Raspberry Pi Boot');
/** The Pi 3B boot ROM only accepts the menu text with three trailing spaces. */
export const PI_ROM_OPTION_43 = piOption43('Raspberry Pi Boot   ');
/** PXE_DISCOVERY_CONTROL = 8: boot the file in the offer, no menu, no boot server discovery. */
const PXE_DIRECT_BOOT_43 = Buffer.from([0x06, 0x01, 0x08, 0xff]);
/** iPXE encapsulated option 176 (no-pxedhcp) = 1: skip the ~3 s wait for ProxyDHCP offers. */
const IPXE_NO_PXEDHCP_175 = Buffer.from([176, 1, 1]);
const PXE_CLIENT = Buffer.from('PXEClient', 'latin1');
const HTTP_CLIENT = Buffer.from('HTTPClient', 'latin1');

/**
 * Adds the boot answer to a reply being built. In proxy mode the PXE specification requires
 * option 60 "PXEClient" for a client to accept an offer without an address.
 */
export function applyBootAnswer(
  reply: DhcpPacket,
  answer: DhcpBootAnswer,
  request: DhcpPacket,
  client: Client,
  proxy: boolean,
): void {
  const options = reply.options;
  const option97 = request.options.get(Opt.clientUuid);
  switch (answer.kind) {
    case 'pi':
      reply.siaddr = answer.tftpServer;
      options.set(Opt.vendorClass, PXE_CLIENT);
      options.set(Opt.vendorSpecific, client.firmware === 'pi-rom' ? PI_ROM_OPTION_43 : PI_OPTION_43);
      if (option97) options.set(Opt.clientUuid, option97);
      options.set(Opt.tftpServer, Buffer.from(answer.tftpServer, 'latin1'));
      return;
    case 'pxe':
      reply.siaddr = answer.nextServer;
      reply.file = answer.bootFile;
      if (proxy) {
        options.set(Opt.vendorClass, PXE_CLIENT);
        options.set(Opt.vendorSpecific, PXE_DIRECT_BOOT_43);
        if (option97) options.set(Opt.clientUuid, option97);
      }
      return;
    case 'ipxe':
      reply.file = answer.bootFile;
      if (proxy) options.set(Opt.vendorClass, PXE_CLIENT);
      else options.set(Opt.ipxeEncap, IPXE_NO_PXEDHCP_175);
      options.set(Opt.ipxeChain, Buffer.from(answer.chainUrl, 'latin1'));
      return;
    case 'http':
      reply.file = answer.bootFile;
      options.set(Opt.vendorClass, HTTP_CLIENT);
      if (option97) options.set(Opt.clientUuid, option97);
      return;
  }
}
