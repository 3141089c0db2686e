// Bad input to arca's NuGet endpoints: each gets a clear error in NuGet's form, and nothing
// stored is lost (a package pushed first stays served, byte for byte, through every attempt).
// Pushes: not a zip, no .nuspec, two .nuspec files, id/version disagreeing with the URL,
// invalid versions, traversal in ids, no API key, a bad API key. Upstream: a nupkg whose bytes
// do not match the packageHash its registration declares. V2 queries: $filter / $orderby nested
// or sized past the parser's limits are a 400, and arca keeps serving.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { startArca, deepMerge } from './lib/arca.mjs';
import { authConfig } from './lib/aws.mjs';
import { request, getJson } from './lib/http.mjs';
import { buildNupkg, nuspecXml, startNugetUpstream, nugetConfig, zip } from './lib/nuget.mjs';

// The multipart body NuGet clients push (one part named "package").
function pushBody(nupkg, boundary = 'arca-nuget-bad-input') {
  const head = Buffer.from(`--${boundary}\r\nContent-Type: application/octet-stream\r\n` +
    'Content-Disposition: form-data; name="package"; filename="package.nupkg"\r\n\r\n');
  return { body: Buffer.concat([head, nupkg, Buffer.from(`\r\n--${boundary}--\r\n`)]),
    contentType: `multipart/form-data; boundary=${boundary}` };
}

