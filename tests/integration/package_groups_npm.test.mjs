// Package-group origin controls enforced for real npm: the dependency-confusion scenario. A
// stand-in "public" registry serves @corp/thing 9.9.9; the group /npm/corp/* blocks
// EXTERNAL_UPSTREAM and allows PUBLISH only to `internal`. npm publish to `internal` works, to
// `main` is refused (403 naming the group); npm install through `main` (upstreams: internal,
// npm-store) gets the internal 1.0.0, never the public 9.9.9 (whose tarball is never fetched);
// a package outside the group still comes from the stand-in. Then the other modes: PUBLISH
// BLOCK and ALLOW, EXTERNAL_UPSTREAM ALLOW_SPECIFIC_REPOSITORIES and ALLOW, INTERNAL_UPSTREAM
// BLOCK, ALLOW_SPECIFIC_REPOSITORIES and ALLOW; and package-level settings
// (PutPackageOriginConfiguration) blocking what the groups allow.

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
const GUARDED = 'pg-guarded-thing'; // outside every group; blocked by its package-level setting
const GROUP = '/npm/corp/*';
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
  standin.addPackage(await packed(GUARDED, '3.0.0'));
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
          // Never installs anything before the INTERNAL_UPSTREAM test (main retains what it
          // served, and retained versions stay whatever the controls say later).
          { name: 'fresh', upstreams: ['internal', 'npm-store'] },
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

async function setOrigin(restrictions, changes = {}) {
  await client.send(new sdk.UpdatePackageGroupOriginConfigurationCommand({ domain, packageGroup: GROUP, restrictions, ...changes }));
}

async function versionsIn(repo, name) {
  const r = await getJson(arca.registry(repo, domain) + name.replace('/', '%2f'));
  return r.status === 200 ? Object.keys(r.json.versions) : r.status;
}

test('PUBLISH BLOCK and ALLOW', { skip, timeout: 60_000 }, async () => {
  await setOrigin({ PUBLISH: 'BLOCK' });
  npm.setRegistry(arca.registry('internal', domain));
  const refused = await npm.run(['publish'], { cwd: writePackage(THING, '1.0.2').dir });
  assert.notEqual(refused.code, 0, 'BLOCK: not even internal');
  assert.match(refused.stderr, /PUBLISH origin control of package group \/npm\/corp\/\*/, refused.stderr);

  await setOrigin({ PUBLISH: 'ALLOW' });
  npm.setRegistry(arca.registry('main', domain));
  await npm.ok(['publish'], { cwd: writePackage('@corp/other', '1.0.0').dir });
  assert.deepEqual(await versionsIn('main', '@corp/other'), ['1.0.0']);
  await setOrigin({ PUBLISH: 'ALLOW_SPECIFIC_REPOSITORIES' });
  assert.deepEqual(await versionsIn('internal', THING), ['1.0.0']);
});

test('EXTERNAL_UPSTREAM ALLOW_SPECIFIC_REPOSITORIES and ALLOW', { skip, timeout: 60_000 }, async () => {
  await setOrigin({ EXTERNAL_UPSTREAM: 'ALLOW_SPECIFIC_REPOSITORIES' },
    { addAllowedRepositories: [{ originRestrictionType: 'EXTERNAL_UPSTREAM', repositoryName: 'main' }] });
  assert.deepEqual(await versionsIn('main', THING), ['1.0.0'], 'the connection belongs to npm-store');
  await setOrigin({ EXTERNAL_UPSTREAM: 'ALLOW_SPECIFIC_REPOSITORIES' },
    { addAllowedRepositories: [{ originRestrictionType: 'EXTERNAL_UPSTREAM', repositoryName: 'npm-store' }] });
  assert.deepEqual((await versionsIn('main', THING)).sort(), ['1.0.0', '9.9.9']);
  await setOrigin({ EXTERNAL_UPSTREAM: 'ALLOW' });
  assert.deepEqual((await versionsIn('main', THING)).sort(), ['1.0.0', '9.9.9']);
  await setOrigin({ EXTERNAL_UPSTREAM: 'BLOCK' });
  assert.deepEqual(await versionsIn('main', THING), ['1.0.0']);
  assert.equal(standin.countTarball(THING, '9.9.9'), 0);
});

