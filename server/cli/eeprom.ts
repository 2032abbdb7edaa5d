import { Command } from 'commander';
import { withAdmin } from './context.js';
import { isoTime, output, printJson } from './output.js';
import {
  addEepromImage,
  eepromDrift,
  eepromNodeView,
  getEepromRule,
  parseEepromTarget,
  removeEepromImage,
  removeEepromRule,
  setEepromRule,
} from '../admin/eeprom.js';

const by = () => `cli:${process.env['USER'] ?? 'unknown'}`;

function parseSettings(pairs: string[]): Record<string, string> {
  return Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf('=');
      if (at < 1) throw new Error(`setting: "${pair}" is not KEY=VALUE`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

const TARGET = 'node (MAC or Pi serial) or label:key=value';

export function registerEepromCommands(program: Command): Command {
  const eeprom = program.command('eeprom').description('bootloader EEPROM fleet: images, settings per node or label, drift');
  const image = eeprom.command('image').description('bootloader images (pieeprom-*.bin) the updates are built from');

  image
    .command('add')
    .description('store a pieeprom-*.bin (from rpi-eeprom); its name defaults to the file name without .bin')
    .argument('<file>')
    .option('--name <name>')
    .option('--json', 'print JSON')
    .action(async (file: string, options, command: Command) => {
      const added = await withAdmin(command, (admin) => addEepromImage(admin, file, { ...(options.name && { name: options.name }), by: by() }));
      if (options.json) return printJson(added);
      console.log(`added bootloader image ${added.name} (build ${added.buildTs ?? 'unknown'}, version ${added.version ?? 'unknown'})`);
    });

  image
    .command('ls')
    .option('--json', 'print JSON')
    .action(async (options, command: Command) => {
      const rows = await withAdmin(command, (admin) =>
        admin.inventory.eeprom.images().map((entry) => ({ ...entry, added: isoTime(entry.createdAt) })),
      );
      output(options.json, rows, ['name', 'size', 'buildTs', 'version', 'added']);
    });

  image
    .command('rm')
    .argument('<name>')
    .action(async (name: string, _options, command: Command) => {
      await withAdmin(command, (admin) => removeEepromImage(admin, name));
      console.log(`removed bootloader image ${name}`);
    });

  eeprom
    .command('set')
    .description('set bootloader settings (merged into what the target has) and optionally its image')
    .argument('<target>', TARGET)
    .argument('[settings...]', 'KEY=VALUE, e.g. BOOT_ORDER=0xf21 TFTP_FILE_TIMEOUT=60000')
    .option('--image <name>', 'bootloader image to build the update from')
    .option('--unset <key...>', 'settings to remove')
    .option('--json', 'print JSON')
    .action(async (text: string, pairs: string[], options, command: Command) => {
      const saved = await withAdmin(command, (admin) => {
        const target = parseEepromTarget(text);
        const current = safeRule(() => getEepromRule(admin, target));
        const settings = { ...current?.settings, ...parseSettings(pairs) };
        for (const key of options.unset ?? []) delete settings[key];
        return setEepromRule(admin, target, { image: options.image ?? current?.image ?? null, settings }, by());
      });
      if (options.json) return printJson(saved);
      console.log(`${text}: image ${saved.image ?? '(from labels)'}, ${Object.keys(saved.settings).length} setting(s)`);
    });

  eeprom
    .command('show')
    .description("a node's own settings, what applies after its labels, what it fetched and reports; or a label's settings")
    .argument('<target>', TARGET)
    .action(async (text: string, _options, command: Command) => {
      printJson(
        await withAdmin(command, (admin) => {
          const target = parseEepromTarget(text);
          return 'label' in target ? (getEepromRule(admin, target) ?? null) : eepromNodeView(admin, target.node);
        }),
      );
    });

  eeprom
    .command('clear')
    .description("remove a node's or label's bootloader settings")
    .argument('<target>', TARGET)
    .action(async (text: string, _options, command: Command) => {
      await withAdmin(command, (admin) => removeEepromRule(admin, parseEepromTarget(text)));
      console.log(`cleared eeprom settings of ${text}`);
    });

  eeprom
    .command('drift')
    .description('nodes whose bootloader differs from what is assigned (not yet updated, other config or build)')
    .option('--json', 'print JSON')
    .action(async (options, command: Command) => {
      const drifts = await withAdmin(command, (admin) => eepromDrift(admin));
      if (options.json) return printJson(drifts);
      output(false, drifts.map((drift) => ({ ...drift, reasons: drift.reasons.join('; ') })), ['node', 'image', 'reasons']);
    });
  return eeprom;
}

/** A node not known yet has no rule: `set` creates it. */
function safeRule<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (error) {
    if ((error as { code?: string }).code === 'RB_NODE_NOT_FOUND') return undefined;
    throw error;
  }
}
