// CodeArtifact API errors as the service sends them (HTTP status, x-amzn-ErrorType, JSON
// message) for bad input, unknown operations and parameters, missing resources, conflicts,
// and authentication failures: unsigned, unknown key, wrong secret; plus an expired token on
// the data plane.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startArca } from './lib/arca.mjs';
import { Aws, awsBin, authConfig, ACCESS_KEY_ID } from './lib/aws.mjs';
import { request } from './lib/http.mjs';

const skip = awsBin() ? false : 'awscli is not installed (scripts/setup.sh --test installs it)';

// Unsigned requests from loopback (the default) so raw HTTP can send anything.
async function api(arca, method, target, { body, headers = {} } = {}) {
  const r = await request(arca.url(target), { method, body, headers: { 'content-type': 'application/json', ...headers } });
  let json = null;
  try {
    json = JSON.parse(r.body.toString());
  } catch {
    // not JSON
  }
  return { status: r.status, type: r.headers['x-amzn-errortype'], json, raw: r };
}

function expectError(r, status, type, messagePattern) {
  assert.equal(r.status, status, JSON.stringify(r.json));
  assert.equal(r.type, type);
  assert.equal(typeof r.json?.message, 'string');
  if (messagePattern) assert.match(r.json.message, messagePattern);
}

