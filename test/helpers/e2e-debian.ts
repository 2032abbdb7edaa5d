/**
 * Debian binaries the end-to-end boots need, fetched with `apt-get download` into a cache outside
 * the repo and unpacked with `dpkg-deb -x`, so a fresh machine gets them without installing them:
 * the kernel comes from whatever `linux-image-amd64` points at today, and busybox-static is
 * unpacked rather than installed because it conflicts with the `busybox` package other tests use.
 *
 * Exports `debianKernel()` (path of a vmlinuz) and `staticBusybox()` (path of a static busybox).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const CACHE_DIR = process.env['RACKBOOT_TEST_CACHE'] ?? '/var/cache/rackboot-test';

function run(command: string, args: string[], cwd?: string): string {
  return execFileSync(command, args, { cwd, encoding: 'utf8', timeout: 300_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

let listsRefreshed = false;

/** Runs an apt step; a fresh machine may have no package lists yet, so refresh them once and retry. */
function withAptLists<T>(step: () => T): T {
  try {
    return step();
  } catch (error) {
    if (listsRefreshed) throw error;
    listsRefreshed = true;
    run('apt-get', ['update', '-qq']);
    return step();
  }
}

/** The package `linux-image-amd64` depends on (linux-image-<abi>-amd64). */
function kernelPackage(): string {
  return withAptLists(() => {
    const depends = run('apt-cache', ['depends', '--no-recommends', '--no-suggests', 'linux-image-amd64']);
    const match = /Depends:\s*(linux-image-\S+-amd64)/.exec(depends);
    if (!match) throw new Error(`cannot tell which kernel linux-image-amd64 depends on:\n${depends}`);
    return match[1]!;
  });
}

/** Downloads `pkg` once and unpacks its `keep` directory under CACHE_DIR/<pkg>; returns that directory. */
function unpacked(pkg: string, keep: string): string {
  const root = path.join(CACHE_DIR, pkg);
  if (existsSync(path.join(root, '.complete'))) return root;
  const work = path.join(CACHE_DIR, `.${pkg}.${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    withAptLists(() => run('apt-get', ['download', '-q', pkg], work));
    const deb = readdirSync(work).find((name) => name.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${pkg} left no .deb in ${work}`);
    const tree = path.join(work, 'tree');
    run('dpkg-deb', ['-x', path.join(work, deb), tree]);
    // The kernel's modules are most of its 400 MB and the boots do not need them.
    const kept = path.join(work, 'kept');
    mkdirSync(kept);
    renameSync(path.join(tree, keep), path.join(kept, keep));
    writeFileSync(path.join(kept, '.complete'), '');
    rmSync(root, { recursive: true, force: true });
    renameSync(kept, root);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return root;
}

export function debianKernel(): string {
  const boot = path.join(unpacked(kernelPackage(), 'boot'), 'boot');
  const vmlinuz = readdirSync(boot).find((name) => name.startsWith('vmlinuz-'));
  if (!vmlinuz) throw new Error(`no vmlinuz in ${boot}`);
  return path.join(boot, vmlinuz);
}

export function staticBusybox(): string {
  const busybox = path.join(unpacked('busybox-static', 'bin'), 'bin', 'busybox');
  if (!existsSync(busybox)) throw new Error(`busybox-static has no ${busybox}`);
  return busybox;
}
