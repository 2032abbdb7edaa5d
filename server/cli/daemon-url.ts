import type { Config } from '../config/types.js';

/**
 * Where the CLI reaches the running daemon: --url, else http.publicUrl, else http.address and
 * port (a wildcard address is reached over loopback). Port 0 (ephemeral) cannot be guessed.
 */
export function daemonUrl(config: Config, given?: string): string {
  if (given) return given.replace(/\/+$/, '');
  if (config.http.publicUrl) return config.http.publicUrl.replace(/\/+$/, '');
  if (config.http.port === 0) {
    throw Object.assign(new Error('http.port is 0 (ephemeral) in the config: pass the daemon URL with --url'), { code: 'RB_DAEMON_URL' });
  }
  const host = config.http.address === '0.0.0.0' ? '127.0.0.1' : config.http.address;
  return `http://${host}:${config.http.port}`;
}
