import { Command } from 'commander';
import { cliActor, withAdmin } from './context.js';
import { isoTime, output, printJson, warningLines } from './output.js';
import { AdminError } from '../admin/errors.js';
import { imageWarnings, registerImage, removeImage } from '../admin/images.js';
import type { ImageRecord } from '../inventory/images.js';
import { DEFAULT_IMPORT_LIMITS, importSource } from '../images/import.js';
import { packToFile } from '../images/pack.js';

const imageRow = (image: ImageRecord) => ({
  name: image.name,
  version: image.version,
  arch: image.arch,
  kernel: `${image.kernel.digest.slice(0, 12)} (${image.kernel.size} B)`,
  initrd: image.initrd ? `${image.initrd.digest.slice(0, 12)} (${image.initrd.size} B)` : null,
  created: isoTime(image.createdAt),
  warnings: imageWarnings(image).length || null,
});

export function registerImageCommands(program: Command): Command {
  const image = program.command('image').description('boot images: kernel, initramfs, Pi files');

  image
    .command('add')
    .description('copy a kernel (and initramfs) into the store as a new image version')
    .requiredOption('--name <name>', 'image name, e.g. alpine-3.20')
    .requiredOption('--kernel <path|url>', 'kernel file or http(s) URL (Image, vmlinuz)')
    .option('--kernel-sha256 <hex>', 'refuse the kernel unless it has this sha256')
    .option('--initrd <path|url>', 'initramfs file or http(s) URL (cpio, cpio.gz)')
    .option('--initrd-sha256 <hex>', 'refuse the initramfs unless it has this sha256')
    .option('--arch <arch>', 'arm64, arm32, x86_64, i386, riscv64 or any', 'arm64')
    .option('--cmdline <text>', 'kernel command line template (default: boot-assets/templates)')
    .option('--config-txt <text>', 'Pi config.txt template (default: boot-assets/templates/config.txt)')
    .option('--dtb <path...>', 'Pi device tree files')
    .option('--firmware <dir>', 'Pi firmware set (start4.elf, fixup4.dat, overlays/...); overrides <assetsDir>/firmware for this image')
    .option('--notes <text>', 'free text')
    .option('--http-boot', 'serve it to Pis as an HTTP boot ramdisk (boot.img + boot.sig, bootloader mode 7); see `rackboot doctor`')
    .option('--json', 'print JSON')
    .action(async (options, command: Command) => {
      const result = await withAdmin(command, (admin) =>
        registerImage(
          admin,
          {
            name: options.name,
            kernel: options.kernel,
            arch: options.arch,
            ...(options.kernelSha256 && { kernelSha256: options.kernelSha256 }),
            ...(options.initrd && { initrd: options.initrd }),
            ...(options.initrdSha256 && { initrdSha256: options.initrdSha256 }),
            ...(options.cmdline && { cmdline: options.cmdline }),
            ...(options.configTxt && { configTxt: options.configTxt }),
            ...(options.dtb && { dtbs: options.dtb }),
            ...(options.firmware && { firmware: options.firmware }),
            ...(options.notes && { notes: options.notes }),
            ...(options.httpBoot && { httpBoot: true }),
          },
          cliActor(),
        ),
      );
      if (options.json) return printJson(result);
      const { name, version } = result.image;
      console.log(result.created ? `added ${name} version ${version}` : `${name} version ${version} already has this content`);
      for (const warning of result.warnings) console.error(warningLines(warning).join('\n'));
    });

  image
    .command('ls')
    .description('list images and their versions')
    .option('--json', 'print JSON')
    .action(async (options, command: Command) => {
      const images = await withAdmin(command, (admin) => admin.inventory.images.list(), { create: false });
      if (options.json) return printJson(images.map((entry) => ({ ...entry, warnings: imageWarnings(entry) })));
      output(false, images.map(imageRow), ['name', 'version', 'arch', 'kernel', 'initrd', 'created', 'warnings']);
    });

  image
    .command('show')
    .description('every version of one image, with digests, sizes and Pi limit warnings')
    .argument('<name>')
    .option('--json', 'print JSON')
    .action(async (name: string, options, command: Command) => {
      const versions = await withAdmin(command, (admin) => admin.inventory.images.versions(name), { create: false });
      if (!versions.length) throw new AdminError('RB_IMAGE_NOT_FOUND', 404, `no image ${name} (see \`rackboot image ls\`)`);
      const shown = versions.map((entry) => ({ ...entry, warnings: imageWarnings(entry) }));
      if (options.json) return printJson(shown);
      for (const entry of shown) {
        console.log(`${entry.name} v${entry.version} (${entry.arch}), added ${isoTime(entry.createdAt)}`);
        console.log(`  kernel  ${entry.kernel.digest}  ${entry.kernel.size} B`);
        if (entry.initrd) console.log(`  initrd  ${entry.initrd.digest}  ${entry.initrd.size} B`);
        for (const [file, digest] of Object.entries(entry.dtbs)) console.log(`  dtb      ${file}  ${digest}`);
        for (const [file, digest] of Object.entries(entry.firmware)) console.log(`  firmware ${file}  ${digest}`);
        if (entry.cmdline) console.log(`  cmdline ${entry.cmdline}`);
        if (entry.httpBoot) console.log('  http boot: boot.img + boot.sig under /rackboot/');
        for (const warning of entry.warnings) console.log(warningLines(warning, '  ').join('\n'));
      }
    });

  image
    .command('rm')
    .description('remove an image (all versions, or one)')
    .argument('<name>')
    .option('--version <n>', 'only this version', (text) => Number.parseInt(text, 10))
    .action(async (name: string, options, command: Command) => {
      const removed = await withAdmin(command, (admin) => removeImage(admin, name, options.version), { create: false });
      console.log(`removed ${removed} image row(s) of ${name}; \`rackboot image gc\` frees their blobs`);
    });
  image
    .command('import')
    .description('copy a file, a directory (firmware set) or an http(s) URL into the blob store; prints the sha256 digests')
    .argument('<source>', 'local path, directory or http(s) URL')
    .option('--sha256 <hex>', 'refuse unless the content has this digest (file or URL)')
    .option('--max-bytes <n>', `refuse larger content (default ${DEFAULT_IMPORT_LIMITS.maxBytes})`, (text) => Number.parseInt(text, 10))
    .option('--timeout <seconds>', `give up a download idle this long (default ${DEFAULT_IMPORT_LIMITS.timeoutMs / 1000})`, (text) => Number(text))
    .option('--json', 'print JSON')
    .action(async (source: string, options, command: Command) => {
      const abort = new AbortController();
      const stop = () => abort.abort();
      process.once('SIGINT', stop);
      const progress = importProgress();
      try {
        const result = await withAdmin(command, (admin) =>
          importSource(admin.store, source, {
            ...(options.sha256 && { expectedSha256: options.sha256 }),
            ...(options.maxBytes && { maxBytes: options.maxBytes }),
            ...(options.timeout && { timeoutMs: options.timeout * 1000 }),
            onProgress: progress.update,
            signal: abort.signal,
          }),
        );
        progress.done();
        if (options.json) return printJson(result);
        const files = result.kind === 'file' ? { [source]: result.blob } : result.files;
        for (const [name, blob] of Object.entries(files)) console.log(`sha256:${blob.digest}  ${String(blob.size).padStart(11)}  ${name}`);
        console.error('stored; blobs no image references are removed by `rackboot image gc`');
      } finally {
        progress.done();
        process.off('SIGINT', stop);
      }
    });

  image
    .command('pack')
    .description('build a reproducible newc cpio.gz initramfs from a directory or a gen_init_cpio list, without root')
    .argument('<input>', 'directory, or list file (dir/file/slink/nod/pipe/sock lines)')
    .requiredOption('-o, --output <file>', 'where to write the cpio.gz')
    .option('--mtime <seconds>', 'timestamp of every entry (default $SOURCE_DATE_EPOCH, else 0)', (text) => Number.parseInt(text, 10))
    .option('--json', 'print JSON')
    .action(async (input: string, options) => {
      const mtime = options.mtime ?? Number.parseInt(process.env['SOURCE_DATE_EPOCH'] ?? '0', 10);
      const result = await packToFile(input, options.output, { mtime });
      if (options.json) return printJson({ output: options.output, ...result });
      console.log(`wrote ${options.output}: ${result.entries} entries, ${result.size} bytes, sha256:${result.sha256}`);
    });

  image
    .command('verify')
    .description('rehash every blob; report corrupt ones and blobs images reference but the store lacks')
    .option('--json', 'print JSON')
    .action(async (options, command: Command) => {
      const report = await withAdmin(command, (admin) => admin.store.verify(admin.inventory.images.referencedDigests()), { create: false });
      const clean = report.corrupt.length === 0 && report.missing.length === 0;
      if (!clean) process.exitCode = 1;
      if (options.json) return printJson({ clean, ...report });
      for (const blob of report.corrupt) console.log(`corrupt  sha256:${blob.digest} now hashes to ${blob.actualSha256}`);
      for (const digest of report.missing) console.log(`missing  sha256:${digest} (an image references it)`);
      for (const stray of report.strays) console.log(`stray    ${stray} (not a blob; safe to delete)`);
      console.log(`${report.checked} blobs, ${report.bytes} bytes checked: ${clean ? 'clean' : 're-import the affected images'}`);
    });

  image
    .command('gc')
    .description('remove blobs no image version references and no transfer served within the last 10 minutes')
    .option('--dry-run', 'only list what would be removed')
    .option('--min-age <minutes>', 'keep blobs imported less than this ago: an import may not have its image row yet', (text) => Number(text), 15)
    .option('--json', 'print JSON')
    .action(async (options, command: Command) => {
      const report = await withAdmin(command, (admin) =>
        // The daemon's transfers show up as the in-use marks the store reads.
        admin.store.gc(admin.inventory.images.referencedDigests(), { dryRun: options.dryRun, minAgeMs: options.minAge * 60_000 }),
        // On a store without its inventory every blob looks unreferenced.
        { create: false },
      );
      if (options.json) return printJson(report);
      for (const blob of report.removed) console.log(`${options.dryRun ? 'would remove' : 'removed'}  sha256:${blob.digest}  ${blob.size}`);
      console.log(
        `${options.dryRun ? 'would free' : 'freed'} ${report.freedBytes} bytes in ${report.removed.length} blobs; kept ${report.kept} (${report.keptBytes} bytes)`,
      );
    });

  return image;
}

/** Download progress on stderr: one rewritten line on a terminal, a line every few seconds otherwise. */
function importProgress(): { update: (received: number, total?: number) => void; done: () => void } {
  const tty = process.stderr.isTTY;
  const every = tty ? 200 : 5000;
  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
  let last = 0;
  let shown = false;
  return {
    update(received, total) {
      const now = Date.now();
      if (now - last < every && received !== total) return;
      last = now;
      shown = true;
      const text = total ? `${mib(received)} / ${mib(total)} MiB (${Math.floor((received / total) * 100)}%)` : `${mib(received)} MiB`;
      process.stderr.write(tty ? `\rdownloaded ${text}` : `downloaded ${text}\n`);
    },
    done() {
      if (shown && tty) process.stderr.write('\n');
      shown = false;
    },
  };
}
