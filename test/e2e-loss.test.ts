/**
 * QEMU network boots on a hostile segment. The node's chain script (a test template) fetches the
 * kernel over HTTP and the initramfs over TFTP from the node's dashed-MAC prefix, so every boot
 * crosses DHCP, HTTP and the daemon's own TFTP retransmission path with real firmware (iPXE).
 *
 * - Loss: nftables in the bridge drops 1%, then 5%, of the frames between the VM's port and the
 *   host, each way. There it is a silent wire loss to both ends; a drop in the host's IP output
 *   hook would fail the daemon's sendto() with EPERM instead (see lossy-nft.ts).
 * - Reordering and duplication: the VM's NIC talks through our seeded frame relay (lossy-frames.ts),
 *   which reorders, duplicates and delays every Ethernet frame each way: DHCP, ARP, TFTP and the
 *   HTTP TCP segments alike.
 *
 * Every boot ends with its marker, and the daemon's TFTP retransmits stay within a bound derived
 * from what was dropped. RBT_HOSTILE_SEED replays the relay's decisions.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startRack, type Rack } from './helpers/e2e-rack.js';
import { sampleValue } from './helpers/prometheus.js';

const VM = '52:54:00:e2:e0:1c';
const SEED = Number(process.env['RBT_HOSTILE_SEED'] ?? 20261123);
/**
 * iPXE asks for no windowsize, so each lost DATA or ACK costs one retransmit timeout: 300 ms
 * instead of the default second keeps a 5% boot's ~80 TFTP losses to about 25 s.
 */
const TFTP = { retransmitMs: 300, retries: 6 };
/** `${mac:hexhyp}` is iPXE's (dashed MAC), left alone by rackboot's `{{name}}` templates. */
const CHAIN_OVER_TFTP = `#!ipxe
# e2e-loss: the kernel over HTTP, the initramfs over TFTP, so a boot crosses both under loss.
kernel {{kernelUrl}} {{initrdArg}}{{cmdline}}
initrd tftp://{{serverAddress}}/\${mac:hexhyp}/initrd.img
boot
`;
/** Longer than the daemon's retries with their backoff: 300 ms x (1 + 2 + 4 + 4 + 4 + 4) = 5.7 s. */
const TRANSFER_END_MS = 20_000;
/** Room for timer races (an ACK later than 300 ms) on a loaded 2-core machine. */
const TIMER_RACES = 4;

/**
 * In lock-step a lost DATA, OACK or ACK costs exactly one retransmit of one block, and duplicated
 * ACKs never cause one, so retransmits are at most the TFTP packets dropped, plus `retries` when
 * the very last ACK is lost (iPXE has gone; the daemon retries until it gives up), plus timer races.
 */
function retransmitBound(tftpDropped: number): number {
  return tftpDropped + TFTP.retries + TIMER_RACES;
}

describe('QEMU boot on a hostile network (initramfs over TFTP)', { timeout: 600_000 }, () => {
  let rack: Rack;

  /** Boots the VM and returns what the daemon's TFTP counters did during the boot. */
  const bootCounted = async (wire?: Parameters<Rack['boot']>[2]) => {
    const tftp = async () => {
      const samples = await rack.metrics();
      return { retransmits: sampleValue(samples, 'rackboot_tftp_retransmits_total'), transfers: sampleValue(samples, 'rackboot_tftp_transfers_total') };
    };
    const before = await tftp();
    const boot = await rack.boot(VM, 'e1000', wire);
    assert.equal(boot.marker.mac, VM);
    assert.equal(boot.marker.built, 'lossy', 'the initramfs the daemon sent over TFTP is the one that ran');
    // A transfer is counted when it ends. When iPXE's last ACK is lost, that is only after the
    // daemon's retries have run out, which may be after the booted VM has reported.
    let after = await tftp();
    for (const deadline = performance.now() + TRANSFER_END_MS; after.transfers === before.transfers && performance.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      after = await tftp();
    }
    assert.ok(after.transfers > before.transfers, 'the boot fetched nothing over TFTP: the chain template is not in use');
    return { ...boot, retransmits: after.retransmits - before.retransmits };
  };

  before(async () => {
    // Router advertisements end iPXE's IPv6 wait early (e2e-qemu boots once without them).
    rack = await startRack({
      tag: 'loss',
      images: ['lossy'],
      routerAdvertisements: true,
      tftp: TFTP,
      templates: { 'chain.ipxe': CHAIN_OVER_TFTP },
    });
    assert.equal((await rack.api('PUT', `/nodes/${VM}/assignment`, { image: 'lossy' })).status, 200);
  });
  after(async () => {
    await rack?.close();
  });

  for (const percent of [1, 5]) {
    it(`boots with ${percent}% of the frames between the VM and the server dropped each way`, async (t) => {
      rack.segment.setLoss(percent * 10);
      try {
        const boot = await bootCounted();
        const dropped = rack.segment.droppedPackets();
        t.diagnostic(`${percent}% loss: booted in ${boot.seconds} s; dropped ${dropped.tftp} TFTP + ${dropped.other} other; ${boot.retransmits} TFTP retransmits (bound ${retransmitBound(dropped.tftp)})`);
        assert.ok(dropped.tftp > 0 && dropped.other > 0, 'the loss rules dropped no TFTP or no other packet: the boot did not cross them');
        assert.ok(boot.retransmits > 0, 'lost TFTP packets must have been retransmitted');
        assert.ok(boot.retransmits <= retransmitBound(dropped.tftp), `${boot.retransmits} retransmits for ${dropped.tftp} TFTP packets dropped`);
      } finally {
        rack.segment.setLoss(0);
      }
    });
  }

  it('boots with every frame of the VM reordered, duplicated and delayed at random (seeded)', async (t) => {
    const boot = await bootCounted({ seed: SEED, reorderPermille: 50, duplicatePermille: 50, delayPermille: 20, maxDelayMs: 20 });
    const wire = boot.wire!;
    t.diagnostic(`seed ${SEED}: booted in ${boot.seconds} s; relay ${JSON.stringify(wire)}; ${boot.retransmits} TFTP retransmits`);
    for (const [direction, counters] of Object.entries(wire)) {
      assert.ok(counters.reordered > 0 && counters.duplicated > 0, `the relay reordered and duplicated frames ${direction}`);
    }
    // Nothing is lost, so only a frame held past the retransmit timeout could cost a retransmit.
    assert.ok(boot.retransmits <= retransmitBound(0), `${boot.retransmits} retransmits with nothing lost`);
  });
});
