// yarn v1, Yarn Berry (4.x), pnpm 10 and bun through arca's npm registry: each does a lockfile
// install of a small dependency graph from a stand-in upstream, a reinstall from the lockfile with
// empty client caches and the upstream stopped (arca alone serves it), then a publish through
// arca and an install of what was published. The clients come from tests/integration/
// node_modules (package.json; scripts/setup.sh --test installs them); a missing one is skipped.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir, run, cleanEnv, registerLogSource, tailText } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { StandinRegistry, tarballFileName } from './lib/registry.mjs';
import { generatePackages, expectedNames, satisfies } from './lib/packages.mjs';
import { getJson } from './lib/http.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = path.join(here, 'node_modules');
const YARN1 = path.join(modules, 'yarn', 'bin', 'yarn.js');
const BERRY = path.join(modules, '@yarnpkg', 'cli-dist', 'bin', 'yarn.js');
const PNPM = path.join(modules, 'pnpm', 'bin', 'pnpm.cjs');
const BUN = path.join(modules, 'bun', 'bin', 'bun.exe');

function skipUnless(file, what) {
  return fs.existsSync(file) ? false : `${what} is not installed (scripts/setup.sh --test installs it)`;
}

// Every package.json under node_modules (hoisted, nested and pnpm's .pnpm store), as
// "name@version" -> the package directory. Symlinks are not followed (pnpm links into .pnpm).
function installedIds(projectDir) {
  const out = new Map();
  const walk = (nm) => {
    let entries;
    try {
      entries = fs.readdirSync(nm, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(nm, e.name);
      if (e.name === '.pnpm') {
        for (const s of fs.readdirSync(p, { withFileTypes: true })) {
          if (s.isDirectory()) walk(path.join(p, s.name, 'node_modules'));
        }
      } else if (e.name.startsWith('@') && e.isDirectory()) {
        for (const s of fs.readdirSync(p, { withFileTypes: true })) {
          if (s.isDirectory()) visit(path.join(p, s.name));
        }
      } else if (e.isDirectory() && !e.name.startsWith('.')) {
        visit(p);
      }
    }
  };
  const visit = (dir) => {
    const pj = path.join(dir, 'package.json');
    if (!fs.existsSync(pj)) return;
    const m = JSON.parse(fs.readFileSync(pj, 'utf8'));
    out.set(`${m.name}@${m.version}`, dir);
    walk(path.join(dir, 'node_modules'));
  };
  walk(path.join(projectDir, 'node_modules'));
  return out;
}

// The install holds every package the graph needs, only generated versions, each with the
// generated index.js (the tarball came through intact), and the roots load in node.
async function assertInstalled(projectDir, set, deps) {
  const ids = installedIds(projectDir);
  const names = new Set();
  for (const [id, dir] of ids) {
    const pkg = set.byId.get(id);
    assert.ok(pkg, `unexpected package installed: ${id} (${dir})`);
    assert.equal(fs.readFileSync(path.join(dir, 'index.js'), 'utf8'), pkg.indexJs, `index.js of ${id}`);
    names.add(pkg.name);
  }
  assert.deepEqual(names, expectedNames(set, deps));
  const script = `const roots = ${JSON.stringify(Object.keys(deps))};\n` +
    'console.log(JSON.stringify(roots.map((n) => require(n).version)));';
  const r = await run(process.execPath, ['-e', script], { cwd: projectDir, env: cleanEnv(), timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  const versions = JSON.parse(r.stdout);
  Object.values(deps).forEach((range, i) => assert.ok(satisfies(versions[i], range), `${versions[i]} !~ ${range}`));
}

function writeJson(file, doc) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
}

// One client in a hermetic home: `cmd` + `prefixArgs` runs it; `env` adds its cache settings.
class Client {
  constructor(label, cmd, prefixArgs, root) {
    this.label = label;
    this.cmd = cmd;
    this.prefixArgs = prefixArgs;
    this.root = root;
    this.home = path.join(root, 'home');
    this.cache = path.join(root, 'cache');
    fs.mkdirSync(this.home, { recursive: true });
    this.env = {};
    this.history = [];
    registerLogSource(`${label} runs`, () => this.history.map((h) =>
      `$ ${h.args.join(' ')}  (cwd ${h.cwd}, code ${h.code}, ${h.ms} ms)\n` +
      `stdout:\n${tailText(h.stdout, 40)}\nstderr:\n${tailText(h.stderr, 60)}`).join('\n'));
  }

  clearCache() {
    fs.rmSync(this.cache, { recursive: true, force: true });
  }

  async ok(args, cwd, timeoutMs = 120_000) {
    const r = await run(this.cmd, [...this.prefixArgs, ...args], {
      cwd,
      timeoutMs,
      env: cleanEnv({
        HOME: this.home, XDG_CONFIG_HOME: path.join(this.home, '.config'),
        XDG_CACHE_HOME: path.join(this.home, '.cache'), XDG_DATA_HOME: path.join(this.home, '.local/share'),
        CI: '1', NO_UPDATE_NOTIFIER: '1', COREPACK_ENABLE_STRICT: '0', ...this.env,
      }),
    });
    this.history.push({ args, cwd, ...r });
    assert.equal(r.code, 0, `${this.label} ${args.join(' ')} failed (code ${r.code}${r.timedOut ? ', timed out' : ''})\n` +
      `stdout:\n${tailText(r.stdout, 40)}\nstderr:\n${tailText(r.stderr, 60)}`);
    return r;
  }
}

// The per-client parts: how to configure a project for arca, the install commands and the lockfile.
const CLIENTS = [
  {
    name: 'yarn v1',
    id: 'yarn1',
    skip: skipUnless(YARN1, 'yarn@1'),
    make: (root) => {
      const c = new Client('yarn v1', process.execPath, [YARN1], root);
      c.env = { YARN_CACHE_FOLDER: c.cache };
      return c;
    },
    configure(dir, registry) {
      const u = new URL(registry);
      fs.writeFileSync(path.join(dir, '.yarnrc'), `registry "${registry}"\n--install.no-progress true\n`);
      fs.writeFileSync(path.join(dir, '.npmrc'), `registry=${registry}\n//${u.host}${u.pathname}:_authToken=arca-it-token\n`);
    },
    install: ['install', '--non-interactive', '--no-progress'],
    frozen: ['install', '--frozen-lockfile', '--non-interactive', '--no-progress'],
    publish: ['publish', '--non-interactive', '--no-git-tag-version'],
    lockfile: 'yarn.lock',
  },
  {
    name: 'Yarn Berry',
    id: 'berry',
    skip: skipUnless(BERRY, '@yarnpkg/cli-dist'),
    make: (root) => {
      const c = new Client('Yarn Berry', process.execPath, [BERRY], root);
      c.env = { YARN_GLOBAL_FOLDER: path.join(root, 'berry-global'), YARN_CACHE_FOLDER: c.cache, YARN_ENABLE_GLOBAL_CACHE: 'false' };
      return c;
    },
    configure(dir, registry) {
      fs.writeFileSync(path.join(dir, '.yarnrc.yml'), [
        `npmRegistryServer: "${registry.replace(/\/$/, '')}"`,
        'unsafeHttpWhitelist: ["127.0.0.1"]',
        'npmAuthToken: arca-it-token',
        'npmAlwaysAuth: true',
        'npmMinimalAgeGate: 0',
        'nodeLinker: node-modules',
        'enableTelemetry: false',
        'enableGlobalCache: false',
        'enableProgressBars: false',
        '',
      ].join('\n'));
      fs.writeFileSync(path.join(dir, 'yarn.lock'), '');
    },
    // CI=1 makes a plain `yarn install` immutable: the first install must say --no-immutable.
    install: ['install', '--no-immutable'],
    frozen: ['install', '--immutable', '--check-cache'],
    // `yarn npm publish` wants the package's own project installed first.
    prePublish: ['install', '--no-immutable'],
    publish: ['npm', 'publish'],
    lockfile: 'yarn.lock',
  },
  {
    name: 'pnpm',
    id: 'pnpm',
    skip: skipUnless(PNPM, 'pnpm'),
    make: (root) => new Client('pnpm', process.execPath, [PNPM], root),
    configure(dir, registry, client) {
      const u = new URL(registry);
      fs.writeFileSync(path.join(dir, '.npmrc'), [
        `registry=${registry}`,
        `//${u.host}${u.pathname}:_authToken=arca-it-token`,
        `store-dir=${path.join(client.cache, 'store')}`,
        `cache-dir=${path.join(client.cache, 'meta')}`,
        'fetch-retries=0',
        'update-notifier=false',
        '',
      ].join('\n'));
    },
    install: ['install', '--reporter=append-only'],
    frozen: ['install', '--frozen-lockfile', '--reporter=append-only'],
    publish: ['publish', '--no-git-checks'],
    lockfile: 'pnpm-lock.yaml',
  },
  {
    name: 'bun',
    id: 'bun',
    skip: skipUnless(BUN, 'bun'),
    make: (root) => {
      const c = new Client('bun', BUN, [], root);
      c.env = { BUN_INSTALL_CACHE_DIR: c.cache, DO_NOT_TRACK: '1' };
      return c;
    },
    configure(dir, registry) {
      fs.writeFileSync(path.join(dir, 'bunfig.toml'),
        `[install]\nregistry = { url = "${registry}", token = "arca-it-token" }\n`);
    },
    install: ['install', '--no-progress'],
    frozen: ['install', '--frozen-lockfile', '--no-progress'],
    publish: ['publish'],
    lockfile: 'bun.lock',
  },
];

for (const spec of CLIENTS) {
  describe(`${spec.name} through arca: lockfile install, offline reinstall, publish`, { skip: spec.skip, timeout: 180_000 }, () => {
    let set;
    let standin;
    let arca;
    let client;
    let registry;
    let project;
    let lockText;
    const deps = {};
    const pubName = `@corp/arca-it-${spec.id}-published`;

    before(async () => {
      set = await generatePackages({ count: 14, scoped: 3, multiVersion: 2, roots: 4, prefix: 'cli', seed: 5 });
      Object.assign(deps, set.rootRanges);
      standin = new StandinRegistry({ label: `${spec.name} stand-in` });
      standin.addPackages(set.packages);
      await standin.start();
      arca = await startArca({ label: `clients-${spec.id}`, upstreamUrl: standin.url });
      registry = arca.registry('main');
      const root = makeTempDir(`clients-${spec.id}`);
      client = spec.make(root);
      project = path.join(root, 'app');
      fs.mkdirSync(project);
      writeJson(path.join(project, 'package.json'), { name: `arca-it-${spec.id}-app`, version: '1.0.0', private: true, dependencies: deps });
      spec.configure(project, registry, client);
    });

    test('install writes a lockfile and installs the graph through arca', async () => {
      await client.ok(spec.install, project);
      lockText = fs.readFileSync(path.join(project, spec.lockfile), 'utf8');
      assert.ok(!lockText.includes(`:${standin.port}/`), `${spec.lockfile} names the stand-in upstream`);
      await assertInstalled(project, set, deps);
      // Every installed package name appears in the lockfile.
      for (const name of expectedNames(set, deps)) assert.ok(lockText.includes(name), `${name} missing from ${spec.lockfile}`);
      const installed = [...installedIds(project).keys()];
      if (spec.id === 'yarn1') {
        // yarn v1 records each tarball URL (arca's) with the tarball's sha1.
        const resolved = [...lockText.matchAll(/^\s+resolved "([^"]+)"/gm)].map((m) => m[1]);
        assert.equal(resolved.length, installed.length, `${resolved.length} resolved entries`);
        for (const id of installed) {
          const pkg = set.byId.get(id);
          const url = `${registry}${pkg.name}/-/${tarballFileName(pkg.name, pkg.version)}#${pkg.shasum}`;
          assert.ok(resolved.includes(url), `yarn.lock lacks ${url}`);
        }
      } else if (spec.id === 'bun') {
        // bun.lock records each tarball URL (arca's) and integrity.
        for (const id of installed) {
          const pkg = set.byId.get(id);
          const entry = `["${id}", "${registry}${pkg.name}/-/${tarballFileName(pkg.name, pkg.version)}", `;
          assert.ok(lockText.includes(entry), `bun.lock lacks ${entry}`);
          assert.ok(lockText.includes(`"${pkg.integrity}"`), `bun.lock lacks the integrity of ${id}`);
        }
      } else if (spec.id === 'pnpm') {
        // pnpm-lock.yaml records integrity only (no URL for the configured registry's tarballs).
        for (const id of installed) {
          assert.ok(lockText.includes(`resolution: {integrity: ${set.byId.get(id).integrity}}`), `integrity of ${id}`);
        }
      }
      // arca fetched each tarball it served from the upstream once.
      for (const [id, n] of standin.tarballCounts()) assert.equal(n, 1, `${id} fetched ${n} times from the upstream`);
    });

    test('with the upstream stopped and empty client caches, a frozen-lockfile reinstall succeeds from arca alone', async () => {
      await standin.stop();
      const before = standin.requests.length;
      fs.rmSync(path.join(project, 'node_modules'), { recursive: true, force: true });
      fs.rmSync(path.join(project, '.yarn'), { recursive: true, force: true });
      client.clearCache();
      await client.ok(spec.frozen, project);
      await assertInstalled(project, set, deps);
      assert.equal(fs.readFileSync(path.join(project, spec.lockfile), 'utf8'), lockText, 'the lockfile changed');
      assert.equal(standin.requests.length, before, 'the stopped stand-in cannot have been reached');
    });

    test('publish through arca, then a fresh project installs what was published', async () => {
      const depName = Object.keys(deps)[0];
      const pubDir = path.join(client.root, 'pub');
      fs.mkdirSync(pubDir);
      writeJson(path.join(pubDir, 'package.json'), {
        name: pubName, version: '1.0.0', main: 'index.js', license: 'MIT',
        dependencies: { [depName]: deps[depName] },
      });
      fs.writeFileSync(path.join(pubDir, 'index.js'), `exports.by = ${JSON.stringify(spec.id)};\nexports.dep = require(${JSON.stringify(depName)}).version;\n`);
      spec.configure(pubDir, registry, client);
      if (spec.prePublish) await client.ok(spec.prePublish, pubDir);
      await client.ok(spec.publish, pubDir);

      const doc = await getJson(`${registry}${pubName.replace('/', '%2f')}`);
      assert.equal(doc.status, 200, JSON.stringify(doc.json));
      assert.equal(doc.json['dist-tags'].latest, '1.0.0');
      const dist = doc.json.versions['1.0.0'].dist;
      assert.equal(dist.tarball, `${registry}${pubName}/-/${tarballFileName(pubName, '1.0.0')}`);

      const consumer = path.join(client.root, 'consumer');
      fs.mkdirSync(consumer);
      writeJson(path.join(consumer, 'package.json'), { name: 'arca-it-consumer', version: '1.0.0', private: true, dependencies: { [pubName]: '^1.0.0' } });
      spec.configure(consumer, registry, client);
      await client.ok(spec.install, consumer);
      const r = await run(process.execPath, ['-e', `console.log(JSON.stringify(require(${JSON.stringify(pubName)})))`],
        { cwd: consumer, env: cleanEnv(), timeoutMs: 30_000 });
      assert.equal(r.code, 0, r.stderr);
      const loaded = JSON.parse(r.stdout);
      assert.equal(loaded.by, spec.id);
      assert.ok(satisfies(loaded.dep, deps[depName]));
      assert.ok(fs.readFileSync(path.join(consumer, spec.lockfile), 'utf8').includes(pubName));
    });

    test('arca did not crash', () => {
      assert.equal(arca.crashed(), false);
    });
  });
}
