// Synthetic npm packages: folders with package.json + index.js (+ optional random payload),
// dependencies forming a DAG, some scoped, a few with several versions; all packed by ONE
// `npm pack dir1 dir2 ... --pack-destination OUT --json` run. Results are cached per spec for
// the life of the test process (one test file).

import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { makeTempDir, run, cleanEnv } from './harness.mjs';
import { compareSemver } from './registry.mjs';

const cache = new Map();

// Deterministic PRNG (mulberry32) so a spec always yields the same graph.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MULTI_VERSIONS = ['1.0.0', '1.2.0', '2.0.0'];
const MULTI_RANGES = ['~1.0.0', '^1.0.0', '^2.0.0'];

// spec:
//   count        number of distinct package names (default 110)
//   scoped       how many of them are scoped (@corp/..., a couple @infra/...) (default 12)
//   multiVersion how many names get versions 1.0.0, 1.2.0 and 2.0.0 (default 6)
//   roots        the last `roots` packages are depended on by nobody (default 20)
//   prefix       name prefix (default 'it')
//   seed         PRNG seed (default 1)
//   sizes        { index: bytes } adds a random (incompressible) data.bin of that size
//   deps         false: no dependencies at all (default true)
// Returns { packages: [pkg], byId: Map("name@version" -> pkg), names: [name], roots: [name],
//           rootRanges: {name: range}, versionsOf(name), dir }
// pkg: { name, version, manifest, tarball (Buffer), path, integrity, shasum, size }
export async function generatePackages(spec = {}) {
  const key = JSON.stringify(spec);
  if (!cache.has(key)) cache.set(key, build(spec));
  return cache.get(key);
}

function plan(spec) {
  const count = spec.count ?? 110;
  const scoped = spec.scoped ?? 12;
  const multi = spec.multiVersion ?? 6;
  const roots = Math.min(spec.roots ?? 20, count);
  const prefix = spec.prefix ?? 'it';
  const rand = rng(spec.seed ?? 1);
  const withDeps = spec.deps !== false;
  const pad = (i) => String(i).padStart(3, '0');

  // Names: spread the scoped ones over the index range.
  const scopedEvery = scoped > 0 ? Math.max(1, Math.floor(count / scoped)) : Infinity;
  const nodes = [];
  let scopedSoFar = 0;
  for (let i = 0; i < count; i++) {
    let name;
    if (scopedSoFar < scoped && i % scopedEvery === 0) {
      const scope = scopedSoFar % 5 === 4 ? 'infra' : 'corp';
      name = `@${scope}/${prefix}-lib-${pad(i)}`;
      scopedSoFar++;
    } else {
      name = `${prefix}-pkg-${pad(i)}`;
    }
    nodes.push({ index: i, name, versions: null, deps: new Map() });
  }
  // Multi-version packages come from the lower part of the graph (so they have dependents).
  const nonRoot = count - roots;
  const multiIdx = new Set();
  for (let k = 0; k < multi && nonRoot > 0; k++) {
    multiIdx.add(Math.floor(((k + 0.5) * nonRoot) / Math.max(multi, 1)) % nonRoot);
  }
  for (const n of nodes) {
    if (multiIdx.has(n.index)) n.versions = [...MULTI_VERSIONS];
    else n.versions = [`${1 + (n.index % 3)}.${n.index % 5}.${n.index % 7}`];
  }
  const rangeFor = (target, which) => {
    if (target.versions.length > 1) return MULTI_RANGES[which % MULTI_RANGES.length];
    return (which % 2 ? '~' : '^') + target.versions[0];
  };
  if (withDeps) {
    // Every non-root package gets at least one dependent among the next 12 packages.
    for (let j = 0; j < nonRoot; j++) {
      const src = nodes[j];
      const dependents = src.versions.length > 1 ? 3 : 1;
      for (let d = 0; d < dependents; d++) {
        const span = Math.min(count - 1, j + 12) - j;
        let k = j + 1 + Math.floor(rand() * span);
        // distinct dependents for the three ranges of a multi-version package
        for (let tries = 0; tries < 20 && nodes[k].deps.has(src.name); tries++) {
          k = j + 1 + Math.floor(rand() * span);
        }
        if (!nodes[k].deps.has(src.name)) nodes[k].deps.set(src.name, rangeFor(src, d));
      }
    }
    // Extra random edges to earlier packages (still a DAG: only to lower indices).
    for (const n of nodes) {
      const extra = Math.floor(rand() * 3);
      for (let e = 0; e < extra && n.index > 0; e++) {
        const lo = Math.max(0, n.index - 30);
        const t = nodes[lo + Math.floor(rand() * (n.index - lo))];
        if (!n.deps.has(t.name)) n.deps.set(t.name, rangeFor(t, Math.floor(rand() * 3)));
      }
    }
  }
  return { nodes, roots: nodes.slice(count - roots) };
}

