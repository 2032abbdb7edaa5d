import type { Command } from 'commander';
import { commandConfig, configPath } from './context.js';
import { loadConfig } from '../config/load.js';
import { startDaemon } from '../daemon.js';
import { createLogger } from '../log.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the daemon: HTTP, TFTP and (when enabled) DHCP')
    .action(async (_options, command: Command) => {
      const config = commandConfig(command);
      const log = createLogger(config.log.level);
      process.on('uncaughtException', (error) => {
        log.fatal({ err: error }, 'uncaught exception; exiting');
        process.exit(70);
      });
      process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'unhandled promise rejection'));
      let daemon;
      try {
        daemon = await startDaemon(config, log);
      } catch (error) {
        log.fatal({ code: (error as { code?: string }).code }, (error as Error).message);
        process.exitCode = 1;
        return;
      }
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'shutting down: finishing in-flight work');
        await daemon.close();
        log.info('stopped');
      };
      process.once('SIGTERM', () => void stop('SIGTERM'));
      process.once('SIGINT', () => void stop('SIGINT'));
      // Listeners and the database stay; what can change live is the log level and the default image.
      process.on('SIGHUP', () => {
        try {
          const fresh = loadConfig(configPath(command));
          log.level = fresh.log.level;
          daemon.config.defaultImage = fresh.defaultImage;
          log.info({ defaultImage: fresh.defaultImage, level: fresh.log.level }, 'config reloaded (listener and DHCP changes need a restart)');
        } catch (error) {
          log.error((error as Error).message + ' (kept the running config)');
        }
      });
    });
}
