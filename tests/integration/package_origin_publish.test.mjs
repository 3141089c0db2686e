// Publishing and origin controls beyond the package groups' PUBLISH mode:
//  - A version reachable through an upstream repository or the external connection cannot be
//    published downstream (409), as the CodeArtifact user guide says, only while the package's
//    upstream control is ALLOW: real npm publish (from the stand-in registry and from an
//    upstream repository), real twine upload (stand-in index and upstream repository) and Maven
//    deploys and NuGet pushes over HTTP (stand-in maven-metadata.xml and V3 feed, upstream
//    repositories).
//    A version that is
//    nowhere upstream is published, and once the package's upstream control is BLOCK (set
//    automatically by that first publish, or with PutPackageOriginConfiguration) the upstream
//    versions may be published too.
//  - CopyPackageVersions: the destination's PUBLISH controls (group and package level) refuse
//    the copy with NOT_ALLOWED per version; a copied package gets its automatic origin
//    configuration (publish=ALLOW, upstream=BLOCK) in the destination.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { loadSdk, sdkClient } from './lib/aws.mjs';
import { StandinRegistry } from './lib/registry.mjs';
import { Npm } from './lib/npm.mjs';
import { getJson, request } from './lib/http.mjs';
import { StandinIndex, makeDists, twine } from './lib/pypi.mjs';
import { StandinMavenRepo, DEBIAN_MAVEN_REPO } from './lib/maven.mjs';
import { buildNupkg, startNugetUpstream } from './lib/nuget.mjs';

const sdk = loadSdk();
const skip = !sdk ? '@aws-sdk/client-codeartifact is not installed (scripts/setup.sh --test installs it)'
  : !fs.existsSync(DEBIAN_MAVEN_REPO) ? `${DEBIAN_MAVEN_REPO} is missing (Debian's maven plugins)` : false;

const domain = 'local';
const MVN_DIR = 'com/corp/lib';

let registry;
let pypiIndex;
let maven;
let nugetFeed;
let arca;
let client;
let npm;
let work;
let dists; // "name version" -> dist

function writePackage(name, version) {
  const dir = path.join(work, `${name}-${version}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'),
    JSON.stringify({ name, version, main: 'index.js', license: 'MIT' }, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, 'index.js'), `exports.version = ${JSON.stringify(version)};\n`);
  return dir;
}

async function packed(name, version) {
  const out = path.join(work, 'packed');
  fs.mkdirSync(out, { recursive: true });
  const r = await npm.ok(['pack', writePackage(name, version), '--pack-destination', out, '--json']);
  const info = JSON.parse(r.stdout.slice(r.stdout.indexOf('[')))[0];
  const manifest = { name, version, main: 'index.js', license: 'MIT' };
  return { name, version, manifest, tarball: fs.readFileSync(path.join(out, info.filename)) };
}

async function npmPublish(repo, name, version, extra = []) {
  npm.setRegistry(arca.registry(repo, domain));
  return npm.run(['publish', ...extra], { cwd: writePackage(name, version) });
}

// npm's own publish request (PUT /<name> with the tarball attached), for the server's answer:
// the npm client already refuses a version its packument GET lists.
async function putPublish(repo, name, version) {
  const { tarball } = await packed(name, version);
  const body = {
    _id: name, name, 'dist-tags': { latest: version },
    versions: { [version]: { name, version, _id: `${name}@${version}`, dist: { tarball: `http://x/${name}-${version}.tgz` } } },
    _attachments: { [`${name}-${version}.tgz`]: { content_type: 'application/octet-stream', data: tarball.toString('base64'), length: tarball.length } },
  };
  const r = await request(arca.registry(repo, domain) + name, {
    method: 'PUT', body: Buffer.from(JSON.stringify(body)), headers: { 'content-type': 'application/json' },
  });
  return { status: r.status, body: r.body.toString() };
}

async function npmVersions(repo, name) {
  const r = await getJson(arca.registry(repo, domain) + name);
  return r.status === 200 ? Object.keys(r.json.versions).sort() : r.status;
}

