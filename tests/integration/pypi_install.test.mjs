// Real pip (Debian's 23.0.1 and pyenv's 23.2.1) installing through arca from stand-in package
// indexes holding real wheels (Debian's python3-wheel-whl) and small generated ones: one index
// serves PEP 503 HTML only (relative file links), the other PEP 691 JSON; pip resolves through
// PEP 658 metadata (a backtracking case never downloads the rejected wheel); yanked files and
// requires-python pass through; then everything again with both upstreams stopped and arca
// restarted, from arca's store alone.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { makeTempDir } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { request } from './lib/http.mjs';
import {
  StandinIndex, Venv, makeDists, pypiConfig, DEBIAN_PYTHON, PYENV_PYTHON,
} from './lib/pypi.mjs';

const REAL_WHEELS = '/usr/share/python-wheels';

const PACKAGES = [
  { name: 'arca-app', version: '1.0', deps: ['arca-lib-a>=1', 'Arca_Lib.B', 'arca-lib-d'], requiresPython: '>=3.7' },
  { name: 'arca-lib-a', version: '1.0' },
  { name: 'arca-lib-a', version: '1.1' }, // yanked below: pip must keep 1.0
  { name: 'arca-lib-b', version: '2.0', deps: ['arca-lib-c<2'] },
  { name: 'arca-lib-c', version: '1.0' },
  { name: 'arca-lib-c', version: '1.5', requiresPython: '>=4.0' }, // skipped by requires-python
  // lib-d 2.0 needs lib-e<1, which does not exist: pip backtracks to lib-d 1.0 using only
  // lib-d 2.0's metadata file (PEP 658), never its wheel.
  { name: 'arca-lib-d', version: '1.0' },
  { name: 'arca-lib-d', version: '2.0', deps: ['arca-lib-e<1'] },
  { name: 'arca-lib-e', version: '1.0' },
];

const EXPECTED = {
  'arca-app': '1.0', 'arca-lib-a': '1.0', 'arca-lib-b': '2.0', 'arca-lib-c': '1.0', 'arca-lib-d': '1.0',
  wheel: '0.38.4',
};

function pick(installed) {
  const out = {};
  for (const k of Object.keys(EXPECTED)) out[k] = installed[k];
  return out;
}

