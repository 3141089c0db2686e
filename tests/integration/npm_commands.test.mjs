// npm commands beyond install and publish (issue 14, item 5), driven with the real npm 11:
// `npm search` over what the repository and its upstream repositories hold (published and
// cached packages, paging); `npm unpublish` (refused by default, as in CodeArtifact, with a
// message naming delete-package-versions; with npm.allow_unpublish one version or the whole
// package goes, latest moves, the CodeArtifact API no longer lists it; a version retained from
// an upstream is refused); the packument's `_rev`; commands arca does not serve (npm access,
// npm token, npm profile, ...) answer 501 with a message naming them.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { StandinRegistry } from './lib/registry.mjs';
import { generatePackages } from './lib/packages.mjs';
import { Npm } from './lib/npm.mjs';
import { Aws, awsBin } from './lib/aws.mjs';
import { request, getJson, describeResponse } from './lib/http.mjs';

const NAME = 'arca-it-cmds';
const GONE = 'arca-it-cmds-gone';
const SCOPED = '@corp/arca-it-cmds-scoped';
const skip = awsBin() ? false : 'Debian awscli (/usr/bin/aws) is not installed';

function writePackage(root, name, version, extra = {}) {
  const dir = path.join(root, `${name.replace('@', '').replace('/', '__')}-${version}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'),
    JSON.stringify({ name, version, main: 'index.js', license: 'MIT', ...extra }, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, 'index.js'), `exports.version = ${JSON.stringify(version)};\n`);
  return dir;
}

describe('npm search, unpublish and unsupported commands through arca', { skip, timeout: 600_000 }, () => {
  let arca;
  let standin;
  let npm;
  let aws;
  let upstreamPkg;
  let storeOnly;

  before(async () => {
    const set = await generatePackages({ count: 2, scoped: 0, multiVersion: 0, roots: 2, deps: false, prefix: 'cmdsup', seed: 15 });
    [upstreamPkg, storeOnly] = set.packages;
    standin = new StandinRegistry();
    standin.addPackages(set.packages);
    await standin.start();
    arca = await startArca({ label: 'npm-commands', upstreamUrl: standin.url });
    aws = new Aws(arca, { label: 'npm-commands-aws' });
    npm = new Npm({ label: 'npm-commands' });
    npm.setRegistry(arca.registry('main'));
    const work = makeTempDir('npm-commands-work');
    for (const v of ['1.0.0', '1.1.0', '2.0.0']) {
      await npm.ok(['publish'], { cwd: writePackage(work, NAME, v,
        { description: 'Commands fixture for arca', keywords: ['arca-fixture', 'commands'] }) });
    }
    for (const v of ['1.0.0', '1.1.0']) await npm.ok(['publish'], { cwd: writePackage(work, GONE, v) });
    await npm.ok(['publish', '--access', 'public'], { cwd: writePackage(work, SCOPED, '1.0.0',
      { description: 'A scoped one' }) });
    // One upstream package cached (retained) in main and npm-store, another only in npm-store.
    const proj = makeTempDir('npm-commands-install');
    fs.writeFileSync(path.join(proj, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0' }));
    await npm.ok(['install', `${upstreamPkg.name}@${upstreamPkg.version}`], { cwd: proj });
    const store = new Npm({ label: 'npm-commands-store' });
    store.setRegistry(arca.registry('npm-store'));
    const proj2 = makeTempDir('npm-commands-install-store');
    fs.writeFileSync(path.join(proj2, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0' }));
    await store.ok(['install', `${storeOnly.name}@${storeOnly.version}`], { cwd: proj2 });
  });

  after(async () => {
    if (arca) await arca.stop();
    if (standin) await standin.stop();
  });

  const search = async (...args) => JSON.parse((await npm.ok(['search', '--json', ...args])).stdout);
  const names = (found) => found.map((p) => p.name).sort();
  const versionsIn = async (repo, pkg) => {
    const r = await aws.run(['list-package-versions', '--domain', 'local', '--repository', repo,
      '--format', 'npm', ...(pkg.startsWith('@') ? ['--namespace', pkg.slice(1, pkg.indexOf('/')), '--package', pkg.slice(pkg.indexOf('/') + 1)] : ['--package', pkg])]);
    if (r.code !== 0) {
      assert.match(r.stderr, /ResourceNotFoundException/, r.stderr);
      return [];
    }
    return JSON.parse(r.stdout).versions.map((v) => v.version).sort();
  };

  test('npm search finds published packages by name, keyword and description', async () => {
    const found = await search(NAME);
    assert.deepEqual(names(found), [SCOPED, NAME, GONE].sort());
    const main = found.find((p) => p.name === NAME);
    assert.equal(main.version, '2.0.0');
    assert.equal(main.description, 'Commands fixture for arca');
    assert.deepEqual(main.keywords, ['arca-fixture', 'commands']);
    assert.ok(main.date, JSON.stringify(main));
    assert.equal(found[0].name, NAME, 'the exact name comes first');
    assert.deepEqual(names(await search('arca-fixture')), [NAME]);  // keyword
    assert.deepEqual(names(await search('scoped one')), [SCOPED]);  // description words
    const text = (await npm.ok(['search', NAME])).stdout;
    assert.match(text, new RegExp(`${SCOPED.replace('/', '\\/')}`));
    assert.match(text, /Commands fixture for arca/);
  });

  test('npm search finds cached upstream packages (main and its upstream repository)', async () => {
    assert.deepEqual(names(await search(upstreamPkg.name)), [upstreamPkg.name]);
    assert.deepEqual(names(await search(storeOnly.name)), [storeOnly.name]);
    assert.deepEqual(await search('no-such-package-anywhere'), []);
  });

  test('search pages with size and from', async () => {
    assert.equal((await search(NAME, '--searchlimit', '1')).length, 1);
    const base = `${arca.registry('main')}-/v1/search?text=${NAME}`;
    const all = await getJson(`${base}&size=250`);
    assert.equal(all.status, 200, describeResponse(all));
    assert.equal(all.json.total, 3);
    assert.ok(all.json.time);
    const order = all.json.objects.map((o) => o.package.name);
    const pages = [];
    for (let from = 0; from < 4; from += 2) {
      const page = await getJson(`${base}&size=2&from=${from}`);
      assert.equal(page.json.total, 3);
      pages.push(...page.json.objects.map((o) => o.package.name));
    }
    assert.deepEqual(pages, order);
    const scoped = all.json.objects.find((o) => o.package.name === SCOPED).package;
    assert.equal(scoped.scope, 'corp');
    assert.equal(scoped.links.npm, `${arca.registry('main')}${SCOPED}`);
    const bad = await request(`${base}&size=251`);
    assert.equal(bad.status, 400, describeResponse(bad));
  });

  test('packuments carry a _rev that moves when the document changes', async () => {
    const url = `${arca.registry('main')}${NAME}`;
    const a = (await getJson(url, { headers: { accept: 'application/json' } })).json;
    assert.match(a._rev, /^3-[0-9a-f]{32}$/);
    const again = (await getJson(`${url}?write=true`, { headers: { accept: 'application/json' } })).json;
    assert.equal(again._rev, a._rev);
    await npm.ok(['deprecate', `${NAME}@1.0.0`, 'old']);
    const b = (await getJson(url, { headers: { accept: 'application/json' } })).json;
    assert.notEqual(b._rev, a._rev);
    await npm.ok(['deprecate', `${NAME}@1.0.0`, '']);
  });

  test('unsupported commands say so', async () => {
    let r = await npm.run(['access', 'list', 'packages']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /npm access is not supported by arca/);
    r = await npm.run(['access', 'list', 'collaborators', NAME]);
    assert.match(r.stderr, /npm access is not supported by arca/);
    r = await npm.run(['token', 'list']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /npm token is not supported by arca/);
    r = await npm.run(['profile', 'get']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /npm profile is not supported by arca/);
    r = await npm.run(['org', 'ls', 'corp']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /npm org is not supported by arca/);
    r = await npm.run(['team', 'ls', 'corp']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /npm team is not supported by arca/);
    const h = await request(`${arca.registry('main')}-/npm/v1/hooks`);
    assert.equal(h.status, 501, describeResponse(h));
    assert.equal(JSON.parse(h.body).error, 'npm hook is not supported by arca');
  });

  test('npm unpublish is refused by default, naming delete-package-versions', async () => {
    const r = await npm.run(['unpublish', `${NAME}@2.0.0`]);
    assert.notEqual(r.code, 0, `npm unpublish succeeded:\n${r.stdout}`);
    assert.match(r.stderr, /405/);
    assert.match(r.stderr, /aws codeartifact delete-package-versions/);
    const whole = await npm.run(['unpublish', GONE, '--force']);
    assert.notEqual(whole.code, 0);
    assert.match(whole.stderr, /delete-package-versions/);
    assert.deepEqual(await versionsIn('main', NAME), ['1.0.0', '1.1.0', '2.0.0']);
    assert.deepEqual(await versionsIn('main', GONE), ['1.0.0', '1.1.0']);
  });

  describe('with npm.allow_unpublish', () => {
    before(async () => {
      await arca.stop();
      arca.config.npm = { allow_unpublish: true };
      await arca.start();
      npm.setRegistry(arca.registry('main'));
    });

    test('npm unpublish name@version removes the version; latest moves', async () => {
      const r = await npm.ok(['unpublish', `${NAME}@2.0.0`]);
      assert.match(r.stdout, new RegExp(`- ${NAME}@2\\.0\\.0`));
      const versions = JSON.parse((await npm.ok(['view', NAME, 'versions', '--json'])).stdout);
      assert.deepEqual(versions, ['1.0.0', '1.1.0']);
      assert.equal((await npm.ok(['view', NAME, 'dist-tags.latest'])).stdout.trim(), '1.1.0');
      assert.deepEqual(await versionsIn('main', NAME), ['1.0.0', '1.1.0']);
      const tgz = await request(`${arca.registry('main')}${NAME}/-/${NAME}-2.0.0.tgz`);
      assert.equal(tgz.status, 404, describeResponse(tgz));
      assert.equal((await search(NAME)).find((p) => p.name === NAME).version, '1.1.0');
      // The version can be published again.
      await npm.ok(['publish'], { cwd: writePackage(makeTempDir('npm-commands-republish'), NAME, '2.0.0') });
      assert.deepEqual(await versionsIn('main', NAME), ['1.0.0', '1.1.0', '2.0.0']);
    });

    test('npm unpublish name --force removes the package', async () => {
      const r = await npm.ok(['unpublish', GONE, '--force']);
      assert.match(r.stdout, new RegExp(`- ${GONE}`));
      const view = await npm.run(['view', GONE]);
      assert.notEqual(view.code, 0);
      assert.match(view.stderr, /E404/);
      assert.deepEqual(await versionsIn('main', GONE), []);
      assert.deepEqual(names(await search(NAME)), [SCOPED, NAME].sort());
      // A scoped package's last version.
      await npm.ok(['unpublish', `${SCOPED}@1.0.0`, '--force']);
      assert.notEqual((await npm.run(['view', SCOPED])).code, 0);
      assert.deepEqual(await versionsIn('main', SCOPED), []);
    });

    test('versions retained from or served by an upstream cannot be unpublished', async () => {
      let r = await npm.run(['unpublish', `${upstreamPkg.name}@${upstreamPkg.version}`, '--force']);
      assert.notEqual(r.code, 0, `unpublish of a retained version succeeded:\n${r.stdout}`);
      assert.match(r.stderr, /403/);
      assert.match(r.stderr, /retained in repository main from external connection public:npmjs/);
      assert.deepEqual(await versionsIn('main', upstreamPkg.name), [upstreamPkg.version]);
      r = await npm.run(['unpublish', `${storeOnly.name}@${storeOnly.version}`, '--force']);
      assert.notEqual(r.code, 0, `unpublish of an upstream repository's version succeeded:\n${r.stdout}`);
      assert.match(r.stderr, /served from upstream repository npm-store/);
      assert.deepEqual(await versionsIn('npm-store', storeOnly.name), [storeOnly.version]);
    });

    test('a stale _rev is a conflict', async () => {
      const url = `${arca.registry('main')}${NAME}`;
      const r = await request(`${url}/-rev/1-00000000000000000000000000000000`,
        { method: 'DELETE', headers: { authorization: 'Bearer placeholder' } });
      assert.equal(r.status, 409, describeResponse(r));
      assert.deepEqual(await versionsIn('main', NAME), ['1.0.0', '1.1.0', '2.0.0']);
    });
  });
});
