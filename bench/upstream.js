#!/usr/bin/env node
// Stand-in npm registry for bench/npm_bench.sh and bench/publish-churn.
//
//   node bench/upstream.js --dir DIR --port-file FILE [--big-mb 500] [--cold 20]
//                          [--packument-versions 500] [--packument NAME:VERSIONS ...]
//
// Listens on 127.0.0.1:0, generates its fixtures (tarball URLs need the port), writes
// DIR/fixtures.json (names, versions, sizes, digests, file paths) and only then the port file.
//
// Packages:
//   bench-small        1 version, ~60 KB tarball            (warm throughput)
//   bench-large        1 version, ~4 MB tarball             (warm throughput)
//   bench-packument    --packument-versions versions with realistic manifests (~550 KB rendered)
//   bench-huge         1 version, --big-mb MB tarball streamed from disk (RSS test)
//   bench-cold-N       N in [0, --cold), 1 version, ~20 KB tarball (cold time to first byte)
//   NAME               each --packument NAME:VERSIONS (repeatable): VERSIONS versions with rich,
//                      typescript-like manifests, ~3.9 KB each (bench/publish-churn)
//
// Tarballs are random bytes: arca only checks dist.integrity / dist.shasum. Small tarballs are
// served from memory, the big one is streamed from DIR/huge.tgz. GET /_stats returns how many
// times each path was requested (the bench uses it to prove warm hits never reach the upstream).
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');

function args() {
  const a = { dir: null, portFile: null, bigMb: 500, cold: 20, packumentVersions: 500, packuments: [] };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i++) {
    const k = v[i], n = v[i + 1];
    if (k === '--dir') a.dir = n, i++;
    else if (k === '--port-file') a.portFile = n, i++;
    else if (k === '--big-mb') a.bigMb = Number(n), i++;
    else if (k === '--cold') a.cold = Number(n), i++;
    else if (k === '--packument-versions') a.packumentVersions = Number(n), i++;
    else if (k === '--packument') {
      const m = /^([a-z0-9][a-z0-9._-]*):([0-9]+)$/.exec(n || '');
      if (!m) throw new Error('--packument wants NAME:VERSIONS, got ' + n);
      a.packuments.push({ name: m[1], versions: Number(m[2]) }), i++;
    }
    else throw new Error('unknown argument ' + k);
  }
  if (!a.dir || !a.portFile) throw new Error('--dir and --port-file are required');
  return a;
}

