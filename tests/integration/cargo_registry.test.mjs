// Cargo through arca with the real cargo: a stand-in sparse registry (crates made by `cargo
// package`, a templated `dl` on its own host) behind `public:crates-io`; `cargo build` resolves
// a few crates with dependencies between them through `main` (upstream: internal, whose
// upstream is cargo-store);
// `cargo publish` into `internal`, then a consumer built through `main`; `cargo yank` and
// `--undo`; a build with the upstream stopped (retention); list-package-versions with origins;
// and bad input: a wrong checksum from the upstream, malformed publish bodies, bad names and
// versions, traversal.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir } from './lib/harness.mjs';
import { startArca, sleep } from './lib/arca.mjs';
import { Aws, awsBin } from './lib/aws.mjs';
import { request, getJson } from './lib/http.mjs';
import { Cargo, StandinCargoRegistry, cargoAvailable, writeCrate, writeApp, lockedVersions, packageCrate, indexPath, sha256Hex }
  from './lib/cargo.mjs';

const skip = cargoAvailable() ? false : 'cargo is not installed (~/.cargo/bin/cargo)';
const domain = 'local';

let work;
let standin;
let arca;
let cargo;
let elsewhere; // a second index whose dl names another host

function registryUrl(repo) {
  return `${arca.baseUrl}/${domain}/cargo/${repo}/`;
}

// cargo configured with `arca` as the registry of repository `repo` and crates-io replaced by it.
function useRepo(repo, { fresh = true } = {}) {
  if (fresh) cargo.reset();
  cargo.configure({ registries: { arca: registryUrl(repo) }, replaceWith: 'arca', tokens: { arca: 'unused-placeholder' } });
}

function u32(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

// A `cargo publish` body sent as it is.
function rawPublish(repo, metadata, crate = Buffer.from('not really a crate')) {
  const json = Buffer.from(JSON.stringify(metadata));
  return request(registryUrl(repo) + 'api/v1/crates/new', { method: 'PUT',
    body: Buffer.concat([u32(json.length), json, u32(crate.length), crate]) });
}

before(async () => {
  if (skip) return;
  work = makeTempDir('cargo-work');
  standin = new StandinCargoRegistry();
  await standin.start();
  // Crates for the stand-in, packaged in dependency order with cargo pointed at the stand-in.
  cargo = new Cargo({ label: 'cargo' });
  cargo.configure({ registries: { standin: standin.url }, replaceWith: 'standin' });
  const make = async (name, version, deps = {}) => {
    const dir = writeCrate(path.join(work, 'upstream'), { name, version, deps });
    const crate = await packageCrate(cargo, dir, { name, version });
    standin.add({ name, version, crate, deps: Object.entries(deps).map(([n, req]) => ({ name: n, req })) });
    return crate;
  };
  await make('arca-leaf', '1.0.0');
  await make('arca-leaf', '1.1.0');
  await make('ab', '0.3.0');
  await make('arca-unfetched', '1.0.0');
  await make('arca_mid', '1.0.0', { 'arca-leaf': '^1.0', ab: '0.3' });
  // A crate whose index checksum does not match its bytes.
  const dir = writeCrate(path.join(work, 'upstream'), { name: 'badsum', version: '1.0.0' });
  const bytes = await packageCrate(cargo, dir, { name: 'badsum', version: '1.0.0' });
  standin.add({ name: 'badsum', version: '1.0.0', crate: bytes, cksum: sha256Hex(Buffer.from('other')) });

  elsewhere = new StandinCargoRegistry({ label: 'index with a foreign dl', dlHost: '127.0.0.2' });
  standin.crates.get('ab').forEach((e) => elsewhere.crates.set('ab', [e]));
  await elsewhere.start();

  arca = await startArca({
    label: 'cargo',
    config: {
      external_connections: {
        'public:crates-io': { url: standin.url, metadata_ttl_seconds: 1 },
        'foreign-dl': { url: elsewhere.url, format: 'cargo' },
      },
      domains: [{
        name: domain,
        repositories: [
          { name: 'cargo-store', external_connection: 'public:crates-io' },
          { name: 'internal', upstreams: ['cargo-store'] },
          { name: 'main', upstreams: ['internal'] },
          { name: 'foreign', external_connection: 'foreign-dl' },
        ],
      }],
    },
  });
});

after(async () => {
  if (arca) await arca.stop();
  if (standin) await standin.stop();
  if (elsewhere) await elsewhere.stop();
});

test('config.json, index files by the name-length layout, name spellings', { skip, timeout: 30_000 }, async () => {
  const config = await getJson(registryUrl('main') + 'config.json');
  assert.equal(config.status, 200);
  assert.equal(config.json.dl, registryUrl('main') + 'api/v1/crates');
  assert.equal(config.json.api, registryUrl('main').slice(0, -1));
  assert.equal(config.json['auth-required'], false);

  const r = await request(registryUrl('main') + indexPath('ab'));
  assert.equal(r.status, 200, r.body.toString());
  const lines = r.body.toString().trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.vers), ['0.3.0']);
  // The index asks for the spelling as published; another spelling is cargo's next guess.
  assert.equal((await request(registryUrl('main') + indexPath('arca-mid'))).status, 404);
  const mid = await request(registryUrl('main') + indexPath('arca_mid'));
  assert.equal(mid.status, 200);
  assert.equal(JSON.parse(mid.body.toString()).deps.length, 2);
  // A path outside the layout.
  const wrong = await request(registryUrl('main') + 'zz/zz/arca_mid');
  assert.equal(wrong.status, 404);
  assert.match(JSON.parse(wrong.body.toString()).errors[0].detail, /ar\/ca\/arca_mid/);
});

