// Gradle (Debian's 4.4) resolving a small dependency graph of real jars and poms (Debian's
// /usr/share/maven-repo served by a stand-in Maven upstream) through arca: commons-text 1.10.0
// (which depends on commons-lang3) and commons-io 2.11.0 (whose pom has a parent pom). Daemon-less
// runs with a fresh GRADLE_USER_HOME (-g) each; the second with the upstream stopped, from arca
// alone. Skipped when gradle is not installed (scripts/setup.sh --test installs it).

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir, run, cleanEnv, registerLogSource, tailText } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { request } from './lib/http.mjs';
import { StandinMavenRepo, mavenConfig, DEBIAN_MAVEN_REPO } from './lib/maven.mjs';

const GRADLE = '/usr/bin/gradle';

const EXPECTED = ['commons-io-2.11.0.jar', 'commons-lang3-debian.jar', 'commons-text-1.10.0.jar'];

describe('gradle resolves through arca (Debian maven-repo upstream, then offline)', {
  skip: fs.existsSync(GRADLE) ? false : 'gradle is not installed (scripts/setup.sh --test installs it)',
  timeout: 240_000,
}, () => {
  let upstream;
  let arca;
  let root;
  let project;
  const history = [];
  const mirror = () => `${arca.baseUrl}/local/maven/main/`;

  before(async () => {
    upstream = await new StandinMavenRepo({ label: 'gradle maven upstream' }).start();
    arca = await startArca({ label: 'clients-gradle', config: mavenConfig(upstream.url, { ttlSeconds: 0 }) });
    root = makeTempDir('clients-gradle');
    project = path.join(root, 'app');
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, 'settings.gradle'), "rootProject.name = 'arca-it-gradle'\n");
    fs.writeFileSync(path.join(project, 'build.gradle'), [
      'repositories {',
      `  maven { url '${mirror()}' }`,
      '}',
      'configurations { deps }',
      'dependencies {',
      "  deps 'org.apache.commons:commons-text:1.10.0'",
      "  deps 'commons-io:commons-io:2.11.0'",
      '}',
      'task resolveDeps {',
      '  doLast {',
      '    configurations.deps.resolvedConfiguration.resolvedArtifacts.each { a ->',
      '      println "RESOLVED ${a.file.name} ${a.file.length()}"',
      '    }',
      '  }',
      '}',
      '',
    ].join('\n'));
    registerLogSource('gradle runs', () => history.map((h) =>
      `$ gradle ${h.args.join(' ')} (code ${h.code}, ${h.ms} ms)\nstdout:\n${tailText(h.stdout, 60)}\nstderr:\n${tailText(h.stderr, 80)}`).join('\n'));
  });

  // A daemon-less run with its own empty GRADLE_USER_HOME; returns {file name: size}.
  async function resolve(label) {
    const userHome = path.join(root, `gradle-home-${label}`);
    const args = ['--no-daemon', '-q', '-g', userHome, '--project-cache-dir', path.join(root, `project-cache-${label}`), 'resolveDeps'];
    const r = await run(GRADLE, args, {
      cwd: project,
      timeoutMs: 150_000,
      env: cleanEnv({ HOME: path.join(root, 'home'), GRADLE_OPTS: '-Xmx256m', JAVA_TOOL_OPTIONS: '' }),
    });
    history.push({ args, ...r });
    assert.equal(r.code, 0, `gradle failed (code ${r.code}${r.timedOut ? ', timed out' : ''})\n` +
      `stdout:\n${tailText(r.stdout, 40)}\nstderr:\n${tailText(r.stderr, 60)}`);
    const out = {};
    for (const m of r.stdout.matchAll(/^RESOLVED (\S+) (\d+)$/gm)) out[m[1]] = Number(m[2]);
    // Gradle's cache holds what it downloaded, from arca.
    return { resolved: out, userHome };
  }

  function assertResolved(resolved) {
    assert.deepEqual(Object.keys(resolved).sort(), EXPECTED);
    const real = {
      'commons-io-2.11.0.jar': 'commons-io/commons-io/2.11.0/commons-io-2.11.0.jar',
      'commons-lang3-debian.jar': 'org/apache/commons/commons-lang3/debian/commons-lang3-debian.jar',
      'commons-text-1.10.0.jar': 'org/apache/commons/commons-text/1.10.0/commons-text-1.10.0.jar',
    };
    for (const [name, rel] of Object.entries(real)) {
      assert.equal(resolved[name], fs.statSync(path.join(DEBIAN_MAVEN_REPO, rel)).size, `size of ${name}`);
    }
  }

  test('gradle resolves the graph (a transitive dependency, a parent pom) through arca', async () => {
    const { resolved } = await resolve('online');
    assertResolved(resolved);
    for (const suffix of ['commons-text-1.10.0.pom', 'commons-text-1.10.0.jar', 'commons-lang3-debian.pom',
      'commons-lang3-debian.jar', 'commons-io-2.11.0.jar', 'commons-parent-debian.pom']) {
      assert.equal(upstream.count(suffix), 1, `${suffix} fetched once from the upstream`);
    }
    // arca serves the stored jar byte for byte.
    const jar = await request(`${mirror()}org/apache/commons/commons-text/1.10.0/commons-text-1.10.0.jar`);
    assert.equal(jar.status, 200);
    assert.ok(jar.body.equals(fs.readFileSync(`${DEBIAN_MAVEN_REPO}/org/apache/commons/commons-text/1.10.0/commons-text-1.10.0.jar`)));
  });

  test('with the upstream stopped and a fresh GRADLE_USER_HOME, gradle resolves from arca alone', async () => {
    await upstream.stop();
    const before = upstream.requests.length;
    const { resolved } = await resolve('offline');
    assertResolved(resolved);
    assert.equal(upstream.requests.length, before);
    assert.equal(arca.crashed(), false);
  });
});
