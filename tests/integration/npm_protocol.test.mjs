// The npm registry protocol as arca speaks it, request by request: packument forms, encodings,
// scoped names, HEAD, ping/whoami, URL rewriting, dist-tags, audit forwarding, freshness and
// stale-if-error.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import zlib from 'node:zlib';
import { makeTempDir } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { StandinRegistry, tarballFileName } from './lib/registry.mjs';
import { generatePackages } from './lib/packages.mjs';
import { Npm, makeProject } from './lib/npm.mjs';
import { request, getJson, decodeBody, sha512Integrity, describeResponse } from './lib/http.mjs';

const CORGI = 'application/vnd.npm.install-v1+json';
// What npm 11 itself sends when it wants the abbreviated form.
const NPM_CORGI_ACCEPT = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*';
const INSTALLER_ONLY_ABSENT = ['description', 'main', 'keywords', 'readme'];

function parseJsonBody(r) {
  return JSON.parse(decodeBody(r).toString('utf8'));
}

function assertJsonError(r, status, what) {
  assert.equal(r.status, status, `${what}: ${describeResponse(r)}`);
  assert.match(r.headers['content-type'] || '', /json/, `${what}: error content-type`);
  let body;
  try {
    body = parseJsonBody(r);
  } catch {
    assert.fail(`${what}: error body is not JSON: ${describeResponse(r)}`);
  }
  assert.equal(typeof body.error, 'string', `${what}: body must be {"error": "..."}: ${describeResponse(r)}`);
}