describe('NuGet bad input', { timeout: 60_000 }, () => {
  let up;
  let arca;
  let key;
  let v3;
  const good = buildNupkg({ id: 'Kept.Pkg', version: '1.0.0' });

  const push = (nupkg, { path = 'v3/package', apiKey = key, raw } = {}) => {
    const { body, contentType } = raw ?? pushBody(nupkg);
    const headers = { 'content-type': contentType };
    if (apiKey !== null) headers['x-nuget-apikey'] = apiKey;
    return request(`${arca.baseUrl}/local/nuget/main/${path}`, { method: 'PUT', body, headers });
  };
  // What was stored before is still there, unchanged.
  const assertKept = async () => {
    const r = await request(`${v3}flatcontainer/kept.pkg/1.0.0/kept.pkg.1.0.0.nupkg`);
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(good));
    const idx = await getJson(`${v3}flatcontainer/kept.pkg/index.json`);
    assert.deepEqual(idx.json.versions, ['1.0.0']);
  };
  const expectError = async (r, status, pattern) => {
    assert.equal(r.status, status, r.body.toString());
    assert.match(r.body.toString(), pattern);
    await assertKept();
  };

  before(async () => {
    up = await startNugetUpstream({ packages: [{ id: 'Bad.Hash', version: '1.0.0' }, { id: 'Good.Hash', version: '1.0.0' }] });
    arca = await startArca({ label: 'nuget-bad-input', config: nugetConfig(up.indexUrl) });
    v3 = `${arca.baseUrl}/local/nuget/main/v3/`;
    const t = await request(arca.url('/v1/authorization-token?domain=local'), { method: 'POST', body: '{}',
      headers: { 'content-type': 'application/json' } });
    key = JSON.parse(t.body.toString()).authorizationToken;
    const r = await push(good);
    assert.equal(r.status, 201, r.body.toString());
  });

  test('a nupkg that is not a zip', async () => {
    await expectError(await push(Buffer.from('this is not a zip archive at all')), 400, /not a valid \.nupkg/);
    // A truncated zip.
    await expectError(await push(buildNupkg({ id: 'Trunc', version: '1.0.0' }).subarray(0, 40)), 400, /nupkg|nuspec|zip/);
  });

  test('no .nuspec, or two', async () => {
    const none = zip([{ name: 'lib/net45/a.dll', data: 'x' }]);
    await expectError(await push(none), 400, /contains no \.nuspec/);
    const two = zip([
      { name: 'A.nuspec', data: nuspecXml({ id: 'A', version: '1.0.0' }) },
      { name: 'B.nuspec', data: nuspecXml({ id: 'B', version: '1.0.0' }) },
    ]);
    await expectError(await push(two), 400, /more than one \.nuspec/);
    // A .nuspec that is not XML, or lacks an id.
    await expectError(await push(zip([{ name: 'C.nuspec', data: '<package><metadata>' }])), 400, /not well-formed XML/);
    await expectError(await push(zip([{ name: 'D.nuspec', data: '<package><metadata><version>1.0.0</version></metadata></package>' }])),
      400, /no <id>/);
  });

  test('id or version in the nuspec disagreeing with the URL', async () => {
    const pkg = buildNupkg({ id: 'Url.Pkg', version: '1.0.0' });
    await expectError(await push(pkg, { path: 'v3/package/Other.Pkg/1.0.0' }), 400, /does not match 'Other\.Pkg'/);
    await expectError(await push(pkg, { path: 'v3/package/Url.Pkg/2.0.0' }), 400, /does not match '2\.0\.0'/);
    await expectError(await push(pkg, { path: 'api/v2/package/Other.Pkg/1.0.0' }), 400, /does not match/);
    assert.equal((await getJson(`${v3}flatcontainer/url.pkg/index.json`)).status, 404);
    // Agreeing (in another case and form): accepted.
    assert.equal((await push(pkg, { path: 'v3/package/url.pkg/1.0' })).status, 201);
  });

  test('invalid versions', async () => {
    for (const version of ['1.0.0.0.0', 'one', '1.0.0-', '1.0.0-beta..1', '1.0.0-01', '1..0']) {
      const r = await push(buildNupkg({ id: 'Ver.Pkg', version }));
      await expectError(r, 400, /not a valid NuGet version/);
    }
    const get = await request(`${v3}flatcontainer/kept.pkg/1.x/kept.pkg.1.x.nupkg`);
    assert.equal(get.status, 400);
    assert.match(get.body.toString(), /not a valid NuGet version/);
    await assertKept();
  });

  test('traversal and invalid characters in ids', async () => {
    for (const id of ['../../evil', 'a/b', 'a\\b', '.hidden', 'x..y']) {
      const evil = zip([{ name: 'evil.nuspec', data: nuspecXml({ id, version: '1.0.0' }) }]);
      await expectError(await push(evil), 400, /not a valid NuGet package id/);
    }
    for (const p of ['flatcontainer/..%2F..%2Fetc/index.json', 'flatcontainer/a%2Fb/index.json',
      'registration-gz-semver2/..%2Fx/index.json', 'flatcontainer/%2E%2E/1.0.0/x.nupkg',
      'flatcontainer/../1.0.0/x.nupkg']) {
      // As sent, without the client resolving dot segments.
      const r = await request(`${v3}${p}`, { rawPath: `/local/nuget/main/v3/${p}` });
      assert.equal(r.status, 400, `${p}: ${r.body}`);
      assert.match(r.body.toString(), /not a valid NuGet package id/);
    }
    const v2 = await request(`${arca.baseUrl}/local/nuget/main/api/v2/package/..%2F..%2Fetc/1.0.0`);
    assert.equal(v2.status, 400);
    assert.match(v2.body.toString(), /<m:error|<error/);
    await assertKept();
  });

  test('a push without an API key is 401, with a bad one 403 (access keys configured); nothing is stored', async () => {
    // Once access keys are configured only arca tokens push, even with anonymous writes on.
    const keyed = await startArca({ label: 'nuget-bad-input-keys',
      config: deepMerge(nugetConfig(up.indexUrl), { auth: authConfig({ anonymous_write: true }) }) });
    try {
      const base = `${keyed.baseUrl}/local/nuget/main/`;
      const t = await request(keyed.url('/v1/authorization-token?domain=local'), { method: 'POST', body: '{}',
        headers: { 'content-type': 'application/json' } });
      const keyedToken = JSON.parse(t.body.toString()).authorizationToken;
      const pushTo = (nupkg, { path = 'v3/package', apiKey } = {}) => {
        const { body, contentType } = pushBody(nupkg);
        const headers = { 'content-type': contentType };
        if (apiKey !== null) headers['x-nuget-apikey'] = apiKey;
        return request(`${base}${path}`, { method: 'PUT', body, headers });
      };
      const refused = async (r, status, pattern) => {
        assert.equal(r.status, status, r.body.toString());
        assert.match(r.body.toString(), pattern);
      };
      const pkg = buildNupkg({ id: 'Auth.Pkg', version: '1.0.0' });
      await refused(await pushTo(pkg, { apiKey: null }), 401, /API key is required/);
      await refused(await pushTo(pkg, { apiKey: 'not-a-token' }), 403, /API key is invalid/);
      // A token's shape with a forged signature.
      await refused(await pushTo(pkg, { apiKey: `${keyedToken.slice(0, -4)}AAAA` }), 403, /API key is invalid/);
      await refused(await pushTo(pkg, { path: 'api/v2/package/', apiKey: null }), 401, /API key is required/);
      assert.equal((await pushTo(good, { apiKey: keyedToken })).status, 201);
      const del = await request(`${base}v3/package/Kept.Pkg/1.0.0`, { method: 'DELETE' });
      assert.equal(del.status, 401);
      assert.equal((await getJson(`${base}v3/flatcontainer/auth.pkg/index.json`)).status, 404);
    } finally {
      await keyed.stop();
    }
    // This listener is open (loopback, no access keys): a forged arca token is still refused,
    // while a key that is not an arca token counts as anonymous, as for npm and twine (issue 14;
    // this used to assert a 403 here).
    const pkg = buildNupkg({ id: 'Auth.Pkg', version: '1.0.0' });
    await expectError(await push(pkg, { apiKey: `${key.slice(0, -4)}AAAA` }), 403, /API key is invalid/);
    assert.equal((await getJson(`${v3}flatcontainer/auth.pkg/index.json`)).status, 404);
    const anon = await push(pkg, { apiKey: 'not-a-token' });
    assert.equal(anon.status, 201, anon.body.toString());
    await assertKept();
  });

  test('an upstream nupkg whose bytes do not match its packageHash is refused and not stored', async () => {
    up.setWrongHash('Bad.Hash', '1.0.0');
    const url = `${v3}flatcontainer/bad.hash/1.0.0/bad.hash.1.0.0.nupkg`;
    const bad = await request(url);
    assert.ok(!(bad.status === 200 && bad.complete), `status ${bad.status}, complete ${bad.complete}`);
    const again = await request(url);
    assert.ok(!(again.status === 200 && again.complete));
    assert.equal(up.count('bad.hash.1.0.0.nupkg'), 2, 'nothing was stored: each attempt goes upstream');
    // Not listed as cached.
    const api = await getJson(arca.url('/v1/package/versions?domain=local&repository=nuget-store&format=nuget&package=bad.hash'),
      { method: 'POST' });
    assert.equal(api.status, 404);
    // The control: a correct hash fills and stores.
    const ok = await request(`${v3}flatcontainer/good.hash/1.0.0/good.hash.1.0.0.nupkg`);
    assert.equal(ok.status, 200);
    assert.ok(ok.complete);
    assert.ok(ok.body.equals(up.entry('Good.Hash', '1.0.0').nupkg));
    await assertKept();
  });
});

