#!/usr/bin/env node
// Stand-in npm registry for bench/npm_bench.sh.
//
//   node bench/upstream.js --dir DIR --port-file FILE [--big-mb 500] [--cold 20]
//                          [--packument-versions 500]
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
  const a = { dir: null, portFile: null, bigMb: 500, cold: 20, packumentVersions: 500 };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i++) {
    const k = v[i], n = v[i + 1];
    if (k === '--dir') a.dir = n, i++;
    else if (k === '--port-file') a.portFile = n, i++;
    else if (k === '--big-mb') a.bigMb = Number(n), i++;
    else if (k === '--cold') a.cold = Number(n), i++;
    else if (k === '--packument-versions') a.packumentVersions = Number(n), i++;
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

  // bench-packument: many versions with realistic manifests.
  {
    const rnd = mulberry32(42);
    const pick = (a) => a[Math.floor(rnd() * a.length)];
    const word = () => pick(['parse', 'stream', 'async', 'util', 'core', 'fs', 'path', 'http',
      'json', 'color', 'debug', 'glob', 'semver', 'yaml', 'lodash', 'chalk', 'tslib', 'ansi',
      'minimist', 'mkdirp', 'rimraf', 'uuid', 'inherits', 'once', 'wrappy', 'events', 'buffer']);
    const depName = () => (rnd() < 0.2 ? `@${word()}/${word()}-${word()}` : `${word()}-${word()}`);
    const range = () => pick(['^', '~', '>=', '']) + `${Math.floor(rnd() * 9)}.${Math.floor(rnd() * 20)}.${Math.floor(rnd() * 10)}`;
    const deps = (n) => { const o = {}; for (let i = 0; i < n; i++) o[depName()] = range(); return o; };
    const hex = (n) => { let s = ''; for (let i = 0; i < n; i++) s += Math.floor(rnd() * 16).toString(16); return s; };
    const versions = [];
    let major = 0, minor = 0, patch = 0;
    for (let i = 0; i < opt.packumentVersions; i++) {
      const r = rnd();
      if (r < 0.02) { major++; minor = 0; patch = 0; } else if (r < 0.2) { minor++; patch = 0; } else patch++;
      const version = `${major}.${minor}.${patch}` + (rnd() < 0.05 ? `-beta.${Math.floor(rnd() * 5)}` : '');
      if (versions.some((v) => v.version === version)) { patch++; i--; continue; }
      const fake = Buffer.from(`bench-packument@${version}`);
      versions.push({
        version, ...digests(fake),
        distExtra: { fileCount: 10 + Math.floor(rnd() * 200), unpackedSize: 10000 + Math.floor(rnd() * 900000) },
        manifest: {
          description: 'A benchmark package',
          scripts: { test: 'node --test' },
          repository: { type: 'git', url: 'git+https://github.com/example/bench-packument.git' },
          keywords: [word(), word()],
          author: { name: 'Bench Author', email: 'author@example.com' },
          license: 'MIT',
          dependencies: deps(2 + Math.floor(rnd() * 6)),
          devDependencies: deps(1 + Math.floor(rnd() * 4)),
          engines: { node: '>=' + (10 + Math.floor(rnd() * 10)) },
          gitHead: hex(40), _id: `bench-packument@${version}`, _npmVersion: '9.6.7',
          _npmUser: { name: 'bench', email: 'bench@example.com' },
          maintainers: [{ name: 'bench', email: 'bench@example.com' }],
        },
      });
    }
    const bytes = packument('bench-packument', versions, { readme: '# bench-packument\n\n' + 'Lorem ipsum dolor sit amet. '.repeat(200) });
    fixtures.packages['bench-packument'] = { versions: versions.length, packumentBytes: bytes };
  }

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
