// Retention as CodeArtifact does it, for real npm (user guide, "Working with upstream
// repositories"): a version fetched through a chain of repositories is retained in the
// repository the client asked (`app`) and, when it came from the external connection, in the
// repository owning the connection (`npm-store`); the intermediate repository (`mid`) keeps
// nothing. Seen through the real AWS CLI (list-package-versions, describe-package-version,
// list-package-version-assets, list-packages), and by npm itself: once app's upstream is
// removed and the stand-in registry stopped, npm (fresh cache) still installs what app
// retained, and only that. A package published into npm-store and installed through app is
// retained in app with origin INTERNAL / repositoryName npm-store.
// Then the "fork" scenario in the default-style topology (main -> npm-store -> public:npmjs): a
// package installed through main got publish=BLOCK there (its first version was ingested), so
// publishing a patched version of it into main is refused (E403) while the public versions stay
// installable.
//
// Topology: npm-store (public:npmjs, the stand-in), mid (upstream npm-store), app (upstream
// mid), main (upstream npm-store).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { Aws, awsBin } from './lib/aws.mjs';
import { StandinRegistry, tarballFileName } from './lib/registry.mjs';
import { generatePackages } from './lib/packages.mjs';
import { Npm, makeProject, installedPackages } from './lib/npm.mjs';
import { getJson, request } from './lib/http.mjs';
import { Retention, chainRepositories } from './lib/retention.mjs';

const skip = awsBin() ? false : 'awscli is not installed (scripts/setup.sh --test installs it)';

const CONNECTION = 'public:npmjs';
const INTERNAL = 'ret-internal-lib'; // published into npm-store, never on the stand-in
const FORK_VERSION = '99.0.0-fork';

let standin;
let arca;
let aws;
let ca;
let npm;
let work;
let ext; // { name, fetched, never } from the stand-in, fetched through app
let fork; // { name, fetched, versions } from the stand-in, fetched through main

