// Package groups through @aws-sdk/client-codeartifact: every package-group operation and its
// errors (duplicate pattern, invalid pattern, the root group, unknown group), origin controls
// with INHERIT and allowed repositories, children re-parented on delete, the groups surviving a
// restart, and the package-level PutPackageOriginConfiguration seen through DescribePackage;
// ListAssociatedPackages preview, tags on package-group ARNs, DeletePackage and DeleteDomain
// forgetting origin configurations and groups, and PublishPackageVersion refused by PUBLISH.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startArca } from './lib/arca.mjs';
import { authConfig, loadSdk, sdkClient } from './lib/aws.mjs';

const sdk = loadSdk();
const skip = sdk ? false : '@aws-sdk/client-codeartifact is not installed (scripts/setup.sh --test installs it)';

let arca;
let client;
const domain = 'groups';

async function collect(paginator) {
  const pages = [];
  for await (const page of paginator) pages.push(page);
  return pages;
}

async function create(pattern, extra = {}) {
  const r = await client.send(new sdk.CreatePackageGroupCommand({ domain, packageGroup: pattern, ...extra }));
  assert.equal(r.packageGroup.pattern, pattern);
  return r.packageGroup;
}

async function publish(format, namespace, pkg) {
  const content = crypto.randomBytes(64);
  const sha = crypto.createHash('sha256').update(content).digest('hex');
  await client.send(new sdk.PublishPackageVersionCommand({ domain, repository: 'repo-a', format, namespace,
    package: pkg, packageVersion: '1.0.0', assetName: `${pkg}.bin`, assetContent: content, assetSHA256: sha }));
}

before(async () => {
  if (skip) return;
  arca = await startArca({ label: 'ca-groups', config: { auth: authConfig({ allow_unsigned_loopback: false }) } });
  client = sdkClient(sdk, arca);
  await client.send(new sdk.CreateDomainCommand({ domain }));
  for (const r of ['repo-a', 'repo-b', 'repo-c']) {
    await client.send(new sdk.CreateRepositoryCommand({ domain, repository: r }));
  }
});

after(async () => arca && arca.stop());

test('the root group exists and cannot be deleted', { skip }, async () => {
  const root = await client.send(new sdk.DescribePackageGroupCommand({ domain, packageGroup: '/*' }));
  assert.equal(root.packageGroup.pattern, '/*');
  assert.equal(root.packageGroup.parent, undefined);
  assert.equal(root.packageGroup.domainName, domain);
  assert.match(root.packageGroup.arn, /^arn:aws:codeartifact:us-east-1:111122223333:package-group\/groups/);
  for (const t of ['PUBLISH', 'EXTERNAL_UPSTREAM', 'INTERNAL_UPSTREAM']) {
    assert.equal(root.packageGroup.originConfiguration.restrictions[t].mode, 'ALLOW');
    assert.equal(root.packageGroup.originConfiguration.restrictions[t].effectiveMode, 'ALLOW');
  }
  await assert.rejects(client.send(new sdk.DeletePackageGroupCommand({ domain, packageGroup: '/*' })),
    sdk.ValidationException);
});

test('create, describe, update; hierarchy and errors', { skip }, async () => {
  const npm = await create('/npm/*', { description: 'all npm', contactInfo: 'team@example.com' });
  assert.equal(npm.parent.pattern, '/*');
  assert.equal(npm.description, 'all npm');
  assert.equal(npm.contactInfo, 'team@example.com');
  assert.equal(npm.originConfiguration.restrictions.PUBLISH.mode, 'INHERIT');
  assert.equal(npm.originConfiguration.restrictions.PUBLISH.effectiveMode, 'ALLOW');
  assert.equal(npm.originConfiguration.restrictions.PUBLISH.inheritedFrom.pattern, '/*');
  assert.ok(npm.createdTime instanceof Date);

  const scope = await create('/npm/space/*');
  assert.equal(scope.parent.pattern, '/npm/*');
  const ui = await create('/npm/space/ui~');
  assert.equal(ui.parent.pattern, '/npm/space/*');
  await create('/npm/space/ui-kit$');
  await create('/pypi//django~');
  await create('/maven/com.anycompany~');

  await assert.rejects(create('/npm/*'), sdk.ConflictException);
  for (const bad of ['/npm', 'npm/*', '/npm/space/ui', '/pypi/ns/*', '/npm/sp*ce/*', '/nope/*', '/npm/space/ui-~']) {
    await assert.rejects(client.send(new sdk.CreatePackageGroupCommand({ domain, packageGroup: bad })),
      sdk.ValidationException, bad);
  }
  await assert.rejects(client.send(new sdk.DescribePackageGroupCommand({ domain, packageGroup: '/cargo/*' })),
    sdk.ResourceNotFoundException);
  await assert.rejects(client.send(new sdk.DescribePackageGroupCommand({ domain: 'absent', packageGroup: '/*' })),
    sdk.ResourceNotFoundException);
  await assert.rejects(client.send(new sdk.UpdatePackageGroupCommand({ domain, packageGroup: '/cargo/*',
    description: 'x' })), sdk.ResourceNotFoundException);

  const updated = await client.send(new sdk.UpdatePackageGroupCommand({ domain, packageGroup: '/npm/space/*',
    description: 'the space scope', contactInfo: 'space@example.com' }));
  assert.equal(updated.packageGroup.description, 'the space scope');
  assert.equal(updated.packageGroup.contactInfo, 'space@example.com');
});

