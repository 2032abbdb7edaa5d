/**
 * The whole x86 flow on real firmware: QEMU's iPXE ROM asks rackboot's DHCP, fetches boot.ipxe,
 * chains `${224}&uefi=${uefi}`, and boots the Debian kernel with the node's image; the image's
 * /init prints a marker on the serial port and powers off.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startRack, type Rack } from './helpers/e2e-rack.js';

const VM_A = '52:54:00:e2:e0:0a';
const VM_B = '52:54:00:e2:e0:0b';
const HOSTNAME_A = 'rack1-node07';

describe('QEMU end to end: iPXE ROM -> rackboot DHCP + HTTP -> Debian kernel', { timeout: 600_000 }, () => {
  let rack: Rack;
  let firstBootA: Awaited<ReturnType<Rack['boot']>> | undefined;

  before(async () => {
    rack = await startRack({ tag: 'qemu', images: ['alpha', 'bravo', 'charlie'] });
    assert.equal((await rack.api('PUT', `/nodes/${VM_A}`, { hostname: HOSTNAME_A })).status, 200);
    assert.equal((await rack.api('PUT', `/nodes/${VM_A}/assignment`, { image: 'alpha' })).status, 200);
    assert.equal((await rack.api('PUT', `/nodes/${VM_B}/assignment`, { image: 'bravo' })).status, 200);
  });
  after(async () => {
    await rack?.close();
  });

  it('two VMs boot at once, each the image assigned to its MAC (e1000 and virtio ROMs)', async (t) => {
    const [a, b] = await Promise.all([rack.boot(VM_A, 'e1000'), rack.boot(VM_B, 'virtio')]);
    firstBootA = a;
    t.diagnostic(`boot seconds: A ${a.seconds}, B ${b.seconds}`);
    assert.deepEqual({ ...a.marker, hostname: undefined }, { mac: VM_A, image: 'alpha', built: 'alpha', node: HOSTNAME_A, hostname: undefined });
    assert.deepEqual(b.marker, { mac: VM_B, image: 'bravo', built: 'bravo', node: b.marker.node, hostname: '' });
    assert.match(b.marker.node, /\S/, 'an unnamed node still gets a rackboot.node');
  });

  it('the per-node overlay gives the booted kernel the node hostname in /etc/hostname', () => {
    assert.ok(firstBootA, 'the first boot of VM A did not happen');
    assert.equal(firstBootA.marker.hostname, HOSTNAME_A, 'the overlay initramfs did not put the hostname into /etc/hostname');
  });

  it('reassigned through the API, the VM boots the new image', async (t) => {
    // From here on radvd answers iPXE's router solicitation, which ends its ~16 s IPv6 wait
    // (nothing in a DHCPv4 reply can): the first boot above ran without, like a bare rack.
    rack.segment.advertiseRouter();
    assert.equal((await rack.api('PUT', `/nodes/${VM_A}/assignment`, { image: 'charlie' })).status, 200);
    const { marker, seconds } = await rack.boot(VM_A);
    t.diagnostic(`boot seconds with router advertisements: ${seconds}`);
    assert.equal(marker.image, 'charlie');
    assert.equal(marker.built, 'charlie');
  });

  it('rolled back through the API, the VM boots the previous image again', async () => {
    assert.equal((await rack.api('POST', `/nodes/${VM_A}/rollback`)).status, 200);
    const { marker } = await rack.boot(VM_A);
    assert.equal(marker.image, 'alpha');
    assert.equal(marker.built, 'alpha');
    // The timeline (newest first) since the rollback: a DHCP exchange and the rolled-back image's files.
    type Event = { kind: string; detail: { file?: string; image?: string } };
    const events = (await rack.api('GET', `/nodes/${VM_A}/events`)).json as unknown as Event[];
    const rolledBack = events.findIndex((event) => event.kind === 'rolled-back');
    assert.ok(rolledBack >= 0, `no rolled-back event: ${events.map((event) => event.kind).join(', ')}`);
    const since = events.slice(0, rolledBack);
    assert.ok(since.some((event) => event.kind === 'ack'), 'no DHCP ack recorded for the boot');
    const served = since.filter((event) => event.kind === 'file').map((event) => `${event.detail.file} ${event.detail.image}`);
    assert.deepEqual([...new Set(served)].sort(), ['initrd.img alpha', 'vmlinuz alpha']);
  });
});
