// Bad input on the Maven paths: each gets a clear error and loses nothing. Traversal (plain and
// percent-encoded), coordinates that are not Maven identifiers, checksum uploads that do not
// match, an upstream jar that does not match its .sha1, a truncated upload, malformed
// maven-metadata.xml from an upstream and from a client; plus the deploy life cycle
// (Unfinished until the artifact-level metadata arrives) and SNAPSHOTs never taken from a
// public external connection.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import crypto from 'node:crypto';
import { startArca } from './lib/arca.mjs';
import { request } from './lib/http.mjs';
import { StandinMavenRepo, mavenConfig } from './lib/maven.mjs';

const sha1 = (b) => crypto.createHash('sha1').update(b).digest('hex');

function metadataXml(groupId, artifactId, versions) {
  return `<?xml version="1.0" encoding="UTF-8"?>
<metadata><groupId>${groupId}</groupId><artifactId>${artifactId}</artifactId><versioning>
<release>${versions.at(-1)}</release><versions>${versions.map((v) => `<version>${v}</version>`).join('')}</versions>
<lastUpdated>20240101000000</lastUpdated></versioning></metadata>
`;
}

describe('Maven bad input', { timeout: 120_000 }, () => {
  let upstream;
  let arca;
  const repo = () => `${arca.baseUrl}/local/maven/main/`;
  const raw = (p) => request(repo(), { rawPath: `/local/maven/main/${p}` });

  before(async () => {
    upstream = await new StandinMavenRepo().start();
    arca = await startArca({ label: 'maven-bad-input', config: mavenConfig(upstream.url, { ttlSeconds: 0 }) });
  });

  test('paths with .. or encoded traversal are refused (400)', async () => {
    for (const p of [
      'org/../../../etc/passwd/1.0/x.jar',
      'commons-io/commons-io/%2e%2e/2.11.0/commons-io-2.11.0.jar',
      'commons-io/commons-io/%2E%2E/%2e%2e/x/1/x.jar',
      'commons-io%2f..%2fcommons-io/commons-io/2.11.0/commons-io-2.11.0.jar',
      'commons-io/commons-io/2.11.0/..%5c..%5cx.jar',
      'commons-io/./commons-io/2.11.0/commons-io-2.11.0.jar',
    ]) {
      const r = await raw(p);
      assert.equal(r.status, 400, `${p}: ${r.status} ${r.body}`);
      assert.match(r.body.toString(), /traversal|separator|not a valid|Bad Request/, p);
    }
    const put = await request(repo(), { method: 'PUT', rawPath: '/local/maven/main/org/%2e%2e/x/1.0/x-1.0.jar', body: 'x' });
    assert.equal(put.status, 400);
    assert.equal(upstream.requests.length, 0, 'nothing reached the upstream');
  });

  test('coordinates that are not Maven identifiers are refused (400)', async () => {
    for (const p of ['org/ex$ample/x/1.0/x-1.0.jar', 'org/example/a%20b/1.0/a-1.0.jar', 'org/example/x/1.0:1/x.jar',
      'org/example/x/1.0/x%3Cy%3E.jar', 'x/1.0/x-1.0.jar']) {
      const r = await raw(p);
      assert.equal(r.status, 400, `${p}: ${r.status} ${r.body}`);
    }
  });

  test('uploaded checksums are checked against the stored file (mismatch 400)', async () => {
    const base = `${repo()}org/example/chk/1.0/chk-1.0.jar`;
    const jar = Buffer.from('PK fake jar bytes for checksum tests');
    assert.equal((await request(base, { method: 'PUT', body: jar })).status, 201);
    const bad = await request(`${base}.sha1`, { method: 'PUT', body: '0'.repeat(40) });
    assert.equal(bad.status, 400);
    assert.match(bad.body.toString(), /checksum mismatch/);
    const junk = await request(`${base}.md5`, { method: 'PUT', body: 'not a checksum' });
    assert.equal(junk.status, 400);
    assert.equal((await request(`${base}.sha1`, { method: 'PUT', body: sha1(jar) })).status, 201);
    const orphan = await request(`${repo()}org/example/chk/1.0/none-1.0.jar.sha1`, { method: 'PUT', body: '0'.repeat(40) });
    assert.equal(orphan.status, 400);
    // Nothing lost: the jar is intact and its served checksum is the real one.
    const got = await request(base);
    assert.ok(got.body.equals(jar));
    assert.equal((await request(`${base}.sha1`)).body.toString(), sha1(jar));
  });

  test('a version is Unfinished until its metadata arrives, then Published and immutable', async () => {
    const dir = `${repo()}org/example/life/`;
    const jar = Buffer.from('life jar 3.0');
    assert.equal((await request(`${dir}3.0/life-3.0.jar`, { method: 'PUT', body: jar })).status, 201);
    // Unfinished: not listed; and may still be replaced.
    assert.equal((await request(`${dir}maven-metadata.xml`)).status, 404);
    assert.equal((await request(`${dir}3.0/life-3.0.jar`, { method: 'PUT', body: Buffer.from('life jar 3.0 fixed') })).status, 201);
    const meta = metadataXml('org.example', 'life', ['3.0']);
    assert.equal((await request(`${dir}maven-metadata.xml`, { method: 'PUT', body: meta })).status, 201);
    assert.equal((await request(`${dir}maven-metadata.xml.sha1`, { method: 'PUT', body: sha1(Buffer.from(meta)) })).status, 201);
    assert.equal((await request(`${dir}maven-metadata.xml.sha1`, { method: 'PUT', body: '1'.repeat(40) })).status, 400);
    const listed = await request(`${dir}maven-metadata.xml`);
    assert.equal(listed.status, 200);
    assert.match(listed.body.toString(), /<version>3\.0<\/version>/);
    const again = await request(`${dir}3.0/life-3.0.jar`, { method: 'PUT', body: jar });
    assert.equal(again.status, 409);
    assert.equal((await request(`${dir}3.0/life-3.0.jar`)).body.toString(), 'life jar 3.0 fixed');
  });

  test('malformed maven-metadata.xml from a client is refused (400) and changes nothing', async () => {
    const dir = `${repo()}org/example/life/`;
    for (const body of ['<metadata><versioning>', 'not xml', '<other/>',
      metadataXml('org.other', 'life', ['9.0']),
      '<metadata><versioning><versions><version>../../x</version></versions></versioning></metadata>',
      `<metadata>${' '.repeat(5 * 1024 * 1024)}</metadata>`]) {
      const r = await request(`${dir}maven-metadata.xml`, { method: 'PUT', body });
      assert.equal(r.status, 400, `${body.slice(0, 40)}: ${r.body}`);
    }
    const listed = (await request(`${dir}maven-metadata.xml`)).body.toString();
    assert.match(listed, /<version>3\.0<\/version>/);
    assert.doesNotMatch(listed, /9\.0/);
  });

  test('a truncated upload stores nothing', async () => {
    const url = new URL(`${repo()}org/example/trunc/1.0/trunc-1.0.jar`);
    await new Promise((resolve) => {
      const s = net.connect(Number(url.port), '127.0.0.1', () => {
        s.write(`PUT ${url.pathname} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n`);
        s.write(Buffer.alloc(1000, 7));
        setTimeout(() => s.destroy(), 200);
      });
      s.on('close', resolve);
      s.on('error', resolve);
    });
    assert.equal((await request(url.href)).status, 404);
    assert.equal((await request(`${arca.baseUrl}/healthz`)).status, 200);
  });

  test('an upstream jar that does not match its .sha1 is not stored; a good one is', async () => {
    const p = 'org/example/up/1.0/up-1.0.jar';
    const bytes = Buffer.from('upstream jar bytes');
    upstream.override(p, { body: bytes }).override(`${p}.sha1`, { body: `${'f'.repeat(40)}  up-1.0.jar\n`, contentType: 'text/plain' });
    const bad = await request(`${repo()}${p}`);
    assert.ok(!(bad.status === 200 && bad.complete), `status ${bad.status} complete ${bad.complete}`);
    assert.equal((await request(`${repo()}${p}.sha1`)).status, 404, 'nothing stored');
    upstream.override(`${p}.sha1`, { body: sha1(bytes), contentType: 'text/plain' });
    const good = await request(`${repo()}${p}`);
    assert.equal(good.status, 200);
    assert.ok(good.complete && good.body.equals(bytes));
    assert.equal((await request(`${repo()}${p}.sha1`)).body.toString(), sha1(bytes));
  });

  test('malformed maven-metadata.xml from an upstream: a clear 502, own content still served', async () => {
    upstream.override('org/example/broken/maven-metadata.xml', { body: '<metadata><versioning><versions>', contentType: 'text/xml' });
    const r = await request(`${repo()}org/example/broken/maven-metadata.xml`);
    assert.equal(r.status, 502);
    assert.match(r.body.toString(), /malformed maven-metadata\.xml/);
    // Own content is merged without the bad upstream document.
    upstream.override('org/example/life/maven-metadata.xml', { body: 'garbage', contentType: 'text/xml' });
    const own = await request(`${repo()}org/example/life/maven-metadata.xml`);
    assert.equal(own.status, 200);
    assert.match(own.body.toString(), /<version>3\.0<\/version>/);
  });

  test('upstream metadata is merged with own versions, ordered and deduplicated', async () => {
    upstream.override('org/example/life/maven-metadata.xml', {
      body: metadataXml('org.example', 'life', ['2.0', '3.0', '10.0', '4.0-SNAPSHOT']), contentType: 'text/xml',
    });
    const versionsOf = async () => {
      const text = (await request(`${repo()}org/example/life/maven-metadata.xml`)).body.toString();
      return { text, versions: [...text.matchAll(/<version>([^<]+)<\/version>/g)].map((m) => m[1]) };
    };
    // life's first version was deployed here, so (as CodeArtifact does) its origin configuration
    // became publish=ALLOW, upstream=BLOCK: the upstream's versions stay out.
    assert.deepEqual((await versionsOf()).versions, ['3.0']);
    // Allowing upstream versions for the package (PutPackageOriginConfiguration) merges them in.
    const put = await request(`${arca.baseUrl}/v1/package?domain=local&repository=main` +
      '&format=maven&namespace=org.example&package=life', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ restrictions: { publish: 'ALLOW', upstream: 'ALLOW' } }),
    });
    assert.equal(put.status, 200, put.body.toString());
    const { text, versions } = await versionsOf();
    // The SNAPSHOT comes from a public external connection: left out.
    assert.deepEqual(versions, ['2.0', '3.0', '10.0']);
    assert.match(text, /<release>10\.0<\/release>/);
  });

  test('SNAPSHOT versions are never taken from a public external connection', async () => {
    const p = 'org/example/snap/1.0-SNAPSHOT/snap-1.0-SNAPSHOT.jar';
    upstream.override(p, { body: 'snapshot bytes' });
    const before = upstream.requests.length;
    assert.equal((await request(`${repo()}${p}`)).status, 404);
    assert.equal((await request(`${repo()}org/example/snap/1.0-SNAPSHOT/maven-metadata.xml`)).status, 404);
    assert.equal(upstream.requests.length, before, 'the upstream was not asked');
    assert.ok(!arca.crashed());
  });
});
