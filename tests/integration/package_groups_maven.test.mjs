// Package-group origin controls enforced for Maven (namespace = groupId): the
// dependency-confusion scenario. The stand-in upstream (Debian's maven-repo, for mvn's own
// plugins) also serves com.corp:thing:9.9, the "public" version of an internal artifact whose
// 1.0 is deployed to `internal`; `main` has upstreams internal and maven-central-store (the
// external connection). The group /maven/com.corp/* blocks EXTERNAL_UPSTREAM and allows PUBLISH
// only to `internal`: deploys elsewhere get 403, main's maven-metadata.xml lists only 1.0, and
// real mvn resolves 1.0 while 9.9 is refused without the stand-in ever serving its jar, and a
// real `mvn deploy` to main fails with the 403. Then
// ALLOW, ALLOW_SPECIFIC_REPOSITORIES and BLOCK for INTERNAL_UPSTREAM and PUBLISH over HTTP.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { loadSdk, sdkClient } from './lib/aws.mjs';
import { request } from './lib/http.mjs';
import { StandinMavenRepo, Mvn, DEBIAN_MAVEN_REPO, writeProject } from './lib/maven.mjs';

const sdk = loadSdk();
const skip = !sdk ? '@aws-sdk/client-codeartifact is not installed (scripts/setup.sh --test installs it)'
  : !fs.existsSync(DEBIAN_MAVEN_REPO) ? `${DEBIAN_MAVEN_REPO} is missing (Debian's maven plugins)` : false;

const domain = 'local';
const GROUP = '/maven/com.corp/*';
const DIR = 'com/corp/thing';

let upstream;
let arca;
let client;
let mvn;
let localRepo;

const repoUrl = (repo) => `${arca.baseUrl}/${domain}/maven/${repo}/`;