test('list groups with prefix and pages; sub-groups', { skip }, async () => {
  const pages = await collect(sdk.paginateListPackageGroups({ client, pageSize: 2 }, { domain }));
  const all = pages.flatMap((p) => p.packageGroups.map((g) => g.pattern));
  assert.deepEqual(all, ['/*', '/maven/com.anycompany~', '/npm/*', '/npm/space/*', '/npm/space/ui-kit$',
    '/npm/space/ui~', '/pypi//django~']);
  assert.equal(pages.length, 4);
  const npm = await client.send(new sdk.ListPackageGroupsCommand({ domain, prefix: '/npm/' }));
  assert.deepEqual(npm.packageGroups.map((g) => g.pattern),
    ['/npm/*', '/npm/space/*', '/npm/space/ui-kit$', '/npm/space/ui~']);
  const subs = await client.send(new sdk.ListSubPackageGroupsCommand({ domain, packageGroup: '/*' }));
  assert.deepEqual(subs.packageGroups.map((g) => g.pattern), ['/maven/com.anycompany~', '/npm/*', '/pypi//django~']);
  const scopeSubs = await client.send(new sdk.ListSubPackageGroupsCommand({ domain, packageGroup: '/npm/space/*' }));
  assert.deepEqual(scopeSubs.packageGroups.map((g) => g.pattern), ['/npm/space/ui~']);
  await assert.rejects(client.send(new sdk.ListSubPackageGroupsCommand({ domain, packageGroup: '/ruby/*' })),
    sdk.ResourceNotFoundException);
});

