// Real `mvn deploy` of a release and a SNAPSHOT (twice: two timestamped builds) to arca, with
// distributionManagement pointing at arca; the generated maven-metadata.xml at artifact and
// SNAPSHOT-version level; a release is immutable once published; and a second project that
// depends on both resolves them through arca.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { makeTempDir } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { request } from './lib/http.mjs';
import { StandinMavenRepo, Mvn, mavenConfig, writeProject } from './lib/maven.mjs';

describe('mvn deploy to arca and resolve from another project', { timeout: 240_000 }, () => {
  let upstream;
  let arca;
  let mvn;
  let localRepo;
  const repoUrl = () => `${arca.baseUrl}/local/maven/main/`;
  const base = () => `${repoUrl()}org/example/arca/`;

  before(async () => {
    upstream = await new StandinMavenRepo().start();
    arca = await startArca({ label: 'maven-deploy', config: mavenConfig(upstream.url) });
    mvn = new Mvn(repoUrl(), 'maven-deploy');
    localRepo = mvn.freshLocalRepo('shared');
  });

  test('deploy a release: files, checksums and artifact-level metadata', async () => {
    const dir = writeProject(makeTempDir('lib-release'), { artifactId: 'arca-lib', version: '1.0.0', deployUrl: repoUrl() });
    await mvn.ok(dir, ['deploy'], { localRepo });
    const jar = await request(`${base()}arca-lib/1.0.0/arca-lib-1.0.0.jar`);
    assert.equal(jar.status, 200);
    assert.ok(jar.body.equals(fs.readFileSync(path.join(dir, 'target/arca-lib-1.0.0.jar'))));
    const sha1 = await request(`${base()}arca-lib/1.0.0/arca-lib-1.0.0.jar.sha1`);
    assert.equal(sha1.body.toString(), crypto.createHash('sha1').update(jar.body).digest('hex'));
    const meta = await request(`${base()}arca-lib/maven-metadata.xml`);
    assert.equal(meta.status, 200);
    const text = meta.body.toString();
    assert.match(text, /<release>1\.0\.0<\/release>/);
    assert.match(text, /<version>1\.0\.0<\/version>/);
    assert.match(text, /<lastUpdated>\d{14}<\/lastUpdated>/);
    const metaSha = await request(`${base()}arca-lib/maven-metadata.xml.sha256`);
    assert.equal(metaSha.body.toString(), crypto.createHash('sha256').update(meta.body).digest('hex'));
  });

  test('a published release is immutable: identical bytes accepted, different ones refused (409)', async () => {
    const url = `${base()}arca-lib/1.0.0/arca-lib-1.0.0.jar`;
    const same = (await request(url)).body;
    const again = await request(url, { method: 'PUT', body: same });
    assert.equal(again.status, 201);
    const other = await request(url, { method: 'PUT', body: Buffer.from('not the same jar') });
    assert.equal(other.status, 409, other.body.toString());
    assert.match(other.body.toString(), /immutable/);
    assert.ok((await request(url)).body.equals(same), 'the stored jar is unchanged');
  });

  test('deploy a SNAPSHOT twice: timestamped builds and version-level metadata', async () => {
    const dir = writeProject(makeTempDir('lib-snapshot'), { artifactId: 'arca-snap', version: '2.0-SNAPSHOT', deployUrl: repoUrl() });
    await mvn.ok(dir, ['deploy'], { localRepo });
    fs.writeFileSync(path.join(dir, 'src/main/java/org/example/arca/arca_snap.java'),
      'package org.example.arca;\npublic class arca_snap {\n  public static String hello() { return "build two"; }\n}\n');
    await mvn.ok(dir, ['deploy'], { localRepo });
    const vmeta = await request(`${base()}arca-snap/2.0-SNAPSHOT/maven-metadata.xml`);
    assert.equal(vmeta.status, 200);
    const text = vmeta.body.toString();
    assert.match(text, /<version>2\.0-SNAPSHOT<\/version>/);
    assert.match(text, /<buildNumber>2<\/buildNumber>/);
    const value = text.match(/<extension>jar<\/extension>\s*<value>([^<]+)<\/value>/);
    assert.ok(value, text);
    assert.match(value[1], /^2\.0-\d{8}\.\d{6}-2$/);
    const jar = await request(`${base()}arca-snap/2.0-SNAPSHOT/arca-snap-${value[1]}.jar`);
    assert.equal(jar.status, 200);
    const ameta = (await request(`${base()}arca-snap/maven-metadata.xml`)).body.toString();
    assert.match(ameta, /<version>2\.0-SNAPSHOT<\/version>/);
  });

  test('another project depending on both resolves them through arca', async () => {
    const dir = writeProject(makeTempDir('consumer'), {
      artifactId: 'arca-consumer', version: '1.0',
      deps: [
        { groupId: 'org.example.arca', artifactId: 'arca-lib', version: '1.0.0' },
        { groupId: 'org.example.arca', artifactId: 'arca-snap', version: '2.0-SNAPSHOT' },
      ],
      code: 'package org.example.arca;\npublic class arca_consumer {\n  public static String all() { return arca_lib.hello() + arca_snap.hello(); }\n}\n',
    });
    // A fresh local repository: everything comes from arca.
    const r = await mvn.ok(dir, ['package']);
    assert.match(r.stdout, /BUILD SUCCESS/);
    const snapDir = path.join(r.localRepo, 'org/example/arca/arca-snap/2.0-SNAPSHOT');
    assert.ok(fs.readdirSync(snapDir).some((f) => /^arca-snap-2\.0-\d{8}\.\d{6}-2\.jar$/.test(f)),
      fs.readdirSync(snapDir).join(' '));
    assert.ok(fs.existsSync(path.join(r.localRepo, 'org/example/arca/arca-lib/1.0.0/arca-lib-1.0.0.jar')));
  });
});
