// Real mvn (Debian's Maven 3.8 and plugin packages) building a small jar project through arca:
// settings.xml mirrors `*` to arca, whose public:maven-central points at a stand-in serving
// Debian's /usr/share/maven-repo (no checksum files, no maven-metadata.xml). Then the same build
// with a fresh local repository and the upstream stopped, from arca's store alone.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { request } from './lib/http.mjs';
import { StandinMavenRepo, Mvn, mavenConfig, writeProject, DEBIAN_MAVEN_REPO } from './lib/maven.mjs';

describe('mvn package through arca (Debian maven-repo upstream, then offline)', { timeout: 240_000 }, () => {
  let upstream;
  let arca;
  let mvn;
  let project;
  const mirror = () => `${arca.baseUrl}/local/maven/main/`;

  before(async () => {
    assert.ok(fs.existsSync(`${DEBIAN_MAVEN_REPO}/org/apache/maven/plugins/maven-compiler-plugin`),
      'Debian Maven plugin packages are not installed (scripts/setup.sh --test)');
    upstream = await new StandinMavenRepo().start();
    arca = await startArca({ label: 'maven-build', config: mavenConfig(upstream.url, { ttlSeconds: 0 }) });
    mvn = new Mvn(mirror(), 'maven-build');
    project = writeProject(makeTempDir('maven-app'), {
      artifactId: 'arca-app', version: '1.0.0',
      deps: [{ groupId: 'commons-io', artifactId: 'commons-io', version: '2.11.0' }],
    });
  });

  test('mvn package resolves every plugin and dependency through arca', async () => {
    const r = await mvn.ok(project, ['package']);
    assert.match(r.stdout, /BUILD SUCCESS/);
    assert.ok(fs.existsSync(path.join(project, 'target/arca-app-1.0.0.jar')));
    // Everything came through arca: the local repository holds commons-io and the plugins.
    assert.ok(fs.existsSync(path.join(r.localRepo, 'commons-io/commons-io/2.11.0/commons-io-2.11.0.jar')));
    assert.ok(upstream.count('commons-io-2.11.0.jar') === 1, 'commons-io jar fetched once from upstream');
    // Stored bytes equal Debian's, and arca serves checksums computed from them.
    const jar = await request(`${mirror()}commons-io/commons-io/2.11.0/commons-io-2.11.0.jar`);
    assert.equal(jar.status, 200);
    const real = fs.readFileSync(`${DEBIAN_MAVEN_REPO}/commons-io/commons-io/2.11.0/commons-io-2.11.0.jar`);
    assert.ok(jar.body.equals(real));
    const crypto = await import('node:crypto');
    for (const algo of ['md5', 'sha1', 'sha256', 'sha512']) {
      const c = await request(`${mirror()}commons-io/commons-io/2.11.0/commons-io-2.11.0.jar.${algo}`);
      assert.equal(c.status, 200, algo);
      assert.equal(c.body.toString(), crypto.createHash(algo).update(real).digest('hex'), algo);
    }
  });

  test('the same build with a fresh local repository and the upstream stopped', async () => {
    await upstream.stop();
    fs.rmSync(path.join(project, 'target'), { recursive: true, force: true });
    const r = await mvn.ok(project, ['package']);
    assert.match(r.stdout, /BUILD SUCCESS/);
    assert.ok(fs.existsSync(path.join(project, 'target/arca-app-1.0.0.jar')));
    assert.ok(!arca.crashed());
  });
});
