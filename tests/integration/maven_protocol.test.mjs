// Maven protocol details against a stand-in upstream: HEAD, .sha256 verification when the
// upstream offers no .sha1, one checksum request for concurrent misses, upstream maven-metadata.xml cached for its TTL and served stale when
// the upstream fails, and SNAPSHOTs from a non-public external connection.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startArca } from './lib/arca.mjs';
import { request } from './lib/http.mjs';
import { StandinMavenRepo } from './lib/maven.mjs';

const hash = (algo, b) => crypto.createHash(algo).update(b).digest('hex');

describe('Maven protocol details', { timeout: 60_000 }, () => {
  let upstream;
  let arca;
  const repo = (name) => `${arca.baseUrl}/local/maven/${name}/`;

  before(async () => {
    upstream = await new StandinMavenRepo().start();
    arca = await startArca({
      label: 'maven-protocol',
      config: {
        external_connections: {
          'maven:cached': { format: 'maven', url: upstream.url, metadata_ttl_seconds: 300 },
          'maven:always': { format: 'maven', url: upstream.url, metadata_ttl_seconds: 0 },
        },
        domains: [{
          name: 'local',
          repositories: [
            { name: 'cached', external_connection: 'maven:cached' },
            { name: 'always', external_connection: 'maven:always' },
          ],
        }],
      },
    });
  });

  test('HEAD of a file and of its checksum', async () => {
    const p = 'commons-io/commons-io/2.11.0/commons-io-2.11.0.pom';
    const head = await request(`${repo('cached')}${p}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    const get = await request(`${repo('cached')}${p}`);
    assert.equal(Number(head.headers['content-length']), get.body.length);
    const h2 = await request(`${repo('cached')}${p}.sha512`, { method: 'HEAD' });
    assert.equal(h2.status, 200);
    assert.equal(Number(h2.headers['content-length']), 128);
  });

  test('an upstream file is verified against its .sha256 when there is no .sha1', async () => {
    const p = 'org/example/s256/1.0/s256-1.0.jar';
    const bytes = Buffer.from('sha256-verified bytes');
    upstream.override(p, { body: bytes }).override(`${p}.sha256`, { body: hash('sha256', Buffer.from('other')) });
    const bad = await request(`${repo('always')}${p}`);
    assert.ok(!(bad.status === 200 && bad.complete));
    upstream.override(`${p}.sha256`, { body: hash('sha256', bytes) });
    const good = await request(`${repo('always')}${p}`);
    assert.equal(good.status, 200);
    assert.ok(good.body.equals(bytes));
  });

  test('concurrent misses of one file ask the upstream for its checksum once', async () => {
    const p = 'org/example/flight/1.0/flight-1.0.jar';
    const bytes = crypto.randomBytes(300_000);
    upstream.override(p, { body: bytes })
      .override(`${p}.sha1`, { body: hash('sha1', bytes), delayMs: 300 });
    const results = await Promise.all(Array.from({ length: 12 }, () => request(`${repo('cached')}${p}`)));
    for (const r of results) {
      assert.equal(r.status, 200);
      assert.ok(r.body.equals(bytes));
    }
    assert.equal(upstream.count(`${p}.sha1`), 1, 'one .sha1 request for 12 concurrent misses');
    assert.equal(upstream.count(p), 1, 'one fill');
  });

  test('upstream metadata is cached for its TTL and served stale when the upstream fails', async () => {
    const p = 'org/example/cached/maven-metadata.xml';
    upstream.override(p, {
      body: '<metadata><groupId>org.example</groupId><artifactId>cached</artifactId><versioning><versions><version>1.0</version><version>1.1</version></versions></versioning></metadata>',
    });
    for (const name of ['cached', 'always']) {
      const r = await request(`${repo(name)}${p}`);
      assert.equal(r.status, 200);
      assert.match(r.body.toString(), /<latest>1\.1<\/latest>/);
    }
    const fetched = upstream.count(p);
    assert.equal((await request(`${repo('cached')}${p}`)).status, 200);
    assert.equal(upstream.count(p), fetched, 'within the TTL: not asked again');
    assert.equal((await request(`${repo('always')}${p}`)).status, 200);
    assert.equal(upstream.count(p), fetched + 1, 'TTL 0: revalidated');
    upstream.override(p, { status: 500, body: 'down' });
    const stale = await request(`${repo('always')}${p}`);
    assert.equal(stale.status, 200);
    assert.match(stale.body.toString(), /<version>1\.1<\/version>/);
  });

  test('SNAPSHOTs come through a non-public external connection', async () => {
    const p = 'org/example/snap/1.0-SNAPSHOT/snap-1.0-20240101.000000-1.jar';
    const bytes = Buffer.from('snapshot build 1');
    upstream.override(p, { body: bytes });
    const r = await request(`${repo('always')}${p}`);
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(bytes));
    const meta = await request(`${repo('always')}org/example/snap/1.0-SNAPSHOT/maven-metadata.xml`);
    assert.equal(meta.status, 200);
    assert.match(meta.body.toString(), /<value>1\.0-20240101\.000000-1<\/value>/);
    // The upstream's own SNAPSHOT metadata (a newer build) wins over the builds cached so far.
    upstream.override('org/example/snap/1.0-SNAPSHOT/maven-metadata.xml', {
      body: '<metadata><groupId>org.example</groupId><artifactId>snap</artifactId><version>1.0-SNAPSHOT</version><versioning><snapshot><timestamp>20240102.000000</timestamp><buildNumber>2</buildNumber></snapshot><snapshotVersions><snapshotVersion><extension>jar</extension><value>1.0-20240102.000000-2</value><updated>20240102000000</updated></snapshotVersion></snapshotVersions></versioning></metadata>',
    });
    const newer = await request(`${repo('always')}org/example/snap/1.0-SNAPSHOT/maven-metadata.xml`);
    assert.match(newer.body.toString(), /<value>1\.0-20240102\.000000-2<\/value>/);
    assert.ok(!arca.crashed());
  });
});
