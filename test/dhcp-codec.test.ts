import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decode, encode, MAX_OPTION_INSTANCES, maxReplySize, type DhcpPacket } from '../server/dhcp/codec.js';
import { MessageType, Opt, userClasses } from '../server/dhcp/options.js';
import { concatBytesDuring } from './helpers/concat-count.js';
import { ipxeDiscover, pi4Discover, repeatedOptionPacket, requestPacket, wire } from './helpers/dhcp-packets.js';
import { fuzzPacket } from './helpers/dhcp-fuzz.js';
import { seededRandom } from './helpers/random.js';

function decoded(buf: Buffer): DhcpPacket {
  const result = decode(buf);
  assert.ok(result.ok, result.ok ? '' : result.reason);
  return result.packet;
}

test('a packet survives encode and decode with every field and option', () => {
  const packet = pi4Discover('dc:a6:32:01:36:c2');
  packet.flags = 0x8000;
  packet.hops = 1;
  packet.giaddr = '10.1.2.3';
  packet.ciaddr = '10.1.2.4';
  packet.file = 'boot/file.efi';
  packet.sname = 'server';
  const back = decoded(wire(packet));
  assert.deepEqual({ ...back, chaddr: [...back.chaddr], options: [...back.options] }, {
    ...packet,
    chaddr: [...packet.chaddr],
    options: [...packet.options],
  });
});

test('replies are at least the BOOTP minimum of 300 bytes and end with option 255', () => {
  const buf = wire(requestPacket({ mac: '52:54:00:00:00:01', type: MessageType.discover }));
  assert.equal(buf.length, 300);
  assert.deepEqual([...buf.subarray(240, 244)], [53, 1, 1, 255]);
});

test('pad options are skipped and an unknown option is kept as raw bytes', () => {
  const buf = wire(requestPacket({ mac: '52:54:00:00:00:01', type: MessageType.discover, options: [[200, [9, 8, 7]]] }));
  // Shift the options right by three pads.
  const padded = Buffer.concat([buf.subarray(0, 240), Buffer.from([0, 0, 0]), buf.subarray(240)]);
  const packet = decoded(padded);
  assert.deepEqual([...packet.options.get(200)!], [9, 8, 7]);
  assert.equal(packet.options.get(Opt.messageType)![0], MessageType.discover);
});

test('nothing after the end option is read, and a missing end option is tolerated', () => {
  const buf = wire(requestPacket({ mac: '52:54:00:00:00:01', type: MessageType.discover }));
  buf[243] = 255; // end already written at 243: add junk after it
  buf[244] = 12;
  buf[245] = 200;
  assert.equal(decoded(buf).options.has(12), false);
  const noEnd = Buffer.from([...buf.subarray(0, 240), 53, 1, 3]);
  assert.equal(decoded(noEnd).options.get(Opt.messageType)![0], 3);
});

test('a repeated option is concatenated and a long one is split on encode (RFC 3396)', () => {
  const long = Buffer.alloc(600, 0x61);
  const packet = requestPacket({ mac: '52:54:00:00:00:01', type: MessageType.offer, options: [[224, long]] });
  const { buffer, dropped } = encode(packet, 1500);
  assert.deepEqual(dropped, []);
  assert.ok(buffer.includes(Buffer.from([224, 255])));
  assert.deepEqual(decoded(buffer).options.get(224), long);
});

test('options that do not fit 576 bytes overload into file and sname, and decode back', () => {
  const options: Array<[number, Buffer]> = [];
  for (let code = 128; code < 128 + 6; code++) options.push([code, Buffer.alloc(60, code)]);
  const packet = requestPacket({ mac: '52:54:00:00:00:01', type: MessageType.offer, options });
  const { buffer, dropped } = encode(packet, 576);
  assert.equal(buffer.length, 576);
  assert.deepEqual(dropped, []);
  assert.equal(buffer[240], 52, 'option 52 first in the options area');
  const back = decoded(buffer);
  for (const [code, value] of options) assert.deepEqual(back.options.get(code), value, `option ${code}`);
  assert.equal(back.file, '');
  assert.equal(back.sname, '');
});

test('without a larger option 57 a reply fits 548 bytes of DHCP payload, overloading to get there', () => {
  const options: Array<[number, Buffer]> = [];
  for (let code = 128; code < 128 + 6; code++) options.push([code, Buffer.alloc(60, code)]);
  const packet = requestPacket({ mac: '52:54:00:00:00:01', type: MessageType.offer, options });
  const { buffer, dropped } = encode(packet);
  assert.equal(buffer.length, 548);
  assert.deepEqual(dropped, []);
  const back = decoded(buffer);
  for (const [code, value] of options) assert.deepEqual(back.options.get(code), value, `option ${code}`);
  assert.equal(maxReplySize(undefined), 548);
  assert.equal(maxReplySize(400), 548, 'an illegal option 57 is ignored');
  assert.equal(maxReplySize(576), 548, 'option 57 counts as a datagram size: IP and UDP headers off');
  assert.equal(maxReplySize(1500), 1472);
});

