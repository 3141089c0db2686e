// gem push and gem yank (gem 3.3) into arca with an arca token as the API key (access keys
// configured, so nothing else is accepted): a pushed gem whose dependency comes from the
// stand-in rubygems.org installs through the downstream repository `main` (upstreams: internal,
// ruby-store); a repush of the same version and a push of a version the upstream already has are
// refused as rubygems.org refuses them; `aws codeartifact list-package-versions --format ruby`
// shows pushed and retained versions with their origin; gem yank makes the version Unlisted and
// takes it out of the repository's index (main keeps the copy it retained, as CodeArtifact does);
// get-repository-endpoint, copy-package-versions (platform gems too) and Archived work for ruby.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { makeTempDir } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { request } from './lib/http.mjs';
import { Aws, awsBin, authConfig } from './lib/aws.mjs';
import { rubyAvailable, buildGem, StandinGemServer, RubyClient, describe } from './lib/ruby.mjs';

const skip = !rubyAvailable() ? 'ruby, gem and bundle are not installed (scripts/setup.sh --test)'
  : !awsBin() ? 'the aws CLI is not installed (scripts/setup.sh --test)' : false;

let standin;
let arca;
let aws;
let token;
let work;
let pushed;
const host = (repo) => arca.url(`/local/ruby/${repo}`);

before(async () => {
  if (skip) return;
  work = makeTempDir('ruby-publish-work');
  standin = new StandinGemServer();
  await standin.addGems([
    await buildGem(work, { name: 'base_gem', version: '1.0.0' }),
    await buildGem(work, { name: 'base_gem', version: '1.4.0' }),
  ]);
  await standin.start();
  arca = await startArca({
    label: 'ruby-publish',
    config: {
      auth: authConfig(),
      external_connections: { 'public:ruby-gems-org': { url: standin.url } },
      domains: [{
        name: 'local',
        repositories: [
          { name: 'internal' },
          { name: 'ruby-store', external_connection: 'public:ruby-gems-org' },
          { name: 'main', upstreams: ['internal', 'ruby-store'] },
          // Never installs base_gem (a repository retaining it gets publish=BLOCK for it).
          { name: 'team', upstreams: ['ruby-store'] },
        ],
      }],
    },
  });
  aws = new Aws(arca, { label: 'ruby-publish-aws' });
  token = (await aws.ok(['get-authorization-token', '--domain', 'local'])).authorizationToken;
  pushed = await buildGem(work, {
    name: 'corp_tool', version: '0.1.0', deps: [['base_gem', '~> 1.0']], devDeps: [['rake', '>= 10']],
  });
});

after(async () => {
  await arca?.stop();
  await standin?.stop();
});

const push = (client, file, repo, key = token) =>
  client.gem(['push', file, '--host', host(repo)], { env: { GEM_HOST_API_KEY: key } });

test('gem push needs an arca token', { skip }, async () => {
  const client = new RubyClient({ label: 'ruby-push-bad-key' });
  const r = await push(client, pushed, 'internal', 'not-a-token');
  assert.notEqual(r.code, 0, describe(r));
  assert.match(r.stdout + r.stderr, /not an arca authorization token/);
});

test('gem push, then install from the downstream repository', { skip }, async () => {
  const client = new RubyClient({ label: 'ruby-push' });
  const r = await push(client, pushed, 'internal');
  assert.equal(r.code, 0, describe(r));
  assert.match(r.stdout, /Successfully registered gem: corp_tool \(0\.1\.0\)/);

  const info = (await request(arca.url('/local/ruby/main/info/corp_tool'))).body.toString();
  const sha = (await import('node:crypto')).createHash('sha256').update(fs.readFileSync(pushed)).digest('hex');
  assert.equal(info, `---\n0.1.0 base_gem:~> 1.0|checksum:${sha}\n`);

  const user = new RubyClient({ label: 'ruby-push-install' });
  const i = await user.gem(['install', '--no-document', '--clear-sources', '--source', host('main') + '/', 'corp_tool']);
  assert.equal(i.code, 0, describe(i));
  assert.deepEqual(user.installed(), ['base_gem-1.4.0', 'corp_tool-0.1.0']);
  // The installed spec is the pushed gem's own.
  const spec = fs.readFileSync(`${user.gemHome}/specifications/corp_tool-0.1.0.gemspec`, 'utf8');
  assert.match(spec, /arca test gem corp_tool/);
});