describe('bad input on an open (loopback, unsigned) control plane', () => {
  let arca;
  before(async () => {
    arca = await startArca({ label: 'ca-errors' });
  });
  after(async () => arca && arca.stop());

  test('a body nested 100,000 deep: ValidationException, and arca stays up', async () => {
    const deep = `{"description": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    expectError(await api(arca, 'POST', '/v1/repository?domain=local&repository=deep', { body: deep }), 400,
      'ValidationException', /nests too deeply/);
    assert.equal((await request(arca.url('/healthz'))).status, 200);
  });

  test('names breaking the patterns or too long: ValidationException', async () => {
    expectError(await api(arca, 'POST', '/v1/domain?domain=Bad_Name', { body: '{}' }), 400, 'ValidationException',
      /regular expression pattern/);
    expectError(await api(arca, 'POST', `/v1/domain?domain=${'a'.repeat(51)}`, { body: '{}' }), 400,
      'ValidationException', /length less than or equal to 50/);
    expectError(await api(arca, 'POST', '/v1/domain?domain=v1', { body: '{}' }), 400, 'ValidationException');
    expectError(await api(arca, 'POST', `/v1/repository?domain=local&repository=${'r'.repeat(101)}`, { body: '{}' }),
      400, 'ValidationException');
    expectError(await api(arca, 'POST', '/v1/repository?domain=local&repository=-dash', { body: '{}' }), 400,
      'ValidationException');
    expectError(await api(arca, 'GET', '/v1/package?domain=local&repository=main&format=npm&package=a%2Fb'), 400,
      'ValidationException', /\[\^#\/\\s\]\+/);
    expectError(await api(arca, 'GET', '/v1/package?domain=local&repository=main&format=rpm&package=x'), 400,
      'ValidationException', /enum/);
    expectError(await api(arca, 'GET', '/v1/domain?domain=local&domain-owner=12345'), 400, 'ValidationException');
    expectError(await api(arca, 'POST', '/v1/authorization-token?domain=local&duration=100'), 400, 'ValidationException');
    expectError(await api(arca, 'POST', '/v1/authorization-token?domain=local&duration=43201'), 400, 'ValidationException');
    expectError(await api(arca, 'POST', '/v1/domain/repositories?domain=local&max-results=0'), 400, 'ValidationException');
    expectError(await api(arca, 'POST', '/v1/domain/repositories?domain=local&max-results=1001'), 400, 'ValidationException');
    expectError(await api(arca, 'POST', '/v1/domain/repositories?domain=local&next-token=%25%25%25'), 400,
      'ValidationException');
    expectError(await api(arca, 'POST', `/v1/repository?domain=local&repository=ok-name`,
      { body: JSON.stringify({ description: 'x'.repeat(1001) }) }), 400, 'ValidationException');
  });

  test('malformed bodies, unknown and repeated query parameters, missing required ones', async () => {
    expectError(await api(arca, 'POST', '/v1/domain?domain=newdomain', { body: '{not json' }), 400,
      'ValidationException', /JSON/);
    expectError(await api(arca, 'POST', '/v1/domain?domain=newdomain', { body: '[1,2]' }), 400, 'ValidationException');
    expectError(await api(arca, 'POST', '/v1/domains', { body: JSON.stringify({ maxResults: 'ten' }) }), 400,
      'ValidationException');
    expectError(await api(arca, 'POST', '/v1/repository?domain=local&repository=x1',
      { body: JSON.stringify({ upstreams: 'main' }) }), 400, 'ValidationException');
    expectError(await api(arca, 'GET', '/v1/domain?domain=local&bogus=1'), 400, 'ValidationException', /bogus/);
    expectError(await api(arca, 'GET', '/v1/domain?domain=local&domain=other'), 400, 'ValidationException');
    expectError(await api(arca, 'GET', '/v1/domain'), 400, 'ValidationException', /domain/);
    expectError(await api(arca, 'GET', '/v1/domain?domain=%zz'), 400, 'ValidationException');
    expectError(await api(arca, 'POST', '/v1/package/versions/update_status?domain=local&repository=main&format=npm&package=x',
      { body: JSON.stringify({ versions: ['1.0.0'] }) }), 400, 'ValidationException', /targetStatus/);
    expectError(await api(arca, 'POST', '/v1/package/version/publish?domain=local&repository=main&format=generic' +
      '&namespace=n&package=p&version=1&asset=a', { body: 'bytes' }), 400, 'ValidationException', /sha256/i);
    // Nothing was created by any of this.
    const domains = await api(arca, 'POST', '/v1/domains', { body: '{}' });
    assert.deepEqual(domains.json.domains.map((d) => d.name), ['local']);
  });

  test('unknown operations, missing resources, conflicts', async () => {
    expectError(await api(arca, 'GET', '/v1/nothing-here'), 404, 'UnknownOperationException');
    expectError(await api(arca, 'PATCH', '/v1/domain?domain=local'), 404, 'UnknownOperationException');
    expectError(await api(arca, 'GET', '/v1/domain?domain=missing'), 404, 'ResourceNotFoundException');
    const nf = await api(arca, 'GET', '/v1/repository?domain=local&repository=missing');
    expectError(nf, 404, 'ResourceNotFoundException');
    assert.equal(nf.json.resourceType, 'repository');
    expectError(await api(arca, 'POST', '/v1/domain?domain=local', { body: '{}' }), 409, 'ConflictException');
    expectError(await api(arca, 'DELETE', '/v1/domain?domain=local'), 409, 'ConflictException', /repositories/);
    expectError(await api(arca, 'POST', '/v1/repository?domain=local&repository=main', { body: '{}' }), 409,
      'ConflictException');
    expectError(await api(arca, 'POST', '/v1/repository?domain=local&repository=x2',
      { body: JSON.stringify({ upstreams: [{ repositoryName: 'nope' }] }) }), 404, 'ResourceNotFoundException');
    const eleven = Array.from({ length: 11 }, (_, i) => ({ repositoryName: `u${i}` }));
    for (const u of eleven) await api(arca, 'POST', `/v1/repository?domain=local&repository=${u.repositoryName}`, { body: '{}' });
    expectError(await api(arca, 'POST', '/v1/repository?domain=local&repository=many',
      { body: JSON.stringify({ upstreams: eleven }) }), 400, 'ValidationException', /10/);
    expectError(await api(arca, 'PUT', '/v1/repository?domain=local&repository=npm-store',
      { body: JSON.stringify({ upstreams: [{ repositoryName: 'main' }] }) }), 400, 'ValidationException', /cycle/);
    expectError(await api(arca, 'GET', '/v1/package/version?domain=local&repository=main&format=npm&package=none&version=1.0.0'),
      404, 'ResourceNotFoundException');
  });
});

describe('authentication', () => {
  let arca;
  before(async () => {
    if (skip) return;
    arca = await startArca({ label: 'ca-auth', config: { auth: authConfig({ allow_unsigned_loopback: false }) } });
  });
  after(async () => arca && arca.stop());

  test('unsigned, unknown key, wrong secret: 403 with the AWS error types', { skip }, async () => {
    expectError(await api(arca, 'POST', '/v1/domains', { body: '{}' }), 403, 'MissingAuthenticationTokenException');
    expectError(await api(arca, 'POST', '/v1/domains', { body: '{}', headers: { authorization: 'Basic YTpi' } }), 403,
      'IncompleteSignatureException');
    const stranger = new Aws(arca, { label: 'ca-auth-stranger', accessKeyId: 'AKIDUNKNOWN', secret: 'whatever' });
    await stranger.fails(['list-domains'], 'UnrecognizedClientException');
    const wrong = new Aws(arca, { label: 'ca-auth-wrong', accessKeyId: ACCESS_KEY_ID, secret: 'not-the-secret' });
    const err = await wrong.fails(['list-domains'], 'InvalidSignatureException');
    assert.doesNotMatch(err, /not-the-secret/);
    const otherRegion = new Aws(arca, { label: 'ca-auth-region', region: 'eu-west-1' });
    await otherRegion.fails(['list-domains'], 'InvalidSignatureException');
    const good = new Aws(arca, { label: 'ca-auth-good' });
    const domains = await good.ok(['list-domains']);
    assert.deepEqual(domains.domains.map((d) => d.name), ['local']);
  });

  test('an expired token gets 401 on the data plane', { skip }, async () => {
    const aws = new Aws(arca, { label: 'ca-auth-token' });
    const t = await aws.ok(['get-authorization-token', '--domain', 'local', '--duration-seconds', '900']);
    const url = arca.url('/local/npm/main/-/ping');
    const ok = await request(url, { headers: { authorization: `Bearer ${t.authorizationToken}` } });
    assert.equal(ok.status, 200);
    const basic = Buffer.from(`aws:${t.authorizationToken}`).toString('base64');
    assert.equal((await request(arca.url('/local/npm/main/-/ping'), { headers: { authorization: `Basic ${basic}` } })).status, 200);
    // The same token 1000 s later (arca's token clock moved forward for the test).
    await arca.stop();
    process.env.ARCA_TEST_CLOCK_OFFSET_SECONDS = '1000';
    try {
      await arca.start();
    } finally {
      delete process.env.ARCA_TEST_CLOCK_OFFSET_SECONDS;
    }
    const expired = await request(arca.url('/local/npm/main/-/ping'), { headers: { authorization: `Bearer ${t.authorizationToken}` } });
    assert.equal(expired.status, 401);
    assert.match(JSON.parse(expired.body).error, /expired/);
    const expiredBasic = await request(arca.url('/local/pypi/main/simple/x/'), { headers: { authorization: `Basic ${basic}` } });
    assert.equal(expiredBasic.status, 401);
    assert.match(expiredBasic.headers['www-authenticate'], /Basic realm="arca"/);
    await arca.restart();
  });

  test('with access keys configured, a placeholder or forged token is never anonymous', async () => {
    const ping = arca.url('/local/npm/main/-/ping');
    // No credentials on a loopback listener: anonymous reads are allowed.
    assert.equal((await request(ping)).status, 200);
    for (const authorization of ['Bearer not-a-real-token', 'Bearer arca1.e30.AAAA',
      `Basic ${Buffer.from('aws:placeholder').toString('base64')}`]) {
      const r = await request(ping, { headers: { authorization } });
      assert.equal(r.status, 401, `${authorization}: ${r.status}`);
      assert.equal(typeof JSON.parse(r.body.toString()).error, 'string');
    }
  });
});
