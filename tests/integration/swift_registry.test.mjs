// The Swift package registry API, checked request by request against its specification (no
// Swift client can be installed here): swift-package-manager's
// Documentation/PackageRegistry/Registry.md ("spec N.N" below) and registry.openapi.yaml. The
// requests are the ones SwiftPM's RegistryClient sends (Accept
// application/vnd.swift.registry.v1+{json,swift,zip}; publish as multipart/form-data with
// parts source-archive, source-archive-signature and metadata, Expect: 100-continue,
// Prefer: respond-async). Source archives are real zips made with the `zip` tool, laid out as
// `swift package archive-source` makes them (one top-level directory holding Package.swift and
// Package@swift-X.swift variants).
//
// Topology: `store` (no upstreams) and `app` (upstream store). Also: a downstream repository
// reading through its upstream and retaining what it served (still resolvable after the upstream
// is removed), publishing denied by a package group's origin controls, Unlisted versions, and the
// real AWS CLI listing the versions.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir, run } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { Aws, awsBin, loadSdk, sdkClient } from './lib/aws.mjs';
import { request } from './lib/http.mjs';

const sdk = loadSdk();
const skip = !awsBin() ? 'awscli is not installed (scripts/setup.sh --test installs it)'
  : !sdk ? '@aws-sdk/client-codeartifact is not installed (scripts/setup.sh --test installs it)' : false;
const domain = 'local';
const V1 = { json: 'application/vnd.swift.registry.v1+json', swift: 'application/vnd.swift.registry.v1+swift',
  zip: 'application/vnd.swift.registry.v1+zip' };

let arca;
let upArca; // another arca: the Swift registry behind external connection `swift-registry`
let aws;
let work;
const zips = {}; // version -> Buffer

const base = (repo) => `${arca.baseUrl}/${domain}/swift/${repo}/`;

const manifest = (tools) => `// swift-tools-version:${tools}\nimport PackageDescription\n\n` +
  'let package = Package(\n    name: "LinkedList",\n    products: [.library(name: "LinkedList", targets: ["LinkedList"])],\n' +
  '    targets: [.target(name: "LinkedList")]\n)\n';

// A source archive as `swift package archive-source` lays it out, zipped by the real zip tool.
async function makeArchive(name, files) {
  const dir = path.join(work, `${name}-${crypto.randomUUID()}`);
  const top = path.join(dir, name);
  for (const [file, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(top, file)), { recursive: true });
    fs.writeFileSync(path.join(top, file), content);
  }
  const out = path.join(dir, 'archive.zip');
  const r = await run('zip', ['-q', '-r', '-X', out, name], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  return fs.readFileSync(out);
}

