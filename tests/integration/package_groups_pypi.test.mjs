// Package-group and package-level origin controls enforced for real pip (Debian's 23.0.1) and
// twine (Debian's 4.0.2): the dependency-confusion scenario. A stand-in "public" index serves
// corp-thing 9.9 (the attacker's version) next to the internal 1.0 uploaded to `internal`;
// `main` and `other` have upstreams internal and pypi-store (the external connection). The group
// /pypi//corp-thing$ is driven through every restriction type and mode:
//   PUBLISH            ALLOW_SPECIFIC_REPOSITORIES (internal only), BLOCK, ALLOW
//   EXTERNAL_UPSTREAM  BLOCK (pip gets 1.0, 9.9 is never fetched), ALLOW_SPECIFIC_REPOSITORIES
//                      (only when the connection's repository is listed), ALLOW
//   INTERNAL_UPSTREAM  BLOCK, ALLOW_SPECIFIC_REPOSITORIES (main only), ALLOW
// then versions stored before a block stay available, and package-level settings
// (PutPackageOriginConfiguration, and the ones set when a package first arrives) block what the
// groups allow.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { makeTempDir } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { loadSdk, sdkClient } from './lib/aws.mjs';
import { request } from './lib/http.mjs';
import { StandinIndex, Venv, makeDists, twine, DEBIAN_PYTHON } from './lib/pypi.mjs';

const sdk = loadSdk();
const skip = sdk ? false : '@aws-sdk/client-codeartifact is not installed (scripts/setup.sh --test installs it)';

const domain = 'local';
const GROUP = '/pypi//corp-thing$';
const PUBLIC_WHEEL = 'corp_thing-9.9-py3-none-any.whl';

let index;
let arca;
let client;
let venv;
let internal; // name -> dist of corp-thing versions for twine

const repoUrl = (repo) => `${arca.baseUrl}/${domain}/pypi/${repo}/`;
const simple = (repo) => `${repoUrl(repo)}simple/`;

