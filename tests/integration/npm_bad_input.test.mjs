// Bad input from clients and bad behaviour from the upstream: clear npm-style errors, nothing
// wrong stored, retries after the upstream is fixed, and previously cached content unharmed.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { StandinRegistry, tarballFileName } from './lib/registry.mjs';
import { generatePackages } from './lib/packages.mjs';
import { request, getJson, sha512Integrity, sha1Hex, describeResponse, decodeBody } from './lib/http.mjs';

const READ_TIMEOUT_MS = 1000;
const PUBLISH_LIMIT = 256 * 1024;

function assertJsonError(r, status, what) {
  assert.equal(r.status, status, `${what}: ${describeResponse(r)}`);
  let body;
  try {
    body = JSON.parse(decodeBody(r).toString('utf8'));
  } catch {
    assert.fail(`${what}: error body is not JSON: ${describeResponse(r)}`);
  }
  assert.equal(typeof body?.error, 'string', `${what}: body must be {"error": "..."}: ${describeResponse(r)}`);
  assert.match(r.headers['content-type'] || '', /json/, `${what}: content-type`);
}

// The client must not receive a complete response carrying these bytes: either 502 (detected
// before the response started) or a 200 whose body is cut before the last byte.
function assertClientSawFailure(r, pkg, what) {
  if (r.status === 502) {
    assertJsonError(r, 502, what);
    return '502';
  }
  assert.equal(r.status, 200, `${what}: expected 502 or a cut 200, got ${describeResponse(r)}`);
  assert.equal(r.complete, false,
    `${what}: arca delivered a complete 200 (${r.body.length} bytes, sha512 ` +
    `${sha512Integrity(r.body) === pkg.integrity ? 'matches' : 'does NOT match'} the declared integrity)`);
  assert.ok(r.body.length < pkg.size || sha512Integrity(r.body) !== pkg.integrity,
    `${what}: the cut response still carried every byte`);
  return 'cut';
}

function publishBody(name, version, tarball, { integrity, length } = {}) {
  const file = tarballFileName(name, version);
  return JSON.stringify({
    _id: name,
    name,
    'dist-tags': { latest: version },
    versions: {
      [version]: {
        name, version, description: 'bad input test', main: 'index.js', _id: `${name}@${version}`,
        dist: {
          integrity: integrity ?? sha512Integrity(tarball),
          shasum: sha1Hex(tarball),
          tarball: `http://127.0.0.1/local/npm/main/${name}/-/${file}`,
        },
      },
    },
    access: null,
    _attachments: {
      [file]: { content_type: 'application/octet-stream', data: tarball.toString('base64'), length: length ?? tarball.length },
    },
  });
}