function pom(version) {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<project xmlns="http://maven.apache.org/POM/4.0.0">\n` +
    `  <modelVersion>4.0.0</modelVersion>\n  <groupId>com.corp</groupId>\n  <artifactId>thing</artifactId>\n` +
    `  <version>${version}</version>\n  <packaging>jar</packaging>\n</project>\n`;
}

function metadata(versions) {
  const last = versions[versions.length - 1];
  return `<?xml version="1.0" encoding="UTF-8"?>\n<metadata>\n  <groupId>com.corp</groupId>\n  <artifactId>thing</artifactId>\n` +
    `  <versioning>\n    <latest>${last}</latest>\n    <release>${last}</release>\n    <versions>\n` +
    versions.map((v) => `      <version>${v}</version>\n`).join('') +
    `    </versions>\n    <lastUpdated>20240101000000</lastUpdated>\n  </versioning>\n</metadata>\n`;
}

async function deploy(repo, version) {
  const statuses = [];
  for (const [file, body] of [[`thing-${version}.pom`, pom(version)], [`thing-${version}.jar`, `jar of thing ${version}`]]) {
    const r = await request(`${repoUrl(repo)}${DIR}/${version}/${file}`, { method: 'PUT', body: Buffer.from(body) });
    statuses.push({ status: r.status, body: r.body.toString() });
  }
  return statuses;
}

async function versionsOf(repo) {
  const r = await request(`${repoUrl(repo)}${DIR}/maven-metadata.xml`);
  if (r.status !== 200) return r.status;
  return [...r.body.toString().matchAll(/<version>([^<]+)<\/version>/g)].map((m) => m[1]);
}

async function setOrigin(restrictions, changes = {}) {
  await client.send(new sdk.UpdatePackageGroupOriginConfigurationCommand({ domain, packageGroup: GROUP, restrictions, ...changes }));
}

before(async () => {
  if (skip) return;
  upstream = new StandinMavenRepo({ label: 'public stand-in (maven)' });
  upstream.override(`${DIR}/maven-metadata.xml`, { body: metadata(['9.9']), contentType: 'text/xml' });
  upstream.override(`${DIR}/9.9/thing-9.9.pom`, { body: pom('9.9'), contentType: 'text/xml' });
  upstream.override(`${DIR}/9.9/thing-9.9.jar`, { body: 'the attacker\'s jar' });
  await upstream.start();
  arca = await startArca({
    label: 'pg-maven',
    config: {
      external_connections: { 'public:maven-central': { url: upstream.url, metadata_ttl_seconds: 300 } },
      domains: [{
        name: domain,
        repositories: [
          { name: 'internal' },
          { name: 'maven-central-store', external_connection: 'public:maven-central' },
          { name: 'main', upstreams: ['internal', 'maven-central-store'] },
          { name: 'other', upstreams: ['internal', 'maven-central-store'] },
          // Never fetches anything before the INTERNAL_UPSTREAM test (main retains what it
          // served, and retained versions stay whatever the controls say later).
          { name: 'fresh', upstreams: ['internal', 'maven-central-store'] },
        ],
      }],
    },
  });
  client = sdkClient(sdk, arca);
  await client.send(new sdk.CreatePackageGroupCommand({ domain, packageGroup: GROUP }));
  await setOrigin({ EXTERNAL_UPSTREAM: 'BLOCK', PUBLISH: 'ALLOW_SPECIFIC_REPOSITORIES' },
    { addAllowedRepositories: [{ originRestrictionType: 'PUBLISH', repositoryName: 'internal' }] });
  mvn = new Mvn(repoUrl('main'), 'pg-mvn');
  localRepo = mvn.freshLocalRepo();
});

after(async () => {
  if (arca) await arca.stop();
  if (upstream) await upstream.stop();
});

test('PUBLISH: deploys only where the group allows', { skip, timeout: 60_000 }, async () => {
  for (const r of await deploy('internal', '1.0')) assert.equal(r.status, 201, r.body);
  const meta = await request(`${repoUrl('internal')}${DIR}/maven-metadata.xml`, { method: 'PUT', body: Buffer.from(metadata(['1.0'])) });
  assert.equal(meta.status, 201);

  const refused = await deploy('main', '1.1');
  for (const r of refused) {
    assert.equal(r.status, 403);
    assert.match(r.body, /^403 Forbidden: publishing com\.corp:thing to repository main is not allowed by the PUBLISH origin control of package group \/maven\/com\.corp\/\*/);
  }
  await setOrigin({ PUBLISH: 'BLOCK' });
  assert.equal((await deploy('internal', '1.1'))[0].status, 403);
  await setOrigin({ PUBLISH: 'ALLOW' });
  assert.equal((await deploy('other', '1.1'))[0].status, 201, 'ALLOW: any repository');
  await setOrigin({ PUBLISH: 'ALLOW_SPECIFIC_REPOSITORIES' });
});

test('EXTERNAL_UPSTREAM BLOCK: mvn resolves the internal 1.0; the public 9.9 is never fetched', { skip, timeout: 240_000 }, async () => {
  assert.deepEqual(await versionsOf('main'), ['1.0']);
  const work = makeTempDir('pg-mvn-work');
  await mvn.ok(work, ['dependency:get', '-Dartifact=com.corp:thing:1.0', '-Dtransitive=false'], { localRepo });
  assert.equal(fs.readFileSync(path.join(localRepo, DIR, '1.0', 'thing-1.0.jar'), 'utf8'), 'jar of thing 1.0');
  assert.ok(upstream.requests.length > 0, 'mvn\'s own plugins (outside the group) came from the stand-in');

  const refused = await mvn.run(work, ['dependency:get', '-Dartifact=com.corp:thing:9.9', '-Dtransitive=false'], { localRepo });
  assert.notEqual(refused.code, 0, 'mvn must not resolve the public 9.9');
  assert.match(refused.stdout + refused.stderr, /403/);
  assert.equal(upstream.count('thing-9.9.jar'), 0);
  assert.equal(upstream.count('thing-9.9.pom'), 0);

  // mvn deploy of a com.corp artifact to main: refused, and mvn shows the status.
  const project = writeProject(path.join(work, 'deployed'), { groupId: 'com.corp', artifactId: 'deployed', version: '1.0',
    deployUrl: repoUrl('main') });
  const deploy = await mvn.run(project, ['deploy'], { localRepo });
  assert.notEqual(deploy.code, 0, 'mvn deploy to main must fail');
  assert.match(deploy.stdout + deploy.stderr, /Failed to deploy artifacts[^\n]*com\.corp:deployed[^\n]*403/,
    (deploy.stdout + deploy.stderr).split('\n').filter((l) => /ERROR/.test(l)).join('\n'));
  const deployed = await request(`${repoUrl('main')}com/corp/deployed/maven-metadata.xml`);
  assert.equal(deployed.status, 404, 'nothing of com.corp:deployed was stored in main');

  const direct = await request(`${repoUrl('main')}${DIR}/9.9/thing-9.9.jar`);
  assert.equal(direct.status, 403);
  assert.match(direct.body.toString(), /EXTERNAL_UPSTREAM origin control of package group \/maven\/com\.corp\/\*/);
});

test('EXTERNAL_UPSTREAM ALLOW_SPECIFIC_REPOSITORIES and ALLOW change what metadata lists', { skip, timeout: 60_000 }, async () => {
  await setOrigin({ EXTERNAL_UPSTREAM: 'ALLOW_SPECIFIC_REPOSITORIES' },
    { addAllowedRepositories: [{ originRestrictionType: 'EXTERNAL_UPSTREAM', repositoryName: 'main' }] });
  assert.deepEqual(await versionsOf('main'), ['1.0'], 'the connection belongs to maven-central-store');
  await setOrigin({ EXTERNAL_UPSTREAM: 'ALLOW_SPECIFIC_REPOSITORIES' },
    { addAllowedRepositories: [{ originRestrictionType: 'EXTERNAL_UPSTREAM', repositoryName: 'maven-central-store' }] });
  assert.deepEqual(await versionsOf('main'), ['1.0', '9.9']);
  await setOrigin({ EXTERNAL_UPSTREAM: 'ALLOW' });
  assert.deepEqual(await versionsOf('main'), ['1.0', '9.9']);
  await setOrigin({ EXTERNAL_UPSTREAM: 'BLOCK' });
  assert.deepEqual(await versionsOf('main'), ['1.0']);
  assert.equal(upstream.count('thing-9.9.jar'), 0);
});

test('INTERNAL_UPSTREAM BLOCK, ALLOW_SPECIFIC_REPOSITORIES, ALLOW', { skip, timeout: 60_000 }, async () => {
  await setOrigin({ INTERNAL_UPSTREAM: 'BLOCK' });
  // main retained 1.0 when the build fetched it through main: a retained version stays.
  assert.deepEqual(await versionsOf('main'), ['1.0']);
  // fresh never fetched it: nothing comes in from the upstream repository.
  assert.equal(await versionsOf('fresh'), 404);
  const jar = `${DIR}/1.0/thing-1.0.jar`;
  const blocked = await request(`${repoUrl('fresh')}${jar}`);
  assert.equal(blocked.status, 403);
  assert.match(blocked.body.toString(), /INTERNAL_UPSTREAM/);
  assert.deepEqual(await versionsOf('internal'), ['1.0']);

  await setOrigin({ INTERNAL_UPSTREAM: 'ALLOW_SPECIFIC_REPOSITORIES' },
    { addAllowedRepositories: [{ originRestrictionType: 'INTERNAL_UPSTREAM', repositoryName: 'fresh' }] });
  assert.equal((await request(`${repoUrl('fresh')}${jar}`)).status, 200);
  assert.equal((await request(`${repoUrl('other')}${jar}`)).status, 403);
  await setOrigin({ INTERNAL_UPSTREAM: 'ALLOW' });
  // com.corp:thing's first version in `other` was deployed there (1.1, above), so its automatic
  // package-level configuration is publish=ALLOW, upstream=BLOCK: the stricter setting wins.
  const still = await request(`${repoUrl('other')}${jar}`);
  assert.equal(still.status, 403);
  await client.send(new sdk.PutPackageOriginConfigurationCommand({ domain, repository: 'other', format: 'maven',
    namespace: 'com.corp', package: 'thing', restrictions: { publish: 'ALLOW', upstream: 'ALLOW' } }));
  assert.equal((await request(`${repoUrl('other')}${jar}`)).status, 200);
});
