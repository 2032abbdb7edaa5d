/** A stand-in for the boot policy's DHCP answer, shaped like the lead's (server/boot/policy.ts). */
import type { Client } from '../../server/boot/client.js';
import type { DhcpBootAnswer } from '../../server/dhcp/answer.js';

/** What the lead's policy answers, reduced to what the DHCP tests check. */
export function stubBootAnswer(serverAddress: string, httpPort: number) {
  const http = `http://${serverAddress}:${httpPort}`;
  return (client: Client): DhcpBootAnswer | null => {
    switch (client.firmware) {
      case 'pi-rom':
      case 'pi-eeprom':
        return { kind: 'pi', tftpServer: serverAddress };
      case 'ipxe':
        return { kind: 'ipxe', chainUrl: `${http}/chain?mac=${client.mac}`, bootFile: `${http}/boot.ipxe` };
      case 'pxe-bios':
        return { kind: 'pxe', nextServer: serverAddress, bootFile: 'undionly.kpxe' };
      case 'uefi-pxe':
        return { kind: 'pxe', nextServer: serverAddress, bootFile: client.arch === 'arm64' ? 'snp.efi' : 'ipxe.efi' };
      case 'uefi-http':
        return { kind: 'http', bootFile: `${http}/ipxe.efi` };
      default:
        return null;
    }
  };
}