// Deterministic PRNG so the packument has the same shape (and size) on every run.
function mulberry32(seed) {
  return function () {
    seed |= 0; seed = (seed + 0x6D2B79F5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const digests = (buf) => ({
  integrity: 'sha512-' + crypto.createHash('sha512').update(buf).digest('base64'),
  shasum: crypto.createHash('sha1').update(buf).digest('hex'),
});

async function main() {
  const opt = args();
  fs.mkdirSync(opt.dir, { recursive: true });
  const packuments = new Map();   // name -> Buffer (JSON)
  const tarballs = new Map();     // url path -> Buffer | { file, size }
  const stats = Object.create(null);

  const server = http.createServer((req, res) => {
    const url = decodeURIComponent(req.url.split('?')[0]);
    if (url === '/_stats') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify(stats));
    }
    stats[url] = (stats[url] || 0) + 1;
    if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405); return res.end(); }
    const name = url.slice(1);
    const doc = packuments.get(name);
    if (doc) {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': doc.length,
                           'ETag': '"' + crypto.createHash('sha1').update(doc).digest('hex') + '"' });
      return res.end(req.method === 'HEAD' ? undefined : doc);
    }
    const t = tarballs.get(url);
    if (!t) { res.writeHead(404, { 'Content-Type': 'application/json' }); return res.end('{"error":"Not found"}'); }
    if (Buffer.isBuffer(t)) {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': t.length });
      return res.end(req.method === 'HEAD' ? undefined : t);
    }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': t.size });
    if (req.method === 'HEAD') return res.end();
    const s = fs.createReadStream(t.file, { highWaterMark: 1 << 20 });
    s.on('error', () => res.destroy());
    res.on('close', () => s.destroy());
    s.pipe(res);
  });
  server.keepAliveTimeout = 60000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  const base = `http://127.0.0.1:${port}/`;
  const tarballUrl = (name, v) => `${base}${name}/-/${name}-${v}.tgz`;
  const fixtures = { upstream: base, packages: {} };

  const time = (v) => new Date(Date.UTC(2015, 0, 1) + v * 86400000 * 3).toISOString();
  function packument(name, versions, extra = {}) {
    const doc = { _id: name, name, description: extra.description || `${name} benchmark package`,
                  'dist-tags': { latest: versions[versions.length - 1].version }, versions: {},
                  time: { created: time(0), modified: time(versions.length) },
                  maintainers: [{ name: 'bench', email: 'bench@example.com' }],
                  license: 'MIT', readme: extra.readme || '', readmeFilename: 'README.md' };
    versions.forEach((v, i) => {
      doc.versions[v.version] = Object.assign({ name, version: v.version }, v.manifest || {}, {
        dist: Object.assign({ tarball: tarballUrl(name, v.version), integrity: v.integrity,
                              shasum: v.shasum }, v.distExtra || {}) });
      doc.time[v.version] = time(i + 1);
    });
    const buf = Buffer.from(JSON.stringify(doc));
    packuments.set(name, buf);
    fs.writeFileSync(path.join(opt.dir, `${name}.json`), buf);
    return buf.length;
  }
  // A package with one random tarball of `size` bytes, kept in memory and written to DIR.
  function simple(name, size, version = '1.0.0') {
    const bytes = crypto.randomBytes(size);
    const d = digests(bytes);
    tarballs.set(`/${name}/-/${name}-${version}.tgz`, bytes);
    const file = path.join(opt.dir, `${name}-${version}.tgz`);
    fs.writeFileSync(file, bytes);
    const packumentBytes = packument(name, [{ version, ...d }]);
    fixtures.packages[name] = { version, size, file, ...d, packumentBytes,
                                tarballPath: `${name}/-/${name}-${version}.tgz` };
  }

  simple('bench-small', 60 * 1024);
  simple('bench-large', 4 * 1024 * 1024);
  for (let i = 0; i < opt.cold; i++) simple(`bench-cold-${i}`, 20 * 1024);

  // Packuments with many versions and realistic manifests, from a seeded PRNG so that their
  // shape (and size) is the same on every run. style 'basic': the fields of bench-packument
  // (its bytes must not change: npm_bench.sh's figures are compared across commits); style
  // 'rich': what a big real package's versions carry (typescript's, roughly: ~3.9 KB each, with
  // long scripts and devDependencies, bin, typings, signatures, _npmOperationalInternal).
  function generated(name, count, seed, style) {
    const rnd = mulberry32(seed);
    const pick = (a) => a[Math.floor(rnd() * a.length)];
    const word = () => pick(['parse', 'stream', 'async', 'util', 'core', 'fs', 'path', 'http',
      'json', 'color', 'debug', 'glob', 'semver', 'yaml', 'lodash', 'chalk', 'tslib', 'ansi',
      'minimist', 'mkdirp', 'rimraf', 'uuid', 'inherits', 'once', 'wrappy', 'events', 'buffer']);
    const depName = () => (rnd() < 0.2 ? `@${word()}/${word()}-${word()}` : `${word()}-${word()}`);
    const range = () => pick(['^', '~', '>=', '']) + `${Math.floor(rnd() * 9)}.${Math.floor(rnd() * 20)}.${Math.floor(rnd() * 10)}`;
    const deps = (n) => { const o = {}; for (let i = 0; i < n; i++) o[depName()] = range(); return o; };
    const hex = (n) => { let s = ''; for (let i = 0; i < n; i++) s += Math.floor(rnd() * 16).toString(16); return s; };
    const b64 = (n) => { const a = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'; let s = ''; for (let i = 0; i < n; i++) s += a[Math.floor(rnd() * 64)]; return s; };
    const people = [{ name: 'bench', email: 'bench@example.com' }, { name: 'alice', email: 'alice@example.com' },
                    { name: 'bob', email: 'bob@example.com' }, { name: 'carol', email: 'carol@example.com' }];
    const versions = [];
    let major = 0, minor = 0, patch = 0;
    for (let i = 0; i < count; i++) {
      const r = rnd();
      if (r < 0.02) { major++; minor = 0; patch = 0; } else if (r < 0.2) { minor++; patch = 0; } else patch++;
      const version = `${major}.${minor}.${patch}` + (rnd() < 0.05 ? `-beta.${Math.floor(rnd() * 5)}` : '');
      if (versions.some((v) => v.version === version)) { patch++; i--; continue; }
      const fake = Buffer.from(`${name}@${version}`);
      const v = {
        version, ...digests(fake),
        distExtra: { fileCount: 10 + Math.floor(rnd() * 200), unpackedSize: 10000 + Math.floor(rnd() * 900000) },
        manifest: {
          description: 'A benchmark package',
          scripts: { test: 'node --test' },
          repository: { type: 'git', url: `git+https://github.com/example/${name}.git` },
          keywords: [word(), word()],
          author: { name: 'Bench Author', email: 'author@example.com' },
          license: 'MIT',
          dependencies: deps(2 + Math.floor(rnd() * 6)),
          devDependencies: deps(1 + Math.floor(rnd() * 4)),
          engines: { node: '>=' + (10 + Math.floor(rnd() * 10)) },
          gitHead: hex(40), _id: `${name}@${version}`, _npmVersion: '9.6.7',
          _npmUser: { name: 'bench', email: 'bench@example.com' },
          maintainers: [{ name: 'bench', email: 'bench@example.com' }],
        },
      };
      if (style === 'rich') {
        const m = v.manifest;
        m.description = `${name}: a language for application-scale JavaScript (benchmark stand-in)`;
        m.keywords = Array.from({ length: 5 + Math.floor(rnd() * 4) }, word);
        m.homepage = `https://www.example.com/${name}`;
        m.bugs = { url: `https://github.com/example/${name}/issues` };
        m.main = './lib/index.js';
        m.typings = './lib/index.d.ts';
        m.bin = { [name]: './bin/cli', [`${name}-server`]: './bin/server' };
        m.scripts = {};
        for (const s of ['build', 'test', 'lint', 'clean', 'format', 'prepare', 'pretest', 'build:compiler',
                         'build:tests', 'test:eslint-rules', 'gulp', 'setup-hooks', 'postinstall', 'typecheck']) {
          if (rnd() < 0.8) m.scripts[s] = `hereby ${s.replace(':', '-')} --${word()} --${word()}=${hex(6)}`;
        }
        m.devDependencies = deps(20 + Math.floor(rnd() * 25));
        m.dependencies = rnd() < 0.3 ? deps(1 + Math.floor(rnd() * 3)) : {};
        m.directories = {};
        m.packageManager = 'npm@8.19.4';
        m.browser = { fs: false, os: false, path: false, crypto: false, buffer: false, 'source-map-support': false };
        m.volta = { node: '20.1.0', npm: '8.19.4' };
        m._hasShrinkwrap = false;
        m._nodeVersion = `${14 + Math.floor(rnd() * 8)}.${Math.floor(rnd() * 20)}.${Math.floor(rnd() * 10)}`;
        m._npmOperationalInternal = { host: `s3://npm-registry-packages-${hex(8)}`, tmp: `tmp/${name}_${version}_${1500000000000 + Math.floor(rnd() * 2e11)}_0.${hex(16)}` };
        m.maintainers = people.slice(0, 2 + Math.floor(rnd() * 3));
        v.distExtra['npm-signature'] = `-----BEGIN PGP SIGNATURE-----\r\nVersion: OpenPGP.js v3.0.4\r\n\r\n${b64(600)}\r\n-----END PGP SIGNATURE-----\r\n`;
        v.distExtra.signatures = [{ keyid: 'SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA', sig: `MEUCI${b64(90)}` }];
      }
      versions.push(v);
    }
    const bytes = packument(name, versions, { readme: `# ${name}\n\n` + 'Lorem ipsum dolor sit amet. '.repeat(200) });
    fixtures.packages[name] = { versions: versions.length, packumentBytes: bytes };
  }
  generated('bench-packument', opt.packumentVersions, 42, 'basic');
  opt.packuments.forEach(({ name, versions }, i) => generated(name, versions, 4242 + i, 'rich'));

  // bench-huge: streamed to disk and hashed in one pass, never held in memory.
  {
    const file = path.join(opt.dir, 'huge.tgz');
    const size = opt.bigMb * 1024 * 1024;
    const sha512 = crypto.createHash('sha512'), sha1 = crypto.createHash('sha1');
    const fd = fs.openSync(file, 'w');
    const chunk = Buffer.alloc(4 << 20);
    for (let done = 0; done < size;) {
      const n = Math.min(chunk.length, size - done);
      crypto.randomFillSync(chunk, 0, n);
      const part = chunk.subarray(0, n);
      sha512.update(part); sha1.update(part);
      fs.writeSync(fd, part);
      done += n;
    }
    fs.closeSync(fd);
    const d = { integrity: 'sha512-' + sha512.digest('base64'), shasum: sha1.digest('hex') };
    tarballs.set('/bench-huge/-/bench-huge-1.0.0.tgz', { file, size });
    const packumentBytes = packument('bench-huge', [{ version: '1.0.0', ...d }]);
    fixtures.packages['bench-huge'] = { version: '1.0.0', size, file, ...d, packumentBytes,
                                       tarballPath: 'bench-huge/-/bench-huge-1.0.0.tgz' };
  }

  fs.writeFileSync(path.join(opt.dir, 'fixtures.json'), JSON.stringify(fixtures, null, 2));
  fs.writeFileSync(opt.portFile + '.tmp', String(port));
  fs.renameSync(opt.portFile + '.tmp', opt.portFile);
  const stop = () => { server.close(); process.exit(0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => { console.error('upstream:', e); process.exit(1); });
