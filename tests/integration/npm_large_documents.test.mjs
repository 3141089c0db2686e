// Large packuments must not stall arca (issue 13): inflating, parsing, merging, rendering and
// gzipping a packument of 60,000 versions runs on the blocking pool, so with a single I/O
// thread /healthz keeps answering meanwhile; and the rendered variants of one packument kept in
// memory are bounded however many Host values clients use.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import { startArca } from './lib/arca.mjs';
import { request } from './lib/http.mjs';

const VERSIONS = 60_000;
let upstream;
let arca;
let packument;

function bigPackument(name) {
  const versions = {};
  const time = {};
  for (let i = 0; i < VERSIONS; i++) {
    const v = `1.${Math.floor(i / 100)}.${i % 100}`;
    versions[v] = {
      name, version: v, description: `version ${v} of a large package with a long description`,
      main: 'index.js', license: 'MIT', dependencies: { 'left-pad': '^1.0.0', 'is-number': '^7.0.0' },
      dist: { tarball: `http://upstream.invalid/${name}/-/${name}-${v}.tgz`,
        shasum: 'a'.repeat(40), integrity: `sha512-${'b'.repeat(86)}==` },
    };
    time[v] = new Date(1_600_000_000_000 + i * 1000).toISOString();
  }
  return JSON.stringify({ _id: name, name, 'dist-tags': { latest: '1.599.99' }, versions, time });
}

before(async () => {
  packument = bigPackument('huge');
  upstream = http.createServer((req, res) => {
    if (req.url === '/huge') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(packument) });
      res.end(packument);
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"not found"}');
    }
  });
  await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
  arca = await startArca({
    label: 'npm-large', upstreamUrl: `http://127.0.0.1:${upstream.address().port}/`,
    config: { listener: { threads: 1 }, upstream: { max_metadata_bytes: 256 * 1024 * 1024 } },
  });
});

after(async () => {
  if (arca) await arca.stop();
  if (upstream) await new Promise((r) => upstream.close(r));
});

function rssMiB() {
  const status = fs.readFileSync(`/proc/${arca.proc.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) / 1024;
}

test('a cold 60,000-version packument does not stall /healthz on the one I/O thread', { timeout: 120_000 }, async () => {
  let done = false;
  const big = request(arca.url('/local/npm/main/huge'), { timeoutMs: 100_000 }).finally(() => { done = true; });
  let worst = 0;
  let probes = 0;
  while (!done) {
    const t0 = Date.now();
    const r = await request(arca.url('/healthz'), { timeoutMs: 30_000 });
    assert.equal(r.status, 200);
    worst = Math.max(worst, Date.now() - t0);
    probes++;
    await new Promise((r) => setTimeout(r, 20));
  }
  const r = await big;
  assert.equal(r.status, 200);
  assert.equal(Object.keys(JSON.parse(r.body.toString()).versions).length, VERSIONS);
  // The packument takes seconds to build; a stalled loop would hold /healthz for that long.
  console.log(`healthz worst ${worst} ms over ${probes} probes`);
  assert.ok(worst < 1000, `/healthz took up to ${worst} ms over ${probes} probes while the packument was built`);
});

test('ten Host values keep a bounded number of rendered packuments', { timeout: 180_000 }, async () => {
  const port = arca.port;
  await request(arca.url('/local/npm/main/huge'), { timeoutMs: 100_000 });
  const before = rssMiB();
  for (let i = 0; i < 10; i++) {
    const r = await request(arca.url('/local/npm/main/huge'),
      { headers: { host: `mirror-${i}.example:${port}` }, timeoutMs: 100_000 });
    assert.equal(r.status, 200);
    assert.match(r.body.subarray(0, 4096).toString() + r.body.subarray(-4096).toString(), /mirror-\d+\.example/);
  }
  const grown = rssMiB() - before;
  // One rendering (full + abbreviated, plain + gzip) of this packument is ~70 MiB: ten kept
  // grew RSS by ~1 GiB; two kept (and the allocator's slack) stay well under 600 MiB.
  assert.ok(grown < 600, `RSS grew by ${grown.toFixed(0)} MiB for 10 Host values`);
});
