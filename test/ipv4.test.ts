import assert from 'node:assert/strict';
import { test } from 'node:test';
import { intToIp, ipToInt } from '../server/net/ipv4.js';

test('ipToInt reads dotted quads and refuses anything else', () => {
  for (const [text, value] of [
    ['0.0.0.0', 0],
    ['255.255.255.255', 0xffffffff],
    ['10.202.1.0', 0x0aca0100],
    ['192.168.001.010', 0xc0a8010a],
  ] as const) {
    assert.equal(ipToInt(text), value, text);
  }
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', 'a.b.c.d', '1.2.3.4 ', '1.2.3.1000', '.1.2.3', '1.2.3.', '-1.2.3.4']) {
    assert.throws(() => ipToInt(bad), /not an IPv4 address/, JSON.stringify(bad));
  }
  assert.equal(intToIp(ipToInt('10.202.250.255')), '10.202.250.255');
});
