// The EEPROM image codec against a synthetic image in the documented layout, read back by an
// independent reader; the bootloader settings checks; the NETCONSOLE line bounds.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { FAKE_BUILD_TS, FAKE_VERSION, fakeEepromImage, readBootconf, readSections } from './helpers/eeprom-image.js';
import { eepromBuild, eepromFile, eepromSignature, MAX_EEPROM_FILE_BYTES, replaceEepromFile } from '../server/eeprom/image.js';
import { eepromSettingsProblems, renderBootconf } from '../server/eeprom/settings.js';
import { consoleLines, reportedBuild } from '../server/netconsole/lines.js';

describe('EEPROM image: bootconf.txt replaced as rpi-eeprom-config does', () => {
  it('embeds a config the independent reader finds, leaving every other section as it was', () => {
    const image = fakeEepromImage();
    const config = renderBootconf({ TFTP_FILE_TIMEOUT: '60000', BOOT_ORDER: '0xf21', NETCONSOLE: '6665@10.0.0.21/,6666@10.0.0.1/' });
    assert.equal(config, '[all]\nBOOT_ORDER=0xf21\nTFTP_FILE_TIMEOUT=60000\nNETCONSOLE=6665@10.0.0.21/,6666@10.0.0.1/\n');
    const out = replaceEepromFile(image, Buffer.from(config));
    assert.equal(out.length, image.length);
    assert.equal(readBootconf(out), config);
    assert.equal(eepromFile(out).toString(), config);
    const others = (of: Buffer) =>
      readSections(of)
        .filter((entry) => entry.name !== 'bootconf.txt' && entry.magic !== 0x55aafeef)
        .map((entry) => [entry.offset, entry.name, createHash('sha256').update(entry.content).digest('hex')]);
    assert.deepEqual(others(out), others(image));
    assert.equal(others(out).length, 2);
    // The sector's rest is a padding section up to pubkey.bin, erased.
    const pad = readSections(out).find((entry) => entry.magic === 0x55aafeef && entry.offset > 0x1000)!;
    assert.equal(pad.offset + 8 + pad.content.length, 0x2000);
    assert.ok(pad.content.every((byte) => byte === 0xff));
    assert.ok(out.subarray(0x2000).equals(image.subarray(0x2000)));
  });

  it('a shorter config erases what the longer one left; replacing twice gives the same bytes', () => {
    const long = replaceEepromFile(fakeEepromImage(), Buffer.from(renderBootconf({ PXE_OPTION43: 'x'.repeat(300) })));
    const short = Buffer.from('[all]\nBOOT_UART=1\n');
    const once = replaceEepromFile(long, short);
    assert.equal(readBootconf(once), short.toString());
    assert.ok(once.equals(replaceEepromFile(once, short)));
    assert.ok(once.equals(replaceEepromFile(fakeEepromImage(), short)));
  });

  it('refuses a config beyond its section, beyond 4076 bytes, or an image that is none', () => {
    const image = fakeEepromImage();
    assert.throws(() => replaceEepromFile(image, Buffer.alloc(4073, 0x41)), /bootconf\.txt would be 4073 bytes; its section in this image holds at most 4072/);
    const lastOnly = fakeEepromImage({ lastIsConfig: true });
    assert.throws(() => replaceEepromFile(lastOnly, Buffer.alloc(MAX_EEPROM_FILE_BYTES + 1, 0x41)), /at most 4076/);
    assert.equal(readBootconf(replaceEepromFile(lastOnly, Buffer.alloc(MAX_EEPROM_FILE_BYTES, 0x41))).length, MAX_EEPROM_FILE_BYTES);
    assert.throws(() => replaceEepromFile(Buffer.alloc(1000), Buffer.from('x')), /512 KiB \(Pi 4\) or 2 MiB/);
    assert.throws(() => replaceEepromFile(Buffer.alloc(512 * 1024, 0x41), Buffer.from('x')), /no section header at offset 0/);
    const noConf = Buffer.alloc(512 * 1024, 0xff);
    noConf.writeUInt32BE(0x55aaf00f, 0);
    noConf.writeUInt32BE(16, 4);
    assert.throws(() => replaceEepromFile(noConf, Buffer.from('x')), /has no bootconf\.txt section/);
  });

  it('finds the build strings and writes pieeprom.sig as rpi-eeprom-digest does', () => {
    const image = fakeEepromImage({ size: 2 * 1024 * 1024 });
    assert.deepEqual(eepromBuild(image), { buildTs: FAKE_BUILD_TS, version: FAKE_VERSION });
    const sha = createHash('sha256').update(image).digest('hex');
    assert.equal(eepromSignature(sha, 1700000000.7).toString(), `${sha}\nts: 1700000000\n`);
  });
});