// The body RegistryClient.publish builds (CRLF, binary parts, the metadata part last).
function publishBody({ archive, metadata, signature }) {
  const boundary = crypto.randomUUID();
  const chunks = [Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="source-archive"\r\n` +
    'Content-Type: application/zip\r\nContent-Transfer-Encoding: binary\r\n\r\n'), archive];
  if (signature) {
    chunks.push(Buffer.from(`\r\n--${boundary}\r\nContent-Disposition: form-data; name="source-archive-signature"\r\n` +
      'Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n'), signature);
  }
  if (metadata !== undefined) {
    chunks.push(Buffer.from(`\r\n--${boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n` +
      `Content-Type: application/json\r\n\r\n${metadata}`));
  }
  chunks.push(Buffer.from(`\r\n--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data;boundary="${boundary}"` };
}

async function publish(repo, id, version, parts, headers = {}) {
  const { body, contentType } = publishBody(parts);
  return request(`${base(repo)}${id.replace('.', '/')}/${version}`, { method: 'PUT', body,
    headers: { 'content-type': contentType, accept: V1.json, expect: '100-continue', prefer: 'respond-async', ...headers } });
}

const get = (repo, p, accept = V1.json, extra = {}) =>
  request(`${base(repo)}${p}`, { headers: { accept, ...extra } });

// Spec 3.3: every error is a problem details object (RFC 7807) as application/problem+json,
// with Content-Version (3.5).
function assertProblem(r, status, detail) {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.body}`);
  assert.equal(r.headers['content-type'], 'application/problem+json');
  assert.equal(r.headers['content-version'], '1');
  const p = JSON.parse(r.body.toString());
  assert.equal(typeof p.detail, 'string');
  if (detail) assert.match(p.detail, detail);
  return p;
}

// RFC 8288 Link header -> [{url, rel, params}]
function links(r) {
  const h = r.headers.link;
  if (!h) return [];
  return h.split(/,\s*(?=<)/).map((part) => {
    const m = /^<([^>]*)>(.*)$/.exec(part.trim());
    const params = {};
    for (const p of m[2].split(';').map((s) => s.trim()).filter(Boolean)) {
      const [k, v] = p.split('=');
      params[k] = v?.replace(/^"|"$/g, '');
    }
    return { url: m[1], rel: params.rel, params };
  });
}

const sha256 = (b) => crypto.createHash('sha256').update(b).digest();

before(async () => {
  if (skip) return;
  work = makeTempDir('swift-archives');
  upArca = await startArca({ label: 'swift-upstream-registry',
    config: { domains: [{ name: domain, repositories: [{ name: 'public' }] }] } });
  arca = await startArca({
    label: 'swift',
    config: {
      external_connections: { 'swift-registry': { url: `${upArca.baseUrl}/${domain}/swift/public/`, format: 'swift' } },
      domains: [{ name: domain, repositories: [{ name: 'store' }, { name: 'app', upstreams: ['store'] },
        { name: 'ext-store', external_connection: 'swift-registry' }, { name: 'ext-app', upstreams: ['ext-store'] }] }],
    },
  });
  aws = new Aws(arca, { label: 'swift-aws' });
  zips['1.0.0'] = await makeArchive('LinkedList', { 'Package.swift': manifest('5.5'),
    'Sources/LinkedList/LinkedList.swift': 'public struct LinkedList {}\n' });
  zips['1.1.0'] = await makeArchive('LinkedList', { 'Package.swift': manifest('5.9'),
    'Package@swift-5.7.swift': manifest('5.7'), 'Package@swift-4.swift': manifest('4.0'),
    'Sources/LinkedList/LinkedList.swift': 'public struct LinkedList { public init() {} }\n' });
  zips['2.0.0-beta.1'] = await makeArchive('LinkedList', { 'Package.swift': manifest('5.9') });
});

after(async () => {
  if (arca) await arca.stop();
  if (upArca) await upArca.stop();
});

const metadata = JSON.stringify({ description: 'One thing links to another.',
  repositoryURLs: ['https://github.com/mona/LinkedList', 'git@github.com:mona/LinkedList.git'],
  licenseURL: 'https://www.apache.org/licenses/LICENSE-2.0', author: { name: 'Mona Lisa Octocat' } });

test('publish releases (spec 4.6), then 409 on republish', { skip, timeout: 30_000 }, async () => {
  for (const version of ['1.0.0', '1.1.0', '2.0.0-beta.1']) {
    const r = await publish('store', 'Mona.LinkedList', version, { archive: zips[version], metadata });
    // 4.6.3.1: synchronous publication is 201 with a Location of the release.
    assert.equal(r.status, 201, r.body.toString());
    assert.equal(r.headers['content-version'], '1');
    assert.equal(r.headers.location, `${base('store')}Mona/LinkedList/${version}`);
  }
  // 4.6: "If a release already exists ... the server SHOULD respond with 409 (Conflict)", also
  // under another spelling of the identifier (3.6: scopes and names are case-insensitive).
  assertProblem(await publish('store', 'mona.linkedlist', '1.0.0', { archive: zips['1.1.0'] }), 409, /1\.0\.0 already exists/);
  // The stored archive did not change (4.6: "resources ... MUST NOT change").
  const again = await get('store', 'mona/linkedlist/1.0.0.zip', V1.zip);
  assert.ok(again.body.equals(zips['1.0.0']));
});

test('list package releases (spec 4.1)', { skip, timeout: 30_000 }, async () => {
  // 3.6: case-insensitive; the answer uses the published spelling.
  const r = await get('store', 'MONA/linkedList');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(r.headers['content-version'], '1');
  const body = JSON.parse(r.body.toString());
  // "SHOULD list releases in order of precedence, starting with the highest".
  assert.deepEqual(Object.keys(body.releases), ['2.0.0-beta.1', '1.1.0', '1.0.0']);
  assert.equal(body.releases['1.0.0'].url, `${base('store')}Mona/LinkedList/1.0.0`);
  // "a link to the highest precedence published release ... latest-version".
  const latest = links(r).find((l) => l.rel === 'latest-version');
  assert.equal(latest.url, `${base('store')}Mona/LinkedList/2.0.0-beta.1`);
  // "MAY append the .json extension".
  const dotJson = await get('store', 'mona/LinkedList.json');
  assert.equal(dotJson.status, 200);
  assert.deepEqual(JSON.parse(dotJson.body.toString()), body);
  // HEAD is answered too (spec 4: "SHOULD also respond to HEAD requests").
  const head = await request(`${base('store')}mona/LinkedList`, { method: 'HEAD', headers: { accept: V1.json } });
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
});

test('release metadata (spec 4.2, 4.2.1)', { skip, timeout: 30_000 }, async () => {
  const r = await get('store', 'mona/linkedlist/1.1.0');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(r.headers['content-version'], '1');
  const body = JSON.parse(r.body.toString());
  assert.equal(body.id, 'Mona.LinkedList');
  assert.equal(body.version, '1.1.0');
  // 4.2.1: the source-archive resource with the SHA-256 checksum in hex.
  assert.deepEqual(body.resources, [{ name: 'source-archive', type: 'application/zip',
    checksum: sha256(zips['1.1.0']).toString('hex') }]);
  // 4.2.2: the metadata given at publication.
  assert.equal(body.metadata.description, 'One thing links to another.');
  assert.deepEqual(body.metadata.author, { name: 'Mona Lisa Octocat' });
  assert.ok(!Number.isNaN(Date.parse(body.publishedAt)));
  // 4.2: latest-version, successor-version, predecessor-version.
  const l = Object.fromEntries(links(r).map((x) => [x.rel, x.url]));
  assert.equal(l['latest-version'], `${base('store')}Mona/LinkedList/2.0.0-beta.1`);
  assert.equal(l['successor-version'], `${base('store')}Mona/LinkedList/2.0.0-beta.1`);
  assert.equal(l['predecessor-version'], `${base('store')}Mona/LinkedList/1.0.0`);
  // "MAY append the .json extension".
  assert.equal((await get('store', 'mona/linkedlist/1.1.0.json')).status, 200);
});

test('manifests (spec 4.3, 4.3.1)', { skip, timeout: 30_000 }, async () => {
  const r = await get('store', 'mona/linkedlist/1.1.0/Package.swift', V1.swift);
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'text/x-swift');
  assert.equal(r.headers['content-disposition'], 'attachment; filename="Package.swift"');
  assert.equal(r.body.toString(), manifest('5.9'));
  assert.equal(Number(r.headers['content-length']), Buffer.byteLength(manifest('5.9')));
  // "MUST include a Link header field with a value for each version-specific package manifest".
  const alternates = links(r).filter((x) => x.rel === 'alternate')
    .map((x) => ({ url: x.url, filename: x.params.filename, tools: x.params['swift-tools-version'] }))
    .sort((a, b) => a.filename.localeCompare(b.filename));
  const u = `${base('store')}Mona/LinkedList/1.1.0/Package.swift`;
  assert.deepEqual(alternates, [
    { url: `${u}?swift-version=4`, filename: 'Package@swift-4.swift', tools: '4.0' },
    { url: `${u}?swift-version=5.7`, filename: 'Package@swift-5.7.swift', tools: '5.7' },
  ]);
  // 4.3.1: the variant when the archive has it ...
  const variant = await get('store', 'mona/linkedlist/1.1.0/Package.swift?swift-version=5.7', V1.swift);
  assert.equal(variant.status, 200);
  assert.equal(variant.body.toString(), manifest('5.7'));
  assert.equal(variant.headers['content-disposition'], 'attachment; filename="Package@swift-5.7.swift"');
  // ... otherwise 303 See Other to the unqualified Package.swift.
  const other = await get('store', 'mona/linkedlist/1.1.0/Package.swift?swift-version=4.2', V1.swift);
  assert.equal(other.status, 303);
  assert.equal(other.headers.location, u);
  // A release without variants has no alternate links.
  const plain = await get('store', 'mona/linkedlist/1.0.0/Package.swift', V1.swift);
  assert.equal(plain.status, 200);
  assert.equal(plain.body.toString(), manifest('5.5'));
  assert.equal(plain.headers.link, undefined);
  assertProblem(await get('store', 'mona/linkedlist/1.1.0/Package.swift?swift-version=five', V1.swift), 400);
});

