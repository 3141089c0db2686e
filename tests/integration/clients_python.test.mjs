// poetry (Debian's 1.3) and pipenv (Debian's 2022.12) locking and installing a small dependency
// graph through arca's /simple/ index from a stand-in upstream, each with its own HOME, caches and
// an in-project virtualenv; then the locked install again with the upstream stopped and empty
// caches, from arca alone. Skipped when the client is not installed (scripts/setup.sh --test).

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir, run, registerLogSource, tailText } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { StandinIndex, makeDists, pypiConfig, pythonEnv, normalize } from './lib/pypi.mjs';

const POETRY = '/usr/bin/poetry';
const PIPENV = '/usr/bin/pipenv';

const PACKAGES = [
  { name: 'arca-app', version: '1.0', deps: ['arca-lib-a>=1', 'Arca_Lib.B'] },
  { name: 'arca-lib-a', version: '1.0' },
  { name: 'arca-lib-a', version: '1.1' },
  { name: 'arca-lib-b', version: '2.0', deps: ['arca-lib-c<2'] },
  { name: 'arca-lib-c', version: '1.0' },
  { name: 'arca-lib-c', version: '2.0' },
];
const EXPECTED = { 'arca-app': '1.0', 'arca-lib-a': '1.1', 'arca-lib-b': '2.0', 'arca-lib-c': '1.0' };

// {normalized name: version} of the arca-* distributions in a virtualenv's site-packages.
function installedIn(venv) {
  const out = {};
  const lib = path.join(venv, 'lib');
  for (const py of fs.readdirSync(lib)) {
    const site = path.join(lib, py, 'site-packages');
    for (const f of fs.readdirSync(site)) {
      const m = /^(arca[^-]*)-([^-]+)\.dist-info$/i.exec(f);
      if (m) out[normalize(m[1])] = m[2];
    }
  }
  return out;
}

async function importAll(venv) {
  const r = await run(path.join(venv, 'bin', 'python'), ['-c', 'import arca_app, arca_lib_a, arca_lib_b, arca_lib_c'],
    { env: pythonEnv(), timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
}

class Tool {
  constructor(label, cmd, root, env) {
    this.label = label;
    this.cmd = cmd;
    this.root = root;
    this.env = env;
    this.prefixArgs = [];
    this.history = [];
    registerLogSource(`${label} runs`, () => this.history.map((h) =>
      `$ ${h.args.join(' ')} (code ${h.code}, ${h.ms} ms)\nstdout:\n${tailText(h.stdout, 60)}\nstderr:\n${tailText(h.stderr, 80)}`).join('\n'));
  }

  async ok(args, cwd, timeoutMs = 120_000) {
    const r = await run(this.cmd, [...this.prefixArgs, ...args], { cwd, env: pythonEnv(this.env), timeoutMs });
    this.history.push({ args, ...r });
    assert.equal(r.code, 0, `${this.label} ${args.join(' ')} failed (code ${r.code}${r.timedOut ? ', timed out' : ''})\n` +
      `stdout:\n${tailText(r.stdout, 40)}\nstderr:\n${tailText(r.stderr, 60)}`);
    return r;
  }
}

function toolEnv(root, extra) {
  const home = path.join(root, 'home');
  fs.mkdirSync(home, { recursive: true });
  return {
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_CACHE_HOME: path.join(root, 'cache'),
    XDG_DATA_HOME: path.join(home, '.local/share'),
    PIP_CACHE_DIR: path.join(root, 'cache', 'pip'),
    PIP_DISABLE_PIP_VERSION_CHECK: '1',
    PYTHON_KEYRING_BACKEND: 'keyring.backends.null.Keyring',
    ...extra,
  };
}

const withoutPyenv = (p) => (p || '/usr/bin:/bin').split(':').filter((d) => !d.includes('.pyenv')).join(':');

let dists;
async function setUp(label) {
  if (!dists) dists = await makeDists(makeTempDir('clients-py-dists'), PACKAGES);
  const index = new StandinIndex({ mode: 'html', label: `${label} upstream` });
  index.addFiles(dists);
  await index.start();
  const arca = await startArca({ label, config: pypiConfig([{ name: 'store', url: index.url }]) });
  return { index, arca, simple: `${arca.baseUrl}/local/pypi/main/simple/` };
}

const fileFetches = (index) => index.count((r) => r.url.startsWith('/files/'));

describe('poetry lock + install through arca', {
  skip: fs.existsSync(POETRY) ? false : 'poetry is not installed (scripts/setup.sh --test installs python3-poetry)',
  timeout: 240_000,
}, () => {
  let index;
  let arca;
  let simple;
  let root;
  let project;
  let poetry;
  let lockText;

  before(async () => {
    ({ index, arca, simple } = await setUp('clients-poetry'));
    root = makeTempDir('clients-poetry');
    project = path.join(root, 'app');
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, 'pyproject.toml'), [
      '[tool.poetry]',
      'name = "arca-it-consumer"',
      'version = "0.1.0"',
      'description = "arca integration test"',
      'authors = ["arca <arca@example.invalid>"]',
      '',
      '[tool.poetry.dependencies]',
      'python = "^3.7"',
      '"arca-app" = "*"',
      '',
      '[[tool.poetry.source]]',
      'name = "arca"',
      `url = "${simple}"`,
      'default = true',
      '',
      '[build-system]',
      'requires = ["poetry-core"]',
      'build-backend = "poetry.core.masonry.api"',
      '',
    ].join('\n'));
    poetry = new Tool('poetry', POETRY, root, toolEnv(root, {
      POETRY_CONFIG_DIR: path.join(root, 'poetry-config'),
      POETRY_CACHE_DIR: path.join(root, 'cache', 'poetry'),
      POETRY_VIRTUALENVS_IN_PROJECT: 'true',
      POETRY_NO_INTERACTION: '1',
      POETRY_INSTALLER_PARALLEL: 'false',
    }));
  });

  test('poetry lock resolves through arca and records arca as the source', async () => {
    await poetry.ok(['lock', '--no-interaction'], project);
    lockText = fs.readFileSync(path.join(project, 'poetry.lock'), 'utf8');
    for (const [name, version] of Object.entries(EXPECTED)) {
      assert.match(lockText, new RegExp(`name = "${name}"\\nversion = "${version.replace('.', '\\.')}"`), `${name} ${version} locked`);
    }
    // poetry records the source without the trailing slash.
    const sources = [...lockText.matchAll(/^url = "([^"]+)"/gm)].map((m) => m[1]);
    assert.ok(sources.length >= 4, lockText);
    for (const u of sources) assert.equal(u, simple.replace(/\/$/, ''));
    assert.ok(!lockText.includes(`:${index.port}/`), 'poetry.lock names the upstream');
    // Each locked file has its sha256 recorded.
    for (const d of dists.filter((x) => EXPECTED[normalize(x.name)] === x.version)) {
      assert.ok(lockText.includes(`sha256:${d.sha256}`), `hash of ${d.filename} in poetry.lock`);
    }
  });

  test('poetry install --no-root installs the locked versions into the in-project virtualenv', async () => {
    await poetry.ok(['install', '--no-root', '--no-interaction'], project);
    assert.deepEqual(installedIn(path.join(project, '.venv')), EXPECTED);
    await importAll(path.join(project, '.venv'));
  });

  test('with the upstream stopped and empty caches, poetry install from the lockfile succeeds from arca alone', async () => {
    await index.stop();
    const before = index.requests.length;
    fs.rmSync(path.join(project, '.venv'), { recursive: true, force: true });
    fs.rmSync(path.join(root, 'cache'), { recursive: true, force: true });
    await poetry.ok(['install', '--no-root', '--no-interaction'], project);
    assert.deepEqual(installedIn(path.join(project, '.venv')), EXPECTED);
    assert.equal(fs.readFileSync(path.join(project, 'poetry.lock'), 'utf8'), lockText);
    assert.equal(index.requests.length, before);
    assert.equal(arca.crashed(), false);
  });
});

