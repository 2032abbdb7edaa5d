#!/usr/bin/env node
import { Command } from 'commander';
import { registerDoctor } from './cli/doctor.js';
import { registerEepromCommands } from './cli/eeprom.js';
import { registerEventCommands } from './cli/events.js';
import { registerImageCommands } from './cli/image.js';
import { registerNodeCommands } from './cli/node.js';
import { registerServe } from './cli/serve.js';
import { version } from './version.js';

const program = new Command()
  .name('rackboot')
  .description('Network boot server for racks of Raspberry Pis and iPXE machines')
  .version(version)
  .option('-c, --config <file>', 'config file (default: $RACKBOOT_CONFIG, else /etc/rackboot/config.json when it exists, else the shipped config.example.json)')
  .showHelpAfterError();

registerServe(program);
registerImageCommands(program);
registerNodeCommands(program);
registerEventCommands(program);
registerEepromCommands(program);
registerDoctor(program);

try {
  await program.parseAsync();
} catch (error) {
  const { code, message } = error as { code?: string; message: string };
  console.error(`rackboot: ${message}${code ? ` [${code}]` : ''}`);
  process.exitCode = code === 'RB_CONFIG' ? 78 : 1;
}
