// The CodeArtifact API through @aws-sdk/client-codeartifact (it signs more headers than the
// CLI and sends x-amz-content-sha256): pagination over several pages for every paginated list,
// generic packages, and the error types the SDK maps to exception classes.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startArca } from './lib/arca.mjs';
import { Aws, awsBin, authConfig, loadSdk, sdkClient, ACCOUNT } from './lib/aws.mjs';

const sdk = loadSdk();
const skip = sdk ? false : '@aws-sdk/client-codeartifact is not installed (scripts/setup.sh --test installs it)';

let arca;
let client;

async function collect(paginator) {
  const pages = [];
  for await (const page of paginator) pages.push(page);
  return pages;
}

before(async () => {
  if (skip) return;
  arca = await startArca({ label: 'ca-sdk', config: { auth: authConfig({ allow_unsigned_loopback: false }) } });
  client = sdkClient(sdk, arca);
});

after(async () => arca && arca.stop());

test('domains and repositories over several pages', { skip }, async () => {
  for (const d of ['page-a', 'page-b', 'page-c']) {
    const r = await client.send(new sdk.CreateDomainCommand({ domain: d, tags: [{ key: 'k', value: d }] }));
    assert.equal(r.domain.owner, ACCOUNT);
  }
  const domainPages = await collect(sdk.paginateListDomains({ client, pageSize: 2 }, {}));
  assert.equal(domainPages.length, 2);
  assert.ok(domainPages[0].nextToken);
  assert.deepEqual(domainPages.flatMap((p) => p.domains.map((d) => d.name)), ['local', 'page-a', 'page-b', 'page-c']);

  for (let i = 0; i < 7; i++) {
    await client.send(new sdk.CreateRepositoryCommand({ domain: 'page-a', repository: `repo-${i}`,
      upstreams: i ? [{ repositoryName: `repo-${i - 1}` }] : [] }));
  }
  const repoPages = await collect(sdk.paginateListRepositoriesInDomain({ client, pageSize: 3 }, { domain: 'page-a' }));
  assert.deepEqual(repoPages.map((p) => p.repositories.length), [3, 3, 1]);
  assert.deepEqual(repoPages.flatMap((p) => p.repositories.map((r) => r.name)),
    Array.from({ length: 7 }, (_, i) => `repo-${i}`));
  const allPages = await collect(sdk.paginateListRepositories({ client, pageSize: 4 }, { repositoryPrefix: 'repo' }));
  assert.equal(allPages.flatMap((p) => p.repositories).length, 7);
  assert.equal(allPages.length, 2);

  // The CLI's own paginator over the same API.
  if (awsBin()) {
    const aws = new Aws(arca, { label: 'ca-sdk-cli' });
    const all = await aws.ok(['list-repositories-in-domain', '--domain', 'page-a', '--page-size', '2']);
    assert.equal(all.repositories.length, 7);
    const first = await aws.ok(['list-repositories-in-domain', '--domain', 'page-a', '--max-items', '3']);
    assert.equal(first.repositories.length, 3);
    assert.ok(first.NextToken);
  }
});

test('generic packages and versions over several pages; assets streamed back', { skip }, async () => {
  const base = { domain: 'page-a', repository: 'repo-0', format: 'generic', namespace: 'ns' };
  const blobs = {};
  for (let p = 0; p < 5; p++) {
    for (let v = 0; v < (p === 0 ? 5 : 1); v++) {
      const content = crypto.randomBytes(1000 + p * 10 + v);
      const sha = crypto.createHash('sha256').update(content).digest('hex');
      blobs[`pkg-${p}@1.${v}.0`] = content;
      const r = await client.send(new sdk.PublishPackageVersionCommand({ ...base, package: `pkg-${p}`,
        packageVersion: `1.${v}.0`, assetName: `pkg-${p}.bin`, assetContent: content, assetSHA256: sha }));
      assert.equal(r.status, 'Published');
      assert.equal(r.asset.hashes['SHA-256'], sha);
    }
  }
  const pkgPages = await collect(sdk.paginateListPackages({ client, pageSize: 2 }, { domain: 'page-a', repository: 'repo-0' }));
  assert.deepEqual(pkgPages.map((p) => p.packages.length), [2, 2, 1]);
  assert.deepEqual(pkgPages.flatMap((p) => p.packages.map((x) => x.package)), ['pkg-0', 'pkg-1', 'pkg-2', 'pkg-3', 'pkg-4']);
  const verPages = await collect(sdk.paginateListPackageVersions({ client, pageSize: 2 },
    { ...base, package: 'pkg-0' }));
  assert.equal(verPages.length, 3);
  assert.deepEqual(verPages.flatMap((p) => p.versions.map((v) => v.version)), ['1.0.0', '1.1.0', '1.2.0', '1.3.0', '1.4.0']);
  const byTime = await client.send(new sdk.ListPackageVersionsCommand({ ...base, package: 'pkg-0', sortBy: 'PUBLISHED_TIME' }));
  assert.equal(byTime.versions.length, 5);

  const asset = await client.send(new sdk.GetPackageVersionAssetCommand({ ...base, package: 'pkg-0',
    packageVersion: '1.3.0', asset: 'pkg-0.bin' }));
  const bytes = Buffer.from(await asset.asset.transformToByteArray());
  assert.ok(bytes.equals(blobs['pkg-0@1.3.0']));
  assert.equal(asset.assetName, 'pkg-0.bin');
  assert.equal(asset.packageVersion, '1.3.0');

  const assets = await client.send(new sdk.ListPackageVersionAssetsCommand({ ...base, package: 'pkg-0',
    packageVersion: '1.3.0', maxResults: 1 }));
  assert.equal(assets.assets.length, 1);
  assert.equal(assets.nextToken, undefined);
});

test('errors arrive as the SDK exception classes', { skip }, async () => {
  await assert.rejects(client.send(new sdk.CreateDomainCommand({ domain: 'page-a' })), sdk.ConflictException);
  await assert.rejects(client.send(new sdk.DescribeDomainCommand({ domain: 'absent' })), sdk.ResourceNotFoundException);
  await assert.rejects(client.send(new sdk.DeleteDomainCommand({ domain: 'page-a' })), sdk.ConflictException);
  await assert.rejects(client.send(new sdk.CreateDomainCommand({ domain: 'UPPER' })), sdk.ValidationException);
  await assert.rejects(client.send(new sdk.UpdateRepositoryCommand({ domain: 'page-a', repository: 'repo-0',
    upstreams: [{ repositoryName: 'repo-6' }] })), sdk.ValidationException);
  const bad = sdkClient(sdk, arca, { secret: 'wrong' });
  await assert.rejects(bad.send(new sdk.ListDomainsCommand({})), (e) => e.name === 'InvalidSignatureException' &&
    e.$metadata.httpStatusCode === 403);
  const described = await client.send(new sdk.DescribeDomainCommand({ domain: 'page-a' }));
  assert.equal(described.domain.repositoryCount, 7);
  assert.ok(described.domain.createdTime instanceof Date);
  const tags = await client.send(new sdk.ListTagsForResourceCommand({ resourceArn: described.domain.arn }));
  assert.deepEqual(tags.tags, [{ key: 'k', value: 'page-a' }]);
});
