// Retention as CodeArtifact does it, for NuGet V3 (no V3 client exists on Debian 12: the requests
// are the ones `dotnet restore` and `dotnet nuget push` send): a version downloaded through a
// chain of repositories is retained in the repository the client asked (`app`) and, when it came
// from the external connection, in the repository owning it (`store`); the intermediate
// repository (`mid`) keeps nothing. Seen through the real AWS CLI (list-package-versions,
// describe-package-version, list-package-version-assets, list-packages) and by the V3 API: once
// app's upstream is removed and the stand-in feed stopped, app still serves what it retained
// (flat container index and nupkg), and only that. A package pushed into store and downloaded
// through app is retained in app with origin INTERNAL / repositoryName store. And the "fork": a
// package ingested into app got publish=BLOCK there, so a push of a new version of it into app is
// refused (403).
//
// Topology: store (public:nuget-org, the stand-in V3 feed), mid (upstream store), app (upstream
// mid).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startArca } from './lib/arca.mjs';
import { Aws, awsBin } from './lib/aws.mjs';
import { request, getJson } from './lib/http.mjs';
import { buildNupkg, startNugetUpstream, v3Index } from './lib/nuget.mjs';
import { Retention, chainRepositories } from './lib/retention.mjs';

const skip = awsBin() ? false : 'awscli is not installed (scripts/setup.sh --test installs it)';

const CONNECTION = 'public:nuget-org';
const EXT = 'Ret.Ext'; // on the stand-in: 1.0.0 and 2.0.0
const INT = 'Ret.Int'; // pushed into store

let up;
let arca;
let aws;
let ca;
let key;
let intNupkg;

// The multipart body `dotnet nuget push` sends (one part named "package").
function pushBody(nupkg, boundary = 'arca-nuget-boundary-ret') {
  const head = Buffer.from(`--${boundary}\r\nContent-Type: application/octet-stream\r\n` +
    'Content-Disposition: form-data; name=package; filename=package.nupkg; filename*=utf-8\'\'package.nupkg\r\n\r\n');
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return { body: Buffer.concat([head, nupkg, tail]), contentType: `multipart/form-data; boundary="${boundary}"` };
}

const resource = (index, type) => index.resources.find((r) => r['@type'] === type)?.['@id'];

// The service index of `repo`, then its PackagePublish URL: a push as `dotnet nuget push` does.
async function push(repo, nupkg) {
  const index = (await getJson(v3Index(arca.baseUrl, repo))).json;
  const { body, contentType } = pushBody(nupkg);
  return request(resource(index, 'PackagePublish/2.0.0'), { method: 'PUT', body,
    headers: { 'content-type': contentType, 'x-nuget-apikey': key, 'X-NuGet-Client-Version': '6.8.0' } });
}

// What restore does for one package version through `repo`: service index, flat container
// index of the id, the nupkg. Returns { versions (or the status), nupkg response }.
async function restore(repo, id, version) {
  const index = await getJson(v3Index(arca.baseUrl, repo));
  assert.equal(index.status, 200);
  const flat = resource(index.json, 'PackageBaseAddress/3.0.0');
  const lid = id.toLowerCase();
  const versions = await getJson(`${flat}${lid}/index.json`);
  const nupkg = await request(`${flat}${lid}/${version}/${lid}.${version}.nupkg`);
  return { versions: versions.status === 200 ? versions.json.versions : versions.status, nupkg };
}

before(async () => {
  if (skip) return;
  up = await startNugetUpstream({ label: 'public stand-in (nuget)',
    packages: [{ id: EXT, version: '1.0.0' }, { id: EXT, version: '2.0.0' }] });
  arca = await startArca({
    label: 'ret-nuget',
    config: {
      external_connections: { [CONNECTION]: { url: up.indexUrl, metadata_ttl_seconds: 300 } },
      domains: [{ name: 'local', repositories: chainRepositories(CONNECTION) }],
    },
  });
  aws = new Aws(arca, { label: 'ret-nuget-aws' });
  ca = new Retention(aws, arca, { format: 'nuget' });
  const t = await aws.ok(['get-authorization-token', '--domain', 'local']);
  key = t.authorizationToken;
  assert.ok(key);
});