test('cargo build resolves crates with dependencies through arca', { skip, timeout: 120_000 }, async () => {
  useRepo('main');
  const app = writeApp(path.join(work, 'app1'), { arca_mid: '1', 'arca-leaf': '1' });
  const r = await cargo.ok(['run', '--quiet'], { cwd: app });
  assert.match(r.stdout, /arca_mid 1\.0\.0/);
  assert.match(r.stdout, /arca-leaf 1\.1\.0/);
  assert.deepEqual(lockedVersions(app)['arca-leaf'], ['1.1.0']);
  assert.deepEqual(lockedVersions(app).ab, ['0.3.0']);
  assert.ok(standin.requests.some((p) => p.startsWith('/files/ar/ca/arca-leaf-1.1.0.crate')), 'the dl template was followed');
});

test('cargo publish into internal, then a consumer built through main', { skip, timeout: 120_000 }, async () => {
  useRepo('internal');
  for (const version of ['0.1.0', '0.2.0']) {
    const dir = writeCrate(path.join(work, 'published'), { name: 'arca-own', version, deps: { 'arca-leaf': '^1.0' } });
    await cargo.ok(['publish', '--registry', 'arca', '--no-verify', '--allow-dirty'], { cwd: dir });
  }
  // A crate with an optional dependency behind a `dep:` feature (its index entry has
  // "features2" and "v": 2), used with the feature on.
  const feat = path.join(work, 'published', 'arca-feat');
  fs.mkdirSync(path.join(feat, 'src'), { recursive: true });
  fs.writeFileSync(path.join(feat, 'Cargo.toml'), '[package]\nname = "arca-feat"\nversion = "0.1.0"\n' +
    'edition = "2021"\ndescription = "features"\nlicense = "MIT"\n\n[dependencies]\n' +
    'arca-leaf = { version = "1", optional = true }\n\n[features]\nleaf = ["dep:arca-leaf"]\n');
  fs.writeFileSync(path.join(feat, 'src', 'lib.rs'),
    '#[cfg(feature = "leaf")]\npub fn version() -> &\'static str { arca_leaf::version() }\n');
  await cargo.ok(['publish', '--registry', 'arca', '--no-verify', '--allow-dirty'], { cwd: feat });
  const featIndex = JSON.parse((await request(registryUrl('internal') + indexPath('arca-feat'))).body.toString());
  assert.deepEqual(featIndex.features2, { leaf: ['dep:arca-leaf'] });
  assert.equal(featIndex.v, 2);
  const featApp = writeApp(path.join(work, 'app-feat'), {});
  fs.appendFileSync(path.join(featApp, 'Cargo.toml'), 'arca-feat = { version = "0.1", features = ["leaf"] }\n');
  fs.writeFileSync(path.join(featApp, 'src', 'main.rs'), 'fn main() { println!("{}", arca_feat::version()); }\n');
  const featRun = await cargo.ok(['run', '--quiet'], { cwd: featApp });
  assert.match(featRun.stdout, /arca-leaf 1\.1\.0/);

  // cargo looks at the index before it publishes; arca refuses on its own too, in cargo's
  // error form: the same version again, another spelling of a name, a version main gets from
  // its upstream (409).
  const again = await rawPublish('internal', { name: 'arca_own', vers: '0.3.0', deps: [] });
  assert.equal(again.status, 409);
  assert.match(JSON.parse(again.body.toString()).errors[0].detail, /already published as `arca-own`/);
  const same = await rawPublish('internal', { name: 'arca-own', vers: '0.1.0+build', deps: [] });
  assert.equal(same.status, 409);
  assert.match(JSON.parse(same.body.toString()).errors[0].detail, /already exists/);
  const conflict = await rawPublish('main', { name: 'arca-unfetched', vers: '1.0.0', deps: [] });
  assert.equal(conflict.status, 409);
  assert.match(JSON.parse(conflict.body.toString()).errors[0].detail, /Conflict: arca-unfetched 1\.0\.0 is available from/);
  // What main retained got the automatic origin configuration of ingested packages.
  const retained = await rawPublish('main', { name: 'arca-leaf', vers: '9.0.0', deps: [] });
  assert.equal(retained.status, 403);

  useRepo('main');
  // Search and owners as cargo asks for them.
  const found = await cargo.ok(['search', '--registry', 'arca', 'own']);
  assert.match(found.stdout, /^arca-own = "0\.2\.0"\s+# arca test crate/m, found.stdout);
  await cargo.ok(['owner', '--list', '--registry', 'arca', 'arca-own']);
  const add = await cargo.run(['owner', '--add', 'someone', '--registry', 'arca', 'arca-own']);
  assert.notEqual(add.code, 0);
  assert.match(add.stderr, /does not keep crate owners/, add.stderr);

  const app = writeApp(path.join(work, 'app2'), { 'arca-own': '0', arca_mid: '1' });
  const r = await cargo.ok(['run', '--quiet'], { cwd: app });
  assert.match(r.stdout, /arca-own 0\.2\.0/);
  assert.match(r.stdout, /arca_mid 1\.0\.0/);
});

test('cargo yank and --undo: a yanked version is not picked for a new lockfile', { skip, timeout: 120_000 }, async () => {
  useRepo('internal');
  await cargo.ok(['yank', '--registry', 'arca', 'arca-own@0.2.0']);
  const index = await request(registryUrl('internal') + indexPath('arca-own'));
  const lines = index.body.toString().trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => [l.vers, l.yanked]), [['0.1.0', false], ['0.2.0', true]]);
  // main retained 0.2.0 when it served it: its own copy keeps its status (as CodeArtifact's
  // retained versions do).
  const mainIndex = await request(registryUrl('main') + indexPath('arca-own'));
  assert.match(mainIndex.body.toString(), /"vers":"0\.2\.0".*"yanked":false/);

  const app = writeApp(path.join(work, 'app3'), { 'arca-own': '0' });
  let r = await cargo.ok(['run', '--quiet'], { cwd: app });
  assert.match(r.stdout, /arca-own 0\.1\.0/);
  // Still downloadable by exact version (a lockfile naming it).
  const dl = await request(registryUrl('internal') + 'api/v1/crates/arca-own/0.2.0/download');
  assert.equal(dl.status, 200);

  await cargo.ok(['yank', '--undo', '--registry', 'arca', 'arca-own@0.2.0']);
  writeApp(app, { 'arca-own': '0' });
  r = await cargo.ok(['run', '--quiet'], { cwd: app });
  assert.match(r.stdout, /arca-own 0\.2\.0/);
  const missing = await cargo.run(['yank', '--registry', 'arca', 'arca-own@7.0.0']);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /no version 7\.0\.0/);
});

