// Package-group origin controls for real gem and bundler: the dependency-confusion scenario. A
// stand-in "public" rubygems.org serves corp_secret 9.9.9 (the attacker's version); the group
// /ruby//corp_secret$ blocks EXTERNAL_UPSTREAM and allows PUBLISH only to `internal`. gem push
// to `internal` works, to `main` is refused (403 naming the group); gem install and bundle
// install through `main` (upstreams: internal, ruby-store) get the internal 1.0.0, never the
// public 9.9.9 (whose .gem is never fetched); a gem outside the group still comes from the
// stand-in. With the group's EXTERNAL_UPSTREAM back at ALLOW the public version is visible again.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { request } from './lib/http.mjs';
import { loadSdk, sdkClient } from './lib/aws.mjs';
import { rubyAvailable, buildGem, StandinGemServer, RubyClient, describe } from './lib/ruby.mjs';

const sdk = loadSdk();
const skip = !rubyAvailable() ? 'ruby, gem and bundle are not installed (scripts/setup.sh --test)'
  : !sdk ? '@aws-sdk/client-codeartifact is not installed (scripts/setup.sh --test installs it)' : false;

const domain = 'local';
const GROUP = '/ruby//corp_secret$';

let standin;
let arca;
let client;
let work;
let internalGem;
const host = (repo) => arca.url(`/local/ruby/${repo}`);

before(async () => {
  if (skip) return;
  work = makeTempDir('ruby-pg-work');
  standin = new StandinGemServer({ label: 'public stand-in' });
  await standin.addGems([
    await buildGem(path.join(work, 'public'), { name: 'corp_secret', version: '9.9.9' }),
    await buildGem(path.join(work, 'public'), { name: 'outside_gem', version: '2.0.0' }),
  ]);
  await standin.start();
  arca = await startArca({
    label: 'ruby-pg',
    config: {
      external_connections: { 'public:ruby-gems-org': { url: standin.url } },
      domains: [{
        name: domain,
        repositories: [
          { name: 'internal' },
          { name: 'ruby-store', external_connection: 'public:ruby-gems-org' },
          { name: 'main', upstreams: ['internal', 'ruby-store'] },
        ],
      }],
    },
  });
  client = sdkClient(sdk, arca);
  await client.send(new sdk.CreatePackageGroupCommand({ domain, packageGroup: GROUP }));
  await client.send(new sdk.UpdatePackageGroupOriginConfigurationCommand({
    domain, packageGroup: GROUP,
    restrictions: { EXTERNAL_UPSTREAM: 'BLOCK', PUBLISH: 'ALLOW_SPECIFIC_REPOSITORIES' },
    addAllowedRepositories: [{ originRestrictionType: 'PUBLISH', repositoryName: 'internal' }],
  }));
  internalGem = await buildGem(path.join(work, 'internal'), { name: 'corp_secret', version: '1.0.0', deps: [['outside_gem', '>= 1']] });
});

after(async () => {
  await arca?.stop();
  await standin?.stop();
});

test('PUBLISH: only the allowed repository takes the push', { skip }, async () => {
  const ruby = new RubyClient({ label: 'ruby-pg-push' });
  const refused = await ruby.gem(['push', internalGem, '--host', host('main')], { env: { GEM_HOST_API_KEY: 'placeholder' } });
  assert.match(refused.stdout + refused.stderr, /Forbidden: publishing corp_secret to repository main is not allowed by .*corp_secret/);
  const ok = await ruby.gem(['push', internalGem, '--host', host('internal')], { env: { GEM_HOST_API_KEY: 'placeholder' } });
  assert.equal(ok.code, 0, describe(ok));
});

test('EXTERNAL_UPSTREAM BLOCK keeps the public higher version out of gem and bundle installs', { skip }, async () => {
  const info = (await request(arca.url('/local/ruby/main/info/corp_secret'))).body.toString();
  assert.doesNotMatch(info, /9\.9\.9/);
  const ruby = new RubyClient({ label: 'ruby-pg-install' });
  const r = await ruby.gem(['install', '--no-document', '--clear-sources', '--source', host('main') + '/', 'corp_secret']);
  assert.equal(r.code, 0, describe(r));
  assert.deepEqual(ruby.installed(), ['corp_secret-1.0.0', 'outside_gem-2.0.0']);
  const dir = ruby.project('app', host('main') + '/', [['corp_secret']]);
  const b = await ruby.bundle(['install'], { cwd: dir });
  assert.equal(b.code, 0, describe(b));
  assert.match(fs.readFileSync(path.join(dir, 'Gemfile.lock'), 'utf8'), /corp_secret \(1\.0\.0\)/);
  assert.equal(standin.count(/^\/gems\/corp_secret/), 0, 'the public corp_secret is never fetched');
  assert.equal(standin.count(/^\/info\/corp_secret/), 0, 'nor its index asked');
  const direct = await request(arca.url('/local/ruby/main/gems/corp_secret-9.9.9.gem'));
  assert.equal(direct.status, 404);
  assert.match(direct.body.toString(), /blocked by/);
});

test('EXTERNAL_UPSTREAM ALLOW lets the public version in again', { skip }, async () => {
  await client.send(new sdk.UpdatePackageGroupOriginConfigurationCommand({
    domain, packageGroup: GROUP, restrictions: { EXTERNAL_UPSTREAM: 'ALLOW' },
  }));
  const info = (await request(arca.url('/local/ruby/main/info/corp_secret'))).body.toString();
  assert.match(info, /^1\.0\.0 outside_gem:>= 1\|/m);
  assert.match(info, /^9\.9\.9 \|/m);
});