test('origin configuration: modes, INHERIT, allowed repositories', { skip }, async () => {
  const r = await client.send(new sdk.UpdatePackageGroupOriginConfigurationCommand({
    domain, packageGroup: '/npm/*',
    restrictions: { PUBLISH: 'BLOCK', EXTERNAL_UPSTREAM: 'ALLOW_SPECIFIC_REPOSITORIES' },
    addAllowedRepositories: [{ originRestrictionType: 'EXTERNAL_UPSTREAM', repositoryName: 'repo-b' },
      { originRestrictionType: 'EXTERNAL_UPSTREAM', repositoryName: 'repo-c' },
      { originRestrictionType: 'INTERNAL_UPSTREAM', repositoryName: 'repo-a' }],
  }));
  const rs = r.packageGroup.originConfiguration.restrictions;
  assert.equal(rs.PUBLISH.mode, 'BLOCK');
  assert.equal(rs.EXTERNAL_UPSTREAM.mode, 'ALLOW_SPECIFIC_REPOSITORIES');
  assert.equal(rs.EXTERNAL_UPSTREAM.repositoriesCount, 2);
  assert.equal(rs.INTERNAL_UPSTREAM.mode, 'INHERIT');
  assert.deepEqual(r.allowedRepositoryUpdates.EXTERNAL_UPSTREAM.ADDED, ['repo-b', 'repo-c']);
  assert.deepEqual(r.allowedRepositoryUpdates.INTERNAL_UPSTREAM.ADDED, ['repo-a']);

  const child = await client.send(new sdk.DescribePackageGroupCommand({ domain, packageGroup: '/npm/space/ui~' }));
  const cr = child.packageGroup.originConfiguration.restrictions;
  assert.equal(cr.PUBLISH.mode, 'INHERIT');
  assert.equal(cr.PUBLISH.effectiveMode, 'BLOCK');
  assert.equal(cr.PUBLISH.inheritedFrom.pattern, '/npm/*');
  assert.equal(cr.EXTERNAL_UPSTREAM.effectiveMode, 'ALLOW_SPECIFIC_REPOSITORIES');

  const listed = await collect(sdk.paginateListAllowedRepositoriesForGroup({ client, pageSize: 1 },
    { domain, packageGroup: '/npm/*', originRestrictionType: 'EXTERNAL_UPSTREAM' }));
  assert.deepEqual(listed.flatMap((p) => p.allowedRepositories), ['repo-b', 'repo-c']);

  const removed = await client.send(new sdk.UpdatePackageGroupOriginConfigurationCommand({
    domain, packageGroup: '/npm/*',
    removeAllowedRepositories: [{ originRestrictionType: 'EXTERNAL_UPSTREAM', repositoryName: 'repo-c' }] }));
  assert.deepEqual(removed.allowedRepositoryUpdates.EXTERNAL_UPSTREAM.REMOVED, ['repo-c']);
  assert.equal(removed.packageGroup.originConfiguration.restrictions.EXTERNAL_UPSTREAM.repositoriesCount, 1);

  await assert.rejects(client.send(new sdk.UpdatePackageGroupOriginConfigurationCommand({
    domain, packageGroup: '/*', restrictions: { PUBLISH: 'INHERIT' } })), sdk.ValidationException);
  await assert.rejects(client.send(new sdk.UpdatePackageGroupOriginConfigurationCommand({
    domain, packageGroup: '/npm/*', restrictions: { PUBLISH: 'MAYBE' } })), sdk.ValidationException);
  await assert.rejects(client.send(new sdk.UpdatePackageGroupOriginConfigurationCommand({
    domain, packageGroup: '/npm/*',
    addAllowedRepositories: [{ originRestrictionType: 'PUBLISH', repositoryName: 'no-such-repo' }] })),
  sdk.ResourceNotFoundException);
  await assert.rejects(client.send(new sdk.UpdatePackageGroupOriginConfigurationCommand({
    domain, packageGroup: '/ruby/*', restrictions: { PUBLISH: 'BLOCK' } })), sdk.ResourceNotFoundException);
  await assert.rejects(client.send(new sdk.ListAllowedRepositoriesForGroupCommand({
    domain, packageGroup: '/ruby/*', originRestrictionType: 'PUBLISH' })), sdk.ResourceNotFoundException);
});

test('associated group and associated packages, STRONG and WEAK', { skip }, async () => {
  const get = (format, namespace, pkg) =>
    client.send(new sdk.GetAssociatedPackageGroupCommand({ domain, format, namespace, package: pkg }));
  let r = await get('npm', 'space', 'ui-kit');
  assert.equal(r.packageGroup.pattern, '/npm/space/ui-kit$');
  assert.equal(r.associationType, 'STRONG');
  r = await get('npm', 'space', 'ui-button');
  assert.equal(r.packageGroup.pattern, '/npm/space/ui~');
  r = await get('npm', 'space', 'UI_Kit');
  assert.equal(r.packageGroup.pattern, '/npm/space/ui-kit$');
  assert.equal(r.associationType, 'WEAK');
  r = await get('pypi', undefined, 'Django_Rest');
  assert.equal(r.packageGroup.pattern, '/pypi//django~');
  assert.equal(r.associationType, 'STRONG');
  r = await get('maven', 'com.anycompany.lib', 'core');
  assert.equal(r.packageGroup.pattern, '/maven/com.anycompany~');
  r = await get('nuget', undefined, 'Anything');
  assert.equal(r.packageGroup.pattern, '/*');

  await publish('generic', 'tools', 'a-tool');
  await publish('generic', 'tools', 'b-tool');
  await create('/generic/tools/*');
  const assoc = await collect(sdk.paginateListAssociatedPackages({ client, pageSize: 1 },
    { domain, packageGroup: '/generic/tools/*', preview: true }));
  assert.deepEqual(assoc.flatMap((p) => p.packages.map((x) => [x.namespace, x.package, x.associationType])),
    [['tools', 'a-tool', 'STRONG'], ['tools', 'b-tool', 'STRONG']]);
  const rootAssoc = await client.send(new sdk.ListAssociatedPackagesCommand({ domain, packageGroup: '/*' }));
  assert.deepEqual(rootAssoc.packages, []);
  await assert.rejects(client.send(new sdk.ListAssociatedPackagesCommand({ domain, packageGroup: '/ruby/*' })),
    sdk.ResourceNotFoundException);
});

