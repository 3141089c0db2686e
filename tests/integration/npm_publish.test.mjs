// npm publish / view / install / dist-tag against arca's `main` repository, scoped packages,
// the republish refusal, and persistence across a restart.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { StandinRegistry, tarballFileName } from './lib/registry.mjs';
import { generatePackages } from './lib/packages.mjs';
import { Npm, makeProject, installedPackages, assertDependenciesSatisfied } from './lib/npm.mjs';
import { request, getJson, sha512Integrity, describeResponse } from './lib/http.mjs';

const NAME = 'arca-it-published';
const SCOPED = '@corp/arca-it-published-scoped';

// Writes a publishable package folder and returns it.
function writePackage(root, name, version, dependencies = {}) {
  const dir = path.join(root, `${name.replace('@', '').replace('/', '__')}-${version}`);
  fs.mkdirSync(dir, { recursive: true });
  const manifest = {
    name, version,
    description: `published by arca's integration tests (${version})`,
    main: 'index.js', license: 'MIT', dependencies,
  };
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, 'index.js'),
    `exports.name = ${JSON.stringify(name)};\nexports.version = ${JSON.stringify(version)};\n`);
  fs.writeFileSync(path.join(dir, 'README.md'), `# ${name}\n\nversion ${version}\n`);
  return { dir, manifest };
}

// `npm publish --json` prints { id, name, version, integrity, shasum, filename, ... }; npm 11
// wraps it as { "<name>": { ... } }.
function parsePublishJson(stdout) {
  const start = stdout.indexOf('{');
  const doc = JSON.parse(stdout.slice(start));
  if (doc.name === undefined && Object.keys(doc).length === 1) return Object.values(doc)[0];
  return doc;
}

function viewJson(r) {
  return JSON.parse(r.stdout);
}

