// Running the real npm client hermetically: its own userconfig, globalconfig, cache and HOME
// under a temp dir, so the machine's ~/.npmrc (omit-lockfile-registry-resolved, audit=false,
// nodedir, ...) never applies. Plus helpers to make projects and check what got installed.

import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { makeTempDir, run, cleanEnv, registerLogSource, tailText } from './harness.mjs';
import { satisfies } from './packages.mjs';

export class Npm {
  // root: a directory to hold npmrc/cache/home (a fresh temp dir if omitted).
  constructor({ root, label = 'npm' } = {}) {
    this.root = root || makeTempDir(label);
    this.home = path.join(this.root, 'home');
    this.cacheDir = path.join(this.root, 'cache');
    this.userconfig = path.join(this.root, 'npmrc');
    this.globalconfig = path.join(this.root, 'global-npmrc');
    fs.mkdirSync(this.home, { recursive: true });
    fs.writeFileSync(this.globalconfig, '');
    this.registry = null;
    this.history = [];
    this.unregister = registerLogSource(`npm runs (${label})`, () => this.describeHistory());
  }

  // Points npm at `registry` (a URL ending in '/'), with an auth token line for it (npm
  // refuses to publish without one; arca with auth off ignores it).
  setRegistry(registry, extraLines = []) {
    this.registry = registry;
    const u = new URL(registry);
    const lines = [
      `registry=${registry}`,
      `//${u.host}${u.pathname}:_authToken=arca-integration-test-token`,
      ...extraLines,
    ];
    fs.writeFileSync(this.userconfig, lines.join('\n') + '\n');
  }

  clearCache() {
    fs.rmSync(this.cacheDir, { recursive: true, force: true });
  }

  baseArgs(args = []) {
    const base = [
      '--userconfig', this.userconfig,
      '--globalconfig', this.globalconfig,
      '--cache', this.cacheDir,
      '--no-update-notifier', '--no-fund',
      // audit off unless the caller asks for it with --audit
      ...(args.includes('--audit') ? [] : ['--no-audit']),
      // Fail fast and visibly instead of retrying with npm's 10 s+ back-off.
      '--fetch-retries', '0',
      '--fetch-timeout', '60000',
      '--loglevel', 'http',
    ];
    if (this.registry) base.push('--registry', this.registry);
    return base;
  }

  // Runs `npm <args>`; resolves with {code, stdout, stderr, ms, timedOut}.
  async run(args, { cwd = this.root, timeoutMs = 120_000, env = {} } = {}) {
    const fullArgs = [...args, ...this.baseArgs(args)];
    const r = await run('npm', fullArgs, {
      cwd,
      timeoutMs,
      env: cleanEnv({ HOME: this.home, NO_UPDATE_NOTIFIER: '1', ...env }),
    });
    this.history.push({ args, cwd, ...r });
    return r;
  }

  // Like run() but asserts exit code 0.
  async ok(args, opts) {
    const r = await this.run(args, opts);
    assert.equal(r.code, 0,
      `npm ${args.join(' ')} failed (code ${r.code}${r.timedOut ? ', timed out' : ''}, ${r.ms} ms)\n` +
      `stdout:\n${tailText(r.stdout, 60)}\nstderr:\n${tailText(r.stderr, 120)}`);
    return r;
  }

  describeHistory() {
    return this.history.map((h) =>
      `$ npm ${h.args.join(' ')}   (cwd ${h.cwd}) -> code ${h.code}${h.timedOut ? ' TIMED OUT' : ''} in ${h.ms} ms\n` +
      `  stdout: ${tailText(h.stdout, 15).replace(/\n/g, '\n    ')}\n` +
      `  stderr: ${tailText(h.stderr, 40).replace(/\n/g, '\n    ')}`).join('\n');
  }
}

export function makeProject(dir, dependencies, name = 'arca-it-project') {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({
    name, version: '1.0.0', private: true, description: 'arca integration test project',
    license: 'MIT', dependencies,
  }, null, 2) + '\n');
  return dir;
}

