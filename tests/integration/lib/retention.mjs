// Shared assertions for the retention tests (retention_*.test.mjs): what the CodeArtifact
// control plane, driven by the real AWS CLI (lib/aws.mjs), must show about a package version
// after a package manager fetched it through a chain of repositories.
//
// CodeArtifact (user guide, "Working with upstream repositories"): a version found upstream is
// retained in the requesting repository and, when it came from an external connection, in the
// repository owning that connection; repositories in between keep nothing. The control plane
// looks only at the named repository.
//
//   const ca = new Retention(aws, arca, { format: 'npm' });
//   await ca.assertRetained('app', { package: 'left-pad', version: '1.3.0',
//     entryPoint: { externalConnectionName: 'public:npmjs' }, assets: ['left-pad-1.3.0.tgz'] });
//   await ca.assertAbsent('mid', { package: 'left-pad' });
//   await ca.assertIngestedConfiguration('app', { package: 'left-pad' });
//   await ca.removeUpstreams('app');

import assert from 'node:assert/strict';
import { getJson } from './http.mjs';
import { sleep } from './harness.mjs';

export const DOMAIN = 'local';

export class Retention {
  // aws: an Aws (lib/aws.mjs); arca: the running Arca; format: npm | pypi | maven | nuget.
  constructor(aws, arca, { format, domain = DOMAIN } = {}) {
    this.aws = aws;
    this.arca = arca;
    this.format = format;
    this.domain = domain;
  }

  // CLI arguments naming a package in a repository.
  args(repository, { namespace, package: pkg }) {
    return ['--domain', this.domain, '--repository', repository, '--format', this.format,
      ...(namespace ? ['--namespace', namespace] : []), '--package', pkg];
  }

  // The service persists ingested versions asynchronously (the user guide allows minutes); arca
  // is expected to be quicker. Polls ListPackageVersions over plain HTTP (loopback, unsigned:
  // no access keys are configured) for up to `timeoutMs` until `version` is listed in
  // `repository`; returns whether it was. Never throws: the CLI assertions that follow say what
  // is wrong.
  async waitListed(repository, { namespace, package: pkg, version }, timeoutMs = 5_000) {
    const q = new URLSearchParams({ domain: this.domain, repository, format: this.format, package: pkg });
    if (namespace) q.set('namespace', namespace);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await getJson(this.arca.url(`/v1/package/versions?${q}`), { method: 'POST' });
      if (r.status === 200 && r.json?.versions?.some((v) => v.version === version)) return true;
      if (Date.now() > deadline) return false;
      await sleep(200);
    }
  }

  // `version` of the package is in `repository`: ListPackageVersions lists it Published with
  // the origin `originType` / `entryPoint`; with `describe`, DescribePackageVersion shows the
  // same; with `assets`, ListPackageVersionAssets lists exactly those file names.
  // `onlyVersions`: the full list of versions the repository must hold. (Each CLI run costs
  // about a second: ask for what a test needs.)
  async assertRetained(repository, { namespace, package: pkg, version, originType, entryPoint, assets, onlyVersions,
    describe = false }) {
    const coords = { namespace, package: pkg };
    const where = `${this.format} ${namespace ? `${namespace}/` : ''}${pkg}@${version} in repository ${repository}`;
    await this.waitListed(repository, { ...coords, version });
    const listed = await this.aws.run(['list-package-versions', ...this.args(repository, coords)]);
    assert.equal(listed.code, 0, `${where}: list-package-versions failed, the version was not retained there:\n${listed.stderr}`);
    const versions = JSON.parse(listed.stdout).versions;
    const v = versions.find((x) => x.version === version);
    assert.ok(v, `${where}: not listed; listed: ${JSON.stringify(versions)}`);
    assert.equal(v.status, 'Published', `${where}: status`);
    assert.equal(v.origin?.originType, originType, `${where}: origin ${JSON.stringify(v.origin)}`);
    assert.deepEqual(v.origin?.domainEntryPoint, entryPoint, `${where}: domainEntryPoint`);
    if (onlyVersions) {
      assert.deepEqual(versions.map((x) => x.version).sort(), [...onlyVersions].sort(),
        `${where}: the repository holds only the versions fetched through it`);
    }

    if (describe) {
      const described = await this.aws.ok(['describe-package-version', ...this.args(repository, coords),
        '--package-version', version]);
      assert.equal(described.packageVersion.status, 'Published', `${where}: describe-package-version status`);
      assert.equal(described.packageVersion.origin?.originType, originType, `${where}: describe-package-version origin`);
      assert.deepEqual(described.packageVersion.origin?.domainEntryPoint, entryPoint,
        `${where}: describe-package-version domainEntryPoint`);
    }

    if (assets) {
      const listedAssets = await this.aws.ok(['list-package-version-assets', ...this.args(repository, coords),
        '--package-version', version]);
      assert.deepEqual(listedAssets.assets.map((a) => a.name).sort(), [...assets].sort(), `${where}: assets`);
      for (const a of listedAssets.assets) {
        assert.ok(a.size > 0, `${where}: asset ${a.name} has a size`);
        assert.match(a.hashes?.['SHA-256'] ?? '', /^[0-9a-f]{64}$/, `${where}: asset ${a.name} has a SHA-256`);
      }
    }
    return v;
  }

  // The repository holds nothing of the package: ListPackageVersions is a ResourceNotFound.
  async assertAbsent(repository, coords) {
    const r = await this.aws.run(['list-package-versions', ...this.args(repository, coords)]);
    assert.notEqual(r.code, 0, `${this.format} ${coords.package} must not be retained in ${repository} ` +
      `(an intermediate repository), but it lists: ${r.stdout}`);
    assert.match(r.stderr, /\(ResourceNotFoundException\)/, r.stderr);
  }

  // ListPackages in `repository` lists the package with the origin configuration of a package
  // whose first version was ingested: publish=BLOCK, upstream=ALLOW.
  async assertIngestedConfiguration(repository, { namespace, package: pkg }) {
    const r = await this.aws.run(['list-packages', '--domain', this.domain, '--repository', repository,
      '--format', this.format, ...(namespace ? ['--namespace', namespace] : []), '--package-prefix', pkg]);
    assert.equal(r.code, 0, `list-packages in ${repository} failed:\n${r.stderr}`);
    const pkgs = JSON.parse(r.stdout).packages;
    const entry = pkgs.find((p) => p.package === pkg && (p.namespace ?? '') === (namespace ?? ''));
    assert.ok(entry, `list-packages --repository ${repository} does not list ${pkg}: ${JSON.stringify(pkgs)}`);
    assert.equal(entry.format, this.format);
    assert.deepEqual(entry.originConfiguration, { restrictions: { publish: 'BLOCK', upstream: 'ALLOW' } },
      `${pkg} in ${repository}: its first version arrived from upstream`);
  }

  // UpdateRepository with no upstreams (the CLI's `--upstreams '[]'`).
  async removeUpstreams(repository) {
    const r = await this.aws.ok(['update-repository', '--domain', this.domain, '--repository', repository,
      '--upstreams', '[]']);
    assert.deepEqual(r.repository.upstreams, []);
  }
}

// The three-level chain of the retention tests: `store` owns the external connection, `mid`
// has upstream `store`, `app` has upstream `mid`; plus `extra` repositories.
export function chainRepositories(connection, { store = 'store', extra = [] } = {}) {
  return [
    { name: store, external_connection: connection },
    { name: 'mid', upstreams: [store] },
    { name: 'app', upstreams: ['mid'] },
    ...extra,
  ];
}
