// Retention when downstream repositories share one fill: 40 clients ask for the same new
// tarball at once through two repositories (app1, app2) that both resolve through npm-store,
// which owns the connection. The upstream is asked once, and every repository asked keeps the
// version: with the stand-in stopped and both repositories' upstreams removed, each still
// serves it (CodeArtifact retention, for requests that joined another repository's fill).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startArca } from './lib/arca.mjs';
import { StandinRegistry, tarballFileName } from './lib/registry.mjs';
import { generatePackages } from './lib/packages.mjs';
import { request, sha512Integrity, describeResponse } from './lib/http.mjs';

let standin;
let arca;
let pkg;

before(async () => {
  const set = await generatePackages({ count: 1, scoped: 0, multiVersion: 0, roots: 1, deps: false,
    prefix: 'rc', seed: 21, sizes: { 0: 1_000_000 } });
  pkg = set.packages[0];
  standin = new StandinRegistry();
  standin.addPackages(set.packages);
  await standin.start();
  arca = await startArca({
    label: 'retention-concurrent', upstreamUrl: standin.url,
    config: {
      domains: [{ name: 'local', repositories: [
        { name: 'npm-store', external_connection: 'public:npmjs' },
        { name: 'app1', upstreams: ['npm-store'] },
        { name: 'app2', upstreams: ['npm-store'] },
      ] }],
    },
  });
});

after(async () => {
  if (arca) await arca.stop();
  if (standin) await standin.stop();
});

const tarball = (repo) => `${arca.registry(repo)}${pkg.name}/-/${tarballFileName(pkg.name, pkg.version)}`;

test('one upstream fetch for two repositories; both retain the version', { timeout: 120_000 }, async () => {
  // The packument first, through both (as npm asks), so the tarball requests race on the fill.
  for (const repo of ['app1', 'app2']) {
    assert.equal((await request(`${arca.registry(repo)}${pkg.name}`)).status, 200);
  }
  standin.setTarballBehavior(pkg.name, pkg.version, { chunks: 20, totalMs: 800 });
  const results = await Promise.all(Array.from({ length: 40 }, (_, i) =>
    request(tarball(i % 2 ? 'app2' : 'app1'), { timeoutMs: 60_000 })));
  results.forEach((r, i) => {
    assert.equal(r.status, 200, `client ${i}: ${describeResponse(r)}`);
    assert.equal(sha512Integrity(r.body), pkg.integrity, `client ${i}`);
  });
  assert.equal(standin.countTarball(pkg.name, pkg.version), 1);

  await standin.stop();
  for (const repo of ['app1', 'app2']) {
    const r = await request(arca.url(`/v1/repository?domain=local&repository=${repo}`), {
      method: 'PUT', body: JSON.stringify({ upstreams: [] }), headers: { 'content-type': 'application/json' },
    });
    assert.equal(r.status, 200, r.body.toString());
    const again = await request(tarball(repo));
    assert.equal(again.status, 200, `${repo}: ${describeResponse(again)}`);
    assert.equal(sha512Integrity(again.body), pkg.integrity);
    const listed = await request(arca.url(
      `/v1/package/versions?domain=local&repository=${repo}&format=npm&package=${pkg.name}`), { method: 'POST' });
    assert.equal(listed.status, 200, listed.body.toString());
    assert.deepEqual(JSON.parse(listed.body.toString()).versions.map((v) => v.version), [pkg.version]);
  }
});