test('bad input: wrong upstream checksum, malformed publish bodies, bad names, traversal', { skip, timeout: 60_000 }, async () => {
  const base = registryUrl('main');
  const bad = await request(base + 'api/v1/crates/badsum/1.0.0/download');
  assert.ok(bad.status === 502 || !bad.complete, `a wrong checksum is not served: ${bad.status} complete=${bad.complete}`);
  const again = await request(base + 'api/v1/crates/badsum/1.0.0/download');
  assert.ok(again.status === 502 || !again.complete, 'nothing was stored');
  const metrics = (await request(arca.url('/metrics'))).body.toString();
  assert.match(metrics, /arca_digest_mismatches_total [2-9]/);

  const detail = async (r) => JSON.parse(r.body.toString()).errors[0].detail;
  const put = (body) => request(base + 'api/v1/crates/new', { method: 'PUT', body, headers: { authorization: 'x' } });
  let r = await put(Buffer.from([1, 2]));
  assert.equal(r.status, 400);
  assert.match(await detail(r), /invalid publish request/);
  const json = Buffer.from(JSON.stringify({ name: '../evil', vers: '1.0.0', deps: [] }));
  const len = (n) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
  r = await put(Buffer.concat([len(json.length), json, len(3), Buffer.from('abc')]));
  assert.equal(r.status, 400);
  assert.match(await detail(r), /invalid crate name/);
  const badVersion = Buffer.from(JSON.stringify({ name: 'fine', vers: '1.0', deps: [] }));
  r = await put(Buffer.concat([len(badVersion.length), badVersion, len(3), Buffer.from('abc')]));
  assert.equal(r.status, 400);
  assert.match(await detail(r), /not a semantic version/);
  r = await put(Buffer.concat([len(badVersion.length), badVersion, len(99), Buffer.from('abc')]));
  assert.equal(r.status, 400);
  assert.match(await detail(r), /crate length/);

  r = await request(base + 'api/v1/crates/bad%20name/1.0.0/download');
  assert.equal(r.status, 400);
  assert.match(await detail(r), /invalid crate name/);
  r = await request(base + 'api/v1/crates/ab/1.x/download');
  assert.equal(r.status, 400);
  r = await request(base, { rawPath: `/${domain}/cargo/main/api/v1/crates/%2e%2e/1.0.0/download` });
  assert.equal(r.status, 400);
  r = await request(base, { rawPath: `/${domain}/cargo/main/api/v1/crates/ab/%2E%2E%2F1.0.0/download` });
  assert.equal(r.status, 400);
  // An index whose dl names a host the connection may not send arca to.
  r = await request(registryUrl('foreign') + 'api/v1/crates/ab/0.3.0/download');
  assert.equal(r.status, 502);
  assert.match(await detail(r), /127\.0\.0\.2:\d+ .*allowed_hosts/);
  assert.ok(!elsewhere.requests.some((p) => p.startsWith('/files/')));
  r = await request(base + 'api/v1/crates/nosuchcrate/1.0.0/download');
  assert.equal(r.status, 404);
  assert.match(await detail(r), /Not Found/);
});