const pypiUrl = (repo) => `${arca.baseUrl}/${domain}/pypi/${repo}/`;
const flat = (r) => `${r.stdout}\n${r.stderr}`.replace(/\x1B\[[0-9;]*m/g, '').replace(/\s+/g, ' ');

async function upload(repo, name, version) {
  return twine(['upload', '--verbose', '--repository-url', pypiUrl(repo), '-u', 'aws', '-p', 'not-a-real-token',
    '--disable-progress-bar', dists[`${name} ${version}`].path]);
}

const mavenUrl = (repo) => `${arca.baseUrl}/${domain}/maven/${repo}/`;

function pom(version) {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<project xmlns="http://maven.apache.org/POM/4.0.0">\n` +
    `  <modelVersion>4.0.0</modelVersion>\n  <groupId>com.corp</groupId>\n  <artifactId>lib</artifactId>\n` +
    `  <version>${version}</version>\n  <packaging>jar</packaging>\n</project>\n`;
}

async function deploy(repo, version) {
  const r = await request(`${mavenUrl(repo)}${MVN_DIR}/${version}/lib-${version}.pom`, { method: 'PUT', body: Buffer.from(pom(version)) });
  return { status: r.status, body: r.body.toString() };
}

// The artifact-level maven-metadata.xml that ends a deploy (the versions become Published).
async function deployMetadata(repo, versions) {
  const body = '<?xml version="1.0" encoding="UTF-8"?>\n<metadata><groupId>com.corp</groupId><artifactId>lib</artifactId>' +
    `<versioning><versions>${versions.map((v) => `<version>${v}</version>`).join('')}</versions></versioning></metadata>\n`;
  const r = await request(`${mavenUrl(repo)}${MVN_DIR}/maven-metadata.xml`, { method: 'PUT', body: Buffer.from(body) });
  return r.status;
}

before(async () => {
  if (skip) return;
  work = makeTempDir('origin-publish-work');
  npm = new Npm({ label: 'origin-publish-npm' });
  registry = new StandinRegistry({ label: 'public stand-in (npm)' });
  registry.addPackage(await packed('pub-lib', '1.0.0'));
  await registry.start();

  dists = {};
  for (const d of await makeDists(path.join(work, 'dists'), [
    { name: 'pub-py', version: '2.0' },
    { name: 'team-py', version: '1.0' }, { name: 'team-py', version: '1.1' },
  ])) dists[`${d.name} ${d.version}`] = d;
  pypiIndex = new StandinIndex({ mode: 'json', label: 'public stand-in index' });
  pypiIndex.addFiles([dists['pub-py 2.0']]);
  await pypiIndex.start();

  maven = new StandinMavenRepo({ label: 'public stand-in (maven)' });
  maven.override(`${MVN_DIR}/maven-metadata.xml`, {
    contentType: 'text/xml',
    body: '<?xml version="1.0" encoding="UTF-8"?>\n<metadata><groupId>com.corp</groupId><artifactId>lib</artifactId>' +
      '<versioning><release>5.0</release><versions><version>5.0</version></versions></versioning></metadata>\n',
  });
  await maven.start();
  nugetFeed = await startNugetUpstream({ label: 'public stand-in (nuget)', packages: [{ id: 'Pub.Pkg', version: '3.0.0' }] });

  arca = await startArca({
    label: 'origin-publish', upstreamUrl: registry.url,
    config: {
      external_connections: {
        'public:pypi': { format: 'pypi', url: pypiIndex.url, metadata_ttl_seconds: 300 },
        'public:maven-central': { url: maven.url, metadata_ttl_seconds: 300 },
        'public:nuget-org': { url: nugetFeed.indexUrl, metadata_ttl_seconds: 300 },
      },
      domains: [{
        name: domain,
        repositories: [
          { name: 'team' },
          { name: 'npm-store', external_connection: 'public:npmjs' },
          { name: 'pypi-store', external_connection: 'public:pypi' },
          { name: 'maven-store', external_connection: 'public:maven-central' },
          { name: 'nuget-store', external_connection: 'public:nuget-org' },
          { name: 'app', upstreams: ['team', 'npm-store', 'pypi-store', 'maven-store', 'nuget-store'] },
          { name: 'app2', upstreams: ['team', 'npm-store', 'pypi-store', 'maven-store', 'nuget-store'] },
          { name: 'promoted' },
        ],
      }],
    },
  });
  client = sdkClient(sdk, arca);
});

after(async () => {
  if (arca) await arca.stop();
  if (registry) await registry.stop();
  if (pypiIndex) await pypiIndex.stop();
  if (maven) await maven.stop();
  if (nugetFeed) await nugetFeed.stop();
});

test('npm publish of a version reachable upstream is a 409 while upstream is ALLOW', { skip, timeout: 60_000 }, async () => {
  // From the external connection (through npm-store): npm itself refuses a version that the
  // packument lists; the server answers its publish request with a 409.
  const fromPublic = await npmPublish('app', 'pub-lib', '1.0.0');
  assert.notEqual(fromPublic.code, 0, 'publishing the public version must fail');
  let put = await putPublish('app', 'pub-lib', '1.0.0');
  assert.equal(put.status, 409, put.body);
  assert.match(put.body, /pub-lib@1\.0\.0 is available from public:npmjs/);

  // From an upstream repository.
  assert.equal((await npmPublish('team', 'team-lib', '1.0.0')).code, 0);
  assert.notEqual((await npmPublish('app', 'team-lib', '1.0.0')).code, 0);
  put = await putPublish('app', 'team-lib', '1.0.0');
  assert.equal(put.status, 409, put.body);
  assert.match(put.body, /team-lib@1\.0\.0 is available from upstream repository team/);
  await assert.rejects(client.send(new sdk.ListPackageVersionsCommand({ domain, repository: 'app', format: 'npm', package: 'team-lib' })),
    { name: 'ResourceNotFoundException' }, 'nothing was published to app');
  assert.deepEqual(await npmVersions('team', 'team-lib'), ['1.0.0'], 'nothing stored is lost');

  // A version that is nowhere upstream is published; that first publish sets the package's
  // upstream control to BLOCK in app, after which the upstream's version may be published too.
  npm.setRegistry(arca.registry('app', domain));
  await npm.ok(['publish'], { cwd: writePackage('pub-lib', '1.0.1') });
  const origin = await client.send(new sdk.DescribePackageCommand({ domain, repository: 'app', format: 'npm', package: 'pub-lib' }));
  assert.deepEqual(origin.package.originConfiguration.restrictions, { publish: 'ALLOW', upstream: 'BLOCK' });
  const older = await npmPublish('app', 'pub-lib', '1.0.0', ['--tag', 'older']);
  assert.equal(older.code, 0, older.stderr);
  assert.deepEqual(await npmVersions('app', 'pub-lib'), ['1.0.0', '1.0.1']);

  // PutPackageOriginConfiguration upstream=BLOCK before the first publish does the same.
  await client.send(new sdk.PutPackageOriginConfigurationCommand({
    domain, repository: 'app2', format: 'npm', package: 'team-lib', restrictions: { publish: 'ALLOW', upstream: 'BLOCK' },
  }));
  assert.equal((await npmPublish('app2', 'team-lib', '1.0.0')).code, 0);
});

test('twine upload of a version reachable upstream is a 409 while upstream is ALLOW', { skip, timeout: 60_000 }, async () => {
  const fromPublic = await upload('app', 'pub-py', '2.0');
  assert.notEqual(fromPublic.code, 0, flat(fromPublic));
  assert.match(flat(fromPublic), /409/, flat(fromPublic));
  assert.match(flat(fromPublic), /pub-py 2\.0 is available from public:pypi/, flat(fromPublic));

  assert.equal((await upload('team', 'team-py', '1.0')).code, 0);
  const fromTeam = await upload('app', 'team-py', '1.0');
  assert.notEqual(fromTeam.code, 0);
  assert.match(flat(fromTeam), /409.*upstream repository team|upstream repository team.*409/, flat(fromTeam));

  // Not upstream: uploaded; the package's upstream control is then BLOCK in app.
  const fresh = await upload('app', 'team-py', '1.1');
  assert.equal(fresh.code, 0, flat(fresh));
  assert.equal((await upload('app', 'team-py', '1.0')).code, 0, 'upstream=BLOCK: 1.0 may be published');
});

test('Maven deploy of a release reachable upstream is a 409 while upstream is ALLOW', { skip, timeout: 60_000 }, async () => {
  const fromPublic = await deploy('app', '5.0');
  assert.equal(fromPublic.status, 409, fromPublic.body);
  assert.match(fromPublic.body, /com\.corp:lib:5\.0 is available from public:maven-central/);

  assert.equal((await deploy('team', '1.0')).status, 201);
  assert.equal(await deployMetadata('team', ['1.0']), 201);
  const fromTeam = await deploy('app', '1.0');
  assert.equal(fromTeam.status, 409, fromTeam.body);
  assert.match(fromTeam.body, /upstream repository team/);
  // SNAPSHOTs are not checked (never ingested from external connections, redeployed often).
  assert.equal((await deploy('team', '2.0-SNAPSHOT')).status, 201);
  assert.equal((await deploy('app', '2.0-SNAPSHOT')).status, 201);

  await client.send(new sdk.PutPackageOriginConfigurationCommand({
    domain, repository: 'app2', format: 'maven', namespace: 'com.corp', package: 'lib', restrictions: { publish: 'ALLOW', upstream: 'BLOCK' },
  }));
  assert.equal((await deploy('app2', '5.0')).status, 201);
  assert.equal((await deploy('app2', '1.0')).status, 201);
});

async function nugetPush(repo, id, version) {
  const index = await getJson(`${arca.baseUrl}/${domain}/nuget/${repo}/v3/index.json`);
  const publish = index.json.resources.find((r) => r['@type'] === 'PackagePublish/2.0.0')['@id'];
  const boundary = 'arca-origin-boundary';
  const head = Buffer.from(`--${boundary}\r\nContent-Type: application/octet-stream\r\n` +
    'Content-Disposition: form-data; name=package; filename=package.nupkg\r\n\r\n');
  const body = Buffer.concat([head, buildNupkg({ id, version }), Buffer.from(`\r\n--${boundary}--\r\n`)]);
  const r = await request(publish, { method: 'PUT', body,
    headers: { 'content-type': `multipart/form-data; boundary="${boundary}"`, 'x-nuget-apikey': nugetKey } });
  return { status: r.status, body: r.body.toString() };
}

let nugetKey;

test('NuGet push of a version reachable upstream is a 409 while upstream is ALLOW', { skip, timeout: 60_000 }, async () => {
  const t = await request(`${arca.baseUrl}/v1/authorization-token?domain=${domain}`, { method: 'POST', body: '{}',
    headers: { 'content-type': 'application/json' } });
  assert.equal(t.status, 200, t.body.toString());
  nugetKey = JSON.parse(t.body.toString()).authorizationToken;

  const fromFeed = await nugetPush('app', 'Pub.Pkg', '3.0.0');
  assert.equal(fromFeed.status, 409, fromFeed.body);
  assert.match(fromFeed.body, /Pub\.Pkg 3\.0\.0 is available from public:nuget-org/);
  assert.equal((await nugetPush('app', 'Pub.Pkg', '3.0.1')).status, 201, 'a version the feed lacks');

  assert.equal((await nugetPush('team', 'Team.Pkg', '1.0.0')).status, 201);
  const conflict = await nugetPush('app', 'Team.Pkg', '1.0.0');
  assert.equal(conflict.status, 409, conflict.body);
  assert.match(conflict.body, /Team\.Pkg 1\.0\.0 is available from upstream repository team/);
  // Not upstream: pushed, and the package's upstream control becomes BLOCK in app.
  assert.equal((await nugetPush('app', 'Team.Pkg', '1.0.1')).status, 201);
  assert.equal((await nugetPush('app', 'Team.Pkg', '1.0.0')).status, 201);
});

test('CopyPackageVersions: the destination PUBLISH controls, and the automatic origin configuration', { skip, timeout: 60_000 }, async () => {
  const copy = (extra = {}) => client.send(new sdk.CopyPackageVersionsCommand({
    domain, sourceRepository: 'team', destinationRepository: 'promoted', format: 'npm', package: 'team-lib', versions: ['1.0.0'], ...extra,
  }));

  // The group's PUBLISH BLOCK refuses the copy, naming the group.
  await client.send(new sdk.CreatePackageGroupCommand({ domain, packageGroup: '/npm//team-lib$' }));
  await client.send(new sdk.UpdatePackageGroupOriginConfigurationCommand({
    domain, packageGroup: '/npm//team-lib$', restrictions: { PUBLISH: 'BLOCK' },
  }));
  let r = await copy();
  assert.deepEqual(r.successfulVersions, {});
  assert.equal(r.failedVersions['1.0.0'].errorCode, 'NOT_ALLOWED');
  assert.match(r.failedVersions['1.0.0'].errorMessage, /PUBLISH origin control of package group \/npm\/\/team-lib\$/);
  assert.equal(await npmVersions('promoted', 'team-lib'), 404);

  // ALLOW_SPECIFIC_REPOSITORIES with promoted listed lets it through.
  await client.send(new sdk.UpdatePackageGroupOriginConfigurationCommand({
    domain, packageGroup: '/npm//team-lib$', restrictions: { PUBLISH: 'ALLOW_SPECIFIC_REPOSITORIES' },
    addAllowedRepositories: [{ originRestrictionType: 'PUBLISH', repositoryName: 'promoted' }],
  }));
  r = await copy();
  assert.deepEqual(Object.keys(r.successfulVersions), ['1.0.0']);
  assert.deepEqual(await npmVersions('promoted', 'team-lib'), ['1.0.0']);
  const described = await client.send(new sdk.DescribePackageCommand({ domain, repository: 'promoted', format: 'npm', package: 'team-lib' }));
  assert.deepEqual(described.package.originConfiguration.restrictions, { publish: 'ALLOW', upstream: 'BLOCK' });

  // The package-level publish=BLOCK in the destination refuses it too.
  await client.send(new sdk.PutPackageOriginConfigurationCommand({
    domain, repository: 'promoted', format: 'npm', package: 'team-lib', restrictions: { publish: 'BLOCK', upstream: 'BLOCK' },
  }));
  r = await copy({ allowOverwrite: true });
  assert.equal(r.failedVersions['1.0.0'].errorCode, 'NOT_ALLOWED');
  assert.match(r.failedVersions['1.0.0'].errorMessage, /publish=BLOCK/);
  assert.deepEqual(await npmVersions('promoted', 'team-lib'), ['1.0.0'], 'nothing stored is lost');
});