export function readLockfile(projectDir) {
  return JSON.parse(fs.readFileSync(path.join(projectDir, 'package-lock.json'), 'utf8'));
}

// Entries of package-lock.json v3 "packages" other than the root: [{ path, name, version,
// resolved, integrity }]. The name is taken from the entry or from its node_modules path.
export function lockedPackages(lock) {
  const out = [];
  for (const [p, e] of Object.entries(lock.packages || {})) {
    if (p === '') continue;
    const name = e.name || p.slice(p.lastIndexOf('node_modules/') + 'node_modules/'.length);
    out.push({ path: p, name, version: e.version, resolved: e.resolved, integrity: e.integrity });
  }
  return out;
}

// Every package.json under node_modules (nested and scoped included): [{ path, json, dir }].
export function installedPackages(projectDir) {
  const out = [];
  const walk = (nm) => {
    if (!fs.existsSync(nm)) return;
    for (const ent of fs.readdirSync(nm, { withFileTypes: true })) {
      if (ent.name.startsWith('.')) continue;
      const full = path.join(nm, ent.name);
      if (ent.name.startsWith('@') && ent.isDirectory()) {
        for (const sub of fs.readdirSync(full, { withFileTypes: true })) {
          visit(path.join(full, sub.name));
        }
      } else if (ent.isDirectory()) {
        visit(full);
      }
    }
  };
  const visit = (dir) => {
    const pj = path.join(dir, 'package.json');
    if (!fs.existsSync(pj)) return;
    out.push({ path: path.relative(projectDir, dir), dir, json: JSON.parse(fs.readFileSync(pj, 'utf8')) });
    walk(path.join(dir, 'node_modules'));
  };
  walk(path.join(projectDir, 'node_modules'));
  return out;
}

// Asserts node_modules holds exactly the lockfile's packages, each with the package.json and
// index.js of the generated package it claims to be.
export function assertInstalledMatches(projectDir, set, lock) {
  const installed = installedPackages(projectDir);
  const locked = lockedPackages(lock);
  assert.equal(installed.length, locked.length,
    `node_modules has ${installed.length} packages, the lockfile ${locked.length}`);
  const lockedByPath = new Map(locked.map((l) => [l.path, l]));
  for (const inst of installed) {
    const id = `${inst.json.name}@${inst.json.version}`;
    const gen = set.byId.get(id);
    assert.ok(gen, `installed ${inst.path} is ${id}, which is not a generated package`);
    assert.deepEqual(inst.json, gen.manifest, `installed package.json of ${inst.path} (${id}) differs`);
    const indexJs = fs.readFileSync(path.join(inst.dir, 'index.js'), 'utf8');
    assert.equal(indexJs, gen.indexJs, `installed index.js of ${id} differs`);
    const l = lockedByPath.get(inst.path);
    assert.ok(l, `installed ${inst.path} is not in the lockfile`);
    assert.equal(l.version, inst.json.version, `${inst.path}: lockfile version differs`);
  }
  return installed;
}

// Asserts every dependency of every installed package (and of the project) resolves, by node's
// lookup rules (nearest node_modules upwards), to a version satisfying the declared range.
export function assertDependenciesSatisfied(projectDir) {
  const root = path.resolve(projectDir);
  const check = (dir, deps, who) => {
    for (const [dep, range] of Object.entries(deps || {})) {
      let found = null;
      for (let d = dir; ; d = path.dirname(d)) {
        const pj = path.join(d, 'node_modules', dep, 'package.json');
        if (fs.existsSync(pj)) {
          found = JSON.parse(fs.readFileSync(pj, 'utf8'));
          break;
        }
        if (d === root || !d.startsWith(root)) break;
      }
      assert.ok(found, `${who}: dependency ${dep} is not installed where node can find it`);
      assert.ok(satisfies(found.version, range),
        `${who}: dependency ${dep}@${range} resolves to ${found.version}`);
    }
  };
  const project = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  check(root, project.dependencies, 'project');
  for (const inst of installedPackages(root)) {
    check(inst.dir, inst.json.dependencies, `${inst.json.name}@${inst.json.version}`);
  }
}
