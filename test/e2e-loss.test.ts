/**
 * A QEMU network boot over a lossy segment: nftables drops 1% and then 5% of every packet the
 * server sends or receives on the bridge (DHCP, HTTP), and the node still boots its image.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startRack, type Rack } from './helpers/e2e-rack.js';

const VM = '52:54:00:e2:e0:1c';

describe('QEMU boot under packet loss', { timeout: 480_000 }, () => {
  let rack: Rack;

  before(async () => {
    // Router advertisements end iPXE's IPv6 wait early (e2e-qemu boots once without them).
    rack = await startRack({ tag: 'loss', images: ['lossy'], routerAdvertisements: true });
    assert.equal((await rack.api('PUT', `/nodes/${VM}/assignment`, { image: 'lossy' })).status, 200);
  });
  after(async () => {
    await rack?.close();
  });

  for (const percent of [1, 5]) {
    it(`boots with ${percent}% of the server's packets dropped each way`, async (t) => {
      rack.segment.setLoss(percent * 10);
      const before = rack.segment.droppedPackets();
      const boot = await rack.boot(VM);
      const dropped = rack.segment.droppedPackets() - before;
      t.diagnostic(`${percent}% loss: booted in ${boot.seconds} s, ${dropped} packets dropped`);
      assert.equal(boot.marker.mac, VM);
      assert.equal(boot.marker.built, 'lossy');
      assert.ok(dropped > 0, 'the loss rule dropped nothing: the boot did not cross it');
    });
  }
});