test('source archives (spec 4.4, 4.4.1)', { skip, timeout: 30_000 }, async () => {
  const r = await get('store', 'mona/linkedlist/1.1.0.zip', V1.zip);
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/zip');
  assert.ok(r.body.equals(zips['1.1.0']));
  // "MUST respond with a Content-Length header".
  assert.equal(Number(r.headers['content-length']), zips['1.1.0'].length);
  // "MAY respond with a Digest header" (RFC 3230: sha-256 in base64), as 4.4.1 computes it.
  assert.equal(r.headers.digest, `sha-256=${sha256(zips['1.1.0']).toString('base64')}`);
  // "Content-Disposition ... the name of the package followed by a hyphen, the version number".
  assert.equal(r.headers['content-disposition'], 'attachment; filename="LinkedList-1.1.0.zip"');
  // 4.4.1: the checksum of 4.2.1 matches the bytes.
  const meta = JSON.parse((await get('store', 'mona/linkedlist/1.1.0')).body.toString());
  assert.equal(meta.resources[0].checksum, sha256(r.body).toString('hex'));
});

test('Accept negotiation and API versions (spec 3.5)', { skip, timeout: 30_000 }, async () => {
  // "an Accept header that specifies an unknown or invalid API version ... 400".
  assertProblem(await get('store', 'mona/linkedlist', 'application/vnd.swift.registry.vX+json'), 400, /invalid API version/);
  // "a valid but unsupported API version ... 415".
  assertProblem(await get('store', 'mona/linkedlist', 'application/vnd.swift.registry.v2+json'), 415, /unsupported API version/);
  // A media type the resource is not.
  assertProblem(await get('store', 'mona/linkedlist/1.0.0', V1.zip), 415);
  assertProblem(await get('store', 'mona/linkedlist/1.0.0.zip', V1.json + 'x'), 415);
  // "without an Accept header, a server MAY ... process the request using an API version that
  // it chooses, making sure to set the Content-Type and Content-Version headers".
  const none = await request(`${base('store')}mona/linkedlist/1.0.0`);
  assert.equal(none.status, 200);
  assert.equal(none.headers['content-version'], '1');
  assert.equal(none.headers['content-type'], 'application/json');
  // The default media type is JSON ("application/vnd.swift.registry.v1").
  assert.equal((await get('store', 'mona/linkedlist', 'application/vnd.swift.registry.v1')).status, 200);
});

