/**
 * Server memory during a TFTP boot storm (not a test): 100 curl tftp:// clients fetch 4 MiB
 * files (blksize 1468) from the daemon at once on 127.0.0.1. The daemon is pinned to CPU 0; the
 * clients inherit this process's CPU (run.sh starts it on CPU 1). Reports the daemon's resident
 * memory: after ready, sampled during the storm, and the kernel's high-water mark (VmHWM).
 * Usage: node dist/bench/rss/run.js [--clients N]
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { startDaemon } from '../../test/helpers/daemon.js';
import { describeFailures, runStorm, stormAssets } from '../../test/helpers/lossy-storm.js';

const clientsIndex = process.argv.indexOf('--clients');
const CLIENTS = clientsIndex > 0 ? Number(process.argv[clientsIndex + 1]) : 100;
const FILE_BYTES = 4 * 1024 * 1024;
const SAMPLE_MS = 50;
const TARGET_MB = 150;

/** VmRSS and VmHWM of a process, in MB. */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)![1]);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

async function main(): Promise<void> {
  const assets = stormAssets(Array(8).fill(FILE_BYTES));
  // Every client comes from 127.0.0.1: the per-client cap must admit all of them.
  const daemon = await startDaemon({ config: { log: { level: 'info' }, assetsDir: assets.dir, tftp: { maxTransfersPerClient: CLIENTS } } });
  try {
    execFileSync('taskset', ['-a', '-p', '-c', '0', String(daemon.pid)], { stdio: 'ignore' });
    const idle = memory(daemon.pid);
    let sampled = idle.rss;
    const sampler = setInterval(() => (sampled = Math.max(sampled, memory(daemon.pid).rss)), SAMPLE_MS);
    const started = performance.now();
    const results = await runStorm({ host: '127.0.0.1', port: daemon.tftpPort, files: assets.files, clients: CLIENTS, timeoutMs: 180_000, tools: ['curl'] });
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const after = memory(daemon.pid);
    const failures = describeFailures(results);
    const ok = results.length - (failures ? failures.split('\n').length : 0);
    const mb = (value: number) => value.toFixed(1);
    console.log(`## Server RSS during a ${CLIENTS}-client TFTP storm

${CLIENTS} curl tftp:// clients at once (blksize 1468), ${FILE_BYTES / 1024 / 1024} MiB each (${(CLIENTS * FILE_BYTES) / 1024 / 1024} MiB in all),
daemon pinned to CPU 0, clients on CPU 1; memory from /proc/<pid>/status every ${SAMPLE_MS} ms.

| idle after ready | max sampled VmRSS | VmHWM (peak) | storm took | transfers intact |
|---:|---:|---:|---:|---:|
| ${mb(idle.rss)} MB | ${mb(sampled)} MB | **${mb(after.peak)} MB** | ${seconds.toFixed(1)} s | ${ok}/${CLIENTS} |

- peak RSS vs target < ${TARGET_MB} MB: ${after.peak < TARGET_MB ? 'meets target' : 'ABOVE TARGET'} (${(after.peak / TARGET_MB).toFixed(2)} of the budget)
${failures ? `- failed transfers:\n\n\`\`\`\n${failures}\n\`\`\`\n` : ''}`);
  } finally {
    await daemon.stop();
    rmSync(assets.dir, { recursive: true, force: true });
  }
}

await main();