test('a boot file name longer than the file field goes into option 67 whole, never cut', () => {
  const url = `http://10.0.0.1:8080/${'a'.repeat(200)}.efi`;
  const packet = requestPacket({ mac: '52:54:00:00:00:01', type: MessageType.offer, options: [[Opt.relayAgent, [1, 2, 0x65, 0x31]]] });
  packet.file = url;
  const back = decoded(encode(packet, 1500).buffer);
  assert.equal(back.options.get(Opt.bootFile)!.toString('latin1'), url);
  assert.equal(back.file, '');
  assert.equal([...back.options.keys()].at(-1), Opt.relayAgent, 'option 82 stays last');
  packet.file = 'a'.repeat(127);
  const fits = decoded(encode(packet).buffer);
  assert.equal(fits.file, packet.file, '127 bytes and the NUL fit the field');
  assert.equal(fits.options.has(Opt.bootFile), false);
});

test('an overloaded packet from a client is read file first, then sname', () => {
  const buf = Buffer.alloc(300);
  buf[1] = 1;
  buf[2] = 6;
  buf.writeUInt32BE(0x63825363, 236);
  Buffer.from([52, 1, 3, 53, 1, 1, 255]).copy(buf, 240);
  Buffer.from([12, 3, 0x61, 0x62, 0x63, 255]).copy(buf, 108); // file: hostname "abc"
  Buffer.from([12, 2, 0x64, 0x65, 255]).copy(buf, 44); // sname: hostname continues "de"
  const packet = decoded(buf);
  assert.equal(packet.options.get(Opt.hostname)!.toString(), 'abcde');
  assert.equal(packet.file, '');
});

test('hostile input is reported, never thrown', () => {
  const good = wire(ipxeDiscover('52:54:00:00:00:01'));
  const cases: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['one byte', Buffer.from([1])],
    ['no cookie', Buffer.alloc(300)],
    ['option runs past the end', Buffer.concat([good.subarray(0, 240), Buffer.from([60, 200, 1, 2])])],
    ['option without length', Buffer.concat([good.subarray(0, 240), Buffer.from([60])])],
    ['hlen 200', Buffer.from(good).fill(200, 2, 3)],
  ];
  for (const [name, buf] of cases) {
    const result = decode(buf);
    assert.equal(result.ok, false, name);
    assert.ok(!result.ok && result.reason.length > 0, name);
  }
});

test('a 63 KB packet repeating one option 21,000 times is refused at the instance cap, copying nothing', () => {
  const hostile = repeatedOptionPacket(12, 21_000, 1);
  assert.ok(hostile.length > 63_000);
  const { result, copied } = concatBytesDuring(() => decode(hostile));
  assert.equal(result.ok, false);
  assert.match(!result.ok ? result.reason : '', new RegExp(`more than ${MAX_OPTION_INSTANCES} option instances`));
  assert.equal(copied, 0, 'no option bytes copied for a refused packet');
});

test('repeats under the cap are joined once: bytes copied grow linearly with the repeats', () => {
  for (const count of [100, 200, 400]) {
    const packet = repeatedOptionPacket(12, count, 100);
    const { result, copied } = concatBytesDuring(() => decode(packet));
    assert.ok(result.ok, `${count} repeats`);
    assert.equal(result.packet.options.get(12)!.length, count * 100);
    assert.equal(copied, count * 100, `${count} repeats: each option byte copied once`);
  }
});

test('user class reads both iPXE\'s bare string and the RFC 3004 list', () => {
  assert.deepEqual(userClasses(Buffer.from('iPXE')), ['iPXE']);
  assert.deepEqual(userClasses(Buffer.from([4, ...Buffer.from('iPXE'), 3, ...Buffer.from('abc')])), ['iPXE', 'abc']);
});

test('fuzz: 100,000 seeded mutated and random packets never throw, and decodable ones re-encode', () => {
  const random = seededRandom(0xdc0de);
  let decodedCount = 0;
  for (let i = 0; i < 100_000; i++) {
    const buf = fuzzPacket(random);
    let result;
    try {
      result = decode(buf);
    } catch (error) {
      assert.fail(`packet ${i} (seed 0xdc0de) threw: ${(error as Error).message}\n${buf.toString('hex')}`);
    }
    if (result.ok) {
      decodedCount++;
      const again = decode(encode(result.packet, 1500).buffer);
      assert.ok(again.ok, `packet ${i} does not survive a re-encode`);
    }
  }
  assert.ok(decodedCount > 10_000, `only ${decodedCount} fuzz packets decoded: mutations too coarse`);
});
