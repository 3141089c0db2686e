// Maven directory URLs (issue 14): `<group>/<artifactId>/` and `<group>/<artifactId>/<version>/`
// answer an HTML listing (as Maven Central and Nexus do; Gradle and Ivy ask for them when
// maven-metadata.xml is missing) of what the repository and its reachable upstreams hold, and
// 404 when nothing is there. They used to be "400 empty path segment". Crawled with Python's
// `requests` following the hrefs, as a directory-walking client does.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startArca } from './lib/arca.mjs';
import { request } from './lib/http.mjs';
import { makeTempDir, run } from './lib/harness.mjs';
import { StandinMavenRepo, mavenConfig } from './lib/maven.mjs';

const PYTHON = '/usr/bin/python3';

// Fetches `url` with requests and returns {status, contentType, hrefs, fetched: {href: status}}
// where every non-parent href is fetched in turn (relative to the listing).
const CRAWL = `
import json, re, sys, urllib.parse
import requests
url = sys.argv[1]
r = requests.get(url, timeout=30)
out = {"status": r.status_code, "contentType": r.headers.get("content-type", ""), "hrefs": [], "fetched": {}}
if r.status_code == 200:
    out["hrefs"] = re.findall(r'<a href="([^"]+)"', r.text)
    for h in out["hrefs"]:
        if h == "../":
            continue
        out["fetched"][h] = requests.get(urllib.parse.urljoin(url, h), timeout=30).status_code
print(json.dumps(out))
`;

describe('Maven directory listings', { timeout: 120_000 }, () => {
  let upstream;
  let arca;
  let script;
  const main = () => `${arca.baseUrl}/local/maven/main/`;

  const crawl = async (url) => {
    const r = await run(PYTHON, [script, url], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };

  before(async () => {
    upstream = await new StandinMavenRepo().start();
    upstream.override('org/example/arca/lib/maven-metadata.xml', {
      contentType: 'text/xml',
      body: '<metadata><groupId>org.example.arca</groupId><artifactId>lib</artifactId><versioning>' +
        '<versions><version>0.9</version></versions></versioning></metadata>',
    });
    upstream.override('org/example/arca/other/maven-metadata.xml', {
      contentType: 'text/xml',
      body: '<metadata><groupId>org.example.arca</groupId><artifactId>other</artifactId><versioning>' +
        '<versions><version>2.0</version><version>2.1</version></versions></versioning></metadata>',
    });
    arca = await startArca({ label: 'maven-directory', config: mavenConfig(upstream.url) });
    script = path.join(makeTempDir('maven-directory-crawl'), 'crawl.py');
    fs.writeFileSync(script, CRAWL);
    for (const v of ['1.0', '1.1']) {
      for (const [file, body] of [[`lib-${v}.pom`, `<project><modelVersion>4.0.0</modelVersion><groupId>org.example.arca</groupId><artifactId>lib</artifactId><version>${v}</version></project>`],
        [`lib-${v}.jar`, `jar bytes of ${v}`]]) {
        const r = await request(`${main()}org/example/arca/lib/${v}/${file}`, { method: 'PUT', body: Buffer.from(body) });
        assert.equal(r.status, 201, r.body.toString());
      }
    }
    // As mvn deploy ends: the artifact-level metadata (the versions are Unfinished until then).
    const metadata = '<metadata><groupId>org.example.arca</groupId><artifactId>lib</artifactId><versioning>' +
      '<latest>1.1</latest><release>1.1</release><versions><version>1.0</version><version>1.1</version></versions>' +
      '<lastUpdated>20260101000000</lastUpdated></versioning></metadata>';
    const m = await request(`${main()}org/example/arca/lib/maven-metadata.xml`, { method: 'PUT', body: Buffer.from(metadata) });
    assert.equal(m.status, 201, m.body.toString());
  });

  test('an artifact directory lists the versions held here and upstream', async () => {
    const r = await crawl(`${main()}org/example/arca/lib/`);
    assert.equal(r.status, 200);
    assert.match(r.contentType, /^text\/html/);
    for (const v of ['1.0/', '1.1/', 'maven-metadata.xml', 'maven-metadata.xml.sha1']) {
      assert.ok(r.hrefs.includes(v), `${v} is listed: ${r.hrefs}`);
    }
    // lib was published into main first, so main takes no upstream versions of it (upstream=BLOCK),
    // exactly as its maven-metadata.xml.
    assert.ok(!r.hrefs.includes('0.9/'), `${r.hrefs}`);
    assert.equal(r.fetched['maven-metadata.xml'], 200);
    assert.equal(r.fetched['1.0/'], 200, 'a listed version directory is itself a listing');
    assert.ok(r.hrefs.indexOf('1.0/') < r.hrefs.indexOf('1.1/'), 'versions in Maven order');
    // An artifact only the upstream has: its versions come from the upstream's metadata.
    const other = await crawl(`${main()}org/example/arca/other/`);
    assert.equal(other.status, 200);
    assert.deepEqual(other.hrefs.filter((h) => h.endsWith('/')), ['../', '2.0/', '2.1/']);
  });

  test('a version directory lists its files, each of which downloads', async () => {
    const r = await crawl(`${main()}org/example/arca/lib/1.0/`);
    assert.equal(r.status, 200);
    for (const f of ['lib-1.0.pom', 'lib-1.0.jar', 'lib-1.0.jar.sha1', 'lib-1.0.pom.md5']) {
      assert.ok(r.hrefs.includes(f), `${f} is listed: ${r.hrefs}`);
      assert.equal(r.fetched[f], 200, `${f} downloads`);
    }
    assert.ok(!r.hrefs.includes('lib-1.1.jar'));
  });

  test('a version fetched through main from the upstream is listed with its files', async () => {
    const pom = 'commons-io/commons-io/2.11.0/commons-io-2.11.0.pom';
    assert.equal((await request(`${main()}${pom}`)).status, 200);
    const r = await crawl(`${main()}commons-io/commons-io/2.11.0/`);
    assert.equal(r.status, 200);
    assert.ok(r.hrefs.includes('commons-io-2.11.0.pom'), `${r.hrefs}`);
    const a = await crawl(`${main()}commons-io/commons-io/`);
    assert.ok(a.hrefs.includes('2.11.0/'), `${a.hrefs}`);
  });

  test('nothing there: 404; a bad path: 400', async () => {
    assert.equal((await crawl(`${main()}org/example/arca/nothing/`)).status, 404);
    assert.equal((await crawl(`${main()}org/example/arca/lib/9.9/`)).status, 404);
    const bad = await request(main(), { rawPath: '/local/maven/main/org/%2e%2e/lib/' });
    assert.equal(bad.status, 400);
    // HEAD works as GET does.
    const head = await request(`${main()}org/example/arca/lib/`, { method: 'HEAD' });
    assert.equal(head.status, 200);
  });
});
