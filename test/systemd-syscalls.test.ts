import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { mainJs, testConfig } from './helpers/daemon.js';
import { getText } from './helpers/fixtures.js';

const run = promisify(execFile);
/**
 * Outside @system-service, and refused with EPERM by the unit (SystemCallErrorNumber=EPERM):
 * V8 asks for memory protection keys and works on without them, as on CPUs that have none.
 */
const REFUSED_AND_TOLERATED = new Set(['pkey_alloc']);
const READY_TIMEOUT_MS = 20_000;

/** The syscalls of a systemd filter set, with its nested @sets expanded. */
async function filterSet(name: string, seen = new Set<string>()): Promise<Set<string>> {
  const { stdout } = await run('systemd-analyze', ['syscall-filter', name]);
  const entries = stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .slice(1); // the set's own name
  for (const entry of entries) {
    if (!entry.startsWith('@')) seen.add(entry);
    else if (entry !== name) await filterSet(entry, seen);
  }
  return seen;
}

/**
 * The unit's SystemCallFilter cannot be tried without a running systemd; instead the daemon runs under
 * strace through start-up, HTTP, TFTP and SIGTERM, and every syscall it made must be in the filter.
 */
describe('systemd unit: SystemCallFilter=@system-service', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rbt-syscalls-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('allows every syscall the daemon makes while it serves and stops', async () => {
    const configFile = path.join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify(testConfig(dir)));
    const trace = path.join(dir, 'trace');
    const strace = spawn('strace', ['-f', '-qq', '-o', trace, process.execPath, mainJs, 'serve', '--config', configFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise((resolve) => strace.once('exit', resolve));
    let log = '';
    let ready: { pid: number; http: string; ports: { tftp: number } } | undefined;
    try {
      const daemon = await new Promise<{ pid: number; http: string; ports: { tftp: number } }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`daemon not ready after ${READY_TIMEOUT_MS} ms:\n${log}`)), READY_TIMEOUT_MS);
        strace.stdout.on('data', (chunk: Buffer) => {
          log += chunk.toString();
          const line = log.split('\n').find((entry) => entry.includes('"msg":"ready"'));
          if (!line) return;
          clearTimeout(timer);
          resolve(JSON.parse(line));
        });
        strace.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
      });
      ready = daemon;
      assert.equal((await getText(`${daemon.http}/healthz`)).status, 200);
      assert.match((await getText(`${daemon.http}/chain?mac=52:54:00:00:00:09`)).text, /^#!ipxe/);
      assert.match((await getText(`${daemon.http}/`)).text, /<!doctype html>/);
      await run('curl', ['-sS', '--max-time', '10', '-o', '/dev/null', `tftp://127.0.0.1:${daemon.ports.tftp}/1a2b3c4d/start4.elf`]).catch(() => undefined);
    } finally {
      // The daemon's own pid (pino logs it): SIGTERM to strace would end the trace before the shutdown.
      if (ready) process.kill(ready.pid, 'SIGTERM');
      else strace.kill('SIGKILL');
      await exited;
    }
    const used = new Set([...readFileSync(trace, 'utf8').matchAll(/^\d+ +([a-z0-9_]+)\(/gm)].map((match) => match[1]!));
    assert.ok(used.has('sendmsg') && used.has('accept4'), 'the trace saw UDP and TCP traffic');
    const allowed = await filterSet('@system-service');
    const outside = [...used].filter((call) => !allowed.has(call) && !REFUSED_AND_TOLERATED.has(call));
    assert.deepEqual(outside, [], `syscalls outside @system-service: ${outside.join(', ')}`);
  });
});
