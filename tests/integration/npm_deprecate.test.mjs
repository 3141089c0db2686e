// `npm deprecate` against arca (issue 14): npm GETs /<pkg>?write=true and PUTs the edited whole
// packument back without _attachments. Deprecating and undeprecating single versions, ranges
// and scoped packages; the message is in the packument (full and abbreviated) and in
// `npm view pkg@v deprecated`; versions only an upstream serves cannot be deprecated here (as in
// CodeArtifact); a metadata PUT cannot add versions or change dist.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { StandinRegistry } from './lib/registry.mjs';
import { generatePackages } from './lib/packages.mjs';
import { Npm } from './lib/npm.mjs';
import { request, getJson, describeResponse } from './lib/http.mjs';

const NAME = 'arca-it-deprecated';
const SCOPED = '@corp/arca-it-deprecated-scoped';

function writePackage(root, name, version) {
  const dir = path.join(root, `${name.replace('@', '').replace('/', '__')}-${version}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'),
    JSON.stringify({ name, version, main: 'index.js', license: 'MIT' }, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, 'index.js'), `exports.version = ${JSON.stringify(version)};\n`);
  return dir;
}

describe('npm deprecate through arca', { timeout: 300_000 }, () => {
  let arca;
  let npm;
  let upstreamPkg;

  before(async () => {
    const set = await generatePackages({ count: 1, scoped: 0, multiVersion: 0, roots: 1, deps: false, prefix: 'depup', seed: 14 });
    upstreamPkg = set.packages[0];
    const standin = new StandinRegistry();
    standin.addPackages(set.packages);
    await standin.start();
    arca = await startArca({ label: 'npm-deprecate', upstreamUrl: standin.url });
    npm = new Npm({ label: 'npm-deprecator' });
    npm.setRegistry(arca.registry('main'));
    const work = makeTempDir('npm-deprecate-work');
    for (const v of ['1.0.0', '1.1.0', '2.0.0']) await npm.ok(['publish'], { cwd: writePackage(work, NAME, v) });
    await npm.ok(['publish', '--access', 'public'], { cwd: writePackage(work, SCOPED, '1.0.0') });
  });

  const deprecated = async (spec) => (await npm.ok(['view', spec, 'deprecated'])).stdout.trim();

  test('deprecate one version: npm view and both packument forms show it', async () => {
    await npm.ok(['deprecate', `${NAME}@1.0.0`, 'use 1.1.0 or later']);
    assert.equal(await deprecated(`${NAME}@1.0.0`), 'use 1.1.0 or later');
    assert.equal(await deprecated(`${NAME}@1.1.0`), '');
    const full = await getJson(`${arca.registry('main')}${NAME}`, { headers: { accept: 'application/json' } });
    assert.equal(full.status, 200, describeResponse(full));
    assert.equal(full.json.versions['1.0.0'].deprecated, 'use 1.1.0 or later');
    assert.equal(full.json.versions['2.0.0'].deprecated, undefined);
    const abbreviated = await getJson(`${arca.registry('main')}${NAME}`,
      { headers: { accept: 'application/vnd.npm.install-v1+json' } });
    assert.equal(abbreviated.json.versions['1.0.0'].deprecated, 'use 1.1.0 or later');
    // Installing the deprecated version warns.
    const proj = makeTempDir('npm-deprecate-install');
    fs.writeFileSync(path.join(proj, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0' }));
    const r = await npm.ok(['install', `${NAME}@1.0.0`], { cwd: proj });
    assert.match(r.stderr, /deprecated .*use 1\.1\.0 or later/);
  });

  test('a range deprecates every matching version; "" undeprecates', async () => {
    await npm.ok(['deprecate', `${NAME}@<2`, 'the 1.x line is retired']);
    assert.equal(await deprecated(`${NAME}@1.0.0`), 'the 1.x line is retired');
    assert.equal(await deprecated(`${NAME}@1.1.0`), 'the 1.x line is retired');
    assert.equal(await deprecated(`${NAME}@2.0.0`), '');
    await npm.ok(['deprecate', `${NAME}@1.1.0`, '']);
    assert.equal(await deprecated(`${NAME}@1.1.0`), '');
    assert.equal(await deprecated(`${NAME}@1.0.0`), 'the 1.x line is retired');
    const full = await getJson(`${arca.registry('main')}${NAME}`, { headers: { accept: 'application/json' } });
    assert.equal('deprecated' in full.json.versions['1.1.0'], false);
  });

  test('a scoped package', async () => {
    await npm.ok(['deprecate', `${SCOPED}@1.0.0`, 'moved to @corp/other']);
    assert.equal(await deprecated(`${SCOPED}@1.0.0`), 'moved to @corp/other');
    await npm.ok(['deprecate', SCOPED, '']);
    assert.equal(await deprecated(`${SCOPED}@1.0.0`), '');
  });

  test('a version only an upstream serves cannot be deprecated here', async () => {
    const spec = `${upstreamPkg.name}@${upstreamPkg.version}`;
    const r = await npm.run(['deprecate', spec, 'not mine']);
    assert.notEqual(r.code, 0, `npm deprecate of an upstream version succeeded:\n${r.stdout}`);
    assert.match(r.stderr, /400/);
    assert.match(r.stderr, /not in repository main/);
    assert.equal(await deprecated(spec), '');
  });

  test('a metadata PUT cannot add versions or change dist', async () => {
    const url = `${arca.registry('main')}${NAME}`;
    const current = (await getJson(`${url}?write=true`, { headers: { accept: 'application/json' } })).json;
    const put = (doc) => request(url, { method: 'PUT', body: JSON.stringify(doc),
      headers: { 'content-type': 'application/json', authorization: 'Bearer placeholder' } });

    const added = structuredClone(current);
    added.versions['3.0.0'] = { ...added.versions['2.0.0'], version: '3.0.0' };
    let r = await put(added);
    assert.equal(r.status, 400, describeResponse(r));
    assert.match(JSON.parse(r.body).error, /3\.0\.0 .*does not exist/);

    const changed = structuredClone(current);
    changed.versions['2.0.0'].dist.integrity = current.versions['1.0.0'].dist.integrity;
    changed.versions['2.0.0'].deprecated = 'sneaky';
    r = await put(changed);
    assert.equal(r.status, 400, describeResponse(r));
    assert.match(JSON.parse(r.body).error, /dist\.integrity/);

    const after = (await getJson(url, { headers: { accept: 'application/json' } })).json;
    assert.deepEqual(Object.keys(after.versions).sort(), ['1.0.0', '1.1.0', '2.0.0']);
    assert.equal(after.versions['2.0.0'].dist.integrity, current.versions['2.0.0'].dist.integrity);
    assert.equal(after.versions['2.0.0'].deprecated, undefined);
  });
});
