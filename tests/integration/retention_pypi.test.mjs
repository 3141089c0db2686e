// Retention as CodeArtifact does it, for real pip (Debian's 23.0.1) and twine (Debian's 4.0.2):
// a version installed through a chain of repositories is retained in the repository pip asked
// (`app`) and, when it came from the external connection, in the repository owning it
// (`store`); the intermediate repository (`mid`) keeps nothing. Seen through the real AWS CLI
// (list-package-versions, describe-package-version, list-package-version-assets,
// list-packages) and by pip: once app's upstream is removed and the stand-in index stopped, pip
// (no cache) still installs what app retained, and only that. A project uploaded into store
// with twine and installed through app is retained in app with origin INTERNAL / repositoryName
// store. And the "fork": a project ingested into app got publish=BLOCK there, so twine cannot
// upload another version of it into app (403).
//
// Topology: store (public:pypi, the stand-in index), mid (upstream store), app (upstream mid).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { makeTempDir } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { Aws, awsBin } from './lib/aws.mjs';
import { request } from './lib/http.mjs';
import { StandinIndex, Venv, makeDists, twine, DEBIAN_PYTHON } from './lib/pypi.mjs';
import { Retention, chainRepositories } from './lib/retention.mjs';

const skip = awsBin() ? false : 'awscli is not installed (scripts/setup.sh --test installs it)';

const CONNECTION = 'public:pypi';
const EXT = 'ret-ext'; // on the stand-in: 1.0 and 2.0
const INT = 'ret-int'; // uploaded into store
const EXT_WHEEL = 'ret_ext-1.0-py3-none-any.whl';
const INT_WHEEL = 'ret_int-1.0-py3-none-any.whl';

let index;
let arca;
let aws;
let ca;
let venv;
let dists; // "name version" -> dist

const repoUrl = (repo) => `${arca.baseUrl}/local/pypi/${repo}/`;
const simple = (repo) => `${repoUrl(repo)}simple/`;