describe('pip install through arca (HTML and JSON upstreams, PEP 658, offline)', { timeout: 240_000 }, () => {
  let html;
  let jsonIndex;
  let arca;
  let debianVenv;
  let pyenvVenv;
  const simple = (repo) => `${arca.baseUrl}/local/pypi/${repo}/simple/`;

  before(async () => {
    const dists = await makeDists(makeTempDir('pypi-dists'), PACKAGES);
    for (const d of dists) {
      if (d.name === 'arca-lib-a' && d.version === '1.1') d.yanked = 'broken build';
    }
    assert.ok(fs.existsSync(`${REAL_WHEELS}/wheel-0.38.4-py3-none-any.whl`), 'python3-wheel-whl is not installed');
    html = new StandinIndex({ mode: 'html', relative: true, label: 'html index' });
    jsonIndex = new StandinIndex({ mode: 'json', label: 'json index' });
    for (const index of [html, jsonIndex]) {
      index.addFiles(dists).addWheelFolder(REAL_WHEELS);
      await index.start();
    }
    arca = await startArca({
      label: 'pypi-install',
      config: pypiConfig([{ name: 'html-store', url: html.url }, { name: 'json-store', url: jsonIndex.url }],
        { ttlSeconds: 0 }),
    });
    [debianVenv, pyenvVenv] = await Promise.all([
      new Venv(DEBIAN_PYTHON, 'debian-pip').create(),
      new Venv(PYENV_PYTHON, 'pyenv-pip').create(),
    ]);
  });

  test('Debian pip 23.0.1 installs from an HTML-only upstream', async () => {
    await debianVenv.pipOk(['install', '--index-url', simple('main-html-store'), 'arca-app', 'wheel==0.38.4']);
    assert.deepEqual(pick(await debianVenv.installed()), EXPECTED);
    assert.equal((await debianVenv.pythonOk('import arca_app, arca_lib_b; print(arca_app.VERSION)')).trim(), '1.0');
    // Every file came through arca from the HTML index, each fetched once.
    assert.ok(html.count((r) => r.url === '/files/wheel-0.38.4-py3-none-any.whl') === 1);
    assert.equal(jsonIndex.count((r) => r.url.startsWith('/files/')), 0);
  });

  test('pyenv pip 23.2.1 installs from a JSON upstream, resolving through PEP 658 metadata', async () => {
    await pyenvVenv.pipOk(['install', '--index-url', simple('main-json-store'), 'arca-app', 'wheel==0.38.4']);
    assert.deepEqual(pick(await pyenvVenv.installed()), EXPECTED);
    assert.ok(jsonIndex.requests.some((r) => r.url === '/simple/arca-app/' && /v1\+json/.test(r.accept)),
      'arca asks the upstream for PEP 691 JSON');
    assert.equal(jsonIndex.count((r) => r.url === '/files/arca_lib_d-2.0-py3-none-any.whl.metadata'), 1,
      'lib-d 2.0 was judged by its metadata file');
    assert.equal(jsonIndex.count((r) => r.url === '/files/arca_lib_d-2.0-py3-none-any.whl'), 0,
      'the rejected lib-d 2.0 wheel was never downloaded');
    assert.equal(jsonIndex.count((r) => r.url === '/files/arca_lib_a-1.1-py3-none-any.whl'), 0,
      'the yanked lib-a 1.1 was not chosen');
    assert.equal(jsonIndex.count((r) => r.url === '/files/arca_lib_c-1.5-py3-none-any.whl.metadata'), 0,
      'lib-c 1.5 was skipped by requires-python');
  });

  test('Debian pip 23.0.1 reads arca\'s JSON pages (no crash on core metadata)', async () => {
    const v = new Venv(DEBIAN_PYTHON, 'debian-pip-json');
    await v.create();
    await v.pipOk(['install', '--index-url', simple('main-json-store'), 'arca-app']);
    const installed = await v.installed();
    assert.equal(installed['arca-app'], '1.0');
    assert.equal(installed['arca-lib-d'], '1.0');
  });

  test('pages: negotiation, PEP 700 fields, yanked, requires-python, hashes, metadata', async () => {
    const pipAccept = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01';
    const j = await request(`${simple('main-json-store')}arca-lib-a/`, { headers: { accept: pipAccept } });
    assert.equal(j.status, 200);
    assert.equal(j.headers['content-type'], 'application/vnd.pypi.simple.v1+json');
    const page = JSON.parse(j.body.toString());
    assert.equal(page.meta['api-version'], '1.1');
    assert.equal(page.name, 'arca-lib-a');
    const again = await request(`${simple('main-json-store')}arca-lib-a/`,
      { headers: { accept: pipAccept, 'if-none-match': j.headers.etag } });
    assert.equal(again.status, 304, 'revalidation with the ETag');
    assert.deepEqual(page.versions, ['1.0', '1.1']);
    const yanked = page.files.find((f) => f.filename === 'arca_lib_a-1.1-py3-none-any.whl');
    assert.equal(yanked.yanked, 'broken build');
    assert.ok(yanked.size > 0 && yanked['upload-time'], 'size and upload-time (PEP 700)');
    assert.match(yanked.url, new RegExp(`^${arca.baseUrl}/local/pypi/main-json-store/files/arca-lib-a/`));
    assert.match(yanked.hashes.sha256, /^[0-9a-f]{64}$/);
    assert.match(yanked['core-metadata'].sha256, /^[0-9a-f]{64}$/);
    assert.equal(yanked['dist-info-metadata'], undefined, 'pip 23.0.1 crashes on any non-string value there');
    // The .metadata file is served with the hash the page declares.
    const m = await request(`${yanked.url}.metadata`);
    assert.equal(m.status, 200);
    const crypto = await import('node:crypto');
    assert.equal(crypto.createHash('sha256').update(m.body).digest('hex'), yanked['core-metadata'].sha256);

    for (const [accept, type] of [['text/html', 'text/html'], [undefined, 'text/html'], ['*/*', 'text/html'],
      ['application/vnd.pypi.simple.v1+html', 'application/vnd.pypi.simple.v1+html']]) {
      const r = await request(`${simple('main-html-store')}arca-lib-c/`, { headers: accept ? { accept } : {} });
      assert.equal(r.status, 200);
      assert.ok(r.headers['content-type'].startsWith(type), `${accept} -> ${r.headers['content-type']}`);
      const text = r.body.toString();
      assert.match(text, /data-requires-python="&gt;=4.0"/);
      assert.match(text, /href="[^"]+\/files\/arca-lib-c\/arca_lib_c-1\.0-py3-none-any\.whl#sha256=[0-9a-f]{64}"/);
      assert.match(text, /data-dist-info-metadata="sha256=[0-9a-f]{64}" data-core-metadata="sha256=[0-9a-f]{64}"/);
    }
  });

  test('names: non-normalized names redirect (301); /simple/ lists what the repository holds', async () => {
    const r = await request(`${simple('main-json-store')}Arca_Lib.B/`);
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, `${simple('main-json-store')}arca-lib-b/`);
    const noSlash = await request(`${simple('main-json-store')}arca-lib-b`);
    assert.equal(noSlash.status, 301);
    assert.equal(noSlash.headers.location, `${simple('main-json-store')}arca-lib-b/`);
    const bad = await request(`${simple('main-json-store')}-._/`);
    assert.equal(bad.status, 400);
    assert.match(bad.body.toString(), /normalizes to nothing/);

    const list = await request(simple('main-json-store'), { headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
    assert.equal(list.status, 200);
    const names = JSON.parse(list.body.toString()).projects.map((p) => p.name);
    for (const n of ['arca-app', 'arca-lib-a', 'arca-lib-b', 'arca-lib-c', 'arca-lib-d', 'wheel']) {
      assert.ok(names.includes(n), `${n} in ${names}`);
    }
    assert.ok(!names.includes('arca-lib-e'), 'lib-e was never fetched, so it is not held');
    const htmlList = await request(simple('main-json-store'));
    assert.match(htmlList.body.toString(), /<a href="arca-app\/">arca-app<\/a>/);
  });

  test('with both upstreams stopped and arca restarted, pip installs again from arca alone', async () => {
    await html.stop();
    await jsonIndex.stop();
    const before = html.requests.length + jsonIndex.requests.length;
    await arca.restart();
    await debianVenv.pipOk(['install', '--force-reinstall', '--index-url', simple('main-html-store'), 'arca-app',
      'wheel==0.38.4']);
    assert.deepEqual(pick(await debianVenv.installed()), EXPECTED);
    const fresh = new Venv(PYENV_PYTHON, 'pyenv-offline');
    await fresh.create();
    await fresh.pipOk(['install', '--index-url', simple('main-json-store'), 'arca-app', 'wheel==0.38.4']);
    assert.deepEqual(pick(await fresh.installed()), EXPECTED);
    assert.equal(html.requests.length + jsonIndex.requests.length, before);
    const metrics = (await request(arca.url('/metrics'))).body.toString();
    assert.match(metrics, /arca_metadata_requests_total\{outcome="stale"\} [1-9]/);
  });

  test('arca did not crash', () => {
    assert.equal(arca.crashed(), false);
  });
});
