// Retention as CodeArtifact does it, for real mvn (Debian's 3.8.7): artifacts resolved through a
// chain of repositories are retained in the repository mvn asked (`app`) and, when they came
// from the external connection, in the repository owning it (`store`); the intermediate
// repository (`mid`) keeps nothing. Seen through the real AWS CLI (list-package-versions,
// describe-package-version, list-package-version-assets, list-packages) and by mvn: once app's
// upstream is removed and the stand-in stopped, mvn with a fresh local repository still resolves
// what app retained (the artifacts and mvn's own plugins), and nothing else is served. An
// artifact deployed into store with `mvn deploy:deploy-file` and resolved through app is
// retained in app with origin INTERNAL / repositoryName store. And the "fork": an artifact
// ingested into app got publish=BLOCK there, so `mvn deploy:deploy-file` of a new version of it
// into app fails with 403.
//
// Topology: store (public:maven-central: Debian's /usr/share/maven-repo plus
// org.example.ret:ext-lib 1.0 and 2.0), mid (upstream store), app (upstream mid). mvn's mirror is
// app.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { Aws, awsBin } from './lib/aws.mjs';
import { request } from './lib/http.mjs';
import { StandinMavenRepo, Mvn, DEBIAN_MAVEN_REPO, writeProject } from './lib/maven.mjs';
import { zip } from './lib/nuget.mjs';
import { Retention, chainRepositories } from './lib/retention.mjs';

const skip = !awsBin() ? 'awscli is not installed (scripts/setup.sh --test installs it)'
  : !fs.existsSync(DEBIAN_MAVEN_REPO) ? `${DEBIAN_MAVEN_REPO} is missing (Debian's maven plugins)` : false;

const CONNECTION = 'public:maven-central';
const GROUP = 'org.example.ret';
const GROUP_DIR = 'org/example/ret';
const EXT = 'ext-lib'; // on the stand-in: 1.0 and 2.0
const INT = 'int-lib'; // deployed into store

let upstream;
let arca;
let aws;
let ca;
let mvn;
let work;
let localRepo; // shared by the runs before the upstream is removed
let project; // depends on ext-lib 1.0 and int-lib 1.0

const repoUrl = (repo) => `${arca.baseUrl}/local/maven/${repo}/`;

