// Bad input for the PyPI protocols: each gets a clear error and loses nothing. Uploads with
// path separators or ".." in file names, names that normalize to nothing, wheels whose
// name/version disagree with the form, digest mismatches on upload and from an upstream, HTML
// index pages with broken markup, a 2 GB index page, JSON index pages of the wrong shape; and
// concurrent misses coalescing into one upstream request.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { makeTempDir } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { request, describeResponse } from './lib/http.mjs';
import { StandinIndex, makeDists, pypiConfig, uploadBody, uploadFields, sha256Hex } from './lib/pypi.mjs';

const JSON_ACCEPT = 'application/vnd.pypi.simple.v1+json';

describe('PyPI bad input', { timeout: 120_000 }, () => {
  let upstream;
  let arca;
  let dists;
  const base = (repo = 'main') => `${arca.baseUrl}/local/pypi/${repo}/`;
  const page = (name, accept = JSON_ACCEPT) => request(`${base()}simple/${name}/`, { headers: { accept } });

  async function upload(fields, file, url = base()) {
    const { body, contentType } = uploadBody(fields, file);
    return request(url, { method: 'POST', body, headers: { 'content-type': contentType } });
  }

  // Nothing of `name` is stored: its page is a 404 (no upstream has it either).
  async function assertNothingStored(name) {
    const r = await page(name);
    assert.equal(r.status, 404, `${name}: ${describeResponse(r)}`);
  }

  before(async () => {
    dists = await makeDists(makeTempDir('pypi-bad-dists'), [
      { name: 'good', version: '1.0', sdist: true },
      { name: 'liar', version: '1.0', metaVersion: '2.0' }, // METADATA says 2.0
      { name: 'imposter', version: '1.0', metaName: 'someone-else' },
      { name: 'fetched', version: '1.0' },
      { name: 'brk', version: '1.0' },
      { name: 'brk', version: '2.0' },
    ]);
    upstream = new StandinIndex({ mode: 'json', label: 'bad-input upstream' });
    upstream.addFiles(dists.filter((d) => ['fetched', 'brk'].includes(d.name)));
    await upstream.start();
    const config = pypiConfig([{ name: 'pypi-store', url: upstream.url }], { ttlSeconds: 0 });
    config.upstream = { max_metadata_bytes: 4 * 1024 * 1024 };
    arca = await startArca({ label: 'pypi-bad-input', config });
  });

  const d = (name, ext = '.whl') => dists.find((x) => x.name === name && x.filename.endsWith(ext));

  test('file names with path separators or ".." are refused', async () => {
    const good = d('good', '.tar.gz');
    for (const filename of ['../good-1.0.tar.gz', 'x/good-1.0.tar.gz', 'x\\good-1.0.tar.gz', 'good-1.0..tar.gz']) {
      const r = await upload(uploadFields(good), { filename, bytes: good.bytes });
      assert.equal(r.status, 400, `${filename}: ${describeResponse(r)}`);
      assert.match(r.body.toString(), /path separator|'\.\.'/, filename);
    }
    await assertNothingStored('good');
    const fetched = await request(`${base()}files/good/..%2F..%2Fetc%2Fpasswd`);
    assert.equal(fetched.status, 400);
  });

  test('names that normalize to nothing are refused', async () => {
    const good = d('good', '.tar.gz');
    const r = await upload(uploadFields(good, { name: '-._-' }), good);
    assert.equal(r.status, 400);
    assert.match(r.body.toString(), /normalizes to nothing/);
    const p = await request(`${base()}simple/-._-/`);
    assert.equal(p.status, 400);
    assert.match(p.body.toString(), /normalizes to nothing/);
    const f = await request(`${base()}files/_._/good-1.0.tar.gz`);
    assert.equal(f.status, 400);
  });

  test('wheels whose name or version disagree with the form are refused', async () => {
    const good = d('good');
    let r = await upload(uploadFields(good, { version: '1.1' }), good);
    assert.equal(r.status, 400);
    assert.match(r.body.toString(), /version/);
    r = await upload(uploadFields(good, { name: 'other' }), good);
    assert.equal(r.status, 400);
    assert.match(r.body.toString(), /not a file of project 'other'/);
    r = await upload(uploadFields(d('liar')), d('liar'));
    assert.equal(r.status, 400);
    assert.match(r.body.toString(), /METADATA has version '2\.0'/);
    r = await upload(uploadFields(d('imposter')), d('imposter'));
    assert.equal(r.status, 400);
    assert.match(r.body.toString(), /METADATA names project 'someone-else'/);
    const notZip = { ...good, bytes: Buffer.from('not a zip') };
    r = await upload(uploadFields(notZip), notZip);
    assert.equal(r.status, 400);
    assert.match(r.body.toString(), /invalid wheel/);
    for (const name of ['good', 'liar', 'imposter', 'other']) await assertNothingStored(name);
  });

  test('a digest mismatch on upload is refused', async () => {
    const good = d('good');
    let r = await upload(uploadFields(good, { sha256: sha256Hex(Buffer.from('other')) }), good);
    assert.equal(r.status, 400);
    assert.match(r.body.toString(), /sha256/);
    r = await upload(uploadFields(good, { md5: '0'.repeat(32) }), good);
    assert.equal(r.status, 400);
    assert.match(r.body.toString(), /md5/);
    await assertNothingStored('good');
    // Malformed bodies.
    r = await request(base(), { method: 'POST', body: 'x', headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 400);
    r = await upload([[':action', 'remove_pkg']], null);
    assert.equal(r.status, 400);
    assert.match(r.body.toString(), /:action/);
    // And then the real thing works.
    r = await upload(uploadFields(good), good);
    assert.equal(r.status, 200, describeResponse(r));
  });

  test('a digest mismatch from the upstream fails the download and stores nothing', async () => {
    const f = d('fetched');
    const p = JSON.parse((await page('fetched')).body.toString());
    const url = p.files[0].url;
    upstream.setBehavior(`/files/${f.filename}`, { corrupt: true });
    const bad = await request(url);
    assert.ok(bad.status === 502 || !bad.complete, `a corrupt file must not be served whole: ${describeResponse(bad)}`);
    const metrics = (await request(arca.url('/metrics'))).body.toString();
    assert.match(metrics, /arca_digest_mismatches_total [1-9]/);
    upstream.setBehavior(`/files/${f.filename}`, null);
    const good = await request(url);
    assert.equal(good.status, 200);
    assert.equal(sha256Hex(good.body), f.sha256);
  });

  test('HTML pages with broken markup: good anchors are kept, junk is skipped, non-HTML is a 502', async () => {
    // First a good page (cached), then broken ones.
    assert.equal((await page('brk')).status, 200);
    const one = d('brk');
    const broken = '<html><body>\n<a href="/nowhere" data-x="unterminated>brk-9.0.tar.gz</a>\n' +
      `<a href="${upstream.root}files/${one.filename}#sha256=${one.sha256}">${one.filename}</a>\n` +
      '<a href=<<<>>>>\n<a href="brk-3.0.tar.gz">brk-3.0.tar.gz\n<p><<</a</';
    upstream.setBehavior('/simple/brk/', { body: broken, contentType: 'text/html' });
    let r = await page('brk');
    assert.equal(r.status, 200, describeResponse(r));
    const names = JSON.parse(r.body.toString()).files.map((f) => f.filename);
    assert.ok(names.includes(one.filename), `${names}`);
    assert.ok(!names.some((n) => n.includes('9.0')), `${names}`);

    // Not HTML at all: the last good copy is served (stale-if-error), and a project never seen
    // gets a 502 that says why.
    upstream.setBehavior('/simple/brk/', { body: 'just some text, no markup', contentType: 'text/html' });
    r = await page('brk');
    assert.equal(r.status, 200, describeResponse(r));
    upstream.setBehavior('/simple/never-seen/', { body: '\u0000\u0001binary', contentType: 'text/html' });
    r = await page('never-seen');
    assert.equal(r.status, 502, describeResponse(r));
    assert.match(r.body.toString(), /not HTML/);
    upstream.setBehavior('/simple/brk/', null);
  });

  test('a 2 GB index page is bounded by upstream.max_metadata_bytes', async () => {
    upstream.setBehavior('/simple/huge-declared/', { hugeDeclared: true });
    let r = await page('huge-declared');
    assert.equal(r.status, 502, describeResponse(r));
    assert.match(r.body.toString(), /max_metadata_bytes/);
    upstream.setBehavior('/simple/huge-streamed/', { hugeChunked: true });
    r = await page('huge-streamed');
    assert.equal(r.status, 502, describeResponse(r));
    assert.match(r.body.toString(), /max_metadata_bytes/);
    assert.equal((await request(arca.url('/healthz'))).status, 200);
  });

  test('JSON index pages of the wrong shape are a 502 that says why; a cached page survives', async () => {
    for (const [name, body] of [['shape-a', '{"files": {}}'], ['shape-b', '[1, 2, 3]'],
      ['shape-c', '{"files": [{"filename": 5}]}'], ['shape-d', '{"meta": {"api-version": "2.0"}, "files": []}'],
      ['shape-e', '{not json']]) {
      upstream.setBehavior(`/simple/${name}/`, { body, contentType: 'application/vnd.pypi.simple.v1+json' });
      const r = await page(name);
      assert.equal(r.status, 502, `${name}: ${describeResponse(r)}`);
      assert.match(r.body.toString(), /JSON/, name);
    }
    upstream.setBehavior('/simple/fetched/', { body: '{"files": 7}', contentType: 'application/vnd.pypi.simple.v1+json' });
    const r = await page('fetched');
    assert.equal(r.status, 200, 'the cached page is served while the upstream sends junk');
    upstream.setBehavior('/simple/fetched/', null);
  });

  test('concurrent misses share one upstream request (pages and files)', async () => {
    const [c] = await makeDists(makeTempDir('pypi-flight'), [{ name: 'crowd', version: '1.0' }]);
    upstream.addFiles([c]);
    upstream.setBehavior('/simple/crowd/', { delayMs: 300 });
    upstream.setBehavior(`/files/${c.filename}`, { delayMs: 300 });
    const pages = await Promise.all(Array.from({ length: 12 }, () => page('crowd')));
    assert.ok(pages.every((r) => r.status === 200));
    assert.equal(upstream.count((r) => r.url === '/simple/crowd/'), 1);
    const url = JSON.parse(pages[0].body.toString()).files[0].url;
    const got = await Promise.all(Array.from({ length: 12 }, () => request(url)));
    assert.ok(got.every((r) => r.status === 200 && sha256Hex(r.body) === c.sha256));
    assert.equal(upstream.count((r) => r.url === `/files/${c.filename}`), 1);
  });

  test('arca did not crash', () => {
    assert.equal(arca.crashed(), false);
  });
});