describe('NuGet V2 queries that nest too deeply', { timeout: 60_000 }, () => {
  // One anonymous GET used to crash arca: the $filter parser recursed once per parenthesis,
  // ~5,000 of them in a 10 KB URL overflowed the stack (SIGSEGV).
  test('deep $filter and $orderby are a 400 in the OData error form; arca keeps serving', async () => {
    const up = await startNugetUpstream({ packages: [] });
    const arca = await startArca({ label: 'nuget-deep-filter', config: nugetConfig(up.indexUrl) });
    const feed = `${arca.baseUrl}/local/nuget/main/api/v2/`;
    const deep = (n, inner) => '('.repeat(n) + inner + ')'.repeat(n);
    for (const [q, why] of [
      [`Packages()?$filter=${deep(5000, 'IsLatestVersion')}`, /longer than 8192 bytes/],
      [`Search()?$filter=${deep(4000, 'IsLatestVersion')}&searchTerm=''`, /nested more than 100 levels/],
      [`Packages()?$filter=${'not%20'.repeat(2000)}IsLatestVersion`, /nested more than 100 levels/],
      [`Packages()?$orderby=${'tolower('.repeat(500)}Id${')'.repeat(500)}`, /nested more than 100 levels/],
    ]) {
      const r = await request(feed + q);
      assert.equal(r.status, 400, `${q.slice(0, 60)}: ${r.status} ${r.body}`);
      const body = r.body.toString();
      assert.match(body, /<m:error xmlns:m="http:\/\/schemas.microsoft.com\/ado\/2007\/08\/dataservices\/metadata">/);
      assert.match(/<m:message[^>]*>([^<]*)</.exec(body)?.[1] ?? '', why);
      assert.equal((await request(arca.url('/healthz'))).status, 200, 'arca must still be up');
    }
    // A filter nested as deep as the limit allows still works.
    const ok = await request(`${feed}Packages()?$filter=${deep(100, 'IsLatestVersion')}`);
    assert.equal(ok.status, 200, ok.body.toString());
    await arca.stop();
    await up.stop();
  });
});

describe('NuGet push body limit', { timeout: 60_000 }, () => {
  test('a push over listener.publish_body_limit_bytes is a 413 and stores nothing', async () => {
    const limit = 200_000;
    const up = await startNugetUpstream({ packages: [] });
    const config = { ...nugetConfig(up.indexUrl), listener: { publish_body_limit_bytes: limit } };
    const arca = await startArca({ label: 'nuget-push-limit', config });
    const v3 = `${arca.baseUrl}/local/nuget/main/v3/`;
    const t = await request(arca.url('/v1/authorization-token?domain=local'), { method: 'POST', body: '{}',
      headers: { 'content-type': 'application/json' } });
    const key = JSON.parse(t.body.toString()).authorizationToken;
    const big = buildNupkg({ id: 'Big.Pkg', version: '1.0.0', method: 'store',
      files: { 'lib/netstandard2.0/big.bin': Buffer.alloc(limit + 1000, 7) } });
    const { body, contentType } = pushBody(big);
    const r = await request(`${v3}package/`, { method: 'PUT', body,
      headers: { 'content-type': contentType, 'x-nuget-apikey': key } });
    assert.equal(r.status, 413, r.body.toString());
    assert.equal((await getJson(`${v3}flatcontainer/big.pkg/index.json`)).status, 404);
    // Under the limit the same route accepts the push.
    const small = pushBody(buildNupkg({ id: 'Big.Pkg', version: '1.0.0' }));
    const ok = await request(`${v3}package/`, { method: 'PUT', body: small.body,
      headers: { 'content-type': small.contentType, 'x-nuget-apikey': key } });
    assert.equal(ok.status, 201, ok.body.toString());
    await arca.stop();
    await up.stop();
  });
});
