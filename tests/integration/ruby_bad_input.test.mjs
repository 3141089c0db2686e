// RubyGems bad input and the documents arca writes itself: a gem whose bytes do not match the
// upstream index's checksum is a 502 and nothing is stored (the right bytes later are); an
// upstream info file that does not parse is a 502; bad names, traversal and wrong methods get
// plain-text 4xx answers; the Marshal documents (gemspec.rz, specs.4.8.gz, the dependency API)
// load in the real ruby with the fields gem reads.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir, run, cleanEnv } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { request } from './lib/http.mjs';
import { loadSdk, sdkClient } from './lib/aws.mjs';
import { rubyAvailable, buildGem, StandinGemServer } from './lib/ruby.mjs';

const skip = rubyAvailable() ? false : 'ruby, gem and bundle are not installed (scripts/setup.sh --test)';
const sdk = loadSdk();

let standin;
let arca;
let work;
const url = (p) => arca.url(`/local/ruby/main/${p}`);

before(async () => {
  if (skip) return;
  work = makeTempDir('ruby-bad-work');
  standin = new StandinGemServer();
  await standin.addGems([
    await buildGem(work, { name: 'good_gem', version: '1.0.0', deps: [['other_gem', '>= 1.0', '< 3']] }),
    await buildGem(work, { name: 'good_gem', version: '1.1.0.pre', deps: [] }),
  ]);
  standin.info.broken_gem = ['1.0.0 |checksum:not-hex'];
  await standin.start();
  arca = await startArca({
    label: 'ruby-bad',
    config: {
      external_connections: { 'public:ruby-gems-org': { url: standin.url } },
      domains: [{
        name: 'local',
        repositories: [
          { name: 'ruby-store', external_connection: 'public:ruby-gems-org' },
          { name: 'main', upstreams: ['ruby-store'] },
        ],
      }],
    },
  });
});

after(async () => {
  await arca?.stop();
  await standin?.stop();
});

// Runs ruby on `bytes` (stdin): the script's stdout.
async function ruby(script, bytes) {
  const file = path.join(work, `doc-${Date.now()}-${Math.random()}`);
  fs.writeFileSync(file, bytes);
  const r = await run('ruby', ['-rzlib', '-rrubygems', '-e', script, file], { env: cleanEnv() });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

test('a gem that does not match the index checksum is a 502 and is not stored', { skip }, async () => {
  standin.corrupt.add('good_gem-1.0.0.gem');
  const bad = await request(url('gems/good_gem-1.0.0.gem'));
  assert.ok(bad.status === 502 || !bad.complete, `status ${bad.status}`);
  if (sdk) {
    const ca = sdkClient(sdk, arca);
    await assert.rejects(ca.send(new sdk.ListPackageVersionsCommand({
      domain: 'local', repository: 'ruby-store', format: 'ruby', package: 'good_gem',
    })), /ResourceNotFound/);
  }
  standin.corrupt.delete('good_gem-1.0.0.gem');
  const good = await request(url('gems/good_gem-1.0.0.gem'));
  assert.equal(good.status, 200);
  assert.deepEqual(good.body, standin.files.get('good_gem-1.0.0.gem'));
});

test('an upstream info file that does not parse is a 502', { skip }, async () => {
  const r = await request(url('info/broken_gem'));
  assert.equal(r.status, 502);
  assert.match(r.body.toString(), /checksum/);
});

test('bad names, traversal and methods get plain-text errors', { skip }, async () => {
  const cases = [
    ['info/..%2F..%2Fetc', 400],
    ['info/bad%20name', 400],
    ['info/-leading', 400],
    ['gems/..%2Fversions', 400],
    ['gems/not-a-gem.txt', 400],
    ['gems/good_gem.gem', 400],
    ['gems/good_gem-9.9.9.gem', 404],
    ['quick/Marshal.4.8/good_gem-9.9.9.gemspec.rz', 404],
    ['quick/Marshal.4.8/../../versions', 400],
    ['nothing/here', 404],
  ];
  for (const [p, status] of cases) {
    const r = await request(url(p), { rawPath: `/local/ruby/main/${p}` });
    assert.equal(r.status, status, `${p}: ${r.body}`);
    assert.match(r.headers['content-type'], /^text\/plain/, p);
  }
  const put = await request(url('api/v1/gems'), { method: 'PUT', body: 'x' });
  assert.equal(put.status, 405);
  const form = (body) => ({ method: 'DELETE', body,
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(body.length) } });
  const yank = await request(url('api/v1/gems/yank'), form('gem_name=../x&version=1.0.0'));
  assert.equal(yank.status, 422);
  assert.match(yank.body.toString(), /'\.\.\/x' is not a valid gem name/);
  const missing = await request(url('api/v1/gems/yank'), form('gem_name=good_gem&version=1.0.0'));
  assert.equal(missing.status, 404, missing.body.toString());
  assert.match(missing.body.toString(), /does not exist/);
});

test('the Marshal documents load in ruby', { skip }, async () => {
  const rz = await request(url('quick/Marshal.4.8/good_gem-1.0.0.gemspec.rz'));
  assert.equal(rz.status, 200);
  const spec = await ruby(`s = Marshal.load(Zlib::Inflate.inflate(File.binread(ARGV[0])))
    puts [s.class, s.name, s.version, s.platform, s.dependencies.map { |d| [d.name, d.requirement.to_s, d.type].join(" ") }.join(";")].join("|")`,
  rz.body);
  assert.equal(spec, 'Gem::Specification|good_gem|1.0.0|ruby|other_gem >= 1.0, < 3 runtime');

  const deps = await request(url('api/v1/dependencies?gems=good_gem'));
  assert.equal(deps.status, 200);
  const list = await ruby('puts Marshal.load(File.binread(ARGV[0])).map { |h| [h[:name], h[:number], h[:platform], h[:dependencies].inspect].join(" ") }',
    deps.body);
  assert.equal(list, 'good_gem 1.0.0 ruby [["other_gem", ">= 1.0, < 3"]]\ngood_gem 1.1.0.pre ruby []');

  const specs = await request(url('specs.4.8.gz'));
  assert.equal(specs.status, 200);
  const tuples = await ruby('puts Marshal.load(Zlib.gunzip(File.binread(ARGV[0]))).inspect', specs.body);
  assert.equal(tuples, '[["good_gem", #<Gem::Version "1.0.0">, "ruby"]]', 'stored gems are listed');
});
