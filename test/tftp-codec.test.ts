import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encodeAck, encodeError, encodeOack, encodeRequest, ackBlock, writeDataHeader } from '../server/tftp/codec.js';
import { negotiate } from '../server/tftp/options.js';

const limits = { maxBlksize: 1468, maxWindowsize: 64 };

test('a request decodes with lower-cased mode and option names; the first duplicate wins', () => {
  const packet = decode(encodeRequest(false, '1a2b3c4d/start4.elf', 'OCTET', [['TSize', '0'], ['BLKSIZE', '1024'], ['tsize', '9']]));
  assert.deepEqual(packet, { kind: 'request', write: false, filename: '1a2b3c4d/start4.elf', mode: 'octet', options: new Map([['tsize', '0'], ['blksize', '1024']]) });
});

test('round trips of ACK, ERROR, OACK and a DATA header, with block rollover', () => {
  assert.deepEqual(decode(encodeAck(65536 + 7)), { kind: 'ack', block: 7 });
  assert.equal(ackBlock(encodeAck(65535)), 65535);
  assert.equal(ackBlock(encodeError(0, 'x')), -1);
  assert.deepEqual(decode(encodeError(8, 'Early terminate')), { kind: 'error', code: 8, message: 'Early terminate' });
  assert.deepEqual(decode(encodeOack([['blksize', '1468']])), { kind: 'oack', options: new Map([['blksize', '1468']]) });
  const header = Buffer.alloc(4);
  writeDataHeader(header, 65536);
  assert.deepEqual(decode(header), { kind: 'data', block: 0, payload: Buffer.alloc(0) });
});

test('hostile bytes never throw: empty, 1 byte, truncated requests, 20,000 random datagrams', () => {
  for (const bad of [Buffer.alloc(0), Buffer.from([1]), Buffer.from([0, 1]), Buffer.from([0, 1, 65]), Buffer.from([0, 1, 0, 0]), Buffer.from([0, 4, 1])]) {
    assert.equal(decode(bad).kind, 'invalid');
  }
  for (let i = 0; i < 20_000; i++) {
    const buf = randomBytes(i % 700);
    if (i % 3 === 0 && buf.length >= 2) buf.writeUInt16BE(1 + (i % 6), 0);
    decode(buf);
    ackBlock(buf);
  }
});

test('negotiation: blksize clamped to the maximum, below 8 or malformed ignored, unknown options ignored', () => {
  assert.deepEqual(negotiate(new Map([['blksize', '70000'], ['foo', 'bar'], ['tsize', '0']]), 1234, limits), { blksize: 1468, windowsize: 1, oack: [['blksize', '1468'], ['tsize', '1234']] });
  for (const bad of ['0', '7', '-1', '1e3', '']) assert.deepEqual(negotiate(new Map([['blksize', bad]]), 1, limits), { blksize: 512, windowsize: 1, oack: [] });
  assert.equal(negotiate(new Map([['blksize', '8']]), 1, limits).blksize, 8);
  assert.equal(negotiate(new Map([['blksize', '70000']]), 1, { maxBlksize: 65464, maxWindowsize: 64 }).blksize, 65464);
});

test('negotiation: window x blksize held near 128 KiB, timeout 1..255 s, tsize reports the size', () => {
  assert.equal(negotiate(new Map([['windowsize', '16'], ['blksize', '1468']]), 1, limits).windowsize, 16);
  assert.equal(negotiate(new Map([['windowsize', '1000'], ['blksize', '1468']]), 1, limits).windowsize, 64);
  assert.equal(negotiate(new Map([['windowsize', '64'], ['blksize', '8192']]), 1, { maxBlksize: 65464, maxWindowsize: 64 }).windowsize, 16);
  assert.equal(negotiate(new Map([['windowsize', '4'], ['blksize', '65464']]), 1, { maxBlksize: 65464, maxWindowsize: 64 }).windowsize, 2);
  assert.deepEqual(negotiate(new Map([['timeout', '3']]), 1, limits), { blksize: 512, windowsize: 1, retransmitMs: 3000, oack: [['timeout', '3']] });
  assert.deepEqual(negotiate(new Map([['timeout', '0'], ['windowsize', '0']]), 1, limits).oack, []);
});

test('negotiation: an empty file gets no tsize in the OACK (curl 7.88 rejects "tsize 0"), the other options stay', () => {
  assert.deepEqual(negotiate(new Map([['tsize', '0']]), 0, limits), { blksize: 512, windowsize: 1, oack: [] });
  assert.deepEqual(negotiate(new Map([['tsize', '0'], ['blksize', '1024']]), 0, limits).oack, [['blksize', '1024']]);
  assert.deepEqual(negotiate(new Map([['tsize', '0']]), 1, limits).oack, [['tsize', '1']]);
});
