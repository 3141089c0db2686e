// Package-group origin controls for real cargo: the dependency-confusion scenario. A stand-in
// "public" sparse registry serves corp-thing 9.9.9 (the attacker's version) and pub-other 2.0.0;
// the group /cargo//corp-thing$ blocks EXTERNAL_UPSTREAM and allows PUBLISH only to `internal`.
// cargo publish to `internal` works, to `main` is refused (403 naming the group); cargo build
// through `main` (upstreams: internal, cargo-store) gets the internal 1.0.0, never the public
// 9.9.9 (whose .crate is never fetched), while pub-other still comes from the stand-in.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { makeTempDir } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { loadSdk, sdkClient } from './lib/aws.mjs';
import { request } from './lib/http.mjs';
import { Cargo, StandinCargoRegistry, cargoAvailable, writeCrate, writeApp, lockedVersions, packageCrate, indexPath }
  from './lib/cargo.mjs';

const sdk = loadSdk();
const skip = !cargoAvailable() ? 'cargo is not installed (~/.cargo/bin/cargo)'
  : !sdk ? '@aws-sdk/client-codeartifact is not installed (scripts/setup.sh --test installs it)' : false;
const domain = 'local';
const GROUP = '/cargo//corp-thing$';

let work;
let standin;
let arca;
let cargo;
let client;

function registryUrl(repo) {
  return `${arca.baseUrl}/${domain}/cargo/${repo}/`;
}

function useRepo(repo) {
  cargo.reset();
  cargo.configure({ registries: { arca: registryUrl(repo) }, replaceWith: 'arca', tokens: { arca: 'unused-placeholder' } });
}

before(async () => {
  if (skip) return;
  work = makeTempDir('cargo-pg-work');
  standin = new StandinCargoRegistry({ label: 'public stand-in' });
  await standin.start();
  cargo = new Cargo({ label: 'cargo-pg' });
  cargo.configure({ registries: { standin: standin.url }, replaceWith: 'standin' });
  for (const [name, version] of [['corp-thing', '9.9.9'], ['pub-other', '2.0.0']]) {
    const dir = writeCrate(path.join(work, 'public'), { name, version });
    standin.add({ name, version, crate: await packageCrate(cargo, dir, { name, version }) });
  }
  arca = await startArca({
    label: 'cargo-pg',
    config: {
      external_connections: { 'public:crates-io': { url: standin.url } },
      domains: [{
        name: domain,
        repositories: [
          { name: 'internal' },
          { name: 'cargo-store', external_connection: 'public:crates-io' },
          { name: 'main', upstreams: ['internal', 'cargo-store'] },
        ],
      }],
    },
  });
  client = sdkClient(sdk, arca);
  await client.send(new sdk.CreatePackageGroupCommand({ domain, packageGroup: GROUP }));
  const r = await client.send(new sdk.UpdatePackageGroupOriginConfigurationCommand({
    domain, packageGroup: GROUP,
    restrictions: { EXTERNAL_UPSTREAM: 'BLOCK', PUBLISH: 'ALLOW_SPECIFIC_REPOSITORIES' },
    addAllowedRepositories: [{ originRestrictionType: 'PUBLISH', repositoryName: 'internal' }],
  }));
  assert.equal(r.packageGroup.originConfiguration.restrictions.EXTERNAL_UPSTREAM.mode, 'BLOCK');
});

after(async () => {
  if (arca) await arca.stop();
  if (standin) await standin.stop();
});

test('cargo publish to internal works, to main is refused by the group', { skip, timeout: 60_000 }, async () => {
  useRepo('internal');
  const dir = writeCrate(path.join(work, 'internal'), { name: 'corp-thing', version: '1.0.0' });
  await cargo.ok(['publish', '--registry', 'arca', '--no-verify', '--allow-dirty'], { cwd: dir });

  useRepo('main');
  const other = writeCrate(path.join(work, 'main'), { name: 'corp-thing', version: '1.0.1' });
  const refused = await cargo.run(['publish', '--registry', 'arca', '--no-verify', '--allow-dirty'], { cwd: other });
  assert.notEqual(refused.code, 0, 'cargo publish to main must fail');
  assert.match(refused.stderr, /403/, refused.stderr);
  assert.match(refused.stderr, /\/cargo\/\/corp-thing\$/, `the error names the package group:\n${refused.stderr}`);
});

test('cargo build through main gets the internal version, never the public one', { skip, timeout: 90_000 }, async () => {
  const index = await request(registryUrl('main') + indexPath('corp-thing'));
  assert.equal(index.status, 200);
  const versions = index.body.toString().trim().split('\n').map((l) => JSON.parse(l).vers);
  assert.deepEqual(versions, ['1.0.0']);

  useRepo('main');
  const app = writeApp(path.join(work, 'app'), { 'corp-thing': '>=1', 'pub-other': '2' });
  const r = await cargo.ok(['run', '--quiet'], { cwd: app });
  assert.match(r.stdout, /corp-thing 1\.0\.0/);
  assert.match(r.stdout, /pub-other 2\.0\.0/);
  assert.deepEqual(lockedVersions(app)['corp-thing'], ['1.0.0']);
  assert.ok(!standin.requests.some((p) => p.includes('corp-thing-9.9.9')), 'the public .crate was never fetched');
  assert.ok(standin.requests.some((p) => p.includes('pub-other-2.0.0.crate')));
  // Asked for directly, the public version is not there either.
  const dl = await request(registryUrl('main') + 'api/v1/crates/corp-thing/9.9.9/download');
  assert.equal(dl.status, 404);
  assert.match(JSON.parse(dl.body.toString()).errors[0].detail, /EXTERNAL_UPSTREAM origin control of package group \/cargo\/\/corp-thing\$/);
});
