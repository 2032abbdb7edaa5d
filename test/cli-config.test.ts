import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { mainJs, repoRoot, runCli, testConfig } from './helpers/daemon.js';
import { fakeImageFiles } from './helpers/fixtures.js';

const dir = mkdtempSync(path.join(tmpdir(), 'rbt-cli-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A config file of its own with its own dataDir (not created). */
function configIn(name: string): { file: string; dataDir: string } {
  const home = path.join(dir, name);
  mkdirSync(home);
  const file = path.join(home, 'config.json');
  writeFileSync(file, JSON.stringify(testConfig(home)));
  return { file, dataDir: path.join(home, 'data') };
}

/** The environment with only the config variables given: none of the caller's leaks into the choice. */
function env(vars: { RACKBOOT_CONFIG?: string; RACKBOOT_SYSTEM_CONFIG: string }, drop: string[] = []): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...process.env, ...vars };
  if (!vars.RACKBOOT_CONFIG) delete out['RACKBOOT_CONFIG'];
  for (const name of drop) delete out[name];
  return out;
}

const hasInventory = (dataDir: string) => existsSync(path.join(dataDir, 'rackboot.sqlite'));
const NOTE = /using the shipped example config/;

describe('which config a command uses: --config, RACKBOOT_CONFIG, the system config, the shipped example', () => {
  const flag = configIn('flag');
  const fromEnv = configIn('env');
  const system = configIn('system');
  const write = (vars: Parameters<typeof env>[0], configFile?: string) =>
    runCli(['node', 'set', '52:54:00:00:00:01', '--hostname', 'n1'], configFile, env(vars));

  it('--config wins over RACKBOOT_CONFIG and the system config', async () => {
    const result = await write({ RACKBOOT_CONFIG: fromEnv.file, RACKBOOT_SYSTEM_CONFIG: system.file }, flag.file);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual([hasInventory(flag.dataDir), hasInventory(fromEnv.dataDir), hasInventory(system.dataDir)], [true, false, false]);
    assert.doesNotMatch(result.stderr, NOTE);
  });

  it('RACKBOOT_CONFIG wins over the system config', async () => {
    const result = await write({ RACKBOOT_CONFIG: fromEnv.file, RACKBOOT_SYSTEM_CONFIG: system.file });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual([hasInventory(fromEnv.dataDir), hasInventory(system.dataDir)], [true, false]);
  });

  it('the system config (/etc/rackboot/config.json) is used when it exists', async () => {
    const result = await write({ RACKBOOT_SYSTEM_CONFIG: system.file });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(hasInventory(system.dataDir), true);
    assert.doesNotMatch(result.stderr, NOTE);
    const doctor = await runCli(['doctor', '--json'], undefined, env({ RACKBOOT_SYSTEM_CONFIG: system.file }));
    assert.equal((JSON.parse(doctor.stdout) as { config: string }).config, system.file);
  });

  it('without any, the shipped example is used and stderr names it and its dataDir', async () => {
    // --follow to a closed port: the config is chosen and announced, and no database is touched.
    const result = await runCli(
      ['events', '--follow', '--url', 'http://127.0.0.1:9', '--count', '1'],
      undefined,
      env({ RACKBOOT_SYSTEM_CONFIG: path.join(dir, 'no-such-system.json') }),
    );
    assert.equal(result.code, 1);
    const example = path.join(repoRoot, 'config.example.json');
    assert.ok(
      result.stderr.includes(`using the shipped example config ${example} (dataDir ${path.join(repoRoot, 'data')})`),
      result.stderr,
    );
    assert.match(result.stderr, /no --config, no RACKBOOT_CONFIG and no .*no-such-system\.json/);
  });
});