test('delete re-parents children; groups survive a restart', { skip }, async () => {
  const deleted = await client.send(new sdk.DeletePackageGroupCommand({ domain, packageGroup: '/npm/space/*' }));
  assert.equal(deleted.packageGroup.pattern, '/npm/space/*');
  const ui = await client.send(new sdk.DescribePackageGroupCommand({ domain, packageGroup: '/npm/space/ui~' }));
  assert.equal(ui.packageGroup.parent.pattern, '/npm/*');
  await assert.rejects(client.send(new sdk.DeletePackageGroupCommand({ domain, packageGroup: '/npm/space/*' })),
    sdk.ResourceNotFoundException);
  await assert.rejects(client.send(new sdk.DeletePackageGroupCommand({ domain, packageGroup: 'bad' })),
    sdk.ValidationException);

  await arca.restart();
  client = sdkClient(sdk, arca);
  const npm = await client.send(new sdk.DescribePackageGroupCommand({ domain, packageGroup: '/npm/*' }));
  assert.equal(npm.packageGroup.description, 'all npm');
  assert.equal(npm.packageGroup.originConfiguration.restrictions.PUBLISH.mode, 'BLOCK');
  assert.equal(npm.packageGroup.originConfiguration.restrictions.EXTERNAL_UPSTREAM.repositoriesCount, 1);
  await assert.rejects(client.send(new sdk.DescribePackageGroupCommand({ domain, packageGroup: '/npm/space/*' })),
    sdk.ResourceNotFoundException);
});

test('package origin configuration: put, then DescribePackage', { skip }, async () => {
  const base = { domain, repository: 'repo-a', format: 'generic', namespace: 'tools', package: 'a-tool' };
  const before = await client.send(new sdk.DescribePackageCommand(base));
  assert.deepEqual(before.package.originConfiguration.restrictions, { publish: 'ALLOW', upstream: 'BLOCK' });
  const put = await client.send(new sdk.PutPackageOriginConfigurationCommand({ ...base,
    restrictions: { publish: 'BLOCK', upstream: 'ALLOW' } }));
  assert.deepEqual(put.originConfiguration.restrictions, { publish: 'BLOCK', upstream: 'ALLOW' });
  const after = await client.send(new sdk.DescribePackageCommand(base));
  assert.deepEqual(after.package.originConfiguration.restrictions, { publish: 'BLOCK', upstream: 'ALLOW' });

  // A package that does not exist yet gets a record (pre-blocking).
  const fresh = { ...base, package: 'not-yet' };
  await client.send(new sdk.PutPackageOriginConfigurationCommand({ ...fresh,
    restrictions: { publish: 'BLOCK', upstream: 'BLOCK' } }));
  const desc = await client.send(new sdk.DescribePackageCommand(fresh));
  assert.deepEqual(desc.package.originConfiguration.restrictions, { publish: 'BLOCK', upstream: 'BLOCK' });
  const blocked = await client.send(new sdk.ListPackagesCommand({ domain, repository: 'repo-a', publish: 'BLOCK' }));
  assert.deepEqual(blocked.packages.map((p) => p.package).sort(), ['a-tool', 'not-yet']);

  await assert.rejects(client.send(new sdk.PutPackageOriginConfigurationCommand({ ...base,
    restrictions: { publish: 'MAYBE', upstream: 'ALLOW' } })), sdk.ValidationException);
  await assert.rejects(client.send(new sdk.PutPackageOriginConfigurationCommand({ ...base, repository: 'absent',
    restrictions: { publish: 'ALLOW', upstream: 'ALLOW' } })), sdk.ResourceNotFoundException);
});