describe('npm publish to arca', { timeout: 300_000 }, () => {
  let set;
  let standin;
  let arca;
  let npm;
  let work;
  let dep; // a proxied package the published one depends on
  const published = {}; // "name@version" -> publish --json output

  before(async () => {
    set = await generatePackages({ count: 3, scoped: 0, multiVersion: 0, roots: 3, deps: false, prefix: 'pubdep', seed: 11 });
    dep = set.packages[0];
    standin = new StandinRegistry();
    standin.addPackages(set.packages);
    await standin.start();
    arca = await startArca({ label: 'npm-publish', upstreamUrl: standin.url });
    npm = new Npm({ label: 'npm-publisher' });
    npm.setRegistry(arca.registry('main'));
    work = makeTempDir('npm-publish-work');
  });

  async function publish(name, version, deps, extraArgs = []) {
    const { dir } = writePackage(work, name, version, deps);
    const r = await npm.ok(['publish', '--json', ...extraArgs], { cwd: dir });
    const out = parsePublishJson(r.stdout);
    assert.equal(out.name, name);
    assert.equal(out.version, version);
    published[`${name}@${version}`] = out;
    return out;
  }

  test('npm publish of a fresh package to main succeeds', async () => {
    await publish(NAME, '1.0.0', { [dep.name]: `^${dep.version}` });
  });

  test('npm view shows the published version with a tarball URL at arca', async () => {
    const r = await npm.ok(['view', NAME, '--json']);
    const v = viewJson(r);
    assert.equal(v.name, NAME);
    assert.equal(v.version, '1.0.0');
    assert.equal(v['dist-tags'].latest, '1.0.0');
    assert.equal(v.dist.integrity, published[`${NAME}@1.0.0`].integrity);
    assert.equal(v.dist.tarball, `${arca.registry('main')}${NAME}/-/${tarballFileName(NAME, '1.0.0')}`);
    const tgz = await request(v.dist.tarball);
    assert.equal(tgz.status, 200, describeResponse(tgz));
    assert.equal(sha512Integrity(tgz.body), v.dist.integrity);
  });

  test('npm install of the published package in another project (fresh npm cache) works', async () => {
    const other = new Npm({ label: 'npm-consumer' });
    other.setRegistry(arca.registry('main'));
    const proj = makeProject(path.join(makeTempDir('npm-publish-consumer'), 'app'), { [NAME]: '^1.0.0' });
    await other.ok(['install'], { cwd: proj });
    const inst = installedPackages(proj);
    const mine = inst.find((p) => p.json.name === NAME);
    assert.ok(mine, `${NAME} not installed`);
    assert.equal(mine.json.version, '1.0.0');
    const theDep = inst.find((p) => p.json.name === dep.name);
    assert.ok(theDep, `dependency ${dep.name} (proxied from the upstream) not installed`);
    assert.deepEqual(theDep.json, dep.manifest);
    assertDependenciesSatisfied(proj);
  });

  test('a second version publishes and becomes latest', async () => {
    await publish(NAME, '1.1.0', { [dep.name]: `^${dep.version}` });
    const v = viewJson(await npm.ok(['view', NAME, '--json']));
    assert.deepEqual(v.versions, ['1.0.0', '1.1.0']);
    assert.equal(v['dist-tags'].latest, '1.1.0');
  });

  test('republishing 1.0.0 is refused with 403 and changes nothing', async () => {
    // Same version, different content.
    const { dir } = writePackage(path.join(work, 'again'), NAME, '1.0.0', {});
    fs.appendFileSync(path.join(dir, 'index.js'), '// changed\n');
    const r = await npm.run(['publish'], { cwd: dir });
    assert.notEqual(r.code, 0, 'npm publish of an existing version must fail');
    // npm 11 itself refuses after reading the packument ("You cannot publish over the previously
    // published versions"); if it gets as far as the PUT, arca must answer 403.
    assert.match(r.stderr, /cannot publish over the previously published|E403|403 Forbidden/i,
      `npm should report the refusal; stderr:\n${r.stderr}`);

    // The same over raw HTTP, to see the exact status: reuse the original publish body shape.
    const meta = await getJson(`${arca.registry('main')}${NAME}`);
    assert.equal(meta.status, 200);
    const original = meta.json.versions['1.0.0'];
    assert.equal(original.dist.integrity, published[`${NAME}@1.0.0`].integrity,
      'the original 1.0.0 must be unchanged');
    const tgz = await request(original.dist.tarball);
    const body = JSON.stringify({
      _id: NAME, name: NAME, 'dist-tags': { latest: '1.0.0' },
      versions: { '1.0.0': { ...original } },
      access: null,
      _attachments: {
        [tarballFileName(NAME, '1.0.0')]: {
          content_type: 'application/octet-stream', data: tgz.body.toString('base64'), length: tgz.body.length,
        },
      },
    });
    const put = await request(`${arca.registry('main')}${NAME}`, {
      method: 'PUT', body, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    assert.equal(put.status, 403, `PUT /${NAME} republishing 1.0.0: ${describeResponse(put)}`);
    let err;
    try {
      err = JSON.parse(put.body.toString('utf8'));
    } catch {
      err = undefined;
    }
    assert.equal(typeof err?.error, 'string', `403 body should be JSON {"error": ...}: ${describeResponse(put)}`);
  });

  test('npm dist-tag add / ls / rm', async () => {
    await npm.ok(['dist-tag', 'add', `${NAME}@1.0.0`, 'beta']);
    let ls = await npm.ok(['dist-tag', 'ls', NAME]);
    assert.match(ls.stdout, /^beta: 1\.0\.0$/m, ls.stdout);
    assert.match(ls.stdout, /^latest: 1\.1\.0$/m, ls.stdout);
    const raw = await getJson(`${arca.registry('main')}-/package/${NAME}/dist-tags`);
    assert.equal(raw.status, 200, describeResponse(raw));
    assert.deepEqual(raw.json, { latest: '1.1.0', beta: '1.0.0' });
    const view = viewJson(await npm.ok(['view', NAME, 'dist-tags', '--json']));
    assert.deepEqual(view, { latest: '1.1.0', beta: '1.0.0' });

    await npm.ok(['dist-tag', 'rm', NAME, 'beta']);
    ls = await npm.ok(['dist-tag', 'ls', NAME]);
    assert.doesNotMatch(ls.stdout, /beta/, ls.stdout);
    assert.match(ls.stdout, /^latest: 1\.1\.0$/m, ls.stdout);
  });

  test('a scoped package publishes and is readable in both URL forms', async () => {
    const out = await publish(SCOPED, '2.0.0', {}, ['--access', 'public']);
    const v = viewJson(await npm.ok(['view', SCOPED, '--json']));
    assert.equal(v.name, SCOPED);
    assert.equal(v.version, '2.0.0');
    assert.equal(v.dist.integrity, out.integrity);
    assert.equal(v.dist.tarball, `${arca.registry('main')}${SCOPED}/-/${tarballFileName(SCOPED, '2.0.0')}`);
    for (const form of [SCOPED.replace('/', '%2f'), SCOPED]) {
      const r = await getJson(`${arca.registry('main')}${form}`);
      assert.equal(r.status, 200, `${form}: ${describeResponse(r)}`);
      assert.equal(r.json.versions['2.0.0'].dist.integrity, out.integrity, form);
    }
    const proj = makeProject(path.join(makeTempDir('npm-publish-scoped'), 'app'), { [SCOPED]: '^2.0.0' });
    const other = new Npm({ label: 'npm-scoped-consumer' });
    other.setRegistry(arca.registry('main'));
    await other.ok(['install'], { cwd: proj });
    const inst = installedPackages(proj).find((p) => p.json.name === SCOPED);
    assert.equal(inst?.json.version, '2.0.0');
  });

  test('published packages survive an arca restart (upstream stopped)', async () => {
    const stopped = await arca.stop();
    assert.equal(stopped.timedOut, false, 'arca did not exit within 15 s of SIGTERM');
    assert.equal(stopped.code, 0, `arca exit after SIGTERM: ${JSON.stringify(stopped)}`);
    await standin.stop();
    await arca.start();
    npm.setRegistry(arca.registry('main'));

    const v = viewJson(await npm.ok(['view', NAME, '--json']));
    assert.deepEqual(v.versions, ['1.0.0', '1.1.0']);
    assert.deepEqual(v['dist-tags'], { latest: '1.1.0' });
    assert.equal(v.dist.tarball, `${arca.registry('main')}${NAME}/-/${tarballFileName(NAME, '1.1.0')}`,
      'tarball URL must use the new port');
    const s = viewJson(await npm.ok(['view', SCOPED, '--json']));
    assert.equal(s.version, '2.0.0');

    for (const [id, out] of Object.entries(published)) {
      const name = id.slice(0, id.lastIndexOf('@'));
      const version = id.slice(id.lastIndexOf('@') + 1);
      const r = await request(`${arca.registry('main')}${name}/-/${tarballFileName(name, version)}`);
      assert.equal(r.status, 200, `${id}: ${describeResponse(r)}`);
      assert.equal(sha512Integrity(r.body), out.integrity, `${id} tarball after restart`);
    }

    // A fresh install (the proxied dependency comes from arca's cache: upstream is down).
    const proj = makeProject(path.join(makeTempDir('npm-publish-after-restart'), 'app'),
      { [NAME]: '1.0.0', [SCOPED]: '2.0.0' });
    const other = new Npm({ label: 'npm-after-restart' });
    other.setRegistry(arca.registry('main'));
    await other.ok(['install'], { cwd: proj });
    const names = installedPackages(proj).map((p) => `${p.json.name}@${p.json.version}`).sort();
    assert.deepEqual(names, [`${SCOPED}@2.0.0`, `${NAME}@1.0.0`, `${dep.name}@${dep.version}`].sort());
  });

  test('arca did not crash', () => {
    assert.equal(arca.crashed(), false);
  });
});