test('a platform gem next to the ruby one: gem install picks the one for this machine', { skip }, async () => {
  const src = makeTempDir('ruby-platform-src');
  const client = new RubyClient({ label: 'ruby-platform' });
  for (const platform of [undefined, 'x86_64-linux']) {
    const file = await buildGem(src, { name: 'native_gem', version: '2.0.0', platform });
    const r = await push(client, file, 'internal');
    assert.equal(r.code, 0, describe(r));
  }
  const info = (await request(arca.url('/local/ruby/main/info/native_gem'))).body.toString();
  assert.match(info, /^---\n2\.0\.0 \|checksum:[0-9a-f]{64}\n2\.0\.0-x86_64-linux \|checksum:[0-9a-f]{64}\n$/);
  const r = await client.gem(['install', '--no-document', '--clear-sources', '--source', host('main') + '/',
    'native_gem', '--platform', 'x86_64-linux']);
  assert.equal(r.code, 0, describe(r));
  assert.deepEqual(client.installed(), ['native_gem-2.0.0-x86_64-linux']);
});

test('a repush and a version the upstream has are refused', { skip }, async () => {
  const client = new RubyClient({ label: 'ruby-repush' });
  const again = await push(client, pushed, 'internal');
  assert.equal(again.code, 0, 'pushing identical bytes again is accepted');
  const other = await buildGem(makeTempDir('ruby-repush-src'), { name: 'corp_tool', version: '0.1.0', deps: [['base_gem', '>= 1']] });
  const r = await push(client, other, 'internal');
  assert.notEqual(r.code, 0);
  assert.match(r.stdout + r.stderr, /Repushing of gem versions is not allowed/);

  const shadow = await buildGem(makeTempDir('ruby-shadow-src'), { name: 'base_gem', version: '1.4.0' });
  const c = await push(client, shadow, 'team');
  assert.notEqual(c.code, 0);
  assert.match(c.stdout + c.stderr, /Conflict: base_gem 1\.4\.0 is available from/);

  // gem checks a file before sending it; what reaches arca unchecked is refused as
  // rubygems.org refuses it (422, plain text).
  const junk = await request(arca.url('/local/ruby/internal/api/v1/gems'), {
    method: 'POST', body: 'this is not a gem', headers: { authorization: token, 'content-type': 'application/octet-stream' },
  });
  assert.equal(junk.status, 422);
  assert.match(junk.body.toString(), /cannot process this gem[\s\S]*not a gem/);
});

test('list-package-versions shows pushed and retained versions with their origin', { skip }, async () => {
  const internal = await aws.ok(['list-package-versions', '--domain', 'local', '--repository', 'internal',
    '--format', 'ruby', '--package', 'corp_tool']);
  assert.deepEqual(internal.versions.map((v) => [v.version, v.status, v.origin.originType]),
    [['0.1.0', 'Published', 'INTERNAL']]);
  const retained = await aws.ok(['list-package-versions', '--domain', 'local', '--repository', 'main',
    '--format', 'ruby', '--package', 'base_gem']);
  assert.deepEqual(retained.versions.map((v) => [v.version, v.status, v.origin.originType]),
    [['1.4.0', 'Published', 'EXTERNAL']]);
  const deps = await aws.ok(['list-package-version-dependencies', '--domain', 'local', '--repository', 'internal',
    '--format', 'ruby', '--package', 'corp_tool', '--package-version', '0.1.0']);
  assert.deepEqual(deps.dependencies.map((d) => [d.package, d.dependencyType, d.versionRequirement]).sort(),
    [['base_gem', 'runtime', '~> 1.0'], ['rake', 'development', '>= 10']]);
  const pkgs = await aws.ok(['list-packages', '--domain', 'local', '--repository', 'main', '--format', 'ruby']);
  assert.deepEqual(pkgs.packages.map((p) => p.package).sort(), ['base_gem', 'corp_tool', 'native_gem']);
  // One version, one asset per platform.
  const assets = await aws.ok(['list-package-version-assets', '--domain', 'local', '--repository', 'internal',
    '--format', 'ruby', '--package', 'native_gem', '--package-version', '2.0.0']);
  assert.deepEqual(assets.assets.map((a) => a.name).sort(), ['native_gem-2.0.0-x86_64-linux.gem', 'native_gem-2.0.0.gem']);
});

