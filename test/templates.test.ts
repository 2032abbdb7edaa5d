import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { renderTemplate, TemplateLibrary } from '../server/boot/templates.js';

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
