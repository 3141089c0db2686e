// Single flight: N simultaneous misses for one key cost one upstream fetch, and every client
// gets the same, correct bytes.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { startArca } from './lib/arca.mjs';
import { StandinRegistry, tarballFileName } from './lib/registry.mjs';
import { generatePackages } from './lib/packages.mjs';
import { request, getJson, sha512Integrity, describeResponse, decodeBody } from './lib/http.mjs';

const CLIENTS = 50;

function concurrently(n, fn) {
  return Promise.all(Array.from({ length: n }, (_, i) => fn(i)));
}

describe('single flight: 50 concurrent misses cost one upstream request', { timeout: 180_000 }, () => {
  let set;
  let standin;
  let arca;

  before(async () => {
    // No dependencies needed; two ~1.5 MB tarballs so the slow stream spans many writes.
    set = await generatePackages({
      count: 6, scoped: 2, multiVersion: 0, roots: 6, deps: false, prefix: 'sf', seed: 3,
      sizes: { 0: 1_500_000, 1: 1_500_000 },
    });
    standin = new StandinRegistry();
    standin.addPackages(set.packages);
    await standin.start();
    arca = await startArca({ label: 'single-flight', upstreamUrl: standin.url });
  });

  const tarballUrl = (pkg, repo = 'main') =>
    `${arca.registry(repo)}${pkg.name}/-/${tarballFileName(pkg.name, pkg.version)}`;

  async function fiftyTarballGets(pkg) {
    const url = tarballUrl(pkg);
    const results = await concurrently(CLIENTS, () => request(url, { timeoutMs: 60_000 }));
    results.forEach((r, i) => {
      assert.equal(r.status, 200, `client ${i}: ${describeResponse(r)}`);
      assert.ok(r.complete, `client ${i}: incomplete body: ${describeResponse(r)}`);
      assert.equal(r.body.length, pkg.size, `client ${i}: body length`);
      assert.equal(sha512Integrity(r.body), pkg.integrity, `client ${i}: body sha512`);
    });
    return results;
  }

  // index 0 and 3 are scoped; 0 and 1 carry a 1.5 MB payload.
  const pick = (index) => set.packages.find((p) => p.index === index);

  test('an uncached tarball (packument also uncached), streamed by the upstream over ~1 s', async () => {
    const pkg = pick(1);
    assert.ok(!pkg.name.startsWith('@'));
    standin.setTarballBehavior(pkg.name, pkg.version, { chunks: 20, totalMs: 1000 });
    const started = Date.now();
    await fiftyTarballGets(pkg);
    const ms = Date.now() - started;
    assert.equal(standin.countTarball(pkg.name, pkg.version), 1,
      `upstream saw ${standin.countTarball(pkg.name, pkg.version)} requests for ${pkg.name}@${pkg.version}`);
    assert.ok(standin.countPackument(pkg.name) <= 1,
      `upstream saw ${standin.countPackument(pkg.name)} packument requests for ${pkg.name}`);
    assert.ok(ms >= 900, `the 50 downloads took ${ms} ms; the upstream stream alone takes ~1 s`);
  });

  test('an uncached scoped tarball whose packument is already cached', async () => {
    const pkg = pick(0);
    assert.ok(pkg.name.startsWith('@'), `${pkg.name} should be scoped`);
    const meta = await getJson(`${arca.registry('main')}${pkg.name.replace('/', '%2f')}`);
    assert.equal(meta.status, 200, describeResponse(meta));
    assert.equal(standin.countPackument(pkg.name), 1);
    standin.setTarballBehavior(pkg.name, pkg.version, { chunks: 20, totalMs: 1000 });
    await fiftyTarballGets(pkg);
    assert.equal(standin.countTarball(pkg.name, pkg.version), 1,
      `upstream saw ${standin.countTarball(pkg.name, pkg.version)} requests for ${pkg.name}@${pkg.version}`);
    assert.equal(standin.countPackument(pkg.name), 1, 'packument was cached; no new upstream request');
  });

  test('the same 50 GETs again are cache hits: no further upstream requests', async () => {
    const pkg = pick(1);
    await fiftyTarballGets(pkg);
    assert.equal(standin.countTarball(pkg.name, pkg.version), 1);
  });

  async function fiftyPackumentGets(pkg, accept) {
    const url = `${arca.registry('main')}${pkg.name.replace('/', '%2f')}`;
    const results = await concurrently(CLIENTS, () =>
      request(url, { headers: { accept }, timeoutMs: 60_000 }));
    const bodies = results.map((r, i) => {
      assert.equal(r.status, 200, `client ${i}: ${describeResponse(r)}`);
      assert.ok(r.complete, `client ${i}: incomplete: ${describeResponse(r)}`);
      return decodeBody(r).toString('utf8');
    });
    for (let i = 1; i < bodies.length; i++) {
      assert.equal(bodies[i], bodies[0], `client ${i} got a different packument than client 0`);
    }
    const doc = JSON.parse(bodies[0]);
    assert.equal(doc.name, pkg.name);
    assert.ok(doc.versions[pkg.version], `packument lacks ${pkg.version}`);
    assert.equal(doc.versions[pkg.version].dist.integrity, pkg.integrity);
    assert.ok(doc.versions[pkg.version].dist.tarball.startsWith(arca.registry('main')),
      `tarball URL not rewritten: ${doc.versions[pkg.version].dist.tarball}`);
    return doc;
  }

  test('an uncached packument that the upstream answers slowly (~1 s)', async () => {
    const pkg = pick(2);
    assert.ok(!pkg.name.startsWith('@'));
    standin.setPackumentBehavior(pkg.name, { delayMs: 600, chunks: 4, totalMs: 400 });
    await fiftyPackumentGets(pkg, 'application/json');
    assert.equal(standin.countPackument(pkg.name), 1,
      `upstream saw ${standin.countPackument(pkg.name)} packument requests for ${pkg.name}`);
  });

  test('an uncached scoped packument, 50 concurrent abbreviated (corgi) GETs', async () => {
    const pkg = pick(3);
    assert.ok(pkg.name.startsWith('@'), `${pkg.name} should be scoped`);
    standin.setPackumentBehavior(pkg.name, { delayMs: 600, chunks: 4, totalMs: 400 });
    await fiftyPackumentGets(pkg, 'application/vnd.npm.install-v1+json');
    assert.equal(standin.countPackument(pkg.name), 1,
      `upstream saw ${standin.countPackument(pkg.name)} packument requests for ${pkg.name}`);
  });

  test('arca did not crash', () => {
    assert.equal(arca.crashed(), false);
  });
});
