/**
 * A TFTP storm of real clients (curl tftp://, atftp, tftp-hpa `tftp`, taken in turn) fetching
 * files at once, optionally from inside a network namespace. Each client has a hard time limit,
 * and every result says what the client wrote and printed, so a failure is readable.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from './daemon.js';
import { sha256 } from './fixtures.js';

export type TftpClientTool = 'curl' | 'atftp' | 'tftp-hpa';
export const CLIENT_TOOLS: readonly TftpClientTool[] = ['curl', 'atftp', 'tftp-hpa'];
/** What curl asks for when it negotiates; every other transfer runs at RFC 1350's 512. */
const CURL_BLKSIZE = 1468;

export interface StormFile {
  name: string;
  sha256: string;
  size: number;
}

export interface StormResult {
  client: number;
  tool: TftpClientTool;
  file: StormFile;
  /** The block size the transfer ran at. */
  blksize: number;
  /** Exit code; null when our time limit killed it. */
  code: number | null;
  timedOut: boolean;
  /** sha256 of what the client wrote, or undefined when it wrote nothing. */
  sha256?: string;
  output: string;
  seconds: number;
}

/** Writes one random file per entry of `sizes` into `dir` and returns their names and hashes. */
export function writeStormFiles(dir: string, sizes: number[]): StormFile[] {
  mkdirSync(dir, { recursive: true });
  return sizes.map((size, index) => {
    const data = randomBytes(size);
    const name = `storm-${index}.bin`;
    writeFileSync(path.join(dir, name), data);
    return { name, sha256: sha256(data), size };
  });
}

/**
 * A temp assetsDir for the daemon: the shipped templates, an empty ipxe/, and random firmware
 * files of the given sizes (what the storm fetches).
 */
export function stormAssets(sizes: number[]): { dir: string; files: StormFile[] } {
  const dir = mkdtempSync(path.join(tmpdir(), 'rbt-assets-'));
  cpSync(path.join(repoRoot, 'boot-assets/templates'), path.join(dir, 'templates'), { recursive: true });
  mkdirSync(path.join(dir, 'ipxe'));
  return { dir, files: writeStormFiles(path.join(dir, 'firmware'), sizes) };
}

/**
 * The client's command line. curl asks for blksize 1468 and tsize, and also sends a `timeout`,
 * which the server honours (RFC 2349): --connect-timeout 3 makes that 1 s, its minimum, so a
 * lost packet costs curl a second. atftp sends no options: it aborts on a repeated OACK
 * ("unexpected OACK"), which is what the server sends when the client's ACK 0 is lost.
 * tftp-hpa 5.2 cannot send options. Without `negotiate`, curl sends none either (plain RFC 1350,
 * 512-byte blocks): curl 7.88 takes any OACK as a new start, so a duplicated OACK that arrives
 * mid-transfer makes it ACK block 0 and wait for block 1 forever, whatever the server does.
 */
function commandFor(tool: TftpClientTool, negotiate: boolean, host: string, port: number, remote: string, local: string): string[] {
  switch (tool) {
    case 'curl': {
      const options = negotiate ? ['--tftp-blksize', String(CURL_BLKSIZE)] : ['--tftp-no-options'];
      return ['curl', '-sS', '--connect-timeout', '3', ...options, '-o', local, `tftp://${host}:${port}/${remote}`];
    }
    case 'atftp':
      return ['atftp', '--tftp-timeout', '1', '-g', '-r', remote, '-l', local, host, String(port)];
    case 'tftp-hpa':
      return ['tftp', '-m', 'octet', host, String(port), '-c', 'get', remote, local];
  }
}

export interface StormOptions {
  host: string;
  port: number;
  files: StormFile[];
  clients: number;
  /** Runs the clients inside this namespace. */
  netns?: string;
  /** Per-client hard limit. */
  timeoutMs: number;
  tools?: readonly TftpClientTool[];
  /** Whether curl negotiates options (blksize 1468); default true. */
  negotiate?: boolean;
  /** Called once every client has started (e.g. to signal the server mid-storm). */
  onStarted?: () => void;
}

function runClient(argv: string[], netns: string | undefined, timeoutMs: number) {
  const [command, ...args] = netns ? ['ip', 'netns', 'exec', netns, ...argv] : argv;
  const child = spawn(command!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  // 'close', not 'exit': only 'close' comes after the pipes are drained, so no output is lost.
  return new Promise<{ code: number | null; timedOut: boolean; output: string }>((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, timedOut, output });
    }),
  );
}

/** Starts every client at once and waits for all of them (each bounded by timeoutMs). */
export async function runStorm(options: StormOptions): Promise<StormResult[]> {
  const tools = options.tools ?? CLIENT_TOOLS;
  const outDir = mkdtempSync(path.join(tmpdir(), 'rbt-storm-'));
  try {
    const runs = Array.from({ length: options.clients }, async (_, client) => {
      const tool = tools[client % tools.length]!;
      const file = options.files[client % options.files.length]!;
      const local = path.join(outDir, `client-${client}.bin`);
      const started = performance.now();
      const negotiate = options.negotiate ?? true;
      const run = await runClient(commandFor(tool, negotiate, options.host, options.port, file.name, local), options.netns, options.timeoutMs);
      let written: Buffer | undefined;
      try {
        written = readFileSync(local);
      } catch {
        written = undefined;
      }
      const blksize = tool === 'curl' && negotiate ? CURL_BLKSIZE : 512;
      const result: StormResult = { client, tool, file, blksize, ...run, seconds: (performance.now() - started) / 1000 };
      if (written) result.sha256 = sha256(written);
      return result;
    });
    options.onStarted?.();
    return await Promise.all(runs);
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

/** One line per client that did not get its file intact, for assertion messages. */
export function describeFailures(results: StormResult[]): string {
  return results
    .filter((result) => result.code !== 0 || result.sha256 !== result.file.sha256)
    .map((r) => `client ${r.client} (${r.tool}, ${r.file.name}): exit ${r.code}${r.timedOut ? ' (timed out)' : ''}, sha ${r.sha256 ?? 'none'}: ${r.output.trim()}`)
    .join('\n');
}
