/** Runs one replayed Pi bootloader (pi-client.ts) inside the lab's client namespace and returns its transcript. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Lab } from './netns.js';
import type { ReplayOptions, Transcript } from './pi-client.js';

const PI_CLIENT = fileURLToPath(new URL('./pi-client.js', import.meta.url));

export function runPiClient(lab: Lab, options: ReplayOptions): Promise<Transcript> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, RACKBOOT_PI_CLIENT: JSON.stringify(options) };
    execFile('ip', ['netns', 'exec', lab.client, process.execPath, PI_CLIENT], { env, timeout: 90_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`pi-client failed: ${stderr || error.message}`)) : resolve(JSON.parse(stdout) as Transcript),
    );
  });
}
