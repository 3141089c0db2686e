#!/usr/bin/env node
// Publisher for bench/publish-churn: publishes new versions of one package into an npm
// registry, the way `npm publish` does (PUT /<name> with the manifest and the tarball attached
// as base64), one after another at a fixed interval, until SIGTERM/SIGINT.
//
//   node bench/publish_churn.js --registry http://127.0.0.1:PORT/local/npm/main/ --name bench-churn
//        --version-prefix 1.0. [--interval-ms 200] [--once] [--out FILE] [--timeout-ms 30000]
//
// Versions are VERSION_PREFIX + 0, 1, 2, ... Each publish starts --interval-ms after the previous
// one started (right after it ends if it took longer). Every publish appends one line to --out
// (stdout if omitted):
//   <start epoch ms> <end epoch ms> <HTTP status or 0 on a network error> <version> [error text]
// On SIGTERM/SIGINT the publish in flight is finished (not abandoned: it must not count as a
// failure), then the process exits 0. --once: one publish, exit 0 if it was a 201, else 1 with
// the response on stderr.
//
// The tarball is a real gzipped tar (package/package.json, package/index.js, package/README.md)
// with dist.integrity (sha512) and dist.shasum computed from it, as npm computes them.
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const zlib = require('node:zlib');
const crypto = require('node:crypto');

function args() {
  const a = { registry: null, name: null, prefix: '1.0.', intervalMs: 200, once: false, out: null, timeoutMs: 30000 };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i++) {
    const k = v[i], n = v[i + 1];
    if (k === '--registry') a.registry = n.endsWith('/') ? n : n + '/', i++;
    else if (k === '--name') a.name = n, i++;
    else if (k === '--version-prefix') a.prefix = n, i++;
    else if (k === '--interval-ms') a.intervalMs = Number(n), i++;
    else if (k === '--timeout-ms') a.timeoutMs = Number(n), i++;
    else if (k === '--out') a.out = n, i++;
    else if (k === '--once') a.once = true;
    else throw new Error('unknown argument ' + k);
  }
  if (!a.registry || !a.name) throw new Error('--registry and --name are required');
  return a;
}

// One ustar entry: 512-byte header + data padded to 512.
function tarEntry(file, data) {
  const h = Buffer.alloc(512);
  const put = (off, len, s) => h.write(s, off, len, 'ascii');
  const oct = (off, len, n) => put(off, len, n.toString(8).padStart(len - 1, '0') + '\0');
  put(0, 100, file);
  oct(100, 8, 0o644); oct(108, 8, 0); oct(116, 8, 0);
  oct(124, 12, data.length); oct(136, 12, 499162500);   // npm pins mtimes to 1985-10-26
  h.fill(0x20, 148, 156);                                // checksum field counts as spaces
  put(156, 1, '0');
  put(257, 6, 'ustar\0'); put(263, 2, '00');
  let sum = 0; for (const b of h) sum += b;
  put(148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([h, data, pad]);
}

function tarball(manifest) {
  const files = [
    ['package/package.json', JSON.stringify(manifest, null, 2) + '\n'],
    ['package/index.js', `module.exports = ${JSON.stringify(manifest.version)};\n`],
    ['package/README.md', `# ${manifest.name}\n\nPublished by bench/publish-churn.\n`],
  ];
  const tar = Buffer.concat([...files.map(([f, d]) => tarEntry(f, Buffer.from(d))), Buffer.alloc(1024)]);
  return zlib.gzipSync(tar, { level: 9 });
}

// The body libnpmpublish sends for `npm publish` of one version.
function publishBody(registry, name, version) {
  const manifest = {
    name, version,
    description: 'An unrelated package published over and over by bench/publish-churn',
    main: 'index.js',
    scripts: { test: 'node index.js' },
    keywords: ['bench', 'churn'],
    author: 'bench <bench@example.com>',
    license: 'MIT',
  };
  const tgz = tarball(manifest);
  const file = `${name}-${version}.tgz`;
  const doc = {
    _id: name, name, description: manifest.description,
    'dist-tags': { latest: version },
    versions: {
      [version]: {
        ...manifest,
        readme: `# ${name}\n\nPublished by bench/publish-churn.\n`,
        _id: `${name}@${version}`, _nodeVersion: process.versions.node, _npmVersion: '10.8.2',
        dist: {
          integrity: 'sha512-' + crypto.createHash('sha512').update(tgz).digest('base64'),
          shasum: crypto.createHash('sha1').update(tgz).digest('hex'),
          tarball: `${registry}${name}/-/${file}`,
        },
      },
    },
    access: null,
    _attachments: { [file]: { content_type: 'application/octet-stream', data: tgz.toString('base64'), length: tgz.length } },
  };
  return Buffer.from(JSON.stringify(doc));
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function put(opt, version) {
  const body = publishBody(opt.registry, opt.name, version);
  const url = new URL(opt.registry + encodeURIComponent(opt.name).replace(/^%40/, '@'));
  return new Promise((resolve) => {
    const req = http.request(url, {
      method: 'PUT', agent, timeout: opt.timeoutMs,
      headers: {
        'content-type': 'application/json', 'content-length': body.length,
        accept: '*/*', 'user-agent': `npm/10.8.2 node/${process.version} linux x64 workspaces/false`,
        'npm-command': 'publish', 'npm-auth-type': 'web',
      },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      res.on('error', (e) => resolve({ status: 0, body: String(e) }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${opt.timeoutMs} ms`)));
    req.on('error', (e) => resolve({ status: 0, body: String(e.message || e) }));
    req.end(body);
  });
}

async function main() {
  const opt = args();
  const out = opt.out ? fs.openSync(opt.out, 'a') : 1;
  let stopping = false;
  let wake = null;
  const stop = () => { stopping = true; if (wake) wake(); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  for (let n = 0; !stopping; n++) {
    const version = opt.prefix + n;
    const t0 = Date.now();
    const r = await put(opt, version);
    const t1 = Date.now();
    const err = r.status === 201 ? '' : ' ' + r.body.replace(/\s+/g, ' ').slice(0, 300);
    fs.writeSync(out, `${t0} ${t1} ${r.status} ${version}${err}\n`);
    if (opt.once) {
      if (r.status !== 201) console.error(`PUT ${opt.registry}${opt.name} (${version}): HTTP ${r.status} ${r.body.slice(0, 600)}`);
      process.exit(r.status === 201 ? 0 : 1);
    }
    const wait = t0 + opt.intervalMs - Date.now();
    if (wait > 0 && !stopping) await new Promise((res) => { wake = res; setTimeout(res, wait); });
    wake = null;
  }
  agent.destroy();
  process.exit(0);
}

main().catch((e) => { console.error('publish_churn:', e); process.exit(2); });