test('the upstream stopped: builds from what was retained; list-package-versions shows origins', { skip, timeout: 120_000 }, async () => {
  // The upstream drops a crate it served: the repository owning the connection still lists
  // the version it ingested.
  standin.crates.delete('ab');
  await sleep(1200); // past the connection's metadata_ttl_seconds
  const gone = await request(`${standin.url}${indexPath('ab')}`);
  assert.equal(gone.status, 404);
  const kept = await request(registryUrl('cargo-store') + indexPath('ab'));
  assert.equal(kept.status, 200, kept.body.toString());
  assert.match(kept.body.toString(), /"vers":"0\.3\.0"/);
  await standin.stop();
  useRepo('main'); // a fresh CARGO_HOME: nothing cached by cargo
  const app = writeApp(path.join(work, 'app4'), { arca_mid: '1', 'arca-own': '0' });
  const r = await cargo.ok(['run', '--quiet'], { cwd: app });
  assert.match(r.stdout, /arca_mid 1\.0\.0/);
  assert.match(r.stdout, /arca-own 0\.2\.0/);
  assert.ok(fs.existsSync(path.join(app, 'Cargo.lock')));

  if (!awsBin()) return;
  const aws = new Aws(arca, { label: 'cargo-aws' });
  const leaf = await aws.ok(['list-package-versions', '--domain', domain, '--repository', 'main',
    '--format', 'cargo', '--package', 'arca-leaf']);
  assert.deepEqual(leaf.versions.map((v) => v.version), ['1.1.0']);
  assert.equal(leaf.versions[0].origin.originType, 'EXTERNAL');
  const store = await aws.ok(['list-package-versions', '--domain', domain, '--repository', 'cargo-store',
    '--format', 'cargo', '--package', 'arca-mid']);
  assert.deepEqual(store.versions.map((v) => v.version), ['1.0.0']);
  assert.equal(store.versions[0].origin.domainEntryPoint.externalConnectionName, 'public:crates-io');
  const own = await aws.ok(['list-package-versions', '--domain', domain, '--repository', 'internal',
    '--format', 'cargo', '--package', 'arca_own']);
  assert.deepEqual(own.versions.map((v) => [v.version, v.origin.originType]).sort(),
    [['0.1.0', 'INTERNAL'], ['0.2.0', 'INTERNAL']]);
  const deps = await aws.ok(['list-package-version-dependencies', '--domain', domain, '--repository', 'internal',
    '--format', 'cargo', '--package', 'arca-own', '--package-version', '0.2.0']);
  assert.deepEqual(deps.dependencies.map((d) => [d.package, d.dependencyType, d.versionRequirement]),
    [['arca-leaf', 'normal', '^1.0']]);
  const none = await aws.ok(['list-package-versions', '--domain', domain, '--repository', 'main',
    '--format', 'cargo', '--package', 'badsum']).catch(() => ({ versions: [] }));
  assert.deepEqual(none.versions ?? [], []);
});