test('get-repository-endpoint and copy-package-versions work for ruby', { skip }, async () => {
  const ep = await aws.ok(['get-repository-endpoint', '--domain', 'local', '--repository', 'team', '--format', 'ruby']);
  assert.equal(ep.repositoryEndpoint, arca.url('/local/ruby/team/'));
  const copied = await aws.ok(['copy-package-versions', '--domain', 'local', '--source-repository', 'internal',
    '--destination-repository', 'team', '--format', 'ruby', '--package', 'native_gem', '--versions', '2.0.0']);
  assert.deepEqual(Object.keys(copied.successfulVersions), ['2.0.0']);
  const info = (await request(arca.url('/local/ruby/team/info/native_gem'))).body.toString();
  assert.match(info, /^2\.0\.0-x86_64-linux \|/m);
  const gem = await request(arca.url('/local/ruby/team/gems/native_gem-2.0.0.gem'));
  assert.equal(gem.status, 200);
});

test('an archived version leaves the index even though the upstream lists it', { skip }, async () => {
  const status = (to) => aws.ok(['update-package-versions-status', '--domain', 'local', '--repository', 'main',
    '--format', 'ruby', '--package', 'base_gem', '--versions', '1.4.0', '--target-status', to]);
  await status('Archived');
  const info = (await request(arca.url('/local/ruby/main/info/base_gem'))).body.toString();
  assert.match(info, /^1\.0\.0 /m);
  assert.doesNotMatch(info, /^1\.4\.0 /m);
  assert.equal((await request(arca.url('/local/ruby/main/gems/base_gem-1.4.0.gem'))).status, 404);
  await status('Published');
  assert.match((await request(arca.url('/local/ruby/main/info/base_gem'))).body.toString(), /^1\.4\.0 /m);
  assert.equal((await request(arca.url('/local/ruby/main/gems/base_gem-1.4.0.gem'))).status, 200);
});

test('gem yank makes the version Unlisted and takes it out of the index', { skip }, async () => {
  const client = new RubyClient({ label: 'ruby-yank' });
  const r = await client.gem(['yank', 'corp_tool', '-v', '0.1.0', '--host', host('internal')],
    { env: { GEM_HOST_API_KEY: token } });
  assert.equal(r.code, 0, describe(r));
  assert.match(r.stdout, /Successfully deleted gem: corp_tool \(0\.1\.0\)/);
  const v = await aws.ok(['describe-package-version', '--domain', 'local', '--repository', 'internal',
    '--format', 'ruby', '--package', 'corp_tool', '--package-version', '0.1.0']);
  assert.equal(v.packageVersion.status, 'Unlisted');
  const info = await request(arca.url('/local/ruby/internal/info/corp_tool'));
  assert.equal(info.status, 404);
  // main retained the version when it served it: its copy is its own (and still Published).
  assert.equal((await request(arca.url('/local/ruby/main/info/corp_tool'))).status, 200);
  const again = await client.gem(['yank', 'corp_tool', '-v', '0.1.0', '--host', host('internal')],
    { env: { GEM_HOST_API_KEY: token } });
  // gem yank prints the server's answer and exits 0 either way.
  assert.match(again.stdout + again.stderr, /has already been yanked/);
  const repush = await push(client, pushed, 'internal');
  assert.match(repush.stdout + repush.stderr, /Repushing of gem versions is not allowed/, 'a yanked version cannot be pushed again');
  const user = new RubyClient({ label: 'ruby-yank-install' });
  const i = await user.gem(['install', '--no-document', '--clear-sources', '--source', host('internal') + '/', 'corp_tool']);
  assert.notEqual(i.code, 0, describe(i));
});