async function page(repo, project) {
  const r = await request(`${simple(repo)}${project}/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
  if (r.status !== 200) return { status: r.status, versions: [], files: [] };
  const json = JSON.parse(r.body.toString());
  return { status: 200, versions: json.versions, files: json.files.map((f) => f.filename) };
}

async function upload(repo, dist, extra = []) {
  return twine(['upload', '--repository-url', repoUrl(repo), '-u', 'aws', '-p', 'not-a-real-token',
    '--disable-progress-bar', ...extra, dist.path]);
}

// twine's output as one line: colours and rich's line wrapping removed.
const flat = (r) => `${r.stdout}\n${r.stderr}`.replace(/\x1B\[[0-9;]*m/g, '').replace(/\s+/g, ' ');

const fileFetches = (filename) => index.count((r) => r.url === `/files/${filename}`);

before(async () => {
  if (skip) return;
  const work = makeTempDir('ret-pypi-dists');
  const publicDists = await makeDists(path.join(work, 'public'), [
    { name: EXT, version: '1.0' }, { name: EXT, version: '2.0' },
  ]);
  const own = await makeDists(path.join(work, 'own'), [{ name: INT, version: '1.0' }, { name: EXT, version: '99.0' }]);
  dists = Object.fromEntries([...publicDists, ...own].map((d) => [`${d.name} ${d.version}`, d]));
  index = new StandinIndex({ mode: 'json', label: 'public stand-in index' });
  index.addFiles(publicDists);
  await index.start();
  arca = await startArca({
    label: 'ret-pypi',
    config: {
      external_connections: { [CONNECTION]: { format: 'pypi', url: index.url, metadata_ttl_seconds: 300 } },
      domains: [{ name: 'local', repositories: chainRepositories(CONNECTION) }],
    },
  });
  aws = new Aws(arca, { label: 'ret-pypi-aws' });
  ca = new Retention(aws, arca, { format: 'pypi' });
  venv = await new Venv(DEBIAN_PYTHON, 'ret-pypi').create();
});

after(async () => {
  if (arca) await arca.stop();
  if (index) await index.stop();
});

test('twine upload into store, pip install of both projects through app', { skip, timeout: 60_000 }, async () => {
  const up = await upload('store', dists[`${INT} 1.0`]);
  assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
  await venv.pipOk(['install', '--index-url', simple('app'), `${EXT}==1.0`, `${INT}==1.0`]);
  const installed = await venv.installed();
  assert.equal(installed[EXT], '1.0');
  assert.equal(installed[INT], '1.0');
  assert.equal(fileFetches(EXT_WHEEL), 1, 'the wheel came from the stand-in once');
});

test('the project from the external connection: retained in app and store (EXTERNAL), not in mid', { skip, timeout: 60_000 }, async () => {
  const expected = { package: EXT, version: '1.0', originType: 'EXTERNAL',
    entryPoint: { externalConnectionName: CONNECTION }, onlyVersions: ['1.0'] };
  await ca.assertRetained('app', { ...expected, describe: true, assets: [EXT_WHEEL] });
  await ca.assertRetained('store', expected);
  await ca.assertAbsent('mid', { package: EXT });
  await ca.assertIngestedConfiguration('app', { package: EXT });
  await ca.assertIngestedConfiguration('store', { package: EXT });
});

test('the project uploaded into store: retained in app (INTERNAL, entry point store), not in mid', { skip, timeout: 60_000 }, async () => {
  // Where it was uploaded: INTERNAL, entry point store; app keeps that origin.
  await ca.assertRetained('store', { package: INT, version: '1.0', originType: 'INTERNAL',
    entryPoint: { repositoryName: 'store' } });
  await ca.assertRetained('app', { package: INT, version: '1.0', originType: 'INTERNAL',
    entryPoint: { repositoryName: 'store' }, onlyVersions: ['1.0'], describe: true, assets: [INT_WHEEL] });
  await ca.assertAbsent('mid', { package: INT });
});

test('fork: twine cannot upload a new version of an ingested project into app (403)', { skip, timeout: 60_000 }, async () => {
  const refused = await upload('app', dists[`${EXT} 99.0`], ['--verbose']);
  assert.notEqual(refused.code, 0, `twine upload of ${EXT} 99.0 into app must fail:\n${flat(refused)}`);
  assert.match(flat(refused), /403/, flat(refused));
  const p = await page('app', EXT);
  assert.equal(p.status, 200);
  assert.ok(!p.versions.includes('99.0'), `the refused version is not listed: ${p.versions}`);
  assert.ok(p.versions.includes('1.0'), `${p.versions}`);
});

test('app\'s upstream removed, stand-in stopped: pip installs what app retained, and nothing else', { skip, timeout: 60_000 }, async () => {
  await ca.removeUpstreams('app');
  await index.stop();

  await venv.pipOk(['install', '--force-reinstall', '--index-url', simple('app'), `${EXT}==1.0`, `${INT}==1.0`]);
  const installed = await venv.installed();
  assert.equal(installed[EXT], '1.0');
  assert.equal(installed[INT], '1.0');

  const p = await page('app', EXT);
  assert.equal(p.status, 200);
  assert.deepEqual(p.versions, ['1.0'], 'app lists only the version it retained');
  assert.deepEqual(p.files, [EXT_WHEEL]);

  const never = await venv.pip(['install', '--index-url', simple('app'), `${EXT}==2.0`]);
  assert.notEqual(never.code, 0, `${EXT} 2.0 was never installed through app`);
  assert.match(`${never.stdout}\n${never.stderr}`, /No matching distribution|from versions/);
  const file = await request(`${repoUrl('app')}files/${EXT}/ret_ext-2.0-py3-none-any.whl`);
  assert.equal(file.status, 404);

  await ca.assertRetained('app', { package: EXT, version: '1.0', originType: 'EXTERNAL',
    entryPoint: { externalConnectionName: CONNECTION } });
  await ca.assertRetained('app', { package: INT, version: '1.0', originType: 'INTERNAL',
    entryPoint: { repositoryName: 'store' } });
});
