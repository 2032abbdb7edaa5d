/** A stand-in for the boot policy's DHCP answer, shaped like the lead's (server/boot/policy.ts). */
import type { Client } from '../../server/boot/client.js';
import type { DhcpBootAnswer } from '../../server/dhcp/answer.js';

/** The default config's builds: other arches get no boot answer. */
const UEFI_BINARIES: Partial<Record<Client['arch'], string>> = { x86_64: 'ipxe.efi', arm64: 'snp.efi' };

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
      case 'uefi-pxe': {
        const bootFile = UEFI_BINARIES[client.arch];
        return bootFile ? { kind: 'pxe', nextServer: serverAddress, bootFile } : null;
      }
      case 'uefi-http': {
        const bootFile = UEFI_BINARIES[client.arch];
        return bootFile ? { kind: 'http', bootFile: `${http}/${bootFile}` } : null;
      }
      default:
        return null;
    }
  };
}
