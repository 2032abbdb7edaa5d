/**
 * The admin API of a daemon that lives inside a network namespace: the test process cannot reach
 * the namespace's addresses, so each call runs curl inside it. Same shape as fixtures.ts `api()`.
 */
import { execFile } from 'node:child_process';
import type { RunningDaemon } from './daemon.js';

export function nsApi(ns: string, daemon: RunningDaemon, method: string, url: string, body?: unknown): Promise<{ status: number; json: (Record<string, unknown> & unknown[]) | undefined }> {
  const args = ['netns', 'exec', ns, 'curl', '-sS', '--max-time', '20', '-X', method, '-w', '\n%{http_code}'];
  args.push('-H', `authorization: Bearer ${daemon.adminToken}`);
  if (body !== undefined) args.push('-H', 'content-type: application/json', '--data-binary', JSON.stringify(body));
  args.push(`${daemon.httpUrl}/api/v1${url}`);
  return new Promise((resolve, reject) => {
    execFile('ip', args, { encoding: 'utf8', timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`curl ${method} ${url} in ${ns} failed: ${stderr || error.message}`));
      const cut = stdout.lastIndexOf('\n');
      const text = stdout.slice(0, cut);
      resolve({ status: Number(stdout.slice(cut + 1)), json: text ? JSON.parse(text) : undefined });
    });
  });
}

/** Fetches a URL inside the namespace; resolves with the raw bytes. */
export function nsGet(ns: string, url: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile('ip', ['netns', 'exec', ns, 'curl', '-sSf', '--max-time', '20', url], { encoding: 'buffer', timeout: 30_000, maxBuffer: 256 << 20 }, (error, stdout, stderr) =>
      error ? reject(new Error(`curl ${url} in ${ns} failed: ${stderr.toString() || error.message}`)) : resolve(stdout),
    );
  });
}