describe('bad input and bad upstreams', { timeout: 240_000 }, () => {
  let set;
  let standin;
  let arca;
  let warm; // packages fetched before the bad things happen
  let victims; // packages the upstream misbehaves for
  const fetchedOk = new Set(); // victims arca served correctly once the upstream was fixed
  const pkgByIndex = (i) => set.packages.find((p) => p.index === i);
  const tarballUrl = (pkg) => `${arca.registry()}${pkg.name}/-/${tarballFileName(pkg.name, pkg.version)}`;
  const packumentUrl = (name) => `${arca.registry()}${name.replace('/', '%2f')}`;

  before(async () => {
    set = await generatePackages({
      count: 12, scoped: 3, multiVersion: 0, roots: 12, deps: false, prefix: 'bad', seed: 9,
      sizes: { 5: 3_000_000, 7: 3_000_000 },
    });
    standin = new StandinRegistry();
    standin.addPackages(set.packages);
    await standin.start();
    arca = await startArca({
      label: 'bad-input',
      upstreamUrl: standin.url,
      config: {
        upstream: { connect_timeout_ms: 2000, read_timeout_ms: READ_TIMEOUT_MS },
        listener: { publish_body_limit_bytes: PUBLISH_LIMIT },
      },
    });
    warm = [pkgByIndex(0), pkgByIndex(1), pkgByIndex(2)];
    victims = {
      corruptSmall: pkgByIndex(4),
      corruptBig: pkgByIndex(5),
      truncated: pkgByIndex(7),
      hangTarball: pkgByIndex(8),
      hangPackument: pkgByIndex(9),
      huge: pkgByIndex(10),
      loop: pkgByIndex(11),
    };
    for (const pkg of warm) {
      const p = await getJson(packumentUrl(pkg.name));
      assert.equal(p.status, 200, describeResponse(p));
      const t = await request(tarballUrl(pkg));
      assert.equal(t.status, 200, describeResponse(t));
      assert.equal(sha512Integrity(t.body), pkg.integrity);
    }
  });

  describe('invalid requests', () => {
    const invalidNames = [
      ['..%2f..', 'path traversal with an encoded slash'],
      ['%2e%2e', 'encoded dot-dot'],
      ['foo%01bar', 'control character'],
      ['foo%20bar', 'space'],
      ['a'.repeat(215), '215 characters'],
    ];
    for (const [raw, why] of invalidNames) {
      test(`invalid package name (${why}) -> 400 JSON error, nothing asked upstream`, async () => {
        const before = standin.requests.length;
        const rawPath = `/local/npm/main/${raw}`;
        const r = await request(arca.url('/'), { rawPath, headers: { accept: 'application/json' } });
        assertJsonError(r, 400, `GET ${rawPath.slice(0, 80)}`);
        assert.equal(standin.requests.length, before, `GET ${rawPath.slice(0, 80)} must not reach the upstream`);
      });
    }

    const unknownPaths = [
      '/no-such-top-level-path',
      '/local/npm/no-such-repo/left-pad',
      '/no-such-domain/npm/main/left-pad',
      '/local/npm/main/-/no/such/endpoint',
    ];
    for (const p of unknownPaths) {
      test(`unknown path ${p} -> 404 JSON error`, async () => {
        const r = await request(arca.url('/'), { rawPath: p, headers: { accept: 'application/json' } });
        assertJsonError(r, 404, `GET ${p}`);
      });
    }
  });

  describe('misbehaving upstream', () => {
    for (const [key, label] of [['corruptSmall', 'small'], ['corruptBig', '3 MB, streamed slowly']]) {
      test(`tarball whose bytes do not match dist.integrity (${label}): failure, not stored, retried after fix`, async () => {
        const pkg = victims[key];
        const slow = key === 'corruptBig' ? { chunks: 30, totalMs: 1500 } : {};
        standin.setTarballBehavior(pkg.name, pkg.version, { corrupt: true, ...slow });
        const r1 = await request(tarballUrl(pkg), { timeoutMs: 30_000 });
        assertClientSawFailure(r1, pkg, `GET ${tarballUrl(pkg)} (corrupt upstream)`);
        const n1 = standin.countTarball(pkg.name, pkg.version);
        assert.ok(n1 >= 1);
        // Still corrupt: must fail again and must have asked upstream again (nothing cached).
        const r2 = await request(tarballUrl(pkg), { timeoutMs: 30_000 });
        assertClientSawFailure(r2, pkg, `second GET (still corrupt)`);
        assert.ok(standin.countTarball(pkg.name, pkg.version) > n1,
          'the second request must go upstream again (nothing may be stored)');
        // Fixed upstream: next request succeeds with the right bytes.
        standin.setTarballBehavior(pkg.name, pkg.version, null);
        const n2 = standin.countTarball(pkg.name, pkg.version);
        const r3 = await request(tarballUrl(pkg), { timeoutMs: 30_000 });
        assert.equal(r3.status, 200, describeResponse(r3));
        assert.ok(r3.complete);
        assert.equal(sha512Integrity(r3.body), pkg.integrity);
        fetchedOk.add(pkg);
        assert.equal(standin.countTarball(pkg.name, pkg.version), n2 + 1);
      });
    }

    test('truncated upstream body (Content-Length declared, connection closed early): failure, then success after fix', async () => {
      const pkg = victims.truncated;
      standin.setTarballBehavior(pkg.name, pkg.version, { truncateAt: 0.6, chunks: 10, totalMs: 500 });
      const r1 = await request(tarballUrl(pkg), { timeoutMs: 30_000 });
      assertClientSawFailure(r1, pkg, 'GET (truncated upstream)');
      const n1 = standin.countTarball(pkg.name, pkg.version);
      standin.setTarballBehavior(pkg.name, pkg.version, null);
      const r2 = await request(tarballUrl(pkg), { timeoutMs: 30_000 });
      assert.equal(r2.status, 200, describeResponse(r2));
      assert.ok(r2.complete);
      assert.equal(sha512Integrity(r2.body), pkg.integrity);
      fetchedOk.add(pkg);
      assert.equal(standin.countTarball(pkg.name, pkg.version), n1 + 1, 'the fixed request went upstream');
    });

    test('upstream declaring a 10 GiB tarball (over upstream.max_asset_bytes): 502, the upstream\'s fault, not 413', async () => {
      const pkg = victims.huge;
      standin.setTarballBehavior(pkg.name, pkg.version, { declareLength: 10 * 2 ** 30 });
      const r = await request(tarballUrl(pkg), { timeoutMs: 20_000 });
      assertJsonError(r, 502, 'GET tarball (upstream declares 10 GiB)');
      assert.match(r.body.toString(), /max_asset_bytes/);
      standin.setTarballBehavior(pkg.name, pkg.version, null);
      const ok = await request(tarballUrl(pkg), { timeoutMs: 20_000 });
      assert.equal(ok.status, 200, describeResponse(ok));
      assert.equal(sha512Integrity(ok.body), pkg.integrity);
      fetchedOk.add(pkg);
    });

    test('upstream redirecting a tarball back into arca: refused at once (502), no fill waits for itself', async () => {
      const pkg = victims.loop;
      standin.setTarballBehavior(pkg.name, pkg.version, { redirectTo: tarballUrl(pkg) });
      const r = await request(tarballUrl(pkg), { timeoutMs: 20_000 });
      assertJsonError(r, 502, 'GET tarball (upstream redirects into arca)');
      assert.match(r.body.toString(), /arca itself/);
      assert.ok(r.ms < READ_TIMEOUT_MS, `the refusal took ${r.ms} ms`);
      standin.setTarballBehavior(pkg.name, pkg.version, null);
      const ok = await request(tarballUrl(pkg), { timeoutMs: 20_000 });
      assert.equal(ok.status, 200, describeResponse(ok));
      assert.equal(sha512Integrity(ok.body), pkg.integrity);
      fetchedOk.add(pkg);
    });

    test(`upstream that never answers a tarball request: 504 after read_timeout_ms (${READ_TIMEOUT_MS} ms)`, async () => {
      const pkg = victims.hangTarball;
      const p = await getJson(packumentUrl(pkg.name)); // packument fine, tarball hangs
      assert.equal(p.status, 200);
      standin.setTarballBehavior(pkg.name, pkg.version, { hang: true });
      const r = await request(tarballUrl(pkg), { timeoutMs: 20_000 });
      assertJsonError(r, 504, 'GET tarball (hanging upstream)');
      assert.ok(r.ms < 6000, `504 took ${r.ms} ms with read_timeout_ms=${READ_TIMEOUT_MS}`);
      assert.ok(r.ms >= READ_TIMEOUT_MS - 100, `504 came after only ${r.ms} ms`);
      standin.setTarballBehavior(pkg.name, pkg.version, null);
      const ok = await request(tarballUrl(pkg), { timeoutMs: 20_000 });
      assert.equal(ok.status, 200, describeResponse(ok));
      assert.equal(sha512Integrity(ok.body), pkg.integrity);
      fetchedOk.add(pkg);
    });

    test(`upstream that never answers a packument request: 504 after read_timeout_ms`, async () => {
      const pkg = victims.hangPackument;
      standin.setPackumentBehavior(pkg.name, { hang: true });
      const r = await request(packumentUrl(pkg.name), { timeoutMs: 20_000, headers: { accept: 'application/json' } });
      assertJsonError(r, 504, 'GET packument (hanging upstream)');
      assert.ok(r.ms < 6000, `504 took ${r.ms} ms with read_timeout_ms=${READ_TIMEOUT_MS}`);
      assert.ok(r.ms >= READ_TIMEOUT_MS - 100, `504 came after only ${r.ms} ms`);
      standin.setPackumentBehavior(pkg.name, null);
      // arca may remember a failed metadata fetch briefly (a few seconds of back-off protects a
      // struggling upstream), but the packument must come back once the upstream answers.
      const before = standin.countPackument(pkg.name);
      let ok;
      await waitFor(async () => {
        ok = await getJson(packumentUrl(pkg.name));
        return ok.status === 200;
      }, { timeoutMs: 10_000, intervalMs: 250, what: 'the packument to be served after the upstream recovered' })
        .catch((e) => assert.fail(`${e.message}; last response: ${describeResponse(ok)}`));
      assert.equal(ok.json.versions[pkg.version].dist.integrity, pkg.integrity);
      assert.ok(standin.countPackument(pkg.name) > before, 'the recovered packument came from the upstream');
    });
  });

  describe('bad publishes', () => {
    test(`publish body over publish_body_limit_bytes (${PUBLISH_LIMIT}) -> 413, nothing stored`, async () => {
      const name = 'bad-too-big';
      const body = publishBody(name, '1.0.0', Buffer.alloc(PUBLISH_LIMIT, 7));
      assert.ok(Buffer.byteLength(body) > PUBLISH_LIMIT);
      const r = await request(`${arca.registry()}${name}`, {
        method: 'PUT', body,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      });
      assert.equal(r.status, 413, `PUT ${name} with ${Buffer.byteLength(body)} bytes: ${describeResponse(r)}`);
      const g = await request(packumentUrl(name), { headers: { accept: 'application/json' } });
      assertJsonError(g, 404, `GET ${name} after the refused publish`);
    });

    const malformed = [
      ['not JSON', () => '{"name": "bad-malformed", "versions": '],
      ['a JSON array', () => '[1, 2, 3]'],
      ['no versions', () => JSON.stringify({ _id: 'bad-malformed', name: 'bad-malformed', 'dist-tags': { latest: '1.0.0' } })],
      ['name differs from the URL', () => publishBody('bad-other-name', '1.0.0', Buffer.from('x'))],
      ['attachment not matching dist.integrity', () =>
        publishBody('bad-malformed', '1.0.0', Buffer.from('real bytes'), { integrity: sha512Integrity(Buffer.from('other bytes')) })],
      ['attachment length disagreeing with its data', () =>
        publishBody('bad-malformed', '1.0.0', Buffer.from('real bytes'), { length: 9999 })],
    ];
    for (const [why, make] of malformed) {
      test(`malformed publish (${why}) -> 400 JSON error, nothing stored`, async () => {
        const body = make();
        const r = await request(`${arca.registry()}bad-malformed`, {
          method: 'PUT', body,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        });
        assertJsonError(r, 400, `PUT bad-malformed (${why})`);
        const g = await request(packumentUrl('bad-malformed'), { headers: { accept: 'application/json' } });
        assertJsonError(g, 404, 'GET bad-malformed after the refused publish');
      });
    }
  });

  test('afterwards, previously cached content is still served correctly (upstream stopped)', async () => {
    await standin.stop();
    for (const pkg of warm) {
      const p = await getJson(packumentUrl(pkg.name));
      assert.equal(p.status, 200, `${pkg.name}: ${describeResponse(p)}`);
      assert.equal(p.json.versions[pkg.version].dist.integrity, pkg.integrity);
      const t = await request(tarballUrl(pkg));
      assert.equal(t.status, 200, describeResponse(t));
      assert.equal(sha512Integrity(t.body), pkg.integrity, `${pkg.name} tarball`);
    }
    // Content fetched successfully after the upstream was fixed is cached too.
    for (const pkg of fetchedOk) {
      const t = await request(tarballUrl(pkg));
      assert.equal(t.status, 200, `${pkg.name}: ${describeResponse(t)}`);
      assert.equal(sha512Integrity(t.body), pkg.integrity, `${pkg.name} tarball`);
    }
    const h = await request(arca.url('/healthz'));
    assert.equal(h.status, 200);
    assert.equal(arca.crashed(), false, 'arca exited unexpectedly');
  });
});
