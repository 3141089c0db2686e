// Versions ingested from an external connection, seen through the API (retained in the
// repository asked and in the one owning the connection), and their statuses acting on npm even
// where the upstream registry still lists them. Runs in the default local
// mode: no access keys configured, so the AWS CLI's (unverifiable) signature is accepted from
// loopback.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startArca } from './lib/arca.mjs';
import { Aws, awsBin } from './lib/aws.mjs';
import { StandinRegistry, tarballFileName } from './lib/registry.mjs';
import { generatePackages } from './lib/packages.mjs';
import { request } from './lib/http.mjs';

const skip = awsBin() ? false : 'awscli is not installed (scripts/setup.sh --test installs it)';

let arca;
let standin;
let aws;
let name;
let versions;

before(async () => {
  if (skip) return;
  const set = await generatePackages({ count: 4, scoped: 0, multiVersion: 4, roots: 1, prefix: 'ups', seed: 5, deps: false });
  standin = new StandinRegistry();
  standin.addPackages(set.packages);
  await standin.start();
  name = set.names.find((n) => set.versionsOf(n).length > 1);
  versions = set.versionsOf(name);
  arca = await startArca({ label: 'ca-upstream', upstreamUrl: standin.url });
  aws = new Aws(arca, { label: 'ca-upstream-aws' });
});

after(async () => {
  if (arca) await arca.stop();
  if (standin) await standin.stop?.();
});

const tarball = (v) => `/local/npm/main/${name}/-/${tarballFileName(name, v)}`;

test('an ingested version is listed in the repository with the external connection', { skip }, async () => {
  const v = versions[0];
  const r = await request(arca.url(tarball(v)));
  assert.equal(r.status, 200);
  const pkgs = await aws.ok(['list-packages', '--domain', 'local', '--repository', 'npm-store']);
  assert.deepEqual(pkgs.packages, [{ format: 'npm', package: name,
    originConfiguration: { restrictions: { publish: 'BLOCK', upstream: 'ALLOW' } } }]);
  const listed = await aws.ok(['list-package-versions', '--domain', 'local', '--repository', 'npm-store',
    '--format', 'npm', '--package', name]);
  assert.deepEqual(listed.versions.map((x) => [x.version, x.status, x.origin.originType]), [[v, 'Published', 'EXTERNAL']]);
  assert.deepEqual(listed.versions[0].origin.domainEntryPoint, { externalConnectionName: 'public:npmjs' });
  // Fetched through main: main retains it too, with the same origin (CodeArtifact retention).
  const inMain = await aws.ok(['list-package-versions', '--domain', 'local', '--repository', 'main',
    '--format', 'npm', '--package', name]);
  assert.deepEqual(inMain.versions.map((x) => [x.version, x.status, x.origin.originType]), [[v, 'Published', 'EXTERNAL']]);
  assert.deepEqual(inMain.versions[0].origin.domainEntryPoint, { externalConnectionName: 'public:npmjs' });
  // The control plane looks only at the named repository (not through upstreams): a version
  // never fetched through main is not listed there.
  await aws.fails(['describe-package-version', '--domain', 'local', '--repository', 'main', '--format', 'npm',
    '--package', name, '--package-version', versions[1]], 'ResourceNotFoundException');
});

test('archiving an ingested version hides it from npm although the upstream lists it', { skip }, async () => {
  const v = versions[0];
  // main retained its own copy: archiving the one in npm-store leaves main's listed and served.
  await aws.ok(['update-package-versions-status', '--domain', 'local', '--repository', 'npm-store', '--format', 'npm',
    '--package', name, '--versions', v, '--target-status', 'Archived']);
  const still = JSON.parse((await request(arca.url(`/local/npm/main/${name}`))).body);
  assert.ok(v in still.versions, `${v} is retained in main`);
  assert.equal((await request(arca.url(tarball(v)))).status, 200);
  assert.equal((await request(arca.url(`/local/npm/npm-store/${name}/-/${tarballFileName(name, v)}`))).status, 404);
  await aws.ok(['update-package-versions-status', '--domain', 'local', '--repository', 'npm-store', '--format', 'npm',
    '--package', name, '--versions', v, '--target-status', 'Published']);

  await aws.ok(['update-package-versions-status', '--domain', 'local', '--repository', 'main', '--format', 'npm',
    '--package', name, '--versions', v, '--target-status', 'Archived']);
  const doc = JSON.parse((await request(arca.url(`/local/npm/main/${name}`))).body);
  assert.ok(!(v in doc.versions), `${v} must not be listed`);
  assert.ok(Object.keys(doc.versions).length >= 1, 'the other versions stay');
  assert.ok(!Object.values(doc['dist-tags']).includes(v));
  assert.equal((await request(arca.url(tarball(v)))).status, 404);

  await aws.ok(['update-package-versions-status', '--domain', 'local', '--repository', 'main', '--format', 'npm',
    '--package', name, '--versions', v, '--target-status', 'Published']);
  const again = JSON.parse((await request(arca.url(`/local/npm/main/${name}`))).body);
  assert.ok(v in again.versions);
  assert.equal((await request(arca.url(tarball(v)))).status, 200);
});