describe('pipenv lock + install through arca', {
  skip: fs.existsSync(PIPENV) ? false : 'pipenv is not installed (scripts/setup.sh --test installs it)',
  timeout: 240_000,
}, () => {
  let index;
  let arca;
  let simple;
  let root;
  let project;
  let pipenv;
  let lock;

  before(async () => {
    ({ index, arca, simple } = await setUp('clients-pipenv'));
    root = makeTempDir('clients-pipenv');
    project = path.join(root, 'app');
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, 'Pipfile'), [
      '[[source]]',
      `url = "${simple}"`,
      'verify_ssl = false',
      'name = "arca"',
      '',
      '[packages]',
      '"arca-app" = "*"',
      '',
    ].join('\n'));
    pipenv = new Tool('pipenv', PIPENV, root, toolEnv(root, {
      PIPENV_VENV_IN_PROJECT: '1',
      PIPENV_IGNORE_VIRTUALENVS: '1',
      PIPENV_NOSPIN: '1',
      PIPENV_YES: '1',
      PIPENV_CACHE_DIR: path.join(root, 'cache', 'pipenv'),
      // Debian's python: pipenv would otherwise take the first python3 on PATH (here pyenv's 3.13,
      // for which Debian's virtualenv has no seed wheels).
      PATH: withoutPyenv(process.env.PATH),
      WORKON_HOME: path.join(root, 'venvs'),
    }));
    for (const k of Object.keys(process.env)) if (k.startsWith('PYENV')) pipenv.env[k] = '';
    // Every command that may (re)create the virtualenv is told which python to use.
    pipenv.prefixArgs = ['--python', '/usr/bin/python3'];
  });

  test('pipenv lock resolves through arca and records arca as the source', async () => {
    await pipenv.ok(['lock'], project, 180_000);
    lock = JSON.parse(fs.readFileSync(path.join(project, 'Pipfile.lock'), 'utf8'));
    assert.deepEqual(lock._meta.sources.map((s) => s.url), [simple]);
    // pipenv keys entries by the name as written in the metadata ("arca-lib.b").
    const byName = new Map(Object.entries(lock.default).map(([k, v]) => [normalize(k), v]));
    assert.deepEqual(Object.fromEntries([...byName].map(([k, v]) => [k, v.version.replace(/^==/, '')])), EXPECTED);
    for (const d of dists.filter((x) => EXPECTED[normalize(x.name)] === x.version)) {
      assert.ok(byName.get(normalize(d.name)).hashes.includes(`sha256:${d.sha256}`), `hash of ${d.filename}`);
    }
  });

  test('pipenv sync installs the locked versions into the in-project virtualenv', async () => {
    await pipenv.ok(['sync'], project, 180_000);
    assert.deepEqual(installedIn(path.join(project, '.venv')), EXPECTED);
    await importAll(path.join(project, '.venv'));
    assert.ok(fileFetches(index) >= 4);
  });

  test('with the upstream stopped and empty caches, pipenv install --deploy succeeds from arca alone', async () => {
    await index.stop();
    const before = index.requests.length;
    fs.rmSync(path.join(project, '.venv'), { recursive: true, force: true });
    fs.rmSync(path.join(root, 'cache'), { recursive: true, force: true });
    await pipenv.ok(['install', '--deploy'], project, 180_000);
    assert.deepEqual(installedIn(path.join(project, '.venv')), EXPECTED);
    assert.equal(index.requests.length, before);
    assert.equal(arca.crashed(), false);
  });
});