test('not found and bad identifiers (spec 3.6, 4.1-4.4)', { skip, timeout: 30_000 }, async () => {
  assertProblem(await get('store', 'mona/nosuchpackage'), 404);
  assertProblem(await get('store', 'mona/linkedlist/9.9.9'), 404, /not found/);
  assertProblem(await get('store', 'mona/linkedlist/9.9.9.zip', V1.zip), 404);
  assertProblem(await get('store', 'mona/linkedlist/9.9.9/Package.swift', V1.swift), 404);
  // 3.6.1 / 3.6.2: scope and name syntax; a version must be SemVer.
  assertProblem(await get('store', '-mona/linkedlist'), 400, /scope/);
  assertProblem(await get('store', 'mona/linked--list'), 400, /name/);
  assertProblem(await get('store', 'mona/linkedlist/1.0/Package.swift', V1.swift), 400, /version/);
});

test('publishing bad input (spec 4.6, 4.6.1, 4.6.2)', { skip, timeout: 30_000 }, async () => {
  // 4.6.1: "MAY refuse to publish ... 422": not a zip, no Package.swift.
  assertProblem(await publish('store', 'mona.broken', '1.0.0', { archive: Buffer.from('not a zip') }), 422, /zip/);
  const noManifest = await makeArchive('Broken', { 'README.md': '# no manifest\n' });
  assertProblem(await publish('store', 'mona.broken', '1.0.0', { archive: noManifest }), 422, /Package\.swift/);
  // 4.6.2: "If a client provides an invalid JSON document ... 422".
  assertProblem(await publish('store', 'mona.broken', '1.0.0', { archive: zips['1.0.0'], metadata: '{not json' }), 422, /JSON/);
  // 4.6: "MUST provide a body encoded as multipart form data".
  const r = await request(`${base('store')}mona/broken/1.0.0`, { method: 'PUT', body: zips['1.0.0'],
    headers: { 'content-type': 'application/zip', accept: V1.json } });
  assertProblem(r, 415);
  // A signed archive needs its signature format (4.6: X-Swift-Package-Signature-Format).
  assertProblem(await publish('store', 'mona.broken', '1.0.0', { archive: zips['1.0.0'], signature: Buffer.from('sig') }), 400);
  // Nothing was stored by the refusals.
  assertProblem(await get('store', 'mona/broken'), 404);
});

