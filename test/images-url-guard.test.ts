/**
 * The address classes API URL imports refuse. Only the guard function is asked about addresses
 * off this host; downloads are tried against loopback only.
 */
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { test } from 'node:test';
import { BlobStore } from '../server/images/blob-store.js';
import { fetchToStore } from '../server/images/fetch.js';
import { addressGuard } from '../server/images/url-guard.js';
import { storeFiles, tempDir } from './helpers/images-fixtures.js';

test('refuses loopback, link-local, unspecified and own addresses, in IPv4, IPv6 and mapped forms', () => {
  const guard = addressGuard({ allowNetworks: [], serverAddress: '10.9.9.9' });
  for (const address of ['127.0.0.1', '127.5.6.7', '0.0.0.0', '169.254.169.254', '::1', '::', 'fe80::1', '::ffff:127.0.0.1', '10.9.9.9', '::ffff:10.9.9.9']) {
    assert.ok(guard(address), `${address} must be refused`);
  }
  const own = Object.values(networkInterfaces()).flat().map((entry) => entry!.address.replace(/%.*$/, ''));
  for (const address of own) assert.ok(guard(address), `own address ${address} must be refused`);
  for (const address of ['10.0.0.5', '192.168.1.20', '203.0.113.7', '2001:db8::7']) assert.equal(guard(address), undefined, address);
});

test('allowUrlNetworks exempts exactly the networks named', () => {
  const guard = addressGuard({ allowNetworks: ['127.0.0.2/32', '169.254.10.0/24'], serverAddress: '10.9.9.9' });
  assert.equal(guard('127.0.0.2'), undefined);
  assert.equal(guard('::ffff:127.0.0.2'), undefined);
  assert.equal(guard('169.254.10.20'), undefined);
  assert.ok(guard('127.0.0.1'));
  assert.ok(guard('169.254.169.254'));
});

test('a refused download stores nothing and names the address', async (t) => {
  const root = await tempDir(t, 'guard');
  const store = new BlobStore(root);
  await store.init();
  const guard = addressGuard({ allowNetworks: [], serverAddress: '10.9.9.9' });
  for (const url of ['http://127.0.0.1:9/k', 'http://[::1]:9/k', 'https://localhost:9/k']) {
    await assert.rejects(fetchToStore(store, url, { maxBytes: 100, timeoutMs: 5000, refuseAddress: guard }), {
      code: 'RB_FETCH_FORBIDDEN',
      message: /refused to connect to .*(127\.0\.0\.1|::1) is a loopback/,
    });
  }
  assert.deepEqual(await storeFiles(root), []);
});