describe('bootloader settings: only documented keys and values', () => {
  it('names an unknown key instead of guessing', () => {
    assert.deepEqual(eepromSettingsProblems({ BOOT_ORDER: '0xf21', ENABLE_NETWORK_INSTALL: '1' }), [
      'ENABLE_NETWORK_INSTALL: not a documented bootloader setting (see the Raspberry Pi bootloader configuration docs; keys are upper case)',
    ]);
    assert.match(eepromSettingsProblems({ boot_order: '0xf21' })[0]!, /^boot_order: not a documented/);
  });

  it('checks values against the documented ranges and formats', () => {
    const problems = (settings: Record<string, string>) => eepromSettingsProblems(settings).join(' | ');
    assert.match(problems({ TFTP_FILE_TIMEOUT: '4000' }), /TFTP_FILE_TIMEOUT: must be at least 5000/);
    assert.match(problems({ BOOT_ORDER: '0xf91' }), /BOOT_ORDER: must be 0x followed by 1-8 boot modes/);
    assert.match(problems({ NETCONSOLE: '6665@192.168.100.200/,6666@192.168.100.1/aa' }), /NETCONSOLE: must be at most 32 characters/);
    assert.match(problems({ HTTP_HOST: 'http://server/' }), /HTTP_HOST: must not contain|HTTP_HOST: must be a host name/);
    assert.match(problems({ BOOT_UART: '1\n[all]\nFREEZE_VERSION=1' }), /BOOT_UART: must not contain spaces/);
    assert.deepEqual(
      eepromSettingsProblems({ BOOT_ORDER: '0xf461', DHCP_TIMEOUT: '45000', TFTP_PREFIX: '2', NET_INSTALL_ENABLED: '0', HTTP_HOST: '10.0.0.1', NETCONSOLE: '6665@10.0.0.21/,6666@/', MAX_RESTARTS: '-1', XHCI_DEBUG: '0x3' }),
      [],
    );
  });
});

describe('NETCONSOLE lines', () => {
  it('cuts long lines, replaces control bytes, stops at the line bound', () => {
    const datagram = Buffer.concat([Buffer.from('a'.repeat(1000) + '\r\n\n  \nbell\x07\x1b[31m\n'), Buffer.from([0xff, 0x0a]), Buffer.from('x\ny\nz\n')]);
    const { lines, truncated } = consoleLines(datagram, 100, 4);
    assert.deepEqual(lines, ['a'.repeat(100), 'bell??[31m', '?', 'x']);
    assert.equal(truncated, 1);
  });

  it('reads the build from the banner and the boot mode line', () => {
    assert.deepEqual(reportedBuild('  1.09 RPi: BOOTLOADER release VERSION:4b019946 DATE: 2024/11/12 TIME: 16:10:44'), { version: '4b019946' });
    assert.deepEqual(reportedBuild('  1.13 BOOTMODE: 0x06 partition 0 build-ts BUILD_TIMESTAMP=1731428000 serial f99e9294'), { buildTs: 1731428000 });
    assert.equal(reportedBuild('boot: mode NETWORK 2 order f21'), undefined);
  });
});
