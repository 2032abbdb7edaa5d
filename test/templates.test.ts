import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { renderTemplate, TemplateLibrary } from '../server/boot/templates.js';
import { imageTemplateProblem } from '../server/boot/vars.js';

test('an edited template is picked up within a second, without a stat per render', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rbt-templates-'));
  try {
    const file = path.join(dir, 'chain.ipxe');
    writeFileSync(file, 'one {{x}}');
    const library = new TemplateLibrary(dir);
    assert.equal(library.source('chain.ipxe', 0), 'one {{x}}');
    writeFileSync(file, 'two {{x}}');
    utimesSync(file, new Date(), new Date(Date.now() + 5_000)); // a new mtime even on coarse clocks
    assert.equal(library.source('chain.ipxe', 999), 'one {{x}}', 'checked again only after a second');
    assert.equal(library.source('chain.ipxe', 1_000), 'two {{x}}');
    rmSync(file);
    assert.throws(() => library.source('chain.ipxe', 2_000), /chain\.ipxe is missing/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('templates: variables, conditional lines, and unknown names named in the error', () => {
  const source = 'kernel {{url}} {{args}}\n?initrd initrd {{initrd}}\n?missing {{nope}}\nboot';
  assert.equal(renderTemplate(source, { url: 'http://x/k', args: 'quiet', initrd: 'http://x/i', missing: '' }, 't'), 'kernel http://x/k quiet\ninitrd http://x/i\nboot');
  assert.equal(renderTemplate(source, { url: 'u', args: '', initrd: null, missing: '' }, 't'), 'kernel u \nboot', 'a dropped line is not rendered');
  assert.equal(renderTemplate('{{a}}{{a}}-{{b}}', { a: 1, b: 'x' }, 't'), '11-x');
  assert.throws(() => renderTemplate(source, { url: 'u', args: '', initrd: '' }, 'image x cmdline'), /image x cmdline: unknown template variable \{\{missing\}\}; known: args, initrd, url/);
});

test('templates: a prototype name is an unknown variable, not an inherited property', () => {
  for (const name of ['constructor', 'toString', '__proto__']) {
    assert.throws(() => renderTemplate(`x {{${name}}}`, { a: 1 }, 't'), new RegExp(`unknown template variable \\{\\{${name}\\}\\}`));
  }
});

test('image templates: a cmdline is one line of known variables; config.txt may span lines', () => {
  assert.equal(imageTemplateProblem('cmdline', 'quiet rackboot.node={{hostname}} rackboot.booted={{bootedUrl}}'), undefined);
  assert.match(imageTemplateProblem('cmdline', 'quiet\tsplash')!, /^cmdline: holds a control character \(0x09\) at offset 5/);
  assert.match(imageTemplateProblem('cmdline', '?nope quiet {{image}}')!, /^cmdline: unknown template variable \{\{nope\}\}/);
  assert.equal(imageTemplateProblem('configTxt', 'arm_64bit=1\nkernel={{kernelFile}}\n?initramfsFile initramfs {{initramfsFile}} followkernel'), undefined);
  assert.match(imageTemplateProblem('configTxt', 'kernel={{kernel}}')!, /^configTxt: unknown template variable \{\{kernel\}\}; known: bootedUrl,/);
});
