// Shared by the images-*.test.ts files: temp directories, store inspection, running system tools.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export async function tempDir(t: { after(fn: () => Promise<void>): void }, prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), `rb-images-${prefix}-`));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Every file under the store root, relative, sorted: what "nothing stored" is checked against. */
export async function storeFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => !entry.isDirectory())
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)))
    .sort();
}

/** Runs a system tool, feeding `input` on stdin; rejects on a non-zero exit with its stderr. */
export function run(command: string, args: string[], options: { input?: Buffer; cwd?: string } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${Buffer.concat(err).toString()}`));
    });
    child.stdin.on('error', () => undefined); // a tool that stops reading early (cpio at TRAILER!!!)
    child.stdin.end(options.input);
  });
}

/**
 * An HTTP server on 127.0.0.1 that trickles `totalBytes` (64 KiB every 5 ms) so an import is
 * still streaming when a test kills it; closed after the test. Resolves with the URL.
 */
export async function slowServer(t: { after(fn: () => Promise<void>): void }, totalBytes: number): Promise<string> {
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  const server = createServer((_req, res) => {
    res.setHeader('content-length', totalBytes);
    const timer = setInterval(() => res.write(chunk), 5);
    res.on('close', () => clearInterval(timer));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/image`;
}
