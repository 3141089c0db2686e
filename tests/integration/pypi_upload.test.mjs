// Real twine (Debian's 4.0.2) uploads a real sdist and wheel built by python3-build into
// `main`; real pip installs it from `downstream` (main upstream), its dependency coming from a
// stand-in upstream through main; PEP 658 metadata is extracted from the uploaded wheel; the
// same file again is accepted, different bytes under the same name are refused (400, as PyPI);
// Basic credentials (user aws, password = token) are accepted; and the install works again with
// the upstream stopped.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { makeTempDir } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { request } from './lib/http.mjs';
import {
  StandinIndex, Venv, makeDists, buildProject, twine, pypiConfig, uploadBody, uploadFields,
  DEBIAN_PYTHON, PYENV_PYTHON,
} from './lib/pypi.mjs';

describe('twine upload, then pip install of the uploaded package', { timeout: 240_000 }, () => {
  let upstream;
  let arca;
  let files; // built by python3 -m build
  let wheel;
  const repoUrl = (repo) => `${arca.baseUrl}/local/pypi/${repo}/`;
  const simple = (repo) => `${repoUrl(repo)}simple/`;
  const withAuth = (url) => url.replace('http://', 'http://aws:not-a-real-token@');

  before(async () => {
    const deps = await makeDists(makeTempDir('pypi-upload-deps'), [{ name: 'arca-dep', version: '1.0' }]);
    upstream = new StandinIndex({ mode: 'json', label: 'upstream index' });
    upstream.addFiles(deps);
    await upstream.start();
    arca = await startArca({ label: 'pypi-upload', config: pypiConfig([{ name: 'pypi-store', url: upstream.url }]) });
    files = await buildProject(path.join(makeTempDir('pypi-project'), 'proj'),
      { name: 'Arca_Uploaded', version: '0.1.0', deps: ['arca-dep>=1'] });
    wheel = files.find((f) => f.endsWith('.whl'));
    assert.ok(wheel && files.some((f) => f.endsWith('.tar.gz')), `built ${files}`);
  });

  test('twine upload of an sdist and a wheel succeeds', async () => {
    const r = await twine(['upload', '--repository-url', repoUrl('main'), '-u', 'aws', '-p', 'not-a-real-token',
      '--disable-progress-bar', ...files]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  });

  test('the project page lists both files with hashes, requires-python and core metadata', async () => {
    const r = await request(`${simple('downstream')}arca-uploaded/`,
      { headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
    assert.equal(r.status, 200);
    const page = JSON.parse(r.body.toString());
    assert.deepEqual(page.versions, ['0.1.0']);
    const names = page.files.map((f) => f.filename).sort();
    assert.deepEqual(names, files.map((f) => path.basename(f)).sort());
    const w = page.files.find((f) => f.filename.endsWith('.whl'));
    assert.equal(w.hashes.sha256, crypto.createHash('sha256').update(fs.readFileSync(wheel)).digest('hex'));
    assert.equal(w['requires-python'], '>=3.7');
    assert.equal(w.size, fs.statSync(wheel).size);
    const meta = await request(`${w.url}.metadata`);
    assert.equal(meta.status, 200);
    assert.equal(crypto.createHash('sha256').update(meta.body).digest('hex'), w['core-metadata'].sha256);
    assert.match(meta.body.toString(), /^Requires-Dist: arca-dep ?\(?>=1\)?$/m);
    const sdist = page.files.find((f) => f.filename.endsWith('.tar.gz'));
    assert.equal(sdist['core-metadata'], false);
  });

  test('pip installs the uploaded package from a repository that has main upstream', async () => {
    const v = new Venv(PYENV_PYTHON, 'pyenv-upload');
    await v.create();
    await v.pipOk(['install', '--index-url', withAuth(simple('downstream')), 'arca-uploaded']);
    const installed = await v.installed();
    assert.equal(installed['arca-uploaded'], '0.1.0');
    assert.equal(installed['arca-dep'], '1.0');
    assert.equal((await v.pythonOk('import arca_uploaded; print(arca_uploaded.VERSION)')).trim(), '0.1.0');
  });

  test('the same file again is accepted; different bytes under its name are refused (400)', async () => {
    const again = await twine(['upload', '--repository-url', repoUrl('main'), '-u', 'aws', '-p', 'x',
      '--disable-progress-bar', wheel]);
    assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);

    const bytes = Buffer.concat([fs.readFileSync(wheel), Buffer.from('trailing junk')]);
    const dist = { name: 'Arca_Uploaded', version: '0.1.0', filename: path.basename(wheel), bytes };
    const { body, contentType } = uploadBody(uploadFields(dist), dist);
    const r = await request(repoUrl('main'), { method: 'POST', body, headers: { 'content-type': contentType } });
    assert.equal(r.status, 400);
    assert.match(r.body.toString(), /File already exists/);
    // The stored file is unchanged.
    const page = JSON.parse((await request(`${simple('main')}arca-uploaded/`,
      { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).body.toString());
    const w = page.files.find((f) => f.filename.endsWith('.whl'));
    const served = await request(w.url);
    assert.deepEqual(served.body, fs.readFileSync(wheel));

    // twine --skip-existing recognises the answer.
    const tmp = path.join(makeTempDir('changed-wheel'), path.basename(wheel));
    fs.writeFileSync(tmp, bytes);
    const skip = await twine(['upload', '--repository-url', repoUrl('main'), '-u', 'aws', '-p', 'x',
      '--skip-existing', '--disable-progress-bar', tmp]);
    assert.equal(skip.code, 0, `${skip.stdout}\n${skip.stderr}`);
    assert.match(skip.stdout + skip.stderr, /Skipping/);
  });

  test('uploads to .../legacy/ work too', async () => {
    const [d] = await makeDists(makeTempDir('pypi-legacy'), [{ name: 'arca-legacy', version: '3.0' }]);
    const r = await twine(['upload', '--repository-url', `${repoUrl('main')}legacy/`, '-u', 'aws', '-p', 'x',
      '--disable-progress-bar', d.path]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const page = await request(`${simple('downstream')}arca-legacy/`);
    assert.equal(page.status, 200);
    assert.match(page.body.toString(), /arca_legacy-3\.0-py3-none-any\.whl#sha256=/);
  });

  test('with the upstream stopped, Debian pip installs it again', async () => {
    await upstream.stop();
    const v = new Venv(DEBIAN_PYTHON, 'debian-upload-offline');
    await v.create();
    await v.pipOk(['install', '--index-url', simple('downstream'), 'arca-uploaded']);
    const installed = await v.installed();
    assert.equal(installed['arca-uploaded'], '0.1.0');
    assert.equal(installed['arca-dep'], '1.0');
  });

  test('arca did not crash', () => {
    assert.equal(arca.crashed(), false);
  });
});
