import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import type { RunningDaemon } from './daemon.js';

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Random stand-ins for a kernel and an initramfs: the server never looks inside them. */
export function fakeImageFiles(kernelBytes = 100_000, initrdBytes = 300_000) {
  const dir = mkdtempSync(path.join(tmpdir(), 'rackboot-image-'));
  const kernel = path.join(dir, 'vmlinuz');
  const initrd = path.join(dir, 'initrd.img');
  const kernelData = randomBytes(kernelBytes);
  const initrdData = randomBytes(initrdBytes);
  writeFileSync(kernel, kernelData);
  writeFileSync(initrd, initrdData);
  return { dir, kernel, initrd, kernelData, initrdData };
}

/** A JSON call to the admin API; `token: null` sends none. */
export async function api(daemon: RunningDaemon, method: string, url: string, body?: unknown, token: string | null = daemon.adminToken) {
  const response = await request(`${daemon.httpUrl}/api/v1${url}`, {
    method: method as 'GET',
    headers: {
      ...(body !== undefined && { 'content-type': 'application/json' }),
      ...(token !== null && { authorization: `Bearer ${token}` }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await response.body.text();
  return { status: response.statusCode, json: text ? (JSON.parse(text) as Record<string, unknown> & unknown[]) : undefined };
}

export async function getText(url: string, headers: Record<string, string> = {}) {
  const response = await request(url, { headers });
  return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
}

export async function getBytes(url: string, headers: Record<string, string> = {}) {
  const response = await request(url, { headers });
  return { status: response.statusCode, headers: response.headers, data: Buffer.from(await response.body.arrayBuffer()) };
}