async function page(repo, project) {
  const r = await request(`${simple(repo)}${project}/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
  if (r.status !== 200) return { status: r.status, versions: [], files: [], text: r.body.toString() };
  const json = JSON.parse(r.body.toString());
  return { status: 200, versions: json.versions, files: json.files.map((f) => f.filename), text: '' };
}

async function upload(repo, version, extra = []) {
  return twine(['upload', '--repository-url', repoUrl(repo), '-u', 'aws', '-p', 'not-a-real-token',
    '--disable-progress-bar', ...extra, internal[version].path]);
}

// twine's output as one line: colours and rich's line wrapping removed.
const flat = (r) => `${r.stdout}\n${r.stderr}`.replace(/\x1B\[[0-9;]*m/g, '').replace(/\s+/g, ' ');

async function setOrigin(restrictions, changes = {}) {
  const r = await client.send(new sdk.UpdatePackageGroupOriginConfigurationCommand({
    domain, packageGroup: GROUP, restrictions, ...changes,
  }));
  for (const [type, mode] of Object.entries(restrictions)) {
    assert.equal(r.packageGroup.originConfiguration.restrictions[type].mode, mode);
  }
}

const publicFetches = () => index.count((r) => r.url === `/files/${PUBLIC_WHEEL}`);

before(async () => {
  if (skip) return;
  const work = makeTempDir('pg-pypi-dists');
  const publicDists = await makeDists(path.join(work, 'public'), [
    { name: 'corp-thing', version: '9.9' },
    { name: 'outside-thing', version: '2.0' },
    { name: 'plain-thing', version: '3.0' },
  ]);
  internal = {};
  for (const d of await makeDists(path.join(work, 'internal'), [
    { name: 'corp-thing', version: '1.0' }, { name: 'corp-thing', version: '1.1' }, { name: 'corp-thing', version: '1.2' },
  ])) internal[d.version] = d;
  index = new StandinIndex({ mode: 'json', label: 'public stand-in index' });
  index.addFiles(publicDists);
  await index.start();
  arca = await startArca({
    label: 'pg-pypi',
    config: {
      external_connections: { 'public:pypi': { format: 'pypi', url: index.url, metadata_ttl_seconds: 300 } },
      domains: [{
        name: domain,
        repositories: [
          { name: 'internal' },
          { name: 'scratch' },
          { name: 'pypi-store', external_connection: 'public:pypi' },
          { name: 'main', upstreams: ['internal', 'pypi-store'] },
          { name: 'other', upstreams: ['internal', 'pypi-store'] },
          // Never installs anything before the INTERNAL_UPSTREAM test (main retains what it
          // served, and retained versions stay whatever the controls say later).
          { name: 'fresh', upstreams: ['internal', 'pypi-store'] },
        ],
      }],
    },
  });
  client = sdkClient(sdk, arca);
  await client.send(new sdk.CreatePackageGroupCommand({ domain, packageGroup: GROUP }));
  await setOrigin({ EXTERNAL_UPSTREAM: 'BLOCK', PUBLISH: 'ALLOW_SPECIFIC_REPOSITORIES' },
    { addAllowedRepositories: [{ originRestrictionType: 'PUBLISH', repositoryName: 'internal' }] });
  venv = await new Venv(DEBIAN_PYTHON, 'pg-pypi').create();
});

after(async () => {
  if (arca) await arca.stop();
  if (index) await index.stop();
});

test('PUBLISH: twine uploads only where the group allows', { skip, timeout: 60_000 }, async () => {
  // ALLOW_SPECIFIC_REPOSITORIES [internal]
  const ok = await upload('internal', '1.0');
  assert.equal(ok.code, 0, `${ok.stdout}\n${ok.stderr}`);
  const refused = await upload('main', '1.1', ['--verbose']);
  assert.notEqual(refused.code, 0, 'twine upload to main must fail');
  const out = flat(refused);
  assert.match(out, /403/, out);
  assert.match(out, /not allowed by the PUBLISH origin control of package group \/pypi\/\/corp-thing\$/, out);
  assert.equal((await page('main', 'corp-thing')).versions.join(), '1.0');

  // BLOCK: not even internal.
  await setOrigin({ PUBLISH: 'BLOCK' });
  const blocked = await upload('internal', '1.1');
  assert.notEqual(blocked.code, 0);
  assert.match(`${blocked.stdout}\n${blocked.stderr}`, /403/);

  // ALLOW: any repository.
  await setOrigin({ PUBLISH: 'ALLOW' });
  const allowed = await upload('scratch', '1.1');
  assert.equal(allowed.code, 0, `${allowed.stdout}\n${allowed.stderr}`);
  assert.equal((await page('scratch', 'corp-thing')).versions.join(), '1.1');
  assert.equal((await page('internal', 'corp-thing')).versions.join(), '1.0');
  await setOrigin({ PUBLISH: 'ALLOW_SPECIFIC_REPOSITORIES' });
});

test('EXTERNAL_UPSTREAM BLOCK: pip gets the internal 1.0, never the public 9.9', { skip, timeout: 120_000 }, async () => {
  const p = await page('main', 'corp-thing');
  assert.equal(p.status, 200);
  assert.deepEqual(p.versions, ['1.0']);
  assert.deepEqual(p.files, [internal['1.0'].filename]);

  await venv.pipOk(['install', '--index-url', simple('main'), 'corp-thing', 'outside-thing']);
  const installed = await venv.installed();
  assert.equal(installed['corp-thing'], '1.0');
  assert.equal(installed['outside-thing'], '2.0', 'a package outside the group still comes from the stand-in');
  assert.equal(publicFetches(), 0, 'the public 9.9 wheel was never fetched');
  assert.ok(index.count((r) => r.url === '/files/outside_thing-2.0-py3-none-any.whl') >= 1, index.requests.map((r) => r.url).join('\n'));

  // Asking for the public file by name does not fill it either.
  const direct = await request(`${repoUrl('pypi-store')}files/corp-thing/${PUBLIC_WHEEL}`);
  assert.equal(direct.status, 404, direct.body.toString());
  assert.match(direct.body.toString(), /EXTERNAL_UPSTREAM/);
  assert.equal(publicFetches(), 0);
});

test('EXTERNAL_UPSTREAM ALLOW_SPECIFIC_REPOSITORIES and ALLOW', { skip, timeout: 60_000 }, async () => {
  // Listing `main` does not help: the connection belongs to pypi-store.
  await setOrigin({ EXTERNAL_UPSTREAM: 'ALLOW_SPECIFIC_REPOSITORIES' },
    { addAllowedRepositories: [{ originRestrictionType: 'EXTERNAL_UPSTREAM', repositoryName: 'main' }] });
  assert.deepEqual((await page('main', 'corp-thing')).versions, ['1.0']);
  await setOrigin({ EXTERNAL_UPSTREAM: 'ALLOW_SPECIFIC_REPOSITORIES' },
    { addAllowedRepositories: [{ originRestrictionType: 'EXTERNAL_UPSTREAM', repositoryName: 'pypi-store' }] });
  assert.deepEqual((await page('main', 'corp-thing')).versions, ['1.0', '9.9']);
  await setOrigin({ EXTERNAL_UPSTREAM: 'BLOCK' });
  assert.deepEqual((await page('main', 'corp-thing')).versions, ['1.0']);
  await setOrigin({ EXTERNAL_UPSTREAM: 'ALLOW' });
  assert.deepEqual((await page('other', 'corp-thing')).versions, ['1.0', '9.9']);
  await setOrigin({ EXTERNAL_UPSTREAM: 'BLOCK' });
  assert.equal(publicFetches(), 0, 'listing is not fetching');
});

test('INTERNAL_UPSTREAM BLOCK, ALLOW_SPECIFIC_REPOSITORIES, ALLOW', { skip, timeout: 120_000 }, async () => {
  await setOrigin({ INTERNAL_UPSTREAM: 'BLOCK' });
  // main retained 1.0 when it was installed through it: a retained version stays.
  assert.deepEqual((await page('main', 'corp-thing')).versions, ['1.0']);
  // fresh never fetched it: nothing comes in from the upstream repository.
  const hidden = await page('fresh', 'corp-thing');
  assert.equal(hidden.status, 404, hidden.text);
  assert.match(hidden.text, /INTERNAL_UPSTREAM origin control of package group \/pypi\/\/corp-thing\$/);
  const r = await venv.pip(['install', '--index-url', simple('fresh'), 'corp-thing==1.0', '--force-reinstall']);
  assert.notEqual(r.code, 0, 'pip must not find corp-thing through fresh');
  assert.match(`${r.stdout}\n${r.stderr}`, /No matching distribution|from versions: none/);
  // The upstream repository itself still has it.
  assert.deepEqual((await page('internal', 'corp-thing')).versions, ['1.0']);

  await setOrigin({ INTERNAL_UPSTREAM: 'ALLOW_SPECIFIC_REPOSITORIES' },
    { addAllowedRepositories: [{ originRestrictionType: 'INTERNAL_UPSTREAM', repositoryName: 'fresh' }] });
  assert.deepEqual((await page('fresh', 'corp-thing')).versions, ['1.0']);
  assert.equal((await page('other', 'corp-thing')).status, 404);
  const file = await request(`${repoUrl('other')}files/corp-thing/${internal['1.0'].filename}`);
  assert.equal(file.status, 404, 'a stored file of an upstream repository is not served where INTERNAL_UPSTREAM blocks');

  await setOrigin({ INTERNAL_UPSTREAM: 'ALLOW' });
  assert.deepEqual((await page('other', 'corp-thing')).versions, ['1.0']);
});

test('versions stored before a block stay available', { skip, timeout: 60_000 }, async () => {
  await setOrigin({ EXTERNAL_UPSTREAM: 'ALLOW' });
  const url = `${repoUrl('main')}files/corp-thing/${PUBLIC_WHEEL}`;
  assert.deepEqual((await page('main', 'corp-thing')).versions, ['1.0', '9.9']);
  assert.equal((await request(url)).status, 200);
  assert.equal(publicFetches(), 1);
  await setOrigin({ EXTERNAL_UPSTREAM: 'BLOCK' });
  assert.deepEqual((await page('main', 'corp-thing')).versions, ['1.0', '9.9']);
  const again = await request(url);
  assert.equal(again.status, 200);
  assert.equal(publicFetches(), 1, 'served from the store');
});

test('package-level origin configuration blocks what the groups allow', { skip, timeout: 120_000 }, async () => {
  // Set automatically when a package first arrives: uploaded to internal, ingested by pypi-store.
  const describe = async (repository, pkg) => (await client.send(new sdk.DescribePackageCommand({
    domain, repository, format: 'pypi', package: pkg }))).package.originConfiguration.restrictions;
  assert.deepEqual(await describe('internal', 'corp-thing'), { publish: 'ALLOW', upstream: 'BLOCK' });
  assert.deepEqual(await describe('pypi-store', 'outside-thing'), { publish: 'BLOCK', upstream: 'ALLOW' });

  // plain-thing matches only the root group (everything allowed); its package-level setting in
  // pypi-store blocks ingestion.
  const base = { domain, repository: 'pypi-store', format: 'pypi', package: 'plain-thing' };
  await client.send(new sdk.PutPackageOriginConfigurationCommand({ ...base, restrictions: { publish: 'BLOCK', upstream: 'BLOCK' } }));
  assert.equal((await page('main', 'plain-thing')).status, 404);
  const r = await venv.pip(['install', '--index-url', simple('main'), 'plain-thing']);
  assert.notEqual(r.code, 0, 'pip must not find plain-thing');
  assert.equal(index.count((q) => q.url.startsWith('/files/plain_thing')), 0);
  await client.send(new sdk.PutPackageOriginConfigurationCommand({ ...base, restrictions: { publish: 'BLOCK', upstream: 'ALLOW' } }));
  await venv.pipOk(['install', '--index-url', simple('main'), 'plain-thing']);
  assert.equal((await venv.installed())['plain-thing'], '3.0');
  assert.deepEqual(await describe('pypi-store', 'plain-thing'), { publish: 'BLOCK', upstream: 'ALLOW' });

  // The group lets internal publish corp-thing; the package-level publish=BLOCK refuses it.
  await client.send(new sdk.PutPackageOriginConfigurationCommand({ domain, repository: 'internal', format: 'pypi',
    package: 'corp-thing', restrictions: { publish: 'BLOCK', upstream: 'BLOCK' } }));
  const refused = await upload('internal', '1.2', ['--verbose']);
  assert.notEqual(refused.code, 0);
  assert.match(flat(refused), /403 .*origin configuration of package corp-thing in repository internal \(publish=BLOCK\)/);
  await client.send(new sdk.PutPackageOriginConfigurationCommand({ domain, repository: 'internal', format: 'pypi',
    package: 'corp-thing', restrictions: { publish: 'ALLOW', upstream: 'BLOCK' } }));
  const ok = await upload('internal', '1.2');
  assert.equal(ok.code, 0, `${ok.stdout}\n${ok.stderr}`);
  assert.deepEqual((await page('internal', 'corp-thing')).versions, ['1.0', '1.2']);
});
