// npm install / npm ci of a 110+ package dependency graph through arca, then offline (stand-in
// upstream stopped) from arca's cache alone.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir, run, cleanEnv } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { StandinRegistry, tarballFileName } from './lib/registry.mjs';
import { generatePackages, expectedNames, expectedClosure } from './lib/packages.mjs';
import {
  Npm, makeProject, readLockfile, lockedPackages, assertInstalledMatches,
  assertDependenciesSatisfied,
} from './lib/npm.mjs';

describe('npm install and npm ci through arca (115 packages, scoped, DAG)', { timeout: 300_000 }, () => {
  let set;
  let standin;
  let arca;
  let npm;
  let project;
  let lock;

  before(async () => {
    set = await generatePackages({ count: 115, scoped: 12, multiVersion: 6, roots: 20, prefix: 'inst', seed: 7 });
    standin = new StandinRegistry();
    standin.addPackages(set.packages);
    await standin.start();
    arca = await startArca({ label: 'npm-install', upstreamUrl: standin.url });
    npm = new Npm({ label: 'npm-install-client' });
    npm.setRegistry(arca.registry('main'));
    project = makeProject(path.join(makeTempDir('npm-install-project'), 'app'), set.rootRanges);
  });

  test('the generated package set is big enough (>=110 names, >=10 scoped, several versions)', () => {
    assert.ok(set.names.length >= 110, `${set.names.length} names`);
    assert.ok(set.names.filter((n) => n.startsWith('@')).length >= 10);
    assert.ok(set.names.some((n) => set.versionsOf(n).length > 1));
    assert.equal(Object.keys(set.rootRanges).length, 20);
  });

  test('npm install through arca creates a lockfile whose resolved URLs all point at arca', async () => {
    await npm.ok(['install'], { cwd: project, timeoutMs: 180_000 });
    lock = readLockfile(project);
    const locked = lockedPackages(lock);
    // Every name reachable from the project is installed, and only generated versions.
    assert.deepEqual(new Set(locked.map((l) => l.name)), expectedNames(set, set.rootRanges));
    assert.ok(locked.length >= 110, `only ${locked.length} packages in the lockfile`);
    const upperBound = expectedClosure(set, set.rootRanges);
    const registry = arca.registry('main');
    for (const l of locked) {
      const id = `${l.name}@${l.version}`;
      assert.ok(upperBound.has(id), `lockfile has unexpected ${id}`);
      assert.equal(l.resolved, `${registry}${l.name}/-/${tarballFileName(l.name, l.version)}`,
        `resolved URL of ${id} must be arca's tarball URL`);
      assert.equal(l.integrity, set.byId.get(id).integrity, `integrity of ${id}`);
    }
    assertInstalledMatches(project, set, lock);
    assertDependenciesSatisfied(project);
  });

  test('the installed tree loads in node (every require resolves)', async () => {
    const script = `const roots = ${JSON.stringify(set.roots)};\n` +
      'console.log(JSON.stringify(roots.map((n) => [n, require(n).version])));';
    const r = await run(process.execPath, ['-e', script], { cwd: project, env: cleanEnv(), timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    const loaded = JSON.parse(r.stdout);
    assert.equal(loaded.length, set.roots.length);
  });

  test('npm ci with a fresh npm cache installs the same tree through arca', async () => {
    fs.rmSync(path.join(project, 'node_modules'), { recursive: true, force: true });
    npm.clearCache();
    await npm.ok(['ci'], { cwd: project, timeoutMs: 180_000 });
    assertInstalledMatches(project, set, lock);
    assertDependenciesSatisfied(project);
    assert.deepEqual(readLockfile(project), lock, 'npm ci must not change the lockfile');
  });

  test('with the upstream stopped, npm ci from an empty npm cache succeeds from arca alone', async () => {
    await standin.stop();
    const before = standin.requests.length;
    fs.rmSync(path.join(project, 'node_modules'), { recursive: true, force: true });
    npm.clearCache();
    await npm.ok(['ci'], { cwd: project, timeoutMs: 180_000 });
    assertInstalledMatches(project, set, lock);
    assertDependenciesSatisfied(project);
    assert.equal(standin.requests.length, before, 'the stopped stand-in cannot have been reached');
  });

  test('the upstream served each tarball at most once across all runs', () => {
    const counts = standin.tarballCounts();
    const over = [...counts.entries()].filter(([, n]) => n > 1);
    assert.deepEqual(over, [], 'tarballs fetched from the upstream more than once');
    for (const l of lockedPackages(lock)) {
      assert.equal(counts.get(`${l.name}@${l.version}`), 1,
        `${l.name}@${l.version} should have been fetched from the upstream exactly once`);
    }
  });

  test('arca did not crash', () => {
    assert.equal(arca.crashed(), false, 'arca exited unexpectedly');
    assert.ok(arca.running);
  });
});
