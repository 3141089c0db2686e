// RubyGems through arca with the real gem (3.3) and bundler (2.3): a stand-in rubygems.org
// serves the compact index and .gem files built by `gem build` (app_gem depends on dep_gem ~>
// 1.0); gem install and bundle install go through arca (ruby-store owns the connection, main
// takes it as an upstream); both repositories retain what was served, the stand-in is stopped
// and a fresh client installs again from what arca kept; list-package-versions shows the
// retained versions with their origin.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { makeTempDir } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { request } from './lib/http.mjs';
import { loadSdk, sdkClient } from './lib/aws.mjs';
import { rubyAvailable, buildGem, StandinGemServer, RubyClient, describe } from './lib/ruby.mjs';

const skip = rubyAvailable() ? false : 'ruby, gem and bundle are not installed (scripts/setup.sh --test)';
const sdk = loadSdk();

let standin;
let arca;
let source;

before(async () => {
  if (skip) return;
  const work = makeTempDir('ruby-install-work');
  const gems = [
    await buildGem(work, { name: 'dep_gem', version: '1.0.0' }),
    await buildGem(work, { name: 'dep_gem', version: '1.2.0' }),
    await buildGem(work, { name: 'dep_gem', version: '2.0.0' }),
    await buildGem(work, { name: 'app_gem', version: '0.5.0', deps: [['dep_gem', '~> 1.0']], devDeps: [['rake', '>= 10']], requiredRuby: '>= 2.5' }),
  ];
  standin = new StandinGemServer();
  await standin.addGems(gems);
  await standin.start();
  arca = await startArca({
    label: 'ruby-install',
    config: {
      external_connections: { 'public:ruby-gems-org': { url: standin.url, metadata_ttl_seconds: 300 } },
      domains: [{
        name: 'local',
        repositories: [
          { name: 'ruby-store', external_connection: 'public:ruby-gems-org' },
          { name: 'main', upstreams: ['ruby-store'] },
        ],
      }],
    },
  });
  source = arca.url('/local/ruby/main/');
});

after(async () => {
  await arca?.stop();
  await standin?.stop();
});

test('gem install resolves dependencies through arca', { skip }, async () => {
  const client = new RubyClient({ label: 'ruby-gem-install' });
  const r = await client.gem(['install', '--no-document', '--clear-sources', '--source', source, 'app_gem']);
  assert.equal(r.code, 0, describe(r));
  assert.deepEqual(client.installed(), ['app_gem-0.5.0', 'dep_gem-1.2.0']);
  assert.ok(standin.count(/^\/gems\/app_gem-0\.5\.0\.gem$/) === 1, 'the gem was fetched from the stand-in once');
  assert.equal(standin.count(/^\/gems\/dep_gem-2\.0\.0\.gem$/), 0, 'an unused version is never fetched');
});

test('the compact index as bundler reads it', { skip }, async () => {
  const info = await request(arca.url('/local/ruby/main/info/dep_gem'));
  assert.equal(info.status, 200);
  const body = info.body.toString();
  assert.match(body, /^---\n1\.0\.0 \|checksum:[0-9a-f]{64}\n1\.2\.0 \|checksum:[0-9a-f]{64}\n2\.0\.0 \|checksum:[0-9a-f]{64}\n$/);
  const etag = info.headers.etag;
  const again = await request(arca.url('/local/ruby/main/info/dep_gem'), { headers: { 'if-none-match': etag } });
  assert.equal(again.status, 304);
  const tail = await request(arca.url('/local/ruby/main/info/dep_gem'), { headers: { range: `bytes=${body.length - 1}-` } });
  assert.equal(tail.status, 206);
  assert.equal(tail.body.toString(), '\n');
  const app = (await request(arca.url('/local/ruby/main/info/app_gem'))).body.toString();
  assert.match(app, /^0\.5\.0 dep_gem:~> 1\.0\|checksum:[0-9a-f]{64},ruby:>= 2\.5$/m);
  const versions = (await request(arca.url('/local/ruby/main/versions'))).body.toString();
  assert.match(versions, /^created_at: .*\n---\n/);
  assert.match(versions, /^app_gem 0\.5\.0 [0-9a-f]{32}$/m, 'served versions are listed');
  const missing = await request(arca.url('/local/ruby/main/info/no_such_gem'));
  assert.equal(missing.status, 404);
  assert.match(missing.body.toString(), /could not be found/);
});

test('bundle install through arca', { skip }, async () => {
  const client = new RubyClient({ label: 'ruby-bundle' });
  const dir = client.project('app', source, [['app_gem', '0.5.0']]);
  const r = await client.bundle(['install'], { cwd: dir });
  assert.equal(r.code, 0, describe(r));
  assert.match(r.stdout, /Installing dep_gem 1\.2\.0|Using dep_gem 1\.2\.0/);
  const lock = (await import('node:fs')).readFileSync(path.join(dir, 'Gemfile.lock'), 'utf8');
  assert.match(lock, /app_gem \(0\.5\.0\)\n\s+dep_gem \(~> 1\.0\)/);
  assert.match(lock, /remote: http:\/\/127\.0\.0\.1:\d+\/local\/ruby\/main\//);
  // A second project with bundler's compact-index cache: conditional and Range requests.
  const second = client.project('second', source, [['dep_gem', '~> 1.0']]);
  const again = await client.bundle(['install'], { cwd: second });
  assert.equal(again.code, 0, describe(again));
  assert.match(again.stdout, /Using dep_gem 1\.2\.0/);
});

test('gem search and gem list --remote read the legacy spec lists', { skip }, async () => {
  const client = new RubyClient({ label: 'ruby-search' });
  const r = await client.gem(['search', '--remote', '--clear-sources', '--source', source, '_gem']);
  assert.equal(r.code, 0, describe(r));
  assert.match(r.stdout, /^app_gem \(0\.5\.0\)$/m);
  assert.match(r.stdout, /^dep_gem \(1\.2\.0\)$/m, 'stored versions are listed');
});

test('installs again with the upstream stopped (retention) and the API lists what was kept', { skip }, async () => {
  await standin.stop();
  const client = new RubyClient({ label: 'ruby-offline' });
  const r = await client.gem(['install', '--no-document', '--clear-sources', '--source', source, 'app_gem']);
  assert.equal(r.code, 0, describe(r));
  assert.deepEqual(client.installed(), ['app_gem-0.5.0', 'dep_gem-1.2.0']);
  if (!sdk) return;
  const ca = sdkClient(sdk, arca);
  for (const repository of ['main', 'ruby-store']) {
    const out = await ca.send(new sdk.ListPackageVersionsCommand({
      domain: 'local', repository, format: 'ruby', package: 'dep_gem',
    }));
    assert.deepEqual(out.versions.map((v) => [v.version, v.status, v.origin?.originType]),
      [['1.2.0', 'Published', 'EXTERNAL']], repository);
  }
  const deps = await ca.send(new sdk.ListPackageVersionDependenciesCommand({
    domain: 'local', repository: 'main', format: 'ruby', package: 'app_gem', packageVersion: '0.5.0',
  }));
  assert.deepEqual(deps.dependencies.map((d) => [d.package, d.dependencyType, d.versionRequirement]),
    [['dep_gem', 'runtime', '~> 1.0']]);
});
