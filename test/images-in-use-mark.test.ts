/**
 * The in-use marks live in `<store>/in-use/`, a directory a careless operator or another local
 * user may have written to: a symlink placed there must not turn the daemon's touch into a write
 * (or a file creation) somewhere else.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { markInUse, usedSince } from '../server/images/in-use.js';

describe('in-use marks', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rackboot-in-use-'));
  const marks = path.join(dir, 'in-use');
  const outside = path.join(dir, 'outside');
  mkdirSync(marks);
  mkdirSync(outside);
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('creates a mark and refreshes it', async () => {
    const mark = path.join(marks, 'a'.repeat(64));
    await markInUse(mark);
    assert.equal(statSync(mark).size, 0);
    assert.equal(await usedSince(mark, 0), true);
  });

  it('does not follow a symlink to an existing file: its content and mtime stay', async () => {
    const target = path.join(outside, 'precious');
    writeFileSync(target, 'keep me');
    utimesSync(target, 0, 0);
    const mark = path.join(marks, 'b'.repeat(64));
    symlinkSync(target, mark);
    await markInUse(mark);
    assert.equal(readFileSync(target, 'utf8'), 'keep me');
    assert.equal(statSync(target).mtimeMs, 0);
  });

  it('does not create the file a dangling symlink points to', async () => {
    const target = path.join(outside, 'planted');
    const mark = path.join(marks, 'c'.repeat(64));
    symlinkSync(target, mark);
    await markInUse(mark);
    assert.equal(existsSync(target), false);
  });
});
