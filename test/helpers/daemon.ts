import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const mainJs = path.join(repoRoot, 'dist/server/main.js');
/** Drawn per run: a token written in the repository is public, and the daemon refuses those. */
export const ADMIN_TOKEN = randomBytes(24).toString('hex');

export interface RunningDaemon {
  pid: number;
  configFile: string;
  dataDir: string;
  /** Temp dir holding the config and (unless overridden) the data dir; removed by stop(). */
  dir: string;
  httpUrl: string;
  tftpPort: number;
  dhcpPort?: number;
  proxyPort?: number;
  adminToken: string;
  child: ChildProcess;
  /** Sends the signal and waits for exit; resolves with the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  kill(): void;
  output(): string;
}

type Raw = Record<string, unknown>;

function merge(base: Raw, over: Raw): Raw {
  const out: Raw = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] =
      value && typeof value === 'object' && !Array.isArray(value) && current && typeof current === 'object'
        ? merge(current as Raw, value as Raw)
        : value;
  }
  return out;
}

export function testConfig(dir: string, overrides: Raw = {}): Raw {
  return merge(
    {
      serverAddress: '127.0.0.1',
      dataDir: path.join(dir, 'data'),
      log: { level: 'debug' },
      http: { address: '127.0.0.1', port: 0, adminToken: ADMIN_TOKEN },
      tftp: { address: '127.0.0.1', port: 0 },
      dhcp: { enabled: false },
      // The fixtures (fakeImageFiles, firmware sets) are written under the temp dir.
      images: { importRoots: [tmpdir()] },
    },
    overrides,
  );
}

const READY_TIMEOUT_MS = 20_000;

/**
 * Starts `rackboot serve` as a child process (inside `ip netns exec <netns>` when given) on a
 * temp config and waits for its `ready` log line, which carries the bound ports.
 */
export async function startDaemon(
  options: {
    config?: Raw;
    netns?: string;
    dir?: string;
    keepDir?: boolean;
    /** Runs the daemon as this user and group id, owner of its dir: root reads every file, so EACCES needs another user. */
    uid?: number;
  } = {},
): Promise<RunningDaemon> {
  const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), 'rackboot-test-'));
  const config = testConfig(dir, options.config);
  const configFile = path.join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const node = [process.execPath, mainJs];
  if (options.uid !== undefined) execFileSync('chown', ['-R', `${options.uid}:${options.uid}`, dir]);
  const command = options.netns
    ? ['ip', ['netns', 'exec', options.netns, ...node]]
    : options.uid !== undefined
      ? ['setpriv', [`--reuid=${options.uid}`, `--regid=${options.uid}`, '--clear-groups', ...node]]
      : [node[0], node.slice(1)];
  const child = spawn(command[0] as string, [...(command[1] as string[]), 'serve', '--config', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const removeDir = () => {
    if (!options.keepDir && !options.dir) rmSync(dir, { recursive: true, force: true });
  };
  const ready = await new Promise<Raw>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`daemon not ready after ${READY_TIMEOUT_MS} ms:\n${log}`)), READY_TIMEOUT_MS);
    let pending = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        if (!line.includes('"msg":"ready"')) continue;
        clearTimeout(timer);
        resolve(JSON.parse(line) as Raw);
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`daemon exited with ${code} before ready:\n${log}`));
    });
  }).catch((error: unknown) => {
    child.kill('SIGKILL');
    removeDir();
    throw error;
  });
  const ports = ready['ports'] as { http: number; tftp: number; dhcp?: number; proxy?: number };
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const code = await exited;
    removeDir();
    return code;
  };
  return {
    pid: child.pid!,
    configFile,
    dataDir: config['dataDir'] as string,
    dir,
    httpUrl: ready['http'] as string,
    tftpPort: ports.tftp,
    ...(ports.dhcp !== undefined && { dhcpPort: ports.dhcp }),
    ...(ports.proxy !== undefined && { proxyPort: ports.proxy }),
    adminToken: ADMIN_TOKEN,
    child,
    stop,
    kill: () => child.kill('SIGKILL'),
    output: () => log,
  };
}

/** Runs the CLI against a config file (and in `env`, default this process's); resolves with exit code and output. */
export function runCli(
  args: string[],
  configFile?: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [mainJs, ...(configFile ? ['--config', configFile] : []), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('close', (code) => resolve({ code, stdout, stderr })); // after the pipes are drained, unlike 'exit'
  });
}