test('the CodeArtifact API over cargo packages: status, copy, dispose, delete', { skip: skip || (!awsBin() && 'no aws CLI'), timeout: 60_000 }, async () => {
  const aws = new Aws(arca, { label: 'cargo-aws-ops' });
  const common = ['--domain', domain, '--format', 'cargo'];
  const listed = await aws.ok(['list-packages', ...common, '--repository', 'internal']);
  assert.ok(listed.packages.some((p) => p.package === 'arca-own'), JSON.stringify(listed));
  // Any spelling names the same package.
  const described = await aws.ok(['describe-package-version', ...common, '--repository', 'internal',
    '--package', 'ARCA_own', '--package-version', '0.1.0']);
  assert.equal(described.packageVersion.displayName, 'arca-own');
  assert.equal(described.packageVersion.status, 'Published');

  const lines = async (repo) => {
    const r = await request(registryUrl(repo) + indexPath('arca-own'));
    if (r.status !== 200) return r.status;
    return r.body.toString().trim().split('\n').map((l) => JSON.parse(l)).map((l) => [l.vers, l.yanked]);
  };
  await aws.ok(['update-package-versions-status', ...common, '--repository', 'internal', '--package', 'arca-own',
    '--versions', '0.1.0', '--target-status', 'Unlisted']);
  assert.deepEqual(await lines('internal'), [['0.1.0', true], ['0.2.0', false]]);
  await aws.ok(['update-package-versions-status', ...common, '--repository', 'internal', '--package', 'arca-own',
    '--versions', '0.1.0', '--target-status', 'Published']);
  assert.deepEqual(await lines('internal'), [['0.1.0', false], ['0.2.0', false]]);

  await aws.ok(['create-repository', '--domain', domain, '--repository', 'copied']);
  const copied = await aws.ok(['copy-package-versions', ...common, '--source-repository', 'internal',
    '--destination-repository', 'copied', '--package', 'arca-own', '--versions', '0.1.0']);
  assert.deepEqual(Object.keys(copied.successfulVersions), ['0.1.0']);
  assert.deepEqual(await lines('copied'), [['0.1.0', false]]);
  const dl = await request(registryUrl('copied') + 'api/v1/crates/arca-own/0.1.0/download');
  assert.equal(dl.status, 200);

  await aws.ok(['dispose-package-versions', ...common, '--repository', 'copied', '--package', 'arca-own',
    '--versions', '0.1.0']);
  assert.equal(await lines('copied'), 404);
  assert.equal((await request(registryUrl('copied') + 'api/v1/crates/arca-own/0.1.0/download')).status, 404);
  await aws.ok(['delete-package-versions', ...common, '--repository', 'copied', '--package', 'arca-own',
    '--versions', '0.1.0']);
  assert.equal(await lines('copied'), 404);
  const endpoint = await aws.ok(['get-repository-endpoint', '--domain', domain, '--repository', 'main', '--format', 'cargo']);
  assert.equal(endpoint.repositoryEndpoint, registryUrl('main'));
});