function pom(artifactId, version) {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<project xmlns="http://maven.apache.org/POM/4.0.0">\n` +
    `  <modelVersion>4.0.0</modelVersion>\n  <groupId>${GROUP}</groupId>\n  <artifactId>${artifactId}</artifactId>\n` +
    `  <version>${version}</version>\n  <packaging>jar</packaging>\n</project>\n`;
}

function metadata(artifactId, versions) {
  const last = versions[versions.length - 1];
  return `<?xml version="1.0" encoding="UTF-8"?>\n<metadata>\n  <groupId>${GROUP}</groupId>\n  <artifactId>${artifactId}</artifactId>\n` +
    `  <versioning>\n    <latest>${last}</latest>\n    <release>${last}</release>\n    <versions>\n` +
    versions.map((v) => `      <version>${v}</version>\n`).join('') +
    `    </versions>\n    <lastUpdated>20240101000000</lastUpdated>\n  </versioning>\n</metadata>\n`;
}

// A small real jar (a zip with a manifest).
function jar(label) {
  return zip([
    { name: 'META-INF/MANIFEST.MF', data: 'Manifest-Version: 1.0\r\nCreated-By: arca tests\r\n\r\n' },
    { name: 'org/example/ret/README.txt', data: `${label}\n` },
  ]);
}

// mvn deploy:deploy-file of `artifactId:version` (a generated POM and a jar) to `repo`.
async function deployFile(repo, artifactId, version) {
  const dir = makeTempDir(`ret-mvn-deploy-${artifactId}-${version}`);
  const file = path.join(dir, `${artifactId}-${version}.jar`);
  fs.writeFileSync(file, jar(`${artifactId} ${version}`));
  return mvn.run(dir, ['deploy:deploy-file', `-Dfile=${file}`, `-DgroupId=${GROUP}`, `-DartifactId=${artifactId}`,
    `-Dversion=${version}`, '-Dpackaging=jar', '-DgeneratePom=true', `-Durl=${repoUrl(repo)}`, '-DrepositoryId=arca'],
  { localRepo });
}

const output = (r) => (r.stdout + r.stderr).split('\n').filter((l) => !/^\s+at /.test(l)).slice(-60).join('\n');

async function metadataVersions(repo, artifactId) {
  const r = await request(`${repoUrl(repo)}${GROUP_DIR}/${artifactId}/maven-metadata.xml`);
  if (r.status !== 200) return r.status;
  return [...r.body.toString().matchAll(/<version>([^<]+)<\/version>/g)].map((m) => m[1]);
}

before(async () => {
  if (skip) return;
  upstream = new StandinMavenRepo({ label: 'public stand-in (maven)' });
  upstream.override(`${GROUP_DIR}/${EXT}/maven-metadata.xml`, { body: metadata(EXT, ['1.0', '2.0']), contentType: 'text/xml' });
  for (const v of ['1.0', '2.0']) {
    upstream.override(`${GROUP_DIR}/${EXT}/${v}/${EXT}-${v}.pom`, { body: pom(EXT, v), contentType: 'text/xml' });
    upstream.override(`${GROUP_DIR}/${EXT}/${v}/${EXT}-${v}.jar`, { body: jar(`${EXT} ${v}`) });
  }
  await upstream.start();
  arca = await startArca({
    label: 'ret-maven',
    config: {
      external_connections: { [CONNECTION]: { url: upstream.url, metadata_ttl_seconds: 300 } },
      domains: [{ name: 'local', repositories: chainRepositories(CONNECTION) }],
    },
  });
  aws = new Aws(arca, { label: 'ret-maven-aws' });
  ca = new Retention(aws, arca, { format: 'maven' });
  mvn = new Mvn(repoUrl('app'), 'ret-mvn');
  localRepo = mvn.freshLocalRepo();
  work = makeTempDir('ret-mvn-work');
  project = writeProject(path.join(work, 'consumer'), { artifactId: 'ret-consumer', version: '1.0',
    deps: [{ groupId: GROUP, artifactId: EXT, version: '1.0' }, { groupId: GROUP, artifactId: INT, version: '1.0' }] });
});

after(async () => {
  if (arca) await arca.stop();
  if (upstream) await upstream.stop();
});

test('mvn deploy:deploy-file into store, then mvn resolves both artifacts through app', { skip, timeout: 120_000 }, async () => {
  const deployed = await deployFile('store', INT, '1.0');
  assert.equal(deployed.code, 0, output(deployed));
  assert.deepEqual(await metadataVersions('store', INT), ['1.0']);

  // Resolve from arca, not from what deploy-file left in the local repository.
  fs.rmSync(path.join(localRepo, GROUP_DIR), { recursive: true, force: true });
  const r = await mvn.run(project, ['dependency:resolve'], { localRepo });
  assert.equal(r.code, 0, output(r));
  for (const a of [EXT, INT]) {
    assert.ok(fs.existsSync(path.join(localRepo, GROUP_DIR, a, '1.0', `${a}-1.0.jar`)), `${a}-1.0.jar resolved`);
  }
  assert.equal(upstream.count(`${EXT}-1.0.jar`), 1, 'the jar came from the stand-in once');
});

test('the artifact from the external connection: retained in app and store (EXTERNAL), not in mid', { skip, timeout: 60_000 }, async () => {
  const coords = { namespace: GROUP, package: EXT };
  const expected = { ...coords, version: '1.0', originType: 'EXTERNAL',
    entryPoint: { externalConnectionName: CONNECTION }, onlyVersions: ['1.0'] };
  await ca.assertRetained('app', { ...expected, describe: true, assets: [`${EXT}-1.0.jar`, `${EXT}-1.0.pom`] });
  await ca.assertRetained('store', expected);
  await ca.assertAbsent('mid', coords);
  await ca.assertIngestedConfiguration('app', coords);
  await ca.assertIngestedConfiguration('store', coords);
});

test('the artifact deployed into store: retained in app (INTERNAL, entry point store), not in mid', { skip, timeout: 60_000 }, async () => {
  // Where it was deployed: INTERNAL, entry point store; app keeps that origin.
  await ca.assertRetained('store', { namespace: GROUP, package: INT, version: '1.0', originType: 'INTERNAL',
    entryPoint: { repositoryName: 'store' } });
  await ca.assertRetained('app', { namespace: GROUP, package: INT, version: '1.0', originType: 'INTERNAL',
    entryPoint: { repositoryName: 'store' }, onlyVersions: ['1.0'], describe: true,
    assets: [`${INT}-1.0.jar`, `${INT}-1.0.pom`] });
  await ca.assertAbsent('mid', { namespace: GROUP, package: INT });
});

test('fork: mvn deploy:deploy-file of a new version of an ingested artifact into app fails with 403', { skip, timeout: 120_000 }, async () => {
  const r = await deployFile('app', EXT, '99.0-fork');
  assert.notEqual(r.code, 0, `deploying ${GROUP}:${EXT}:99.0-fork into app must fail:\n${output(r)}`);
  assert.match(r.stdout + r.stderr, /Failed to deploy artifacts[^\n]*403/, output(r));
  assert.equal((await request(`${repoUrl('app')}${GROUP_DIR}/${EXT}/99.0-fork/${EXT}-99.0-fork.jar`)).status, 404);
  const listed = await metadataVersions('app', EXT);
  assert.ok(Array.isArray(listed) && listed.includes('1.0') && !listed.includes('99.0-fork'), `app's metadata lists ${listed}`);
});

test('app\'s upstream removed, stand-in stopped: mvn (fresh local repository) resolves what app retained, nothing else is served', { skip, timeout: 120_000 }, async () => {
  await ca.removeUpstreams('app');
  await upstream.stop();

  const fresh = mvn.freshLocalRepo('offline');
  const r = await mvn.run(project, ['dependency:resolve'], { localRepo: fresh });
  assert.equal(r.code, 0, output(r));
  for (const a of [EXT, INT]) {
    assert.ok(fs.existsSync(path.join(fresh, GROUP_DIR, a, '1.0', `${a}-1.0.jar`)), `${a}-1.0.jar resolved`);
  }

  assert.deepEqual(await metadataVersions('app', EXT), ['1.0'], 'app lists only the version it retained');
  for (const f of [`${EXT}-2.0.jar`, `${EXT}-2.0.pom`]) {
    const never = await request(`${repoUrl('app')}${GROUP_DIR}/${EXT}/2.0/${f}`);
    assert.equal(never.status, 404, `${f} was never fetched through app`);
  }

  await ca.assertRetained('app', { namespace: GROUP, package: EXT, version: '1.0', originType: 'EXTERNAL',
    entryPoint: { externalConnectionName: CONNECTION } });
  await ca.assertRetained('app', { namespace: GROUP, package: INT, version: '1.0', originType: 'INTERNAL',
    entryPoint: { repositoryName: 'store' } });
});