describe('commands that only read refuse to create an inventory', () => {
  const fresh = configIn('fresh');
  const { kernel } = fakeImageFiles(1000, 1000);
  const refusing: string[][] = [
    ['node', 'ls'],
    ['node', 'show', '52:54:00:00:00:02'],
    ['events', '52:54:00:00:00:02'],
    ['image', 'ls'],
    ['image', 'show', 'alpine'],
    ['image', 'verify'],
    ['image', 'gc'],
    ['image', 'rm', 'alpine'],
    ['node', 'assign', '52:54:00:00:00:02', 'alpine'],
    ['node', 'rollback', '52:54:00:00:00:02'],
  ];

  it('each exits 1 naming the dataDir and the fix, and leaves no dataDir behind', async () => {
    for (const args of refusing) {
      const result = await runCli(args, fresh.file);
      assert.equal(result.code, 1, `${args.join(' ')}: ${result.stderr}`);
      assert.ok(result.stderr.includes(`dataDir: ${fresh.dataDir} holds no inventory`), `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, /point --config or RACKBOOT_CONFIG at the daemon's config.*\[RB_NO_INVENTORY\]/);
    }
    assert.equal(existsSync(fresh.dataDir), false);
  });

  it('doctor reports it as an inventory warning with the fix, and still checks the rest', async () => {
    const result = await runCli(['doctor', '--json'], fresh.file);
    assert.equal(result.code, 1);
    const checks = (JSON.parse(result.stdout) as { checks: { id: string; status: string; message: string; fix?: string }[] }).checks;
    const inventory = checks.find((check) => check.id === 'inventory');
    assert.equal(inventory?.status, 'warn');
    assert.ok(inventory.message.includes(fresh.dataDir), inventory.message);
    assert.match(inventory.fix ?? '', /start the daemon or add an image or node/);
    assert.deepEqual(checks.map((check) => check.id).slice(0, 2), ['config', 'clock']);
    assert.equal(existsSync(fresh.dataDir), false);
  });

  it('a command that adds something creates it; then the reading commands work', async () => {
    const added = await runCli(['image', 'add', '--name', 'alpine', '--kernel', kernel], fresh.file);
    assert.equal(added.code, 0, added.stderr);
    const listed = await runCli(['image', 'ls', '--json'], fresh.file);
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal((JSON.parse(listed.stdout) as unknown[]).length, 1);
  });
});

describe('who a CLI change is recorded as', () => {
  const config = configIn('actor');
  const { kernel } = fakeImageFiles(1000, 1000);
  const assignedBy = async (mac: string) => {
    const shown = await runCli(['node', 'show', mac, '--json'], config.file);
    assert.equal(shown.code, 0, shown.stderr);
    return (JSON.parse(shown.stdout) as { assignments: { createdBy: string }[] }).assignments[0]?.createdBy;
  };

  it('is the login name from the user database when $USER and $LOGNAME are unset', async () => {
    assert.equal((await runCli(['image', 'add', '--name', 'alpine', '--kernel', kernel], config.file)).code, 0);
    const result = await runCli(['node', 'assign', '52:54:00:00:00:03', 'alpine'], config.file, env({ RACKBOOT_SYSTEM_CONFIG: '/nonexistent' }, ['USER', 'LOGNAME']));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await assignedBy('52:54:00:00:00:03'), `cli:${userInfo().username}`);
  });

  it('is uid<n> for a uid with no passwd entry and no $USER', async () => {
    const uid = 4242; // no passwd entry on a test machine: getpwuid fails, as for `docker run --user 4242`
    assert.throws(() => execFileSync('id', ['-nu', String(uid)], { stdio: 'pipe' }));
    execFileSync('chown', ['-R', `${uid}:${uid}`, path.dirname(config.file)]);
    execFileSync('chmod', ['o+x', dir]); // mkdtemp made it 0700: let the other uid through to its own folder
    const child = spawn('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', process.execPath, mainJs, '--config', config.file, 'node', 'assign', '52:54:00:00:00:04', 'alpine'], {
      env: env({ RACKBOOT_SYSTEM_CONFIG: '/nonexistent' }, ['USER', 'LOGNAME']),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    assert.equal(await new Promise((resolve) => child.once('close', resolve)), 0, stderr);
    assert.equal(await assignedBy('52:54:00:00:00:04'), `cli:uid${uid}`);
  });
});
