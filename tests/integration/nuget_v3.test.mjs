// The NuGet V3 API, request by request as the NuGet client issues them (no dotnet SDK is
// installable here): service index -> flat container index -> nupkg / nuspec; registration
// index, inlined and separate pages, leaves; search and autocomplete; push then restore; unlist.
// arca proxies a stand-in V3 upstream on loopback serving real nupkgs built by the tests.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { startArca } from './lib/arca.mjs';
import { request, getJson, decodeBody } from './lib/http.mjs';
import { buildNupkg, startNugetUpstream, nugetConfig, v3Index, sha512Base64, unzip } from './lib/nuget.mjs';

// The multipart body `dotnet nuget push` sends (one part named "package").
function pushBody(nupkg, boundary = 'arca-nuget-boundary-7d1') {
  const head = Buffer.from(`--${boundary}\r\nContent-Type: application/octet-stream\r\n` +
    'Content-Disposition: form-data; name=package; filename=package.nupkg; filename*=utf-8\'\'package.nupkg\r\n\r\n');
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return { body: Buffer.concat([head, nupkg, tail]), contentType: `multipart/form-data; boundary="${boundary}"` };
}

async function token(arca) {
  const r = await request(arca.url('/v1/authorization-token?domain=local'), { method: 'POST', body: '{}',
    headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 200, r.body.toString());
  return JSON.parse(r.body.toString()).authorizationToken;
}

const resource = (index, type) => index.resources.find((r) => r['@type'] === type)?.['@id'];

describe('NuGet V3 through arca', { timeout: 60_000 }, () => {
  let up;
  let arca;
  let index;
  let key;
  const nupkgOf = new Map();

  before(async () => {
    up = await startNugetUpstream({
      packages: [
        { id: 'Up.Lib', version: '1.0.0', tags: 'json parsing' },
        { id: 'Up.Lib', version: '1.1.0-beta', dependencies: [{ id: 'Up.Dep', range: '[1.0.0, )', targetFramework: 'netstandard2.0' }] },
        { id: 'Up.Lib', version: '2.0.0', dependencies: [{ id: 'Up.Dep', range: '1.0.0', targetFramework: 'netstandard2.0' }] },
        { id: 'Up.Lib', version: '0.9.0', listed: false },
        { id: 'Up.Dep', version: '1.0.0' },
        { id: 'Up.Sem', version: '1.0.0-alpha.1' },
      ],
    });
    for (let i = 0; i < 130; i++) up.addPackage({ id: 'Up.Many', version: `1.0.${i}` });
    arca = await startArca({ label: 'nuget-v3', config: nugetConfig(up.indexUrl) });
    const r = await getJson(v3Index(arca.baseUrl));
    assert.equal(r.status, 200);
    index = r.json;
    key = await token(arca);
  });

  test('the service index names the resources NuGet needs, all under arca', async () => {
    assert.equal(index.version, '3.0.0');
    for (const type of ['PackageBaseAddress/3.0.0', 'RegistrationsBaseUrl', 'RegistrationsBaseUrl/3.4.0',
      'RegistrationsBaseUrl/3.6.0', 'RegistrationsBaseUrl/Versioned', 'SearchQueryService',
      'SearchQueryService/3.5.0', 'SearchAutocompleteService', 'PackagePublish/2.0.0']) {
      const url = resource(index, type);
      assert.ok(url, `missing ${type}`);
      assert.ok(url.startsWith(`${arca.baseUrl}/local/nuget/main/v3/`), url);
    }
    // The aliases NuGet clients of every age look for, each with a comment.
    for (const type of ['RegistrationsBaseUrl/3.0.0-beta', 'RegistrationsBaseUrl/3.0.0-rc',
      'SearchQueryService/3.0.0-beta', 'SearchQueryService/3.0.0-rc', 'SearchAutocompleteService/3.0.0-beta',
      'SearchAutocompleteService/3.0.0-rc', 'SearchAutocompleteService/3.5.0']) {
      assert.ok(resource(index, type), `missing ${type}`);
    }
    for (const r of index.resources) assert.equal(typeof r.comment, 'string', r['@type']);
    assert.equal(index.resources.find((r) => r['@type'] === 'RegistrationsBaseUrl/Versioned').clientVersion, '4.3.0-alpha');
    // SemVer 1.0.0 hives and the SemVer 2.0.0 one are different documents.
    assert.notEqual(resource(index, 'RegistrationsBaseUrl/3.4.0'), resource(index, 'RegistrationsBaseUrl/3.6.0'));
    assert.equal(resource(index, 'RegistrationsBaseUrl/Versioned'), resource(index, 'RegistrationsBaseUrl/3.6.0'));
    // Absolute URLs on the origin the client used (its Host header).
    const viaName = await getJson(v3Index(arca.baseUrl), { headers: { host: 'nuget.example.test:8443' } });
    assert.equal(viaName.status, 200);
    for (const r of viaName.json.resources) {
      assert.ok(r['@id'].startsWith('http://nuget.example.test:8443/local/nuget/main/v3/'), r['@id']);
    }
  });

  test('flat container and registration answer HEAD as GET, without a body', async () => {
    const flat = resource(index, 'PackageBaseAddress/3.0.0');
    const head = await request(`${flat}up.lib/index.json`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.match(head.headers['content-type'], /^application\/json/);
    assert.equal(head.body.length, 0);
    const nupkg = await request(`${flat}up.lib/1.0.0/up.lib.1.0.0.nupkg`, { method: 'HEAD' });
    assert.equal(nupkg.status, 200);
    assert.equal(nupkg.headers['content-type'], 'application/octet-stream');
    assert.equal(nupkg.body.length, 0);
    assert.equal((await request(`${flat}no.such.package/index.json`, { method: 'HEAD' })).status, 404);
    assert.equal((await request(`${flat}up.lib/7.7.7/up.lib.7.7.7.nupkg`, { method: 'HEAD' })).status, 404);
    const reg = await request(`${resource(index, 'RegistrationsBaseUrl')}up.lib/index.json`, { method: 'HEAD' });
    assert.equal(reg.status, 200);
    assert.equal(reg.body.length, 0);
  });

  test('flat container: index.json (lower case, normalized, ascending), nupkg, nuspec; one upstream fetch', async () => {
    const flat = resource(index, 'PackageBaseAddress/3.0.0');
    const r = await getJson(`${flat}up.lib/index.json`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.versions, ['0.9.0', '1.0.0', '1.1.0-beta', '2.0.0']);
    // Ids are case-insensitive.
    const mixed = await getJson(`${flat}Up.Lib/index.json`);
    assert.deepEqual(mixed.json.versions, r.json.versions);

    const url = `${flat}up.lib/2.0.0/up.lib.2.0.0.nupkg`;
    const pkg = await request(url);
    assert.equal(pkg.status, 200);
    assert.ok(pkg.body.equals(up.entry('Up.Lib', '2.0.0').nupkg));
    const again = await request(url);
    assert.ok(again.body.equals(pkg.body));
    assert.equal(up.count('up.lib.2.0.0.nupkg'), 1, 'the second download comes from the store');

    const spec = await request(`${flat}up.lib/2.0.0/up.lib.nuspec`);
    assert.equal(spec.status, 200);
    assert.match(spec.body.toString(), /<id>Up\.Lib<\/id>/);
    // The nuspec of a version not stored yet comes from the upstream once, then from the cache.
    const upstreamNuspec = (r) => r.path.endsWith('up.lib/0.9.0/up.lib.nuspec');
    for (let i = 0; i < 3; i++) {
      const s = await request(`${flat}up.lib/0.9.0/up.lib.nuspec`);
      assert.equal(s.status, 200);
      assert.match(s.body.toString(), /<version>0\.9\.0<\/version>/);
    }
    assert.equal(up.count(upstreamNuspec), 1, 'one upstream fetch of the 0.9.0 nuspec');
    const missing = await request(`${flat}no.such.package/index.json`);
    assert.equal(missing.status, 404);
    // Unknown versions of a known id: 404 for the nupkg and the nuspec.
    assert.equal((await request(`${flat}up.lib/7.7.7/up.lib.7.7.7.nupkg`)).status, 404);
    assert.equal((await request(`${flat}up.lib/7.7.7/up.lib.nuspec`)).status, 404);
    // Unlisted versions stay in the flat container index (it lists every downloadable version).
    assert.ok(r.json.versions.includes('0.9.0'));
  });

  test('concurrent downloads of one nupkg share one upstream fetch', async () => {
    const flat = resource(index, 'PackageBaseAddress/3.0.0');
    const url = `${flat}up.lib/1.0.0/up.lib.1.0.0.nupkg`;
    const rs = await Promise.all(Array.from({ length: 8 }, () => request(url)));
    for (const r of rs) {
      assert.equal(r.status, 200);
      assert.ok(r.body.equals(up.entry('Up.Lib', '1.0.0').nupkg));
    }
    assert.equal(up.count('up.lib.1.0.0.nupkg'), 1);
  });

  test('concurrent first requests for one id share one upstream registration fetch', async () => {
    const flat = resource(index, 'PackageBaseAddress/3.0.0');
    const rs = await Promise.all(Array.from({ length: 8 }, () => getJson(`${flat}up.dep/index.json`)));
    for (const r of rs) assert.deepEqual(r.json.versions, ['1.0.0']);
    assert.equal(up.count('registration-semver2/up.dep/index.json'), 1);
  });

  test('registration: inlined pages with catalogEntry, dependencyGroups, listed, packageContent; gzip hives always gzip', async () => {
    const base = resource(index, 'RegistrationsBaseUrl/3.6.0');
    const r = await request(`${base}up.lib/index.json`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-encoding'], 'gzip');
    const doc = JSON.parse(zlib.gunzipSync(r.body).toString());
    assert.equal(doc.count, 1);
    const page = doc.items[0];
    assert.equal(page.lower, '0.9.0');
    assert.equal(page.upper, '2.0.0');
    assert.equal(page.items.length, 4);
    const leaf = page.items.find((i) => i.catalogEntry.version === '2.0.0');
    assert.equal(leaf.catalogEntry.id, 'Up.Lib');
    assert.equal(leaf.catalogEntry.listed, true);
    assert.equal(leaf.packageContent, `${resource(index, 'PackageBaseAddress/3.0.0')}up.lib/2.0.0/up.lib.2.0.0.nupkg`);
    const group = leaf.catalogEntry.dependencyGroups[0];
    assert.equal(group.targetFramework, 'netstandard2.0');
    assert.equal(group.dependencies[0].id, 'Up.Dep');
    assert.equal(group.dependencies[0].range, '[1.0.0, )');
    assert.equal(group.dependencies[0].registration, `${base}up.dep/index.json`);
    // The fields NuGet.Protocol reads from an index, a page and a leaf.
    assert.equal(doc['@id'], `${base}up.lib/index.json`);
    assert.equal(page.parent, doc['@id']);
    assert.equal(page.count, 4);
    assert.equal(leaf['@type'], 'Package');
    assert.equal(leaf.registration, doc['@id']);
    assert.match(leaf['@id'], /\/up\.lib\/2\.0\.0\.json$/);
    for (const k of ['@id', 'authors', 'description', 'published', 'packageContent']) assert.ok(k in leaf.catalogEntry, k);
    assert.ok(Array.isArray(leaf.catalogEntry.tags));
    assert.equal(typeof leaf.catalogEntry.requireLicenseAcceptance, 'boolean');
    assert.deepEqual(page.items.map((i) => i.catalogEntry.version), ['0.9.0', '1.0.0', '1.1.0-beta', '2.0.0']);
    assert.equal(page.items.find((i) => i.catalogEntry.version === '0.9.0').catalogEntry.listed, false);
    // The leaf document.
    const l = await getJson(leaf['@id']);
    assert.equal(l.status, 200);
    assert.equal(l.json.packageContent, leaf.packageContent);
    // The gz hives are gzip whatever the client sends (NuGet documents them as compressed);
    // the documents are the same.
    for (const type of ['RegistrationsBaseUrl/3.4.0', 'RegistrationsBaseUrl/3.6.0']) {
      const noAsk = await getJson(`${resource(index, type)}up.lib/index.json`);
      assert.equal(noAsk.status, 200);
      assert.equal(noAsk.headers['content-encoding'], 'gzip', type);
      assert.equal(noAsk.json.items[0].items.length, 4);
    }
    const gzLeaf = await request(leaf['@id']);
    assert.equal(gzLeaf.headers['content-encoding'], 'gzip');
    // The plain hive (RegistrationsBaseUrl) is never compressed, even when gzip is accepted.
    const plain = await getJson(`${resource(index, 'RegistrationsBaseUrl')}up.lib/index.json`,
      { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.json.items[0].items.length, 4);
    // The flat container index is gzip only when asked.
    const flat = resource(index, 'PackageBaseAddress/3.0.0');
    assert.equal((await request(`${flat}up.lib/index.json`)).headers['content-encoding'], undefined);
    assert.equal((await request(`${flat}up.lib/index.json`, { headers: { 'accept-encoding': 'gzip' } }))
      .headers['content-encoding'], 'gzip');
  });

  test('registration: more than 128 versions are separate pages with lower/upper', async () => {
    const base = resource(index, 'RegistrationsBaseUrl/3.6.0');
    const r = await getJson(`${base}up.many/index.json`);
    assert.equal(r.status, 200);
    assert.equal(r.json.count, 3);
    const seen = [];
    for (const page of r.json.items) {
      assert.equal(page.items, undefined, 'pages are not inlined');
      assert.equal(page.parent, undefined, 'parent only appears on pages with items');
      const p = await getJson(page['@id']);
      assert.equal(p.status, 200, page['@id']);
      assert.equal(p.json.lower, page.lower);
      assert.equal(p.json.upper, page.upper);
      assert.equal(p.json.items.length, page.count);
      assert.equal(p.json.parent, r.json['@id']);
      assert.deepEqual(p.json.items.map((i) => i.catalogEntry.version),
        [...p.json.items.map((i) => i.catalogEntry.version)].sort((a, b) => Number(a.split('.')[2]) - Number(b.split('.')[2])));
      seen.push(...p.json.items.map((i) => i.catalogEntry.version));
    }
    assert.equal(seen.length, 130);
    assert.equal(seen[0], '1.0.0');
    assert.equal(seen[129], '1.0.129');
  });

  test('SemVer 2.0 packages only where the client asks for them', async () => {
    const semver1 = await getJson(`${resource(index, 'RegistrationsBaseUrl')}up.sem/index.json`);
    assert.equal(semver1.status, 404);
    const semver2 = await getJson(`${resource(index, 'RegistrationsBaseUrl/3.6.0')}up.sem/index.json`);
    assert.equal(semver2.status, 200);
    const versions = JSON.parse(decodeBody(semver2).toString()).items[0].items.map((i) => i.catalogEntry.version);
    assert.deepEqual(versions, ['1.0.0-alpha.1']);
    // Cache it so search sees it.
    const flat = resource(index, 'PackageBaseAddress/3.0.0');
    assert.equal((await request(`${flat}up.sem/1.0.0-alpha.1/up.sem.1.0.0-alpha.1.nupkg`)).status, 200);
    const query = resource(index, 'SearchQueryService/3.5.0');
    const hidden = await getJson(`${query}?q=up.sem&prerelease=true`);
    assert.equal(hidden.json.totalHits, 0);
    const shown = await getJson(`${query}?q=up.sem&prerelease=true&semVerLevel=2.0.0`);
    assert.equal(shown.json.totalHits, 1);
    assert.equal(shown.json.data[0].version, '1.0.0-alpha.1');
  });

  test('push, then restore, search, autocomplete; a duplicate is 409; DELETE unlists', async () => {
    const publish = resource(index, 'PackagePublish/2.0.0');
    const nupkg = buildNupkg({ id: 'My.Pushed', version: '1.02.0.0+build.5', tags: 'internal tools',
      dependencies: [{ id: 'Up.Lib', range: '2.0.0' }] });
    nupkgOf.set('my.pushed', nupkg);
    const { body, contentType } = pushBody(nupkg);
    const pushed = await request(publish, { method: 'PUT', body,
      headers: { 'content-type': contentType, 'x-nuget-apikey': key, 'X-NuGet-Client-Version': '6.8.0' } });
    assert.equal(pushed.status, 201, pushed.body.toString());

    // Restore: flat container index, then the nupkg.
    const flat = resource(index, 'PackageBaseAddress/3.0.0');
    const versions = await getJson(`${flat}my.pushed/index.json`);
    assert.deepEqual(versions.json.versions, ['1.2.0']);
    const got = await request(`${flat}my.pushed/1.2.0/my.pushed.1.2.0.nupkg`);
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(nupkg));
    const spec = await request(`${flat}my.pushed/1.2.0/my.pushed.nuspec`);
    assert.equal(spec.status, 200);
    assert.ok(spec.body.equals(unzip(nupkg).get('My.Pushed.nuspec')));

    // Registration shows it with its hash and dependency.
    const reg = await getJson(`${resource(index, 'RegistrationsBaseUrl/3.6.0')}my.pushed/index.json`);
    const entry = reg.json.items[0].items[0].catalogEntry;
    assert.equal(entry.id, 'My.Pushed');
    assert.equal(entry.version, '1.2.0');
    assert.equal(entry.packageHash, sha512Base64(nupkg));
    assert.equal(entry.dependencyGroups[0].dependencies[0].range, '[2.0.0, )');

    // Search over what the repository holds and has cached. Build metadata makes the package
    // SemVer 2.0: only clients that send semVerLevel=2.0.0 see it.
    const query = resource(index, 'SearchQueryService');
    assert.equal((await getJson(`${query}?q=internal&take=10`)).json.totalHits, 0);
    const s = await getJson(`${query}?q=internal&take=10&semVerLevel=2.0.0`);
    assert.equal(s.status, 200);
    assert.deepEqual(s.json.data.map((d) => d.id), ['My.Pushed']);
    assert.equal(s.json.data[0].versions[0].version, '1.2.0');
    const all = await getJson(`${query}?q=&skip=0&take=100&prerelease=false&semVerLevel=2.0.0`);
    const ids = all.json.data.map((d) => d.id);
    assert.ok(ids.includes('My.Pushed') && ids.includes('Up.Lib'), ids.join(','));
    assert.ok(!all.json.data.find((d) => d.id === 'Up.Lib').versions.some((v) => v.version.includes('-')));
    const paged = await getJson(`${query}?q=&skip=1&take=1&semVerLevel=2.0.0`);
    assert.equal(paged.json.data.length, 1);
    assert.equal(paged.json.totalHits, all.json.totalHits);
    const auto = await getJson(`${resource(index, 'SearchAutocompleteService')}?q=my.&semVerLevel=2.0.0`);
    assert.deepEqual(auto.json.data, ['My.Pushed']);
    // Autocomplete compares q with ids only: a tag matches in search, not here.
    const autoTag = await getJson(`${resource(index, 'SearchAutocompleteService/3.5.0')}?q=internal&semVerLevel=2.0.0`);
    assert.equal(autoTag.status, 200);
    assert.deepEqual(autoTag.json, { totalHits: 0, data: [] });
    // A search result carries what NuGet.Protocol's search metadata reads.
    const item = s.json.data[0];
    assert.equal(item['@type'], 'Package');
    assert.equal(item.registration, `${resource(index, 'RegistrationsBaseUrl/3.6.0')}my.pushed/index.json`);
    assert.equal(item.version, '1.2.0');
    assert.deepEqual(item.tags, ['internal', 'tools']);
    assert.deepEqual(item.packageTypes, [{ name: 'Dependency' }]);
    for (const k of ['description', 'summary', 'title', 'authors', 'owners', 'totalDownloads', 'verified']) assert.ok(k in item, k);
    const leafDoc = await getJson(item.versions[0]['@id']);
    assert.equal(leafDoc.status, 200, item.versions[0]['@id']);
    assert.equal(item.versions[0].downloads, 0);
    const autoVersions = await getJson(`${resource(index, 'SearchAutocompleteService')}?id=my.pushed&semVerLevel=2.0.0`);
    assert.deepEqual(autoVersions.json.data, ['1.2.0']);

    // The same version again: 409, and the stored package is unchanged.
    const again = pushBody(buildNupkg({ id: 'my.pushed', version: '1.2.0', description: 'different' }));
    const dup = await request(publish, { method: 'PUT', body: again.body,
      headers: { 'content-type': again.contentType, 'x-nuget-apikey': key } });
    assert.equal(dup.status, 409, dup.body.toString());
    assert.ok((await request(`${flat}my.pushed/1.2.0/my.pushed.1.2.0.nupkg`)).body.equals(nupkg));

    // DELETE unlists: hidden from search, still restorable, listed=false in the registration.
    const del = await request(`${publish}/My.Pushed/1.2.0`, { method: 'DELETE', headers: { 'x-nuget-apikey': key } });
    assert.equal(del.status, 204, del.body.toString());
    const afterSearch = await getJson(`${query}?q=internal&semVerLevel=2.0.0`);
    assert.equal(afterSearch.json.totalHits, 0);
    const afterReg = await getJson(`${resource(index, 'RegistrationsBaseUrl/3.6.0')}my.pushed/index.json`);
    assert.equal(afterReg.json.items[0].items[0].catalogEntry.listed, false);
    assert.equal((await request(`${flat}my.pushed/1.2.0/my.pushed.1.2.0.nupkg`)).status, 200);
    // Unlisting twice still succeeds; an unknown version is a 404.
    assert.equal((await request(`${publish}/my.pushed/1.2.0`, { method: 'DELETE', headers: { 'x-nuget-apikey': key } })).status, 204);
    assert.equal((await request(`${publish}/my.pushed/9.9.9`, { method: 'DELETE', headers: { 'x-nuget-apikey': key } })).status, 404);

    // POST relists (PackagePublish/2.0.0): 200, back in search and listed in the registration.
    // On this open loopback listener (no access keys, anonymous writes on) no key is anonymous,
    // as for npm and twine: the relist is allowed (listeners with access keys: nuget_v2 and below).
    assert.equal((await request(`${publish}/my.pushed/1.2.0`, { method: 'POST' })).status, 200,
      'an anonymous relist on an open loopback listener');
    const relist = await request(`${publish}/MY.PUSHED/1.02.0`, { method: 'POST', headers: { 'x-nuget-apikey': key } });
    assert.equal(relist.status, 200, relist.body.toString());
    assert.equal((await getJson(`${query}?q=internal&semVerLevel=2.0.0`)).json.totalHits, 1);
    const relisted = await getJson(`${resource(index, 'RegistrationsBaseUrl/3.6.0')}my.pushed/index.json`);
    assert.equal(relisted.json.items[0].items[0].catalogEntry.listed, true);
    assert.equal((await request(`${publish}/my.pushed/1.2.0`, { method: 'POST', headers: { 'x-nuget-apikey': key } })).status, 200,
      'relisting a listed version succeeds');
    assert.equal((await request(`${publish}/my.pushed/9.9.9`, { method: 'POST', headers: { 'x-nuget-apikey': key } })).status, 404);
    // The V2 push URL takes the same DELETE and POST (NuGet's V2 and V3 push protocol is one).
    const v2 = `${arca.baseUrl}/local/nuget/main/api/v2/package/My.Pushed/1.2.0`;
    assert.equal((await request(v2, { method: 'POST', headers: { 'x-nuget-apikey': key } })).status, 200);
    // Unlisted again for the next test.
    assert.equal((await request(v2, { method: 'DELETE', headers: { 'x-nuget-apikey': key } })).status, 204);
    assert.equal((await getJson(`${query}?q=internal&semVerLevel=2.0.0`)).json.totalHits, 0);
  });

  test('push as NuGet.Protocol does: to the PackagePublish URL with a trailing slash; packageType in search', async () => {
    // PackageUpdateResource appends '/' to the PackagePublish @id and sends its protocol headers.
    const publish = `${resource(index, 'PackagePublish/2.0.0')}/`;
    const tool = buildNupkg({ id: 'My.Tool', version: '3.0.0', description: 'a command-line tool',
      extraNuspec: '    <packageTypes><packageType name="DotnetTool" /></packageTypes>\n' });
    const { body, contentType } = pushBody(tool);
    const pushed = await request(publish, { method: 'PUT', body, headers: { 'content-type': contentType,
      'x-nuget-apikey': key, 'X-NuGet-Protocol-Version': '4.1.0', 'X-NuGet-Session-Id': 'abc' } });
    assert.equal(pushed.status, 201, pushed.body.toString());
    const query = resource(index, 'SearchQueryService/3.5.0');
    const tools = await getJson(`${query}?q=&packageType=DotnetTool&semVerLevel=2.0.0`);
    assert.equal(tools.status, 200);
    assert.deepEqual(tools.json.data.map((d) => d.id), ['My.Tool']);
    assert.deepEqual(tools.json.data[0].packageTypes, [{ name: 'DotnetTool' }]);
    const deps = await getJson(`${query}?q=&take=100&packageType=dependency&semVerLevel=2.0.0`);
    const depIds = deps.json.data.map((d) => d.id);
    assert.ok(!depIds.includes('My.Tool') && depIds.includes('Up.Lib'), depIds.join(','));
    const auto = await getJson(`${resource(index, 'SearchAutocompleteService/3.5.0')}?q=my&packageType=DotnetTool`);
    assert.deepEqual(auto.json.data, ['My.Tool']);
    // A malformed escape in the query is a 400, not a guess.
    assert.equal((await request(`${query}?q=%zz`)).status, 400);
  });

  test('the CodeArtifact API lists NuGet packages from the same records', async () => {
    const r = await getJson(arca.url('/v1/package/versions?domain=local&repository=main&format=nuget&package=my.pushed'),
      { method: 'POST' });
    assert.equal(r.status, 200, r.body.toString());
    assert.deepEqual(r.json.versions.map((v) => v.version), ['1.2.0']);
    assert.equal(r.json.versions[0].status, 'Unlisted');
    // Names and versions in any case and form; displayName keeps the id as published.
    const d = await getJson(arca.url('/v1/package/version?domain=local&repository=main&format=nuget&package=MY.PUSHED&version=1.02'));
    assert.equal(d.status, 200, d.body.toString());
    assert.equal(d.json.packageVersion.packageName, 'my.pushed');
    assert.equal(d.json.packageVersion.displayName, 'My.Pushed');
    assert.equal(d.json.packageVersion.version, '1.2.0');
    const cached = await getJson(arca.url('/v1/package/versions?domain=local&repository=nuget-store&format=nuget&package=up.lib'),
      { method: 'POST' });
    assert.equal(cached.status, 200, cached.body.toString());
    assert.ok(cached.json.versions.some((v) => v.version === '2.0.0' && v.origin.originType === 'EXTERNAL'));
  });
});

describe('NuGet V3 upstream freshness', { timeout: 60_000 }, () => {
  test('the upstream is re-read after its TTL and served stale when it fails', async () => {
    const up = await startNugetUpstream({ packages: [{ id: 'Fresh.Pkg', version: '1.0.0' }] });
    const config = { ...nugetConfig(up.indexUrl, { ttlSeconds: 0 }), upstream: { read_timeout_ms: 500 } };
    const arca = await startArca({ label: 'nuget-v3-fresh', config });
    const flat = `${arca.baseUrl}/local/nuget/main/v3/flatcontainer/`;
    assert.deepEqual((await getJson(`${flat}fresh.pkg/index.json`)).json.versions, ['1.0.0']);
    up.addPackage({ id: 'Fresh.Pkg', version: '1.1.0' });
    assert.deepEqual((await getJson(`${flat}fresh.pkg/index.json`)).json.versions, ['1.0.0', '1.1.0']);
    // The upstream now fails: the last copy is served.
    up.override('v3/registration-semver2/fresh.pkg/index.json', { status: 500, body: 'down' });
    const stale = await getJson(`${flat}fresh.pkg/index.json`);
    assert.equal(stale.status, 200);
    assert.deepEqual(stale.json.versions, ['1.0.0', '1.1.0']);
    // An upstream that accepts and never answers: the same, after the read timeout.
    up.clearOverrides();
    up.hang(true);
    const hung = await getJson(`${flat}fresh.pkg/index.json`);
    assert.equal(hung.status, 200);
    assert.deepEqual(hung.json.versions, ['1.0.0', '1.1.0']);
    up.hang(false);
    // Never seen and the upstream fails: an error, not "no such package".
    up.override('v3/registration-semver2/other.pkg/index.json', { status: 500, body: 'down' });
    const unknown = await getJson(`${flat}other.pkg/index.json`);
    assert.equal(unknown.status, 502);
  });
});

describe('NuGet V3 upstream documents', { timeout: 60_000 }, () => {
  test('gzip registrations and pages that are not inlined are read; the declared hash is checked', async () => {
    const up = await startNugetUpstream({ gzip: true, packages: [
      { id: 'Paged.Pkg', version: '1.0.0' }, { id: 'Paged.Pkg', version: '2.0.0-rc.1' }] });
    // The registration index names its pages only (as nuget.org does for large packages).
    const regBase = `${up.baseUrl}v3/registration-semver2/`;
    const page = (e, n) => ({ '@id': `${up.baseUrl}pages/paged.pkg/${n}.json`, count: 1,
      lower: e.normalized, upper: e.normalized, parent: `${regBase}paged.pkg/index.json`, items: [up.leaf(e, regBase)] });
    const e1 = up.entry('Paged.Pkg', '1.0.0');
    const e2 = up.entry('Paged.Pkg', '2.0.0-rc.1');
    up.override('v3/registration-semver2/paged.pkg/index.json', { body: JSON.stringify({ count: 2, items: [
      { '@id': `${up.baseUrl}pages/paged.pkg/1.json`, count: 1, lower: '1.0.0', upper: '1.0.0' },
      { '@id': `${up.baseUrl}pages/paged.pkg/2.json`, count: 1, lower: '2.0.0-rc.1', upper: '2.0.0-rc.1' }] }) });
    up.override('pages/paged.pkg/1.json', { body: JSON.stringify(page(e1, 1)) });
    up.override('pages/paged.pkg/2.json', { body: JSON.stringify(page(e2, 2)) });
    const arca = await startArca({ label: 'nuget-v3-pages', config: nugetConfig(up.indexUrl) });
    const v3 = `${arca.baseUrl}/local/nuget/main/v3/`;
    const idx = await getJson(`${v3}flatcontainer/paged.pkg/index.json`);
    assert.equal(idx.status, 200, idx.body.toString());
    assert.deepEqual(idx.json.versions, ['1.0.0', '2.0.0-rc.1']);
    assert.equal(up.count('pages/paged.pkg/1.json'), 1);
    const reg = await getJson(`${v3}registration-gz-semver2/paged.pkg/index.json`);
    const entry = reg.json.items[0].items.find((i) => i.catalogEntry.version === '2.0.0-rc.1').catalogEntry;
    assert.equal(entry.packageHash, sha512Base64(e2.nupkg));
    const got = await request(`${v3}flatcontainer/paged.pkg/2.0.0-rc.1/paged.pkg.2.0.0-rc.1.nupkg`);
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(e2.nupkg));
  });
});

describe('NuGet and package-group origin controls', { timeout: 60_000 }, () => {
  test('PUBLISH and EXTERNAL_UPSTREAM hold for NuGet as for npm (dependency confusion)', async () => {
    // The public feed has a higher version of the internal package's id.
    const up = await startNugetUpstream({ packages: [{ id: 'Corp.Thing', version: '9.9.9' }, { id: 'Public.Lib', version: '1.0.0' }] });
    const config = nugetConfig(up.indexUrl);
    config.domains[0].repositories = [
      { name: 'internal' },
      { name: 'nuget-store', external_connection: 'public:nuget-org' },
      { name: 'main', upstreams: ['internal', 'nuget-store'] },
    ];
    const arca = await startArca({ label: 'nuget-groups', config });
    const api = (method, target, body) => request(arca.url(target), { method, body: JSON.stringify(body ?? {}),
      headers: { 'content-type': 'application/json' } });
    let r = await api('POST', '/v1/package-group?domain=local', { packageGroup: '/nuget//corp~' });
    assert.equal(r.status, 200, r.body.toString());
    r = await api('PUT', `/v1/package-group-origin-configuration?domain=local&package-group=${encodeURIComponent('/nuget//corp~')}`, {
      restrictions: { EXTERNAL_UPSTREAM: 'BLOCK', PUBLISH: 'ALLOW_SPECIFIC_REPOSITORIES' },
      addAllowedRepositories: [{ originRestrictionType: 'PUBLISH', repositoryName: 'internal' }],
    });
    assert.equal(r.status, 200, r.body.toString());
    const key = await token(arca);
    const base = (repo) => `${arca.baseUrl}/local/nuget/${repo}/v3/`;
    const put = (repo, nupkg) => {
      const { body, contentType } = pushBody(nupkg);
      return request(`${base(repo)}package`, { method: 'PUT', body, headers: { 'content-type': contentType, 'x-nuget-apikey': key } });
    };
    assert.equal((await put('internal', buildNupkg({ id: 'Corp.Thing', version: '1.0.0' }))).status, 201);
    const refused = await put('main', buildNupkg({ id: 'Corp.Thing', version: '1.0.1' }));
    assert.equal(refused.status, 403);
    assert.match(refused.body.toString(), /PUBLISH.*\/nuget\/\/corp~/);
    // Only the internal version; the public 9.9.9 is never merged nor fetched.
    const idx = await getJson(`${base('main')}flatcontainer/corp.thing/index.json`);
    assert.deepEqual(idx.json.versions, ['1.0.0']);
    const pub = await request(`${base('main')}flatcontainer/corp.thing/9.9.9/corp.thing.9.9.9.nupkg`);
    assert.equal(pub.status, 404);
    assert.equal(up.count('corp.thing.9.9.9.nupkg'), 0);
    // Outside the group the upstream still serves.
    const lib = await request(`${base('main')}flatcontainer/public.lib/1.0.0/public.lib.1.0.0.nupkg`);
    assert.equal(lib.status, 200);
    // Public.Lib was first ingested into nuget-store: as the service does, its origin configuration
    // there became publish=BLOCK, upstream=ALLOW, so a push of it into nuget-store is refused.
    const describe = await api('GET', '/v1/package?domain=local&repository=nuget-store&format=nuget&package=public.lib');
    assert.deepEqual(JSON.parse(describe.body).package.originConfiguration.restrictions, { publish: 'BLOCK', upstream: 'ALLOW' });
    const shadow = await put('nuget-store', buildNupkg({ id: 'Public.Lib', version: '1.0.1' }));
    assert.equal(shadow.status, 403);
    assert.match(shadow.body.toString(), /origin configuration of package public\.lib in repository nuget-store/);
    // A package-level BLOCK applies where its group allows: pushes of Corp.Thing into internal stop.
    r = await api('POST', '/v1/package?domain=local&repository=internal&format=nuget&package=corp.thing',
      { restrictions: { publish: 'BLOCK', upstream: 'BLOCK' } });
    assert.equal(r.status, 200, r.body.toString());
    assert.equal((await put('internal', buildNupkg({ id: 'Corp.Thing', version: '1.0.2' }))).status, 403);
    await arca.stop();
    await up.stop();
  });
});
