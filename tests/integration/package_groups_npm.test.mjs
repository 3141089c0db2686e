// Package-group origin controls enforced for real npm: the dependency-confusion scenario. A
// stand-in "public" registry serves @corp/thing 9.9.9; the group /npm/corp/* blocks
// EXTERNAL_UPSTREAM and allows PUBLISH only to `internal`. npm publish to `internal` works, to
// `main` is refused (403 naming the group); npm install through `main` (upstreams: internal,
// npm-store) gets the internal 1.0.0, never the public 9.9.9 (whose tarball is never fetched);
// a package outside the group still comes from the stand-in.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { loadSdk, sdkClient } from './lib/aws.mjs';
import { StandinRegistry } from './lib/registry.mjs';
import { Npm, makeProject, installedPackages } from './lib/npm.mjs';
import { getJson } from './lib/http.mjs';

const sdk = loadSdk();
const skip = sdk ? false : '@aws-sdk/client-codeartifact is not installed (scripts/setup.sh --test installs it)';

const THING = '@corp/thing';
const OUTSIDE = 'pg-outside-thing';
const domain = 'local';

let standin;
let arca;
let client;
let npm;
let work;

function writePackage(name, version) {
  const dir = path.join(work, `${name.replace('@', '').replace('/', '__')}-${version}`);
  fs.mkdirSync(dir, { recursive: true });
  const manifest = { name, version, description: `package groups test (${version})`, main: 'index.js', license: 'MIT' };
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, 'index.js'), `exports.version = ${JSON.stringify(version)};\n`);
  return { dir, manifest };
}

// Packs a folder with the real npm; {name, version, manifest, tarball} for the stand-in.
async function packed(name, version) {
  const { dir, manifest } = writePackage(name, version);
  const out = path.join(work, 'packed');
  fs.mkdirSync(out, { recursive: true });
  const r = await npm.ok(['pack', dir, '--pack-destination', out, '--json']);
  const info = JSON.parse(r.stdout.slice(r.stdout.indexOf('[')))[0];
  return { name, version, manifest, tarball: fs.readFileSync(path.join(out, info.filename)) };
}

before(async () => {
  if (skip) return;
  work = makeTempDir('pg-npm-work');
  npm = new Npm({ label: 'pg-npm' });
  standin = new StandinRegistry({ label: 'public stand-in' });
  standin.addPackage(await packed(THING, '9.9.9'));
  standin.addPackage(await packed(OUTSIDE, '2.0.0'));
  await standin.start();
  arca = await startArca({
    label: 'pg-npm', upstreamUrl: standin.url,
    config: {
      domains: [{
        name: domain,
        repositories: [
          { name: 'internal' },
          { name: 'npm-store', external_connection: 'public:npmjs' },
          { name: 'main', upstreams: ['internal', 'npm-store'] },
        ],
      }],
    },
  });
  client = sdkClient(sdk, arca);
  await client.send(new sdk.CreatePackageGroupCommand({ domain, packageGroup: '/npm/corp/*' }));
  const r = await client.send(new sdk.UpdatePackageGroupOriginConfigurationCommand({
    domain, packageGroup: '/npm/corp/*',
    restrictions: { EXTERNAL_UPSTREAM: 'BLOCK', PUBLISH: 'ALLOW_SPECIFIC_REPOSITORIES' },
    addAllowedRepositories: [{ originRestrictionType: 'PUBLISH', repositoryName: 'internal' }],
  }));
  assert.equal(r.packageGroup.originConfiguration.restrictions.EXTERNAL_UPSTREAM.mode, 'BLOCK');
});

after(async () => {
  if (arca) await arca.stop();
  if (standin) await standin.stop();
});

test('npm publish to internal works, to main is refused by the group', { skip, timeout: 60_000 }, async () => {
  npm.setRegistry(arca.registry('internal', domain));
  const { dir } = writePackage(THING, '1.0.0');
  await npm.ok(['publish'], { cwd: dir });

  npm.setRegistry(arca.registry('main', domain));
  const other = writePackage(THING, '1.0.1');
  const refused = await npm.run(['publish'], { cwd: other.dir });
  assert.notEqual(refused.code, 0, 'npm publish to main must fail');
  assert.match(refused.stderr, /E403|403/, refused.stderr);
  assert.match(refused.stderr, /\/npm\/corp\/\*/, `the error names the package group:\n${refused.stderr}`);
  const doc = await getJson(arca.registry('internal', domain) + '@corp%2fthing');
  assert.deepEqual(Object.keys(doc.json.versions), ['1.0.0']);
});

test('npm install through main gets the internal version, never the public one', { skip, timeout: 60_000 }, async () => {
  npm.setRegistry(arca.registry('main', domain));
  const view = await getJson(arca.registry('main', domain) + '@corp%2fthing');
  assert.equal(view.status, 200);
  assert.deepEqual(Object.keys(view.json.versions), ['1.0.0']);
  assert.equal(view.json['dist-tags'].latest, '1.0.0');

  const project = makeProject(path.join(work, 'project'), { [THING]: '*', [OUTSIDE]: '^2.0.0' });
  npm.clearCache(); // `npm pack` left the stand-in's tarballs in npm's cache
  await npm.ok(['install'], { cwd: project });
  const installed = installedPackages(project).map((p) => `${p.json.name}@${p.json.version}`).sort();
  assert.deepEqual(installed, [`${THING}@1.0.0`, `${OUTSIDE}@2.0.0`]);
  assert.equal(standin.countTarball(THING, '9.9.9'), 0, 'the public 9.9.9 tarball was never served');
  assert.ok(standin.countTarball(OUTSIDE, '2.0.0') >= 1,
    `the package outside the group came from the stand-in:\n${standin.describeRequests()}`);

  // The public version's tarball is not filled through arca either.
  const direct = await fetch(arca.registry('npm-store', domain) + '@corp/thing/-/thing-9.9.9.tgz');
  assert.ok(direct.status === 403 || direct.status === 404, `tarball fill answered ${direct.status}`);
  await direct.arrayBuffer();
  assert.equal(standin.countTarball(THING, '9.9.9'), 0);
});