test('signed release: signing in the resource, signature headers on the archive (spec 4.2.1, 4.4)', { skip, timeout: 30_000 }, async () => {
  const sig = crypto.randomBytes(64);
  const archive = await makeArchive('Signed', { 'Package.swift': manifest('5.9') });
  const r = await publish('store', 'mona.signed', '1.0.0', { archive, signature: sig },
    { 'x-swift-package-signature-format': 'cms-1.0.0' });
  assert.equal(r.status, 201, r.body.toString());
  const meta = JSON.parse((await get('store', 'mona/signed/1.0.0')).body.toString());
  assert.deepEqual(meta.resources[0].signing, { signatureBase64Encoded: sig.toString('base64'), signatureFormat: 'cms-1.0.0' });
  const zip = await get('store', 'mona/signed/1.0.0.zip', V1.zip);
  assert.equal(zip.headers['x-swift-package-signature-format'], 'cms-1.0.0');
  assert.equal(zip.headers['x-swift-package-signature'], sig.toString('base64'));
});

test('lookup identifiers by repository URL (spec 4.5, 4.5.1)', { skip, timeout: 30_000 }, async () => {
  for (const url of ['https://github.com/mona/LinkedList', 'https://github.com/mona/linkedlist.git',
    'git@github.com:mona/LinkedList.git']) {
    const r = await get('store', `identifiers?url=${encodeURIComponent(url)}`);
    assert.equal(r.status, 200, url);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['content-version'], '1');
    assert.deepEqual(JSON.parse(r.body.toString()), { identifiers: ['Mona.LinkedList'] });
  }
  // Through a downstream repository too.
  const down = await get('app', `identifiers?url=${encodeURIComponent('https://github.com/mona/LinkedList')}`);
  assert.deepEqual(JSON.parse(down.body.toString()), { identifiers: ['Mona.LinkedList'] });
  // "When no url parameter is specified ... 400"; none registered: 404.
  assertProblem(await get('store', 'identifiers'), 400);
  assertProblem(await get('store', `identifiers?url=${encodeURIComponent('https://github.com/mona/Other')}`), 404);
});

test('login (registry.openapi.yaml /login) and availability', { skip, timeout: 30_000 }, async () => {
  const r = await request(`${base('store')}login`, { method: 'POST' });
  assert.equal(r.status, 200);
  assertProblem(await request(`${base('store')}login`), 405);
  // SwiftPM's RegistryClient.checkAvailability (GET <registry>/availability): 200 is available.
  assert.equal((await request(`${base('store')}availability`)).status, 200);
  const t = await aws.ok(['get-authorization-token', '--domain', domain]);
  // Linux clients send the token as HTTP Basic with the user name "token" (~/.netrc).
  const basic = Buffer.from(`token:${t.authorizationToken}`).toString('base64');
  assert.equal((await request(`${base('store')}login`, { method: 'POST', headers: { authorization: `Basic ${basic}` } })).status, 200);
  assert.equal((await request(`${base('store')}login`, { method: 'POST', headers: { authorization: `Bearer ${t.authorizationToken}` } })).status, 200);
  // Spec 3.2: a bad credential is a 401, as a problem details object (3.3).
  const forged = await request(`${base('store')}login`, { method: 'POST', headers: { authorization: 'Bearer arca1.forged' } });
  assertProblem(forged, 401);
  assert.match(forged.headers['www-authenticate'], /^Basic /);
});