test('ListAssociatedPackages preview: the packages a group would get before it exists', { skip }, async () => {
  await assert.rejects(client.send(new sdk.ListAssociatedPackagesCommand({ domain, packageGroup: '/generic/tools/a~' })),
    sdk.ResourceNotFoundException);
  const preview = await client.send(new sdk.ListAssociatedPackagesCommand({ domain, packageGroup: '/generic/tools/a~', preview: true }));
  assert.deepEqual(preview.packages.map((p) => p.package), ['a-tool']);
  // Nothing was created by the preview.
  await assert.rejects(client.send(new sdk.DescribePackageGroupCommand({ domain, packageGroup: '/generic/tools/a~' })),
    sdk.ResourceNotFoundException);
  const still = await client.send(new sdk.ListAssociatedPackagesCommand({ domain, packageGroup: '/generic/tools/*' }));
  assert.deepEqual(still.packages.map((p) => p.package), ['a-tool', 'b-tool', 'not-yet']);
});

test('tags on package-group ARNs', { skip }, async () => {
  const group = await create('/generic/tagged/*', { tags: [{ key: 'team', value: 'platform' }] });
  const list = async (arn) => (await client.send(new sdk.ListTagsForResourceCommand({ resourceArn: arn }))).tags;
  assert.deepEqual(await list(group.arn), [{ key: 'team', value: 'platform' }]);
  await client.send(new sdk.TagResourceCommand({ resourceArn: group.arn, tags: [{ key: 'cost', value: '42' }] }));
  assert.deepEqual((await list(group.arn)).sort((a, b) => a.key.localeCompare(b.key)),
    [{ key: 'cost', value: '42' }, { key: 'team', value: 'platform' }]);
  await client.send(new sdk.UntagResourceCommand({ resourceArn: group.arn, tagKeys: ['team'] }));
  assert.deepEqual(await list(group.arn), [{ key: 'cost', value: '42' }]);
  const unknown = group.arn.replace('/generic/tagged/*', '/generic/untagged/*');
  await assert.rejects(client.send(new sdk.ListTagsForResourceCommand({ resourceArn: unknown })), sdk.ResourceNotFoundException);
  await assert.rejects(client.send(new sdk.TagResourceCommand({ resourceArn: unknown, tags: [{ key: 'a', value: 'b' }] })),
    sdk.ResourceNotFoundException);
  await arca.restart();
  client = sdkClient(sdk, arca);
  assert.deepEqual(await list(group.arn), [{ key: 'cost', value: '42' }]);
});

test('DeletePackage forgets the package origin configuration; DeleteDomain its groups and configurations', { skip }, async () => {
  const pkg = { domain, repository: 'repo-b', format: 'generic', namespace: 'tools', package: 'c-tool' };
  await client.send(new sdk.PutPackageOriginConfigurationCommand({ ...pkg, restrictions: { publish: 'ALLOW', upstream: 'ALLOW' } }));
  await client.send(new sdk.DeletePackageCommand(pkg));
  await assert.rejects(client.send(new sdk.DescribePackageCommand(pkg)), sdk.ResourceNotFoundException);
  // Published again: the configuration is the new package's, not the deleted one's.
  const content = Buffer.from('c-tool bytes');
  await client.send(new sdk.PublishPackageVersionCommand({ ...pkg, packageVersion: '1.0.0', assetName: 'c.bin',
    assetContent: content, assetSHA256: crypto.createHash('sha256').update(content).digest('hex') }));
  const described = await client.send(new sdk.DescribePackageCommand(pkg));
  assert.deepEqual(described.package.originConfiguration.restrictions, { publish: 'ALLOW', upstream: 'BLOCK' });

  const gone = 'groups-gone';
  await client.send(new sdk.CreateDomainCommand({ domain: gone }));
  await client.send(new sdk.CreateRepositoryCommand({ domain: gone, repository: 'r1' }));
  await client.send(new sdk.CreatePackageGroupCommand({ domain: gone, packageGroup: '/npm/gone/*' }));
  await client.send(new sdk.PutPackageOriginConfigurationCommand({ domain: gone, repository: 'r1', format: 'npm',
    namespace: 'gone', package: 'x', restrictions: { publish: 'BLOCK', upstream: 'BLOCK' } }));
  await client.send(new sdk.DeleteRepositoryCommand({ domain: gone, repository: 'r1' }));
  await client.send(new sdk.DeleteDomainCommand({ domain: gone }));
  await client.send(new sdk.CreateDomainCommand({ domain: gone }));
  await client.send(new sdk.CreateRepositoryCommand({ domain: gone, repository: 'r1' }));
  const groups = await client.send(new sdk.ListPackageGroupsCommand({ domain: gone }));
  assert.deepEqual(groups.packageGroups.map((g) => g.pattern), ['/*']);
  await assert.rejects(client.send(new sdk.DescribePackageGroupCommand({ domain: gone, packageGroup: '/npm/gone/*' })),
    sdk.ResourceNotFoundException);
  await assert.rejects(client.send(new sdk.DescribePackageCommand({ domain: gone, repository: 'r1', format: 'npm',
    namespace: 'gone', package: 'x' })), sdk.ResourceNotFoundException);
  // The re-created domain's groups survive a restart without the old ones coming back.
  await arca.restart();
  client = sdkClient(sdk, arca);
  const after = await client.send(new sdk.ListPackageGroupsCommand({ domain: gone }));
  assert.deepEqual(after.packageGroups.map((g) => g.pattern), ['/*']);
});

