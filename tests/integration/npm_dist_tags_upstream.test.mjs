// `npm dist-tag add` on a package `main` only serves from its upstream (issue 14): a tag is kept
// in the repository's own package record and can name only a version the repository holds, so
// tagging a version only the upstream serves is refused with a clear error (it used to answer
// 201 and drop the tag), nothing is recorded in `main` (describe-package: not found), and the
// packument keeps the upstream's tags. Once `main` retains the version (fetched through it), the
// tag works and shows in `npm view`.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { startArca } from './lib/arca.mjs';
import { Aws, awsBin } from './lib/aws.mjs';
import { StandinRegistry, tarballFileName } from './lib/registry.mjs';
import { generatePackages } from './lib/packages.mjs';
import { Npm } from './lib/npm.mjs';
import { request, getJson, describeResponse } from './lib/http.mjs';

const skip = awsBin() ? false : 'awscli is not installed (scripts/setup.sh --test installs it)';

describe('npm dist-tag on a package served from an upstream', { skip, timeout: 300_000 }, () => {
  let arca;
  let npm;
  let aws;
  let name;
  let versions;

  before(async () => {
    const set = await generatePackages({ count: 1, scoped: 0, multiVersion: 1, roots: 1, deps: false, prefix: 'tagup', seed: 15 });
    name = set.packages[0].name;
    versions = set.versionsOf(name);
    const standin = new StandinRegistry();
    standin.addPackages(set.packages);
    await standin.start();
    arca = await startArca({ label: 'npm-dist-tag-upstream', upstreamUrl: standin.url });
    npm = new Npm({ label: 'npm-dist-tagger' });
    npm.setRegistry(arca.registry('main'));
    aws = new Aws(arca);
  });

  const tags = async () => JSON.parse((await npm.ok(['view', name, 'dist-tags', '--json'])).stdout);
  const describePackage = ['describe-package', '--domain', 'local', '--repository', 'main', '--format', 'npm', '--package'];

  test('tagging a version only the upstream serves is refused and records nothing in main', async () => {
    const before = await tags();
    const r = await npm.run(['dist-tag', 'add', `${name}@${versions[0]}`, 'foo']);
    assert.notEqual(r.code, 0, `npm dist-tag add of an upstream version reported success:\n${r.stdout}`);
    assert.doesNotMatch(r.stdout, /\+foo/);
    assert.match(r.stderr, /not in repository main/);
    assert.deepEqual(await tags(), before);
    assert.equal(before.foo, undefined);
    // No package record in main as a side effect (it used to appear with publish=ALLOW, upstream=BLOCK).
    await aws.fails([...describePackage, name], 'ResourceNotFoundException');
    // Removing a tag main does not hold is refused too, and records nothing.
    const rm = await npm.run(['dist-tag', 'rm', name, 'nope']);
    assert.notEqual(rm.code, 0);
    await aws.fails([...describePackage, name], 'ResourceNotFoundException');
  });

  test('once main retains the version (fetched through it) the tag works', async () => {
    const v = versions[0];
    const t = await request(`${arca.registry('main')}${name}/-/${tarballFileName(name, v)}`);
    assert.equal(t.status, 200, describeResponse(t));
    const r = await npm.ok(['dist-tag', 'add', `${name}@${v}`, 'foo']);
    assert.match(r.stdout, new RegExp(`\\+foo: ${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}@${v.replace(/\./g, '\\.')}`));
    const after = await tags();
    assert.equal(after.foo, v);
    assert.equal(after.latest, versions.at(-1), 'the upstream latest is kept');
    const raw = await getJson(`${arca.registry('main')}-/package/${name}/dist-tags`);
    assert.equal(raw.json.foo, v);
    // main's record is the retained (ingested) package's: publish=BLOCK, upstream=ALLOW.
    const pkg = await aws.ok([...describePackage, name]);
    assert.deepEqual(pkg.package.originConfiguration.restrictions, { publish: 'BLOCK', upstream: 'ALLOW' });
    await npm.ok(['dist-tag', 'rm', name, 'foo']);
    assert.equal((await tags()).foo, undefined);
  });
});