test('a downstream repository reads through its upstream, refuses a 409, and retains (CodeArtifact upstreams)', { skip, timeout: 60_000 }, async () => {
  // The releases of store are visible through app.
  const list = await get('app', 'mona/linkedlist');
  assert.equal(list.status, 200);
  assert.deepEqual(Object.keys(JSON.parse(list.body.toString()).releases).sort(), ['1.0.0', '1.1.0', '2.0.0-beta.1']);
  assert.equal(links(list).find((l) => l.rel === 'latest-version').url, `${base('app')}Mona/LinkedList/2.0.0-beta.1`);
  // Publishing into app a release app gets from store: 409 (spec 4.6; CodeArtifact's rule).
  assertProblem(await publish('app', 'Mona.LinkedList', '1.1.0', { archive: zips['1.1.0'] }), 409, /available from upstream repository store/);
  // Download 1.0.0 through app (manifest and archive), then drop app's upstream.
  const manifestThrough = await get('app', 'mona/linkedlist/1.0.0/Package.swift', V1.swift);
  assert.equal(manifestThrough.body.toString(), manifest('5.5'));
  const zip = await get('app', 'mona/linkedlist/1.0.0.zip', V1.zip);
  assert.equal(zip.status, 200);
  assert.ok(zip.body.equals(zips['1.0.0']));
  // Scope and name in any case, as the registry takes them (stored lower-case).
  const retained = await aws.ok(['list-package-versions', '--domain', domain, '--repository', 'app',
    '--format', 'swift', '--namespace', 'Mona', '--package', 'LinkedList']);
  assert.deepEqual(retained.versions.map((v) => v.version), ['1.0.0']);
  await aws.ok(['update-repository', '--domain', domain, '--repository', 'app', '--upstreams', '[]']);
  // What app retained still resolves there; what it never served does not.
  const after = await get('app', 'mona/linkedlist');
  assert.equal(after.status, 200);
  assert.deepEqual(Object.keys(JSON.parse(after.body.toString()).releases), ['1.0.0']);
  const meta = JSON.parse((await get('app', 'mona/linkedlist/1.0.0')).body.toString());
  assert.equal(meta.id, 'Mona.LinkedList');
  assert.equal(meta.resources[0].checksum, sha256(zips['1.0.0']).toString('hex'));
  assert.equal((await get('app', 'mona/linkedlist/1.0.0/Package.swift', V1.swift)).body.toString(), manifest('5.5'));
  assert.ok((await get('app', 'mona/linkedlist/1.0.0.zip', V1.zip)).body.equals(zips['1.0.0']));
  assertProblem(await get('app', 'mona/linkedlist/1.1.0'), 404);
  assertProblem(await get('app', 'mona/linkedlist/1.1.0.zip', V1.zip), 404);
});

test('publishing denied by a package group\'s origin controls', { skip, timeout: 60_000 }, async () => {
  // Debian's CLI has no package-group commands: the JS SDK sends them.
  const client = sdkClient(sdk, arca);
  await client.send(new sdk.CreatePackageGroupCommand({ domain, packageGroup: '/swift/corp/*' }));
  await client.send(new sdk.UpdatePackageGroupOriginConfigurationCommand({ domain, packageGroup: '/swift/corp/*',
    restrictions: { PUBLISH: 'BLOCK' } }));
  const archive = await makeArchive('Secret', { 'Package.swift': manifest('5.9') });
  // Scope matched case-insensitively (the pattern is on the normalised scope).
  assertProblem(await publish('store', 'Corp.Secret', '1.0.0', { archive }), 403, /not allowed/);
  assertProblem(await get('store', 'corp/secret'), 404);
  // Outside the group: allowed.
  assert.equal((await publish('store', 'Other.Secret', '1.0.0', { archive })).status, 201);
});