test('DeleteRepository takes the repository off groups\' allowed lists: a new one of that name starts without', { skip }, async () => {
  const d = 'groups-repo-gone';
  await client.send(new sdk.CreateDomainCommand({ domain: d }));
  await client.send(new sdk.CreateRepositoryCommand({ domain: d, repository: 'trusted' }));
  await client.send(new sdk.CreatePackageGroupCommand({ domain: d, packageGroup: '/npm/corp/*' }));
  await client.send(new sdk.UpdatePackageGroupOriginConfigurationCommand({ domain: d, packageGroup: '/npm/corp/*',
    restrictions: { PUBLISH: 'ALLOW_SPECIFIC_REPOSITORIES' },
    addAllowedRepositories: [{ originRestrictionType: 'PUBLISH', repositoryName: 'trusted' }] }));
  const allowed = async () => (await client.send(new sdk.ListAllowedRepositoriesForGroupCommand({ domain: d,
    packageGroup: '/npm/corp/*', originRestrictionType: 'PUBLISH' }))).allowedRepositories;
  assert.deepEqual(await allowed(), ['trusted']);
  await client.send(new sdk.DeleteRepositoryCommand({ domain: d, repository: 'trusted' }));
  await client.send(new sdk.CreateRepositoryCommand({ domain: d, repository: 'trusted' }));
  assert.deepEqual(await allowed(), []);
  const described = await client.send(new sdk.DescribePackageGroupCommand({ domain: d, packageGroup: '/npm/corp/*' }));
  assert.equal(described.packageGroup.originConfiguration.restrictions.PUBLISH.repositoriesCount, 0);
  // And it stays so after a restart (the change is persisted).
  await arca.restart();
  client = sdkClient(sdk, arca);
  assert.deepEqual(await allowed(), []);
});

test('PublishPackageVersion obeys PUBLISH and package-level publish=BLOCK', { skip }, async () => {
  const content = Buffer.from('generic bytes');
  const sha = crypto.createHash('sha256').update(content).digest('hex');
  const put = (repository, pkg, version) => client.send(new sdk.PublishPackageVersionCommand({ domain, repository,
    format: 'generic', namespace: 'guarded', package: pkg, packageVersion: version, assetName: 'g.bin',
    assetContent: content, assetSHA256: sha }));
  await create('/generic/guarded/*');
  await client.send(new sdk.UpdatePackageGroupOriginConfigurationCommand({ domain, packageGroup: '/generic/guarded/*',
    restrictions: { PUBLISH: 'ALLOW_SPECIFIC_REPOSITORIES' },
    addAllowedRepositories: [{ originRestrictionType: 'PUBLISH', repositoryName: 'repo-c' }] }));
  await assert.rejects(put('repo-a', 'g', '1.0.0'), (e) => e instanceof sdk.AccessDeniedException &&
    /PUBLISH origin control of package group \/generic\/guarded\/\*/.test(e.message));
  await put('repo-c', 'g', '1.0.0');
  await client.send(new sdk.PutPackageOriginConfigurationCommand({ domain, repository: 'repo-c', format: 'generic',
    namespace: 'guarded', package: 'g', restrictions: { publish: 'BLOCK', upstream: 'BLOCK' } }));
  await assert.rejects(put('repo-c', 'g', '1.0.1'), (e) => e instanceof sdk.AccessDeniedException &&
    /origin configuration of package g in repository repo-c \(publish=BLOCK\)/.test(e.message));
});
