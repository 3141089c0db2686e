// Upstream documents may not send arca anywhere (SSRF, issue 13): an npm packument whose
// dist.tarball names another host or port than the connection's own is refused before arca
// connects, with a 502 that names the setting and not a connect error; listing that host in
// external_connections.<name>.allowed_hosts lets it through.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import crypto from 'node:crypto';
import { Arca } from './lib/arca.mjs';
import { request } from './lib/http.mjs';

let registry;
let elsewhere;
let elsewhereRequests = 0;
const tarball = crypto.randomBytes(4096);
const integrity = `sha512-${crypto.createHash('sha512').update(tarball).digest('base64')}`;

function listen(server) {
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server.address().port)));
}

before(async () => {
  elsewhere = http.createServer((req, res) => {
    elsewhereRequests++;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': tarball.length });
    res.end(tarball);
  });
  const elsewherePort = await listen(elsewhere);
  registry = http.createServer((req, res) => {
    if (req.url !== '/ssrf-pkg') {
      res.writeHead(404, { 'content-type': 'application/json' });
      return res.end('{}');
    }
    const doc = { _id: 'ssrf-pkg', name: 'ssrf-pkg', 'dist-tags': { latest: '1.0.0' }, versions: {
      '1.0.0': { name: 'ssrf-pkg', version: '1.0.0', dist: {
        tarball: `http://127.0.0.1:${elsewherePort}/ssrf-pkg-1.0.0.tgz`, integrity } } } };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(doc));
  });
  await listen(registry);
});

after(async () => {
  for (const s of [registry, elsewhere]) if (s) await new Promise((r) => s.close(r));
});

async function tarballThrough(config) {
  const arca = new Arca({ label: 'upstream-hosts', upstreamUrl: `http://127.0.0.1:${registry.address().port}/`, config });
  await arca.start();
  try {
    return await request(arca.url('/local/npm/main/ssrf-pkg/-/ssrf-pkg-1.0.0.tgz'));
  } finally {
    await arca.stop();
  }
}

test('a tarball on another host:port than the connection is refused before connecting', async () => {
  const r = await tarballThrough({});
  assert.equal(r.status, 502, r.body.toString());
  assert.match(r.body.toString(), /allowed_hosts/);
  assert.doesNotMatch(r.body.toString(), /ECONNREFUSED|connection refused|cannot connect|connect failed/i);
  assert.equal(elsewhereRequests, 0, 'arca must not connect to a host the document names');
});

test('allowed_hosts lets the named host through', async () => {
  const port = elsewhere.address().port;
  const r = await tarballThrough({ external_connections: { 'public:npmjs': { allowed_hosts: [`127.0.0.1:${port}`] } } });
  assert.equal(r.status, 200, r.body.toString());
  assert.ok(r.body.equals(tarball));
  assert.equal(elsewhereRequests, 1);
});