test('the CodeArtifact API over Swift packages: list, describe, Unlisted', { skip, timeout: 60_000 }, async () => {
  const listed = await aws.ok(['list-package-versions', '--domain', domain, '--repository', 'store',
    '--format', 'swift', '--namespace', 'mona', '--package', 'linkedlist']);
  assert.deepEqual(listed.versions.map((v) => v.version).sort(), ['1.0.0', '1.1.0', '2.0.0-beta.1']);
  assert.equal(listed.namespace, 'mona');
  const packages = await aws.ok(['list-packages', '--domain', domain, '--repository', 'store', '--format', 'swift']);
  assert.ok(packages.packages.some((p) => p.namespace === 'mona' && p.package === 'linkedlist'));
  const described = await aws.ok(['describe-package-version', '--domain', domain, '--repository', 'store',
    '--format', 'swift', '--namespace', 'mona', '--package', 'linkedlist', '--package-version', '1.1.0']);
  assert.equal(described.packageVersion.displayName, 'Mona.LinkedList');
  const assets = await aws.ok(['list-package-version-assets', '--domain', domain, '--repository', 'store',
    '--format', 'swift', '--namespace', 'mona', '--package', 'linkedlist', '--package-version', '1.1.0']);
  assert.equal(assets.assets[0].hashes['SHA-256'], sha256(zips['1.1.0']).toString('hex'));
  // Unlisted: left out of list releases (spec 4.1) but still fetchable.
  await aws.ok(['update-package-versions-status', '--domain', domain, '--repository', 'store', '--format', 'swift',
    '--namespace', 'mona', '--package', 'linkedlist', '--versions', '1.0.0', '--target-status', 'Unlisted']);
  const list = JSON.parse((await get('store', 'mona/linkedlist')).body.toString());
  assert.deepEqual(Object.keys(list.releases).sort(), ['1.1.0', '2.0.0-beta.1']);
  assert.equal((await get('store', 'mona/linkedlist/1.0.0')).status, 200);
  assert.ok((await get('store', 'mona/linkedlist/1.0.0.zip', V1.zip)).body.equals(zips['1.0.0']));
  // Archived: neither listed nor served.
  await aws.ok(['update-package-versions-status', '--domain', domain, '--repository', 'store', '--format', 'swift',
    '--namespace', 'mona', '--package', 'linkedlist', '--versions', '1.1.0', '--target-status', 'Archived']);
  assertProblem(await get('store', 'mona/linkedlist/1.1.0'), 404);
  assertProblem(await get('store', 'mona/linkedlist/1.1.0.zip', V1.zip), 404);
  // Deleted: gone, and publishable again.
  await aws.ok(['delete-package-versions', '--domain', domain, '--repository', 'store', '--format', 'swift',
    '--namespace', 'mona', '--package', 'linkedlist', '--versions', '2.0.0-beta.1']);
  assertProblem(await get('store', 'mona/linkedlist/2.0.0-beta.1'), 404);
  assert.equal((await publish('store', 'Mona.LinkedList', '2.0.0-beta.1', { archive: zips['2.0.0-beta.1'] })).status, 201);
});

test('copy, dispose and delete through the CodeArtifact API', { skip, timeout: 60_000 }, async () => {
  await aws.ok(['create-repository', '--domain', domain, '--repository', 'copies']);
  const copied = await aws.ok(['copy-package-versions', '--domain', domain, '--source-repository', 'store',
    '--destination-repository', 'copies', '--format', 'swift', '--namespace', 'mona', '--package', 'linkedlist',
    '--versions', '1.0.0', '2.0.0-beta.1']);
  assert.deepEqual(Object.keys(copied.successfulVersions).sort(), ['1.0.0', '2.0.0-beta.1']);
  // The copy serves like a publish there (spec 4.1, 4.2, 4.3, 4.4), statuses kept: 1.0.0 is
  // Unlisted (above), so only listed by key.
  const list = JSON.parse((await get('copies', 'mona/linkedlist')).body.toString());
  assert.deepEqual(Object.keys(list.releases), ['2.0.0-beta.1']);
  const meta = JSON.parse((await get('copies', 'mona/linkedlist/1.0.0')).body.toString());
  assert.equal(meta.id, 'Mona.LinkedList');
  assert.equal((await get('copies', 'mona/linkedlist/1.0.0/Package.swift', V1.swift)).body.toString(), manifest('5.5'));
  assert.ok((await get('copies', 'mona/linkedlist/1.0.0.zip', V1.zip)).body.equals(zips['1.0.0']));
  // Disposed: neither listed nor served; deleting the package: 404 for everything.
  await aws.ok(['dispose-package-versions', '--domain', domain, '--repository', 'copies', '--format', 'swift',
    '--namespace', 'mona', '--package', 'linkedlist', '--versions', '1.0.0']);
  assertProblem(await get('copies', 'mona/linkedlist/1.0.0.zip', V1.zip), 404);
  assertProblem(await get('copies', 'mona/linkedlist/1.0.0'), 404);
  assert.deepEqual(Object.keys(JSON.parse((await get('copies', 'mona/linkedlist')).body.toString()).releases),
    ['2.0.0-beta.1']);
  // Debian's CLI has no delete-package: the SDK sends it.
  await sdkClient(sdk, arca).send(new sdk.DeletePackageCommand({ domain, repository: 'store', format: 'swift',
    namespace: 'other', package: 'secret' }));
  assertProblem(await get('store', 'other/secret'), 404);
  assertProblem(await get('store', 'other/secret/1.0.0.zip', V1.zip), 404);
});

