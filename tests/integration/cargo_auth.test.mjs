// Cargo with authentication required: with anonymous reads and writes off, config.json says
// "auth-required": true, so cargo sends its token (an arca token from GetAuthorizationToken, as
// the raw Authorization header) on index and download requests too; publish and build work with
// it; without a token, or with a forged one, cargo reports the 401.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { makeTempDir } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { request, getJson } from './lib/http.mjs';
import { Cargo, cargoAvailable, writeCrate, writeApp } from './lib/cargo.mjs';

const skip = cargoAvailable() ? false : 'cargo is not installed (~/.cargo/bin/cargo)';
const domain = 'local';

let work;
let arca;
let cargo;
let token;

function registryUrl(repo) {
  return `${arca.baseUrl}/${domain}/cargo/${repo}/`;
}

function useToken(t) {
  cargo.reset();
  cargo.configure({ registries: { arca: registryUrl('main') }, replaceWith: 'arca', tokens: t ? { arca: t } : {} });
}

before(async () => {
  if (skip) return;
  work = makeTempDir('cargo-auth-work');
  cargo = new Cargo({ label: 'cargo-auth' });
  arca = await startArca({
    label: 'cargo-auth',
    config: {
      auth: { anonymous_read: false, anonymous_write: false },
      domains: [{ name: domain, repositories: [{ name: 'main' }] }],
    },
  });
  // Unsigned from loopback (no access keys configured).
  const r = await request(arca.url(`/v1/authorization-token?domain=${domain}`), { method: 'POST' });
  assert.equal(r.status, 200, r.body.toString());
  token = JSON.parse(r.body.toString()).authorizationToken;
});

after(async () => {
  if (arca) await arca.stop();
});

test('config.json says auth-required; index requests without the token are refused', { skip, timeout: 30_000 }, async () => {
  const config = await getJson(registryUrl('main') + 'config.json', { headers: { authorization: token } });
  assert.equal(config.status, 200);
  assert.equal(config.json['auth-required'], true);
  const refused = await request(registryUrl('main') + 'config.json');
  assert.equal(refused.status, 401);
  assert.match(refused.headers['www-authenticate'], /^Cargo /);
  assert.match(JSON.parse(refused.body.toString()).errors[0].detail, /arca token/);
});

test('cargo publish and build with the token; without it cargo reports the 401', { skip, timeout: 120_000 }, async () => {
  useToken(token);
  const dir = writeCrate(path.join(work, 'crates'), { name: 'guarded-lib', version: '1.0.0' });
  await cargo.ok(['publish', '--registry', 'arca', '--no-verify', '--allow-dirty'], { cwd: dir });
  const app = writeApp(path.join(work, 'app'), { 'guarded-lib': '1' });
  const r = await cargo.ok(['run', '--quiet'], { cwd: app });
  assert.match(r.stdout, /guarded-lib 1\.0\.0/);

  useToken(null);
  writeApp(app, { 'guarded-lib': '1' });
  const refused = await cargo.run(['generate-lockfile'], { cwd: app });
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /401|token/i, refused.stderr);

  useToken('not-an-arca-token');
  const forged = await cargo.run(['generate-lockfile'], { cwd: app });
  assert.notEqual(forged.code, 0);
  assert.match(forged.stderr, /401/, forged.stderr);
  assert.match(forged.stderr, /token rejected for `arca`/, forged.stderr);
});
