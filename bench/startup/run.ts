/**
 * Start-to-ready time (not a test): from spawning `rackboot serve` to its `ready` log line, with
 * HTTP and TFTP bound. "cold" starts on an empty data dir (creates and migrates the database),
 * "warm" restarts on the data dir the cold start left. The daemon inherits this process's CPU
 * (run.sh starts it with taskset -c 0).
 * Usage: node dist/bench/startup/run.js [--runs N]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startDaemon } from '../../test/helpers/daemon.js';

const runsIndex = process.argv.indexOf('--runs');
const RUNS = runsIndex > 0 ? Number(process.argv[runsIndex + 1]) : 7;
const TARGET_MS = 1000;

async function timedStart(dir: string): Promise<number> {
  const started = performance.now();
  const daemon = await startDaemon({ dir, config: { log: { level: 'info' } } });
  const ms = performance.now() - started;
  await daemon.stop();
  return ms;
}

function summary(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return { min: sorted[0]!, median: sorted[Math.floor(sorted.length / 2)]!, max: sorted[sorted.length - 1]! };
}

async function main(): Promise<void> {
  const cold: number[] = [];
  const warm: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const dir = mkdtempSync(path.join(tmpdir(), 'rbt-bench-startup-'));
    try {
      cold.push(await timedStart(dir));
      warm.push(await timedStart(dir));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const rows = (
    [
      ['cold (new database)', summary(cold)],
      ['warm (existing database)', summary(warm)],
    ] as const
  ).map(([name, s]) => `| ${name} | ${s.min.toFixed(0)} | **${s.median.toFixed(0)}** | ${s.max.toFixed(0)} |`);
  const worst = Math.max(summary(cold).median, summary(warm).median);
  console.log(`## Start-to-ready time

Spawn of \`node dist/server/main.js serve\` to its \`ready\` log line (HTTP + TFTP bound, DHCP off),
${RUNS} runs each, pinned to CPU 0 (taskset -c 0, inherited).

| start | min ms | median ms | max ms |
|---|---:|---:|---:|
${rows.join('\n')}

- slowest median vs target < ${TARGET_MS} ms: ${worst < TARGET_MS ? 'meets target' : 'ABOVE TARGET'} (${(worst / TARGET_MS).toFixed(2)} of the budget)
`);
}

await main();