test('an external connection to a Swift registry: read through, ingested, retained, 409', { skip, timeout: 60_000 }, async () => {
  const remote = { '1.0.0': await makeArchive('Remote', { 'Package.swift': manifest('5.5') }),
    '1.1.0': await makeArchive('Remote', { 'Package.swift': manifest('5.9'), 'Package@swift-5.7.swift': manifest('5.7') }) };
  const upBase = `${upArca.baseUrl}/${domain}/swift/public/`;
  for (const version of ['1.0.0', '1.1.0']) {
    const { body, contentType } = publishBody({ archive: remote[version], metadata: JSON.stringify({ description: 'remote' }) });
    const r = await request(`${upBase}Mona/Remote/${version}`, { method: 'PUT', body,
      headers: { 'content-type': contentType, accept: V1.json } });
    assert.equal(r.status, 201, r.body.toString());
  }
  // 4.1 through ext-app: the connection's releases.
  const list = await get('ext-app', 'mona/remote');
  assert.equal(list.status, 200, list.body.toString());
  assert.deepEqual(Object.keys(JSON.parse(list.body.toString()).releases), ['1.1.0', '1.0.0']);
  // 4.2: the upstream's metadata and checksum.
  const meta = JSON.parse((await get('ext-app', 'mona/remote/1.1.0')).body.toString());
  assert.equal(meta.id, 'Mona.Remote');
  assert.equal(meta.resources[0].checksum, sha256(remote['1.1.0']).toString('hex'));
  assert.equal(meta.metadata.description, 'remote');
  // 4.3, 4.3.1: manifests and their alternates from the upstream, before any archive is stored.
  const m = await get('ext-app', 'mona/remote/1.1.0/Package.swift', V1.swift);
  assert.equal(m.status, 200);
  assert.equal(m.body.toString(), manifest('5.9'));
  assert.deepEqual(links(m).map((l) => [l.url, l.params.filename, l.params['swift-tools-version']]),
    [[`${base('ext-app')}Mona/Remote/1.1.0/Package.swift?swift-version=5.7`, 'Package@swift-5.7.swift', '5.7']]);
  assert.equal((await get('ext-app', 'mona/remote/1.1.0/Package.swift?swift-version=5.7', V1.swift)).body.toString(), manifest('5.7'));
  assert.equal((await get('ext-app', 'mona/remote/1.1.0/Package.swift?swift-version=6.0', V1.swift)).status, 303);
  // 4.6 and CodeArtifact's rule: a release the external connection serves cannot be published
  // downstream.
  assertProblem(await publish('ext-app', 'Mona.Remote', '1.1.0', { archive: remote['1.1.0'] }), 409,
    /available from swift-registry; it cannot be published to ext-app/);
  // 4.4: the archive, verified against the checksum and ingested.
  const zip = await get('ext-app', 'mona/remote/1.0.0.zip', V1.zip);
  assert.equal(zip.status, 200, zip.body.toString());
  assert.ok(zip.body.equals(remote['1.0.0']));
  assert.equal(zip.headers.digest, `sha-256=${sha256(remote['1.0.0']).toString('base64')}`);
  assert.equal(zip.headers['content-disposition'], 'attachment; filename="Remote-1.0.0.zip"');
  // Retained where CodeArtifact retains it: the repository asked and the one owning the connection.
  for (const repository of ['ext-app', 'ext-store']) {
    const d = await aws.ok(['describe-package-version', '--domain', domain, '--repository', repository,
      '--format', 'swift', '--namespace', 'mona', '--package', 'remote', '--package-version', '1.0.0']);
    assert.equal(d.packageVersion.origin.originType, 'EXTERNAL');
    assert.deepEqual(d.packageVersion.origin.domainEntryPoint, { externalConnectionName: 'swift-registry' });
    assert.equal(d.packageVersion.displayName, 'Mona.Remote');
  }
  // With the upstream registry gone, what was ingested is still served, manifests included.
  await upArca.stop();
  upArca = null;
  const stored = JSON.parse((await get('ext-app', 'mona/remote/1.0.0')).body.toString());
  assert.equal(stored.id, 'Mona.Remote');
  assert.equal(stored.resources[0].checksum, sha256(remote['1.0.0']).toString('hex'));
  assert.equal(stored.metadata.description, 'remote');
  assert.equal((await get('ext-app', 'mona/remote/1.0.0/Package.swift', V1.swift)).body.toString(), manifest('5.5'));
  assert.ok((await get('ext-app', 'mona/remote/1.0.0.zip', V1.zip)).body.equals(remote['1.0.0']));
});