describe('npm protocol details', { timeout: 240_000 }, () => {
  let set;
  let standin;
  let arca; // metadata_ttl_seconds 300
  let fresh; // metadata_ttl_seconds 0
  let npm;
  let plain; // an unscoped package with dependencies
  let scoped; // a scoped package
  let multi; // a package with several versions

  before(async () => {
    set = await generatePackages({ count: 16, scoped: 4, multiVersion: 2, roots: 6, prefix: 'proto', seed: 5 });
    const single = set.packages.filter((p) => set.versionsOf(p.name).length === 1);
    plain = single.find((p) => !p.name.startsWith('@') && p.manifest.dependencies);
    scoped = single.find((p) => p.name.startsWith('@'));
    multi = set.names.find((n) => set.versionsOf(n).length > 1);
    standin = new StandinRegistry();
    standin.addPackages(set.packages);
    await standin.start();
    arca = await startArca({ label: 'protocol-ttl300', upstreamUrl: standin.url, ttlSeconds: 300 });
    fresh = await startArca({ label: 'protocol-ttl0', upstreamUrl: standin.url, ttlSeconds: 0 });
    npm = new Npm({ label: 'npm-protocol' });
    npm.setRegistry(arca.registry('main'));
  });

  const enc = (name) => name.replace('/', '%2f');

  describe('packuments', () => {
    test('full packument (Accept: application/json): JSON with full manifests, time, dist-tags', async () => {
      const r = await request(`${arca.registry()}${plain.name}`, { headers: { accept: 'application/json' } });
      assert.equal(r.status, 200, describeResponse(r));
      assert.match(r.headers['content-type'], /^application\/json/);
      const doc = parseJsonBody(r);
      assert.equal(doc.name, plain.name);
      assert.equal(doc['dist-tags'].latest, plain.version);
      assert.ok(doc.time && doc.time[plain.version], 'full packument keeps "time"');
      const v = doc.versions[plain.version];
      assert.equal(v.name, plain.name);
      assert.equal(v.version, plain.version);
      assert.equal(v.description, plain.manifest.description);
      assert.deepEqual(v.keywords, plain.manifest.keywords);
      assert.equal(v.main, 'index.js');
      assert.deepEqual(v.dependencies, plain.manifest.dependencies);
      assert.equal(v.dist.integrity, plain.integrity);
      assert.equal(v.dist.shasum, plain.shasum);
    });

    test('abbreviated packument (Accept: corgi): corgi content-type, installer fields only', async () => {
      for (const accept of [CORGI, NPM_CORGI_ACCEPT]) {
        const r = await request(`${arca.registry()}${plain.name}`, { headers: { accept } });
        assert.equal(r.status, 200, describeResponse(r));
        assert.match(r.headers['content-type'], /^application\/vnd\.npm\.install-v1\+json/,
          `Accept: ${accept}`);
        const doc = parseJsonBody(r);
        assert.equal(doc.name, plain.name);
        assert.equal(typeof doc.modified, 'string', 'abbreviated packument has "modified"');
        assert.equal(doc['dist-tags'].latest, plain.version);
        for (const k of ['time', 'readme', 'description']) {
          assert.equal(doc[k], undefined, `abbreviated packument must not have top-level "${k}"`);
        }
        const v = doc.versions[plain.version];
        assert.equal(v.name, plain.name);
        assert.equal(v.version, plain.version);
        assert.deepEqual(v.dependencies, plain.manifest.dependencies);
        assert.equal(v.dist.integrity, plain.integrity);
        for (const k of INSTALLER_ONLY_ABSENT) {
          assert.equal(v[k], undefined, `abbreviated version must not have "${k}" (Accept: ${accept})`);
        }
      }
    });

    test('gzip when Accept-Encoding asks, for both forms; identical content', async () => {
      for (const accept of ['application/json', CORGI]) {
        const url = `${arca.registry()}${plain.name}`;
        const identity = await request(url, { headers: { accept } });
        const gz = await request(url, { headers: { accept, 'accept-encoding': 'gzip' } });
        assert.equal(gz.status, 200, describeResponse(gz));
        assert.equal(gz.headers['content-encoding'], 'gzip', `Accept: ${accept}`);
        assert.equal(identity.headers['content-encoding'] ?? 'identity', 'identity',
          'no Accept-Encoding: no content coding');
        assert.deepEqual(JSON.parse(zlib.gunzipSync(gz.body).toString('utf8')),
          JSON.parse(identity.body.toString('utf8')), `Accept: ${accept}`);
        assert.ok(gz.body.length < identity.body.length, 'gzip body should be smaller');
      }
    });

    test('scoped names: @scope%2fname, @scope%2Fname and @scope/name give the same packument', async () => {
      const forms = [enc(scoped.name), scoped.name.replace('/', '%2F'), scoped.name];
      const docs = [];
      for (const form of forms) {
        const r = await request(`${arca.registry()}${form}`, { headers: { accept: 'application/json' } });
        assert.equal(r.status, 200, `${form}: ${describeResponse(r)}`);
        docs.push(parseJsonBody(r));
      }
      assert.equal(docs[0].name, scoped.name);
      assert.deepEqual(docs[1], docs[0]);
      assert.deepEqual(docs[2], docs[0]);
      assert.equal(docs[0].versions[scoped.version].dist.tarball,
        `${arca.registry()}${scoped.name}/-/${tarballFileName(scoped.name, scoped.version)}`);
    });

    test('several versions and dist-tags are passed through', async () => {
      const r = await getJson(`${arca.registry()}${enc(multi)}`);
      assert.equal(r.status, 200, describeResponse(r));
      assert.deepEqual(Object.keys(r.json.versions).sort(), set.versionsOf(multi).slice().sort());
      assert.equal(r.json['dist-tags'].latest, set.versionsOf(multi).at(-1));
    });

    test('unknown package: 404 JSON error', async () => {
      const r = await request(`${arca.registry()}proto-no-such-package`, { headers: { accept: 'application/json' } });
      assertJsonError(r, 404, 'GET unknown package');
      const s = await request(`${arca.registry()}@corp%2fproto-no-such-package`);
      assertJsonError(s, 404, 'GET unknown scoped package');
    });
  });

  describe('tarballs', () => {
    test('every tarball URL in packuments points at arca (main and npm-store) and serves the right bytes', async () => {
      for (const repo of ['main', 'npm-store']) {
        for (const name of set.names) {
          const r = await getJson(`${arca.registry(repo)}${enc(name)}`);
          assert.equal(r.status, 200, `${repo} ${name}: ${describeResponse(r)}`);
          for (const [version, v] of Object.entries(r.json.versions)) {
            const expected = `${arca.registry(repo)}${name}/-/${tarballFileName(name, version)}`;
            assert.equal(v.dist.tarball, expected, `${repo} ${name}@${version} dist.tarball`);
          }
        }
        for (const pkg of set.packages) {
          const r = await request(`${arca.registry(repo)}${pkg.name}/-/${tarballFileName(pkg.name, pkg.version)}`);
          assert.equal(r.status, 200, `${repo} ${pkg.name}@${pkg.version}: ${describeResponse(r)}`);
          assert.equal(sha512Integrity(r.body), pkg.integrity, `${repo} ${pkg.name}@${pkg.version}`);
        }
      }
    });

    test('HEAD of a tarball: 200, Content-Length, no body', async () => {
      for (const pkg of [plain, scoped]) {
        const url = `${arca.registry()}${pkg.name}/-/${tarballFileName(pkg.name, pkg.version)}`;
        const r = await request(url, { method: 'HEAD' });
        assert.equal(r.status, 200, describeResponse(r));
        assert.equal(Number(r.headers['content-length']), pkg.size, 'Content-Length of HEAD');
        assert.equal(r.body.length, 0, 'HEAD must not have a body');
        assert.ok(r.complete, describeResponse(r));
      }
    });

    test('a version that does not exist: 404 JSON error', async () => {
      const r = await request(`${arca.registry()}${plain.name}/-/${tarballFileName(plain.name, '99.0.0')}`);
      assertJsonError(r, 404, 'GET tarball of unknown version');
    });
  });

  describe('registry endpoints', () => {
    test('GET /-/ping answers 200 and npm ping succeeds', async () => {
      const r = await request(`${arca.registry()}-/ping`);
      assert.equal(r.status, 200, describeResponse(r));
      await npm.ok(['ping']);
    });

    test('GET /-/whoami answers a JSON username and npm whoami succeeds', async () => {
      const r = await getJson(`${arca.registry()}-/whoami`);
      assert.equal(r.status, 200, describeResponse(r));
      assert.equal(typeof r.json?.username, 'string', describeResponse(r));
      const w = await npm.ok(['whoami']);
      assert.ok(w.stdout.trim().length > 0, 'npm whoami prints a name');
    });

    test('GET /-/package/<name>/dist-tags of a proxied package', async () => {
      const r = await getJson(`${arca.registry()}-/package/${multi}/dist-tags`);
      assert.equal(r.status, 200, describeResponse(r));
      assert.deepEqual(r.json, { latest: set.versionsOf(multi).at(-1) });
      const s = await getJson(`${arca.registry()}-/package/${enc(scoped.name)}/dist-tags`);
      assert.equal(s.status, 200, describeResponse(s));
      assert.deepEqual(s.json, { latest: scoped.version });
    });

    test('audit bulk POST is forwarded to the external connection', async () => {
      const advisories = {
        [plain.name]: [{
          id: 1, url: 'https://example.invalid/advisory/1', title: 'test advisory',
          severity: 'low', vulnerable_versions: '<0.0.1', cwe: [], cvss: { score: 0, vectorString: null },
        }],
      };
      standin.auditResponse = () => advisories;
      const query = { [plain.name]: [plain.version], [scoped.name]: [scoped.version] };
      const before = standin.auditRequests.length;
      const body = zlib.gzipSync(JSON.stringify(query));
      const r = await request(`${arca.registry()}-/npm/v1/security/advisories/bulk`, {
        method: 'POST', body,
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': body.length },
      });
      assert.equal(r.status, 200, describeResponse(r));
      assert.deepEqual(parseJsonBody(r), advisories);
      assert.equal(standin.auditRequests.length, before + 1);
      assert.deepEqual(standin.auditRequests.at(-1).body, query);
      standin.auditResponse = () => ({});
    });

    test('npm install with audit enabled works through arca', async () => {
      const proj = makeProject(path.join(makeTempDir('protocol-audit'), 'app'), { [plain.name]: `^${plain.version}` });
      const before = standin.auditRequests.length;
      const r = await npm.ok(['install', '--audit'], { cwd: proj });
      assert.ok(standin.auditRequests.length > before,
        `npm's audit request did not reach the upstream\n${r.stderr}`);
    });
  });

  test('GET /metrics answers Prometheus text', async () => {
    const r = await request(arca.url('/metrics'));
    assert.equal(r.status, 200, describeResponse(r));
    assert.match(r.headers['content-type'] || '', /^text\/plain/);
    assert.match(r.body.toString('utf8'), /^# (HELP|TYPE) /m, 'no HELP/TYPE lines');
  });

  describe('freshness', () => {
    test('metadata_ttl_seconds=300: a cached packument is served without asking upstream', async () => {
      const name = set.names.find((n) => n !== plain.name && !n.startsWith('@'));
      const first = await getJson(`${arca.registry()}${name}`);
      assert.equal(first.status, 200, describeResponse(first));
      const n = standin.countPackument(name);
      assert.ok(n >= 1);
      for (let i = 0; i < 3; i++) {
        const again = await getJson(`${arca.registry()}${name}`);
        assert.equal(again.status, 200);
        assert.deepEqual(again.json, first.json);
      }
      assert.equal(standin.countPackument(name), n, 'no upstream request within the TTL');
    });

    test('metadata_ttl_seconds=0: every GET revalidates (If-None-Match) and the upstream answers 304', async () => {
      const name = scoped.name;
      const mine = () => standin.requests.filter((r) => r.kind === 'packument' && r.name === name);
      const startCount = mine().length;
      const first = await getJson(`${fresh.registry()}${enc(name)}`);
      assert.equal(first.status, 200, describeResponse(first));
      const second = await getJson(`${fresh.registry()}${enc(name)}`);
      assert.equal(second.status, 200, describeResponse(second));
      assert.deepEqual(second.json, first.json);
      const seen = mine().slice(startCount);
      assert.ok(seen.length >= 2, `expected a revalidation request upstream, saw ${seen.length}`);
      const reval = seen.at(-1);
      assert.ok(reval.headers['if-none-match'] || reval.headers['if-modified-since'],
        `revalidation request must be conditional; headers: ${JSON.stringify(reval.headers)}`);
      assert.equal(reval.status, 304, 'the stand-in should have answered 304 Not Modified');
    });

    test('metadata_ttl_seconds=0: a version added upstream shows up on the next GET', async () => {
      const base = set.byId.get(`${plain.name}@${plain.version}`);
      const warm = await getJson(`${fresh.registry()}${plain.name}`);
      assert.equal(warm.status, 200);
      assert.equal(warm.json.versions['9.9.9'], undefined);
      standin.addPackage({
        name: plain.name, version: '9.9.9',
        manifest: { ...base.manifest, version: '9.9.9' }, tarball: base.tarball,
      });
      const r = await getJson(`${fresh.registry()}${plain.name}`);
      assert.equal(r.status, 200);
      assert.ok(r.json.versions['9.9.9'], 'new upstream version missing after revalidation');
      assert.equal(r.json['dist-tags'].latest, '9.9.9');
    });

    test('metadata_ttl_seconds=0: "time" stays the upstream\'s after a tarball is cached and the packument revalidated', async () => {
      const pkg = set.packages.find((p) => !p.name.startsWith('@') && p !== plain && set.versionsOf(p.name).length === 1);
      const upstreamTime = standin.packument(pkg.name).time;
      const first = await getJson(`${fresh.registry()}${pkg.name}`);
      assert.equal(first.status, 200, describeResponse(first));
      assert.deepEqual(first.json.time, upstreamTime, 'time of the first (uncached) packument');
      const t = await request(`${fresh.registry()}${pkg.name}/-/${tarballFileName(pkg.name, pkg.version)}`);
      assert.equal(t.status, 200, describeResponse(t));
      const again = await getJson(`${fresh.registry()}${pkg.name}`);
      assert.equal(again.status, 200, describeResponse(again));
      assert.deepEqual(again.json.time, upstreamTime, 'time after the tarball was cached (revalidated packument)');
    });

    test('stale-if-error: with the upstream down, cached packuments and tarballs are still served', async () => {
      // Warm both instances.
      const tarballUrl = (a) => `${a.registry()}${scoped.name}/-/${tarballFileName(scoped.name, scoped.version)}`;
      const warmed = {};
      for (const [label, a] of [['ttl300', arca], ['ttl0', fresh]]) {
        const p = await getJson(`${a.registry()}${enc(scoped.name)}`);
        assert.equal(p.status, 200);
        warmed[label] = p.json;
        const t = await request(tarballUrl(a));
        assert.equal(t.status, 200);
      }
      await standin.stop();
      try {
        for (const [label, a] of [['ttl300', arca], ['ttl0', fresh]]) {
          const p = await getJson(`${a.registry()}${enc(scoped.name)}`);
          assert.equal(p.status, 200, `${label} packument with upstream down: ${describeResponse(p)}`);
          assert.deepEqual(p.json, warmed[label], `${label}: stale packument content`);
          const t = await request(tarballUrl(a));
          assert.equal(t.status, 200, `${label} tarball with upstream down: ${describeResponse(t)}`);
          assert.equal(sha512Integrity(t.body), scoped.integrity);
          // Something never cached cannot be served.
          const miss = await request(`${a.registry()}proto-never-fetched`, { timeoutMs: 15_000 });
          assert.ok(miss.status >= 400, `${label}: uncached package with upstream down: ${describeResponse(miss)}`);
        }
      } finally {
        await standin.start();
      }
      // And after the upstream is back, the ttl0 instance revalidates again.
      const p = await getJson(`${fresh.registry()}${enc(scoped.name)}`);
      assert.equal(p.status, 200);
    });
  });

  test('neither arca crashed', () => {
    assert.equal(arca.crashed(), false);
    assert.equal(fresh.crashed(), false);
  });
});
