import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { repoRoot } from './helpers/daemon.js';

/** The README's first command: `npm start` on the shipped config.example.json. */
describe('npm start and npx rackboot', () => {
  it('npx rackboot --help lists the commands', async () => {
    const child = spawn('npx', ['--no-install', 'rackboot', '--help'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    assert.equal(await new Promise((resolve) => child.once('exit', resolve)), 0);
    for (const command of ['serve', 'image', 'node', 'events']) assert.match(stdout, new RegExp(`^  ${command}\\b`, 'm'));
  });

  it('runs the daemon on the embedded default and serves /healthz on port 8080', async () => {
    const child = spawn('npm', ['start'], { cwd: repoRoot, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      let body: unknown;
      for (let attempt = 0; attempt < 100 && body === undefined; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        body = await request('http://127.0.0.1:8080/healthz')
          .then((response) => response.body.json())
          .catch(() => undefined);
      }
      assert.deepEqual(body, { status: 'ok' }, output);
      // HTTP answers before TFTP is up; `ready` follows once every listener is.
      for (let attempt = 0; attempt < 50 && !output.includes('"msg":"ready"'); attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.match(output, /"msg":"ready"/);
      assert.doesNotMatch(output, /"dhcp"/, 'DHCP stays off on the embedded default');
    } finally {
      process.kill(-child.pid!, 'SIGTERM');
      await exited;
    }
  });
});