async function build(spec) {
  const { nodes, roots } = plan(spec);
  const dir = makeTempDir(`pkgs-${spec.prefix ?? 'it'}`);
  const srcRoot = path.join(dir, 'src');
  const outDir = path.join(dir, 'tgz');
  fs.mkdirSync(outDir, { recursive: true });
  const folders = [];
  const manifests = new Map();
  for (const n of nodes) {
    for (const version of n.versions) {
      const folder = path.join(srcRoot, `${n.name.replace('@', '').replace('/', '__')}-${version}`);
      fs.mkdirSync(folder, { recursive: true });
      const dependencies = Object.fromEntries([...n.deps.entries()].sort());
      const manifest = {
        name: n.name,
        version,
        description: `Synthetic package ${n.name}@${version} for arca's integration tests`,
        main: 'index.js',
        license: 'MIT',
        keywords: ['arca', 'integration-test'],
        ...(Object.keys(dependencies).length ? { dependencies } : {}),
      };
      fs.writeFileSync(path.join(folder, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
      const lines = [
        "'use strict';",
        `exports.name = ${JSON.stringify(n.name)};`,
        `exports.version = ${JSON.stringify(version)};`,
        'exports.deps = {',
        ...Object.keys(dependencies).map(
          (d) => `  ${JSON.stringify(d)}: require(${JSON.stringify(d)}).version,`),
        '};',
        '',
      ];
      fs.writeFileSync(path.join(folder, 'index.js'), lines.join('\n'));
      const size = spec.sizes?.[n.index];
      if (size) fs.writeFileSync(path.join(folder, 'data.bin'), crypto.randomBytes(size));
      folders.push(folder);
      manifests.set(`${n.name}@${version}`, { manifest, folder, node: n });
    }
  }

  const home = path.join(dir, 'home');
  fs.mkdirSync(home, { recursive: true });
  fs.writeFileSync(path.join(dir, 'npmrc'), '');
  fs.writeFileSync(path.join(dir, 'global-npmrc'), '');
  const r = await run('npm', [
    'pack', ...folders,
    '--pack-destination', outDir, '--json',
    '--userconfig', path.join(dir, 'npmrc'),
    '--globalconfig', path.join(dir, 'global-npmrc'),
    '--cache', path.join(dir, 'npm-cache'),
    '--no-update-notifier', '--no-audit', '--no-fund', '--loglevel', 'warn',
  ], { cwd: dir, env: cleanEnv({ HOME: home }), timeoutMs: 180_000 });
  if (r.code !== 0) {
    throw new Error(`npm pack failed (code ${r.code}, ${r.timedOut ? 'timed out' : ''}):\n${r.stderr}`);
  }
  const packed = JSON.parse(r.stdout);
  if (packed.length !== folders.length) {
    throw new Error(`npm pack packed ${packed.length} of ${folders.length} folders`);
  }
  const packages = [];
  const byId = new Map();
  for (const p of packed) {
    const id = `${p.name}@${p.version}`;
    const m = manifests.get(id);
    if (!m) throw new Error(`npm pack produced unexpected ${id}`);
    const tgzPath = path.join(outDir, p.filename);
    const tarball = fs.readFileSync(tgzPath);
    const integrity = 'sha512-' + crypto.createHash('sha512').update(tarball).digest('base64');
    if (integrity !== p.integrity) throw new Error(`integrity of ${id} differs from npm pack's`);
    const pkg = {
      name: p.name,
      version: p.version,
      manifest: m.manifest,
      index: m.node.index,
      indexJs: fs.readFileSync(path.join(m.folder, 'index.js'), 'utf8'),
      tarball,
      path: tgzPath,
      integrity,
      shasum: p.shasum,
      size: tarball.length,
    };
    packages.push(pkg);
    byId.set(id, pkg);
  }
  const versionsOf = (name) =>
    packages.filter((p) => p.name === name).map((p) => p.version).sort(compareSemver);
  const rootRanges = Object.fromEntries(roots.map((n) => [n.name, '^' + n.versions.at(-1)]));
  return {
    packages,
    byId,
    names: nodes.map((n) => n.name),
    roots: roots.map((n) => n.name),
    rootRanges,
    versionsOf,
    dir,
    packMs: r.ms,
  };
}

// ---- tiny semver range support for the ranges generated above (^x.y.z, ~x.y.z, x.y.z) ----------

export function satisfies(version, range) {
  const [M, m, p] = version.split('.').map(Number);
  const op = /^[\^~]/.test(range) ? range[0] : '';
  const [RM, Rm, Rp] = range.replace(/^[\^~]/, '').split('.').map(Number);
  const ge = M > RM || (M === RM && (m > Rm || (m === Rm && p >= Rp)));
  if (!ge) return false;
  if (op === '') return M === RM && m === Rm && p === Rp;
  if (op === '~') return M === RM && m === Rm;
  if (RM > 0) return M === RM;
  if (Rm > 0) return M === 0 && m === Rm;
  return M === 0 && m === 0 && p === Rp;
}

// The package NAMES an install of `deps` ({name: range}) must contain (npm may dedupe a range
// onto another satisfying version, so versions are checked with assertDependenciesSatisfied).
export function expectedNames(set, deps) {
  const names = new Set();
  const queue = Object.keys(deps);
  while (queue.length) {
    const name = queue.shift();
    if (names.has(name)) continue;
    names.add(name);
    for (const v of set.versionsOf(name)) {
      queue.push(...Object.keys(set.byId.get(`${name}@${v}`).manifest.dependencies || {}));
    }
  }
  return names;
}

// The set of "name@version" reached by taking, for every edge, the highest version satisfying
// the range (an upper bound of what an install needs).
export function expectedClosure(set, deps) {
  const out = new Set();
  const queue = Object.entries(deps);
  while (queue.length) {
    const [name, range] = queue.shift();
    const candidates = set.versionsOf(name).filter((v) => satisfies(v, range));
    if (!candidates.length) throw new Error(`no version of ${name} satisfies ${range}`);
    const id = `${name}@${candidates.at(-1)}`;
    if (out.has(id)) continue;
    out.add(id);
    queue.push(...Object.entries(set.byId.get(id).manifest.dependencies || {}));
  }
  return out;
}