function writePackage(name, version) {
  const dir = path.join(work, `${name}-${version}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version,
    description: `retention test (${version})`, main: 'index.js', license: 'MIT' }, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, 'index.js'), `exports.version = ${JSON.stringify(version)};\n`);
  return dir;
}

// npm install `specs` into a new project through `repo` with a fresh npm cache.
async function install(repo, specs, label) {
  npm.setRegistry(arca.registry(repo));
  npm.clearCache();
  const project = makeProject(makeTempDir(`ret-npm-${label}`), {});
  const r = await npm.run(['install', ...specs], { cwd: project });
  return { ...r, project };
}

const installed = (project) => installedPackages(project).map((p) => `${p.json.name}@${p.json.version}`).sort();

before(async () => {
  if (skip) return;
  work = makeTempDir('ret-npm-work');
  const set = await generatePackages({ count: 2, scoped: 0, multiVersion: 2, roots: 0, prefix: 'ret', seed: 11, deps: false });
  const [a, b] = set.names;
  ext = { name: a, fetched: set.versionsOf(a)[1], never: set.versionsOf(a).at(-1), versions: set.versionsOf(a) };
  fork = { name: b, fetched: set.versionsOf(b)[1], versions: set.versionsOf(b) };
  assert.ok(ext.versions.length >= 3 && fork.versions.length >= 3, JSON.stringify(set.names.map(set.versionsOf)));
  standin = new StandinRegistry({ label: 'public stand-in (npm)' });
  standin.addPackages(set.packages);
  await standin.start();
  arca = await startArca({
    label: 'ret-npm', upstreamUrl: standin.url,
    config: {
      domains: [{ name: 'local', repositories: chainRepositories(CONNECTION, { store: 'npm-store',
        extra: [{ name: 'main', upstreams: ['npm-store'] }] }) }],
    },
  });
  aws = new Aws(arca, { label: 'ret-npm-aws' });
  ca = new Retention(aws, arca, { format: 'npm' });
  npm = new Npm({ label: 'ret-npm-client' });
});

after(async () => {
  if (arca) await arca.stop();
  if (standin) await standin.stop();
});

test('npm install through app: retained in app and npm-store (EXTERNAL), not in mid', { skip, timeout: 60_000 }, async () => {
  const r = await install('app', [`${ext.name}@${ext.fetched}`], 'ext');
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(installed(r.project), [`${ext.name}@${ext.fetched}`]);
  assert.equal(standin.countTarball(ext.name, ext.fetched), 1);

  const expected = { package: ext.name, version: ext.fetched, originType: 'EXTERNAL',
    entryPoint: { externalConnectionName: CONNECTION }, onlyVersions: [ext.fetched] };
  await ca.assertRetained('app', { ...expected, describe: true, assets: [tarballFileName(ext.name, ext.fetched)] });
  await ca.assertRetained('npm-store', expected);
  await ca.assertAbsent('mid', { package: ext.name });
  await ca.assertIngestedConfiguration('app', { package: ext.name });
  await ca.assertIngestedConfiguration('npm-store', { package: ext.name });
});

test('a package published into npm-store and installed through app: retained in app (INTERNAL, entry point npm-store), not in mid', { skip, timeout: 60_000 }, async () => {
  npm.setRegistry(arca.registry('npm-store'));
  await npm.ok(['publish'], { cwd: writePackage(INTERNAL, '1.0.0') });

  const r = await install('app', [`${INTERNAL}@1.0.0`], 'internal');
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(installed(r.project), [`${INTERNAL}@1.0.0`]);

  // Where it was published: INTERNAL, entry point npm-store; app keeps that origin.
  await ca.assertRetained('npm-store', { package: INTERNAL, version: '1.0.0', originType: 'INTERNAL',
    entryPoint: { repositoryName: 'npm-store' } });
  await ca.assertRetained('app', { package: INTERNAL, version: '1.0.0', originType: 'INTERNAL',
    entryPoint: { repositoryName: 'npm-store' }, onlyVersions: ['1.0.0'], describe: true,
    assets: [tarballFileName(INTERNAL, '1.0.0')] });
  await ca.assertAbsent('mid', { package: INTERNAL });
});

test('fork: a package ingested through main cannot be published into main (E403); the public versions stay installable', { skip, timeout: 60_000 }, async () => {
  const first = await install('main', [`${fork.name}@${fork.fetched}`], 'fork-first');
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(installed(first.project), [`${fork.name}@${fork.fetched}`]);

  npm.setRegistry(arca.registry('main'));
  const refused = await npm.run(['publish', '--tag', 'fork'], { cwd: writePackage(fork.name, FORK_VERSION) });
  assert.notEqual(refused.code, 0, `npm publish of ${fork.name}@${FORK_VERSION} into main must fail:\n${refused.stderr}`);
  assert.match(refused.stderr, /E403|403/, refused.stderr);

  const doc = await getJson(arca.registry('main') + fork.name);
  assert.equal(doc.status, 200);
  assert.deepEqual(Object.keys(doc.json.versions).sort(), [...fork.versions].sort(),
    'main lists the public versions, and not the refused fork');
  assert.ok(!Object.values(doc.json['dist-tags']).includes(FORK_VERSION), JSON.stringify(doc.json['dist-tags']));

  const again = await install('main', [`${fork.name}@${fork.fetched}`], 'fork-again');
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(installed(again.project), [`${fork.name}@${fork.fetched}`]);

  // Why: the package's first version in main was ingested.
  await ca.assertIngestedConfiguration('main', { package: fork.name });
  await ca.assertRetained('main', { package: fork.name, version: fork.fetched, originType: 'EXTERNAL',
    entryPoint: { externalConnectionName: CONNECTION } });
});

test('app\'s upstream removed, stand-in stopped: npm installs what app retained, and nothing else', { skip, timeout: 60_000 }, async () => {
  await ca.removeUpstreams('app');
  await standin.stop();

  const r = await install('app', [`${ext.name}@${ext.fetched}`, `${INTERNAL}@1.0.0`], 'offline');
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(installed(r.project), [`${ext.name}@${ext.fetched}`, `${INTERNAL}@1.0.0`].sort());

  const doc = await getJson(arca.registry('app') + ext.name);
  assert.equal(doc.status, 200);
  assert.deepEqual(Object.keys(doc.json.versions), [ext.fetched], 'app lists only the version it retained');

  const never = await install('app', [`${ext.name}@${ext.never}`], 'never');
  assert.notEqual(never.code, 0, `${ext.name}@${ext.never} was never fetched through app`);
  assert.match(never.stderr, /ETARGET|E404|404|No matching version/, never.stderr);
  const tarball = await request(`${arca.registry('app')}${ext.name}/-/${tarballFileName(ext.name, ext.never)}`);
  assert.equal(tarball.status, 404);

  // The control plane still shows both, with their first origins.
  await ca.assertRetained('app', { package: ext.name, version: ext.fetched, originType: 'EXTERNAL',
    entryPoint: { externalConnectionName: CONNECTION } });
  await ca.assertRetained('app', { package: INTERNAL, version: '1.0.0', originType: 'INTERNAL',
    entryPoint: { repositoryName: 'npm-store' } });
});