after(async () => {
  if (arca) await arca.stop();
  if (up) await up.stop();
});

test('push into store, then restore both packages through app', { skip, timeout: 60_000 }, async () => {
  intNupkg = buildNupkg({ id: INT, version: '1.0.0' });
  const pushed = await push('store', intNupkg);
  assert.equal(pushed.status, 201, pushed.body.toString());

  const ext = await restore('app', EXT, '1.0.0');
  assert.deepEqual(ext.versions, ['1.0.0', '2.0.0']);
  assert.equal(ext.nupkg.status, 200);
  assert.ok(ext.nupkg.body.equals(up.entry(EXT, '1.0.0').nupkg));
  assert.equal(up.count('ret.ext.1.0.0.nupkg'), 1);

  const int = await restore('app', INT, '1.0.0');
  assert.deepEqual(int.versions, ['1.0.0']);
  assert.equal(int.nupkg.status, 200);
  assert.ok(int.nupkg.body.equals(intNupkg));
});

test('the package from the external connection: retained in app and store (EXTERNAL), not in mid', { skip, timeout: 60_000 }, async () => {
  const coords = { package: 'ret.ext' };
  const expected = { ...coords, version: '1.0.0', originType: 'EXTERNAL',
    entryPoint: { externalConnectionName: CONNECTION }, onlyVersions: ['1.0.0'] };
  await ca.assertRetained('app', { ...expected, describe: true, assets: ['ret.ext.1.0.0.nupkg'] });
  await ca.assertRetained('store', expected);
  await ca.assertAbsent('mid', coords);
  await ca.assertIngestedConfiguration('app', coords);
  await ca.assertIngestedConfiguration('store', coords);
});

test('the package pushed into store: retained in app (INTERNAL, entry point store), not in mid', { skip, timeout: 60_000 }, async () => {
  // Where it was pushed: INTERNAL, entry point store; app keeps that origin.
  await ca.assertRetained('store', { package: 'ret.int', version: '1.0.0', originType: 'INTERNAL',
    entryPoint: { repositoryName: 'store' } });
  await ca.assertRetained('app', { package: 'ret.int', version: '1.0.0', originType: 'INTERNAL',
    entryPoint: { repositoryName: 'store' }, onlyVersions: ['1.0.0'], describe: true, assets: ['ret.int.1.0.0.nupkg'] });
  await ca.assertAbsent('mid', { package: 'ret.int' });
});

test('fork: a push of a new version of an ingested package into app is refused (403)', { skip, timeout: 60_000 }, async () => {
  const refused = await push('app', buildNupkg({ id: EXT, version: '99.0.0-fork' }));
  assert.equal(refused.status, 403, refused.body.toString());
  const { versions, nupkg } = await restore('app', EXT, '99.0.0-fork');
  assert.ok(Array.isArray(versions) && !versions.includes('99.0.0-fork'), `${versions}`);
  assert.equal(nupkg.status, 404);
});

test('app\'s upstream removed, stand-in stopped: app serves what it retained, and nothing else', { skip, timeout: 60_000 }, async () => {
  await ca.removeUpstreams('app');
  await up.stop();

  const ext = await restore('app', EXT, '1.0.0');
  assert.deepEqual(ext.versions, ['1.0.0'], 'app lists only the version it retained');
  assert.equal(ext.nupkg.status, 200);
  assert.ok(ext.nupkg.body.equals(up.entry(EXT, '1.0.0').nupkg));
  const int = await restore('app', INT, '1.0.0');
  assert.deepEqual(int.versions, ['1.0.0']);
  assert.equal(int.nupkg.status, 200);
  assert.ok(int.nupkg.body.equals(intNupkg));

  const never = await restore('app', EXT, '2.0.0');
  assert.equal(never.nupkg.status, 404, '2.0.0 was never downloaded through app');

  await ca.assertRetained('app', { package: 'ret.ext', version: '1.0.0', originType: 'EXTERNAL',
    entryPoint: { externalConnectionName: CONNECTION } });
  await ca.assertRetained('app', { package: 'ret.int', version: '1.0.0', originType: 'INTERNAL',
    entryPoint: { repositoryName: 'store' } });
});
