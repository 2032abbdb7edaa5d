import { Command } from 'commander';
import { withAdmin } from './context.js';
import { isoTime, output, printJson } from './output.js';
import { imageWarnings, registerImage, removeImage } from '../admin/images.js';
import type { ImageRecord } from '../inventory/images.js';

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
    .requiredOption('--kernel <path>', 'kernel file (Image, vmlinuz)')
    .option('--initrd <path>', 'initramfs (cpio, cpio.gz)')
    .option('--arch <arch>', 'arm64, arm32, x86_64, i386, riscv64 or any', 'arm64')
    .option('--cmdline <text>', 'kernel command line template (default: boot-assets/templates)')
    .option('--config-txt <text>', 'Pi config.txt template (default: boot-assets/templates/config.txt)')
    .option('--dtb <path...>', 'Pi device tree files')
    .option('--notes <text>', 'free text')
    .option('--json', 'print JSON')
    .action(async (options, command: Command) => {
      const result = await withAdmin(command, (admin) =>
        registerImage(
          admin,
          {
            name: options.name,
            kernel: options.kernel,
            arch: options.arch,
            ...(options.initrd && { initrd: options.initrd }),
            ...(options.cmdline && { cmdline: options.cmdline }),
            ...(options.configTxt && { configTxt: options.configTxt }),
            ...(options.dtb && { dtbs: options.dtb }),
            ...(options.notes && { notes: options.notes }),
          },
          `cli:${process.env['USER'] ?? 'unknown'}`,
        ),
      );
      if (options.json) return printJson(result);
      const { name, version } = result.image;
      console.log(result.created ? `added ${name} version ${version}` : `${name} version ${version} already has this content`);
      for (const warning of result.warnings) console.error(`warning: ${warning}`);
    });

  image
    .command('ls')
    .description('list images and their versions')
    .option('--json', 'print JSON')
    .action(async (options, command: Command) => {
      const images = await withAdmin(command, (admin) => admin.inventory.images.list());
      if (options.json) return printJson(images.map((entry) => ({ ...entry, warnings: imageWarnings(entry) })));
      output(false, images.map(imageRow), ['name', 'version', 'arch', 'kernel', 'initrd', 'created', 'warnings']);
    });

  image
    .command('rm')
    .description('remove an image (all versions, or one)')
    .argument('<name>')
    .option('--version <n>', 'only this version', (text) => Number.parseInt(text, 10))
    .action(async (name: string, options, command: Command) => {
      const removed = await withAdmin(command, (admin) => removeImage(admin, name, options.version));
      console.log(`removed ${removed} image row(s) of ${name}; \`rackboot image gc\` frees their blobs`);
    });
  return image;
}