test('INTERNAL_UPSTREAM BLOCK, ALLOW_SPECIFIC_REPOSITORIES and ALLOW', { skip, timeout: 60_000 }, async () => {
  await setOrigin({ INTERNAL_UPSTREAM: 'BLOCK' });
  // main retained 1.0.0 when it was installed through it: a retained version stays.
  assert.deepEqual(await versionsIn('main', THING), ['1.0.0']);
  // fresh never fetched it: nothing comes in from the upstream repository.
  assert.equal(await versionsIn('fresh', THING), 404);
  npm.setRegistry(arca.registry('fresh', domain));
  const project = makeProject(path.join(work, 'project-internal-block'), { [THING]: '^1.0.0' });
  const r = await npm.run(['install'], { cwd: project });
  assert.notEqual(r.code, 0, 'npm must not find @corp/thing through fresh');
  assert.match(r.stderr, /E404|404/);
  await setOrigin({ INTERNAL_UPSTREAM: 'ALLOW_SPECIFIC_REPOSITORIES' },
    { addAllowedRepositories: [{ originRestrictionType: 'INTERNAL_UPSTREAM', repositoryName: 'fresh' }] });
  assert.deepEqual(await versionsIn('fresh', THING), ['1.0.0']);
  await npm.ok(['install'], { cwd: project });
  assert.deepEqual(installedPackages(project).map((p) => `${p.json.name}@${p.json.version}`), [`${THING}@1.0.0`]);
  await setOrigin({ INTERNAL_UPSTREAM: 'ALLOW' });
  assert.deepEqual(await versionsIn('fresh', THING), ['1.0.0']);
});

test('package-level origin configuration blocks what the groups allow', { skip, timeout: 60_000 }, async () => {
  // Outside every group: only its package-level upstream=BLOCK in npm-store keeps it out.
  const guarded = { domain, repository: 'npm-store', format: 'npm', package: GUARDED };
  await client.send(new sdk.PutPackageOriginConfigurationCommand({ ...guarded, restrictions: { publish: 'BLOCK', upstream: 'BLOCK' } }));
  // PutPackageOriginConfiguration made an empty package in npm-store: no versions either way.
  const listed = await versionsIn('main', GUARDED);
  assert.ok(listed === 404 || listed.length === 0, `listed: ${listed}`);
  npm.setRegistry(arca.registry('main', domain));
  const project = makeProject(path.join(work, 'project-guarded'), { [GUARDED]: '^3.0.0' });
  npm.clearCache();
  const r = await npm.run(['install'], { cwd: project });
  assert.notEqual(r.code, 0, 'npm must not get the guarded package');
  assert.equal(standin.countTarball(GUARDED, '3.0.0'), 0);
  await client.send(new sdk.PutPackageOriginConfigurationCommand({ ...guarded, restrictions: { publish: 'BLOCK', upstream: 'ALLOW' } }));
  await npm.ok(['install'], { cwd: project });
  assert.equal(standin.countTarball(GUARDED, '3.0.0'), 1);

  // The group lets internal publish @corp/thing; publish=BLOCK on the package refuses it.
  const thing = { domain, repository: 'internal', format: 'npm', namespace: 'corp', package: 'thing' };
  await client.send(new sdk.PutPackageOriginConfigurationCommand({ ...thing, restrictions: { publish: 'BLOCK', upstream: 'BLOCK' } }));
  npm.setRegistry(arca.registry('internal', domain));
  const refused = await npm.run(['publish'], { cwd: writePackage(THING, '1.0.3').dir });
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /origin configuration of package thing in repository internal \(publish=BLOCK\)/, refused.stderr);
  await client.send(new sdk.PutPackageOriginConfigurationCommand({ ...thing, restrictions: { publish: 'ALLOW', upstream: 'BLOCK' } }));
  await npm.ok(['publish'], { cwd: writePackage(THING, '1.0.3').dir });
  assert.deepEqual(await versionsIn('internal', THING), ['1.0.0', '1.0.3']);
});
