// A real CodeArtifact repository as an upstream (issue 8), with a second arca standing in for
// AWS: its /v1/ API verifies SigV4 against its access keys (unsigned calls refused) and issues
// tokens that live TOKEN_SECONDS; its data plane refuses anonymous reads. The proxy arca holds
// AWS keys in its environment, gets tokens and repository endpoints from it, and serves real
// npm and pip through it with its cache in front: a sustained load across several token
// refreshes, the service down for a minute, a token the service stops accepting (one forced
// refresh and one retry), bad credentials / malformed token answers, and credentials found
// through credential_process, stand-in IMDSv2 and ECS endpoints, web identity and a profile
// with role_arn (a stand-in STS) instead of the environment.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { makeTempDir, sleep, waitFor } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { authConfig, ACCESS_KEY_ID, SECRET_ACCESS_KEY, ACCOUNT } from './lib/aws.mjs';
import { StandinRegistry } from './lib/registry.mjs';
import { generatePackages } from './lib/packages.mjs';
import { Npm, makeProject, readLockfile } from './lib/npm.mjs';
import { StandinIndex, Venv, makeDists, DEBIAN_PYTHON } from './lib/pypi.mjs';
import { StandinMavenRepo } from './lib/maven.mjs';
import { startNugetUpstream } from './lib/nuget.mjs';
import crypto from 'node:crypto';
import { request } from './lib/http.mjs';

const TOKEN_SECONDS = 4;
const DOWN_MS = 60_000;
const WRONG_SECRET = 'wrongSecretKeyThatMustNeverBePrinted0001';

// The proxy finds its credentials the way the AWS CLI would: here in the environment, with
// every other provider out of the way (no profile files under its HOME, no instance metadata).
function awsEnvironment(secret) {
  for (const k of Object.keys(process.env)) {
    if (/^AWS_/.test(k)) delete process.env[k];
  }
  process.env.AWS_ACCESS_KEY_ID = ACCESS_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY = secret;
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
}

function proxyConfig(endpoint) {
  return {
    external_connections: {
      'corp-shared': {
        codeartifact: {
          domain: 'corp', domain_owner: ACCOUNT, region: 'us-east-1', repository: 'shared',
          endpoint, duration_seconds: 43200,
        },
        metadata_ttl_seconds: 1,
      },
    },
    domains: [{ name: 'local', repositories: [{ name: 'main', external_connection: 'corp-shared' }] }],
  };
}

// The Prometheus value of `name` for the corp-shared connection.
async function tokenMetric(arca, name) {
  const r = await request(arca.url('/metrics'));
  const line = r.body.toString().split('\n').find((l) => l.startsWith(`${name}{connection="corp-shared"`));
  assert.ok(line, `no ${name} in /metrics`);
  return Number(line.split(' ').pop());
}

// Responses the proxy answered with a 5xx so far.
async function serverErrors(arca) {
  const r = await request(arca.url('/metrics'));
  const line = r.body.toString().split('\n').find((l) => l.startsWith('arca_responses_total{class="5xx"}'));
  return Number(line.split(' ').pop());
}

describe('CodeArtifact as an upstream: a second arca stands in for AWS', { timeout: 240_000 }, () => {
  let set;
  let registry;
  let index;
  let service;
  let proxy;
  let npm;
  let project;
  let venv;
  let pipDists;
  let maven;
  let nuget;
  const jarPath = 'org/example/ca/calib/1.0/calib-1.0.jar';
  const jarBytes = crypto.randomBytes(3000);
  const simple = () => `${proxy.baseUrl}/local/pypi/main/simple/`;

  before(async () => {
    set = await generatePackages({ count: 6, scoped: 1, multiVersion: 1, roots: 2, prefix: 'caup', seed: 11 });
    registry = new StandinRegistry({ label: 'npm behind the service' });
    registry.addPackages(set.packages);
    await registry.start();
    pipDists = await makeDists(makeTempDir('ca-dists'), [
      { name: 'ca-app', version: '1.0', deps: ['ca-lib>=1'] },
      { name: 'ca-lib', version: '1.2' },
      { name: 'ca-later', version: '1.0' },
    ]);
    index = new StandinIndex({ mode: 'json', label: 'PyPI behind the service' });
    index.addFiles(pipDists.filter((d) => d.name !== 'ca-later'));
    await index.start();
    const mavenRoot = makeTempDir('ca-maven');
    fs.mkdirSync(path.join(mavenRoot, path.dirname(jarPath)), { recursive: true });
    fs.writeFileSync(path.join(mavenRoot, jarPath), jarBytes);
    fs.writeFileSync(path.join(mavenRoot, jarPath + '.sha1'), crypto.createHash('sha1').update(jarBytes).digest('hex'));
    maven = await new StandinMavenRepo({ root: mavenRoot, label: 'Maven behind the service' }).start();
    nuget = await startNugetUpstream({ label: 'NuGet behind the service', packages: [{ id: 'Ca.Nuget', version: '1.0.0' }] });

    service = await startArca({
      label: 'ca-service',
      upstreamUrl: registry.url,
      ttlSeconds: 1,
      config: {
        auth: authConfig({
          allow_unsigned_loopback: false, anonymous_read: false, anonymous_write: false,
          max_token_duration_seconds: TOKEN_SECONDS,
        }),
        external_connections: {
          'pypi:up': { format: 'pypi', url: index.url, metadata_ttl_seconds: 1 },
          'maven:up': { format: 'maven', url: maven.url, metadata_ttl_seconds: 1 },
          'nuget:up': { format: 'nuget', url: nuget.indexUrl, metadata_ttl_seconds: 1 },
        },
        domains: [{
          name: 'corp',
          repositories: [
            { name: 'npm-store', external_connection: 'public:npmjs' },
            { name: 'pypi-store', external_connection: 'pypi:up' },
            { name: 'maven-store', external_connection: 'maven:up' },
            { name: 'nuget-store', external_connection: 'nuget:up' },
            { name: 'shared', upstreams: ['npm-store', 'pypi-store', 'maven-store', 'nuget-store'] },
          ],
        }],
      },
    });
    // The service refuses what the proxy must not get away with.
    assert.equal((await request(`${service.baseUrl}/corp/npm/shared/${set.roots[0]}`)).status, 401);
    assert.equal((await request(`${service.baseUrl}/v1/authorization-token?domain=corp`, { method: 'POST' })).status, 403);

    awsEnvironment(SECRET_ACCESS_KEY);
    proxy = await startArca({ label: 'ca-proxy', config: proxyConfig(service.baseUrl) });
    npm = new Npm({ label: 'ca-npm' });
    npm.setRegistry(proxy.registry('main'));
    project = makeProject(path.join(makeTempDir('ca-project'), 'app'), set.rootRanges);
    venv = await new Venv(DEBIAN_PYTHON, 'ca-pip').create();
  });

  after(async () => {
    for (const a of [proxy, service]) if (a) await a.stop();
    if (nuget) await nuget.stop();
  });

  const pipInstall = (pkgs) => venv.pip(['install', '--force-reinstall', '--index-url', simple(), ...pkgs],
    { timeoutMs: 60_000 });

  test('npm install and pip install through the proxy: tokens and endpoints from the service', async () => {
    await npm.ok(['install'], { cwd: project, timeoutMs: 90_000 });
    const lock = readLockfile(project);
    for (const [key, entry] of Object.entries(lock.packages)) {
      if (key) assert.ok(entry.resolved.startsWith(proxy.registry('main')), `${key} resolved at ${entry.resolved}`);
    }
    const r = await pipInstall(['ca-app']);
    assert.equal(r.code, 0, r.stderr);
    const installed = await venv.installed();
    assert.equal(installed['ca-app'], '1.0');
    assert.equal(installed['ca-lib'], '1.2');
    // Maven takes the same path (Basic aws:<token>); the jar is verified against its .sha1.
    const jar = await request(proxy.url(`/local/maven/main/${jarPath}`));
    assert.equal(jar.status, 200, jar.body.toString());
    assert.ok(jar.body.equals(jarBytes), 'the jar through the proxy differs');
    // NuGet too: the service index under the repository's NuGet endpoint, then the flat
    // container, with Basic aws:<token>; the nupkg is checked against its packageHash.
    const versions = await request(proxy.url('/local/nuget/main/v3/flatcontainer/ca.nuget/index.json'));
    assert.equal(versions.status, 200, versions.body.toString());
    assert.deepEqual(JSON.parse(versions.body).versions, ['1.0.0']);
    const nupkg = await request(proxy.url('/local/nuget/main/v3/flatcontainer/ca.nuget/1.0.0/ca.nuget.1.0.0.nupkg'));
    assert.equal(nupkg.status, 200, nupkg.body.toString());
    assert.ok(nupkg.body.equals(nuget.entry('Ca.Nuget', '1.0.0').nupkg),
      'the nupkg through the proxy differs from what the stand-in served');

    assert.equal(await tokenMetric(proxy, 'arca_codeartifact_token_valid'), 1);
    assert.ok(await tokenMetric(proxy, 'arca_codeartifact_token_refreshes_total') >= 1);
    assert.equal(await tokenMetric(proxy, 'arca_codeartifact_token_refresh_failures_total'), 0);
    const ready = await request(proxy.url('/readyz'));
    assert.equal(ready.status, 200);
    assert.match(ready.body.toString(), /codeartifact corp-shared \(corp\/shared, us-east-1\): ok, token expires /);
    // Nothing in what the proxy says carries a token or a key.
    const text = proxy.logs() + ready.body.toString() + (await request(proxy.url('/metrics'))).body.toString();
    assert.ok(!text.includes('arca1.'), 'a token appears in the proxy log or admin endpoints');
    assert.ok(!text.includes(SECRET_ACCESS_KEY), 'the secret key appears in the proxy log');
  });

  test('a sustained load of npm ci / npm install / pip install across 3+ token refreshes never fails', async () => {
    const first = await tokenMetric(proxy, 'arca_codeartifact_token_refreshes_total');
    const errorsBefore = await serverErrors(proxy);
    const lockText = fs.readFileSync(path.join(project, 'package-lock.json'), 'utf8');
    const deadline = Date.now() + 45_000;
    let failures = [];
    let runs = 0;
    const npmLoop = async () => {
      for (let i = 0; Date.now() < deadline; i++) {
        if (await tokenMetric(proxy, 'arca_codeartifact_token_refreshes_total') >= first + 3 && i >= 2) return;
        npm.clearCache();
        fs.rmSync(path.join(project, 'node_modules'), { recursive: true, force: true });
        // npm ci fetches only tarballs; npm install without a lockfile revalidates packuments
        // (metadata TTL 1 s), which needs a token.
        if (i % 2) fs.rmSync(path.join(project, 'package-lock.json'), { force: true });
        else fs.writeFileSync(path.join(project, 'package-lock.json'), lockText);
        const r = await npm.run([i % 2 ? 'install' : 'ci'], { cwd: project, timeoutMs: 60_000 });
        runs++;
        if (r.code !== 0) failures.push(`npm ${i % 2 ? 'install' : 'ci'}: ${r.stderr.slice(-400)}`);
      }
    };
    const pipLoop = async () => {
      while (Date.now() < deadline) {
        if (await tokenMetric(proxy, 'arca_codeartifact_token_refreshes_total') >= first + 3) return;
        const r = await pipInstall(['ca-app']);
        runs++;
        if (r.code !== 0) failures.push(`pip install: ${r.stderr.slice(-400)}`);
      }
    };
    await Promise.all([npmLoop(), pipLoop()]);
    const refreshes = await tokenMetric(proxy, 'arca_codeartifact_token_refreshes_total') - first;
    assert.deepEqual(failures, [], `${failures.length} of ${runs} client runs failed`);
    assert.ok(refreshes >= 3, `only ${refreshes} token refreshes during ${runs} client runs`);
    assert.equal(await serverErrors(proxy), errorsBefore, 'the proxy answered some request with a 5xx');
    assert.equal(await tokenMetric(proxy, 'arca_codeartifact_token_refresh_failures_total'), 0);
  });

  test('an idle proxy renews its token before it expires, with no request asking for it', async () => {
    const first = await tokenMetric(proxy, 'arca_codeartifact_token_refreshes_total');
    const deadline = Date.now() + 2.5 * TOKEN_SECONDS * 1000;
    while (Date.now() < deadline) {
      assert.equal(await tokenMetric(proxy, 'arca_codeartifact_token_valid'), 1, 'the token lapsed while idle');
      await sleep(250);
    }
    assert.ok(await tokenMetric(proxy, 'arca_codeartifact_token_refreshes_total') >= first + 2);
  });

  test('the service down for a minute: cached installs keep working, the refresh recovers', async () => {
    await service.stop();
    const errorsBefore = await serverErrors(proxy);
    const lockText = fs.readFileSync(path.join(project, 'package-lock.json'), 'utf8');
    const downUntil = Date.now() + DOWN_MS;
    let runs = 0;
    while (Date.now() < downUntil) {
      npm.clearCache();
      fs.rmSync(path.join(project, 'node_modules'), { recursive: true, force: true });
      fs.writeFileSync(path.join(project, 'package-lock.json'), lockText);
      await npm.ok(['ci'], { cwd: project, timeoutMs: 60_000 });
      const r = await pipInstall(['ca-app']);
      assert.equal(r.code, 0, `pip install from the cache failed while the service was down:\n${r.stderr}`);
      runs++;
      await sleep(Math.min(3000, Math.max(0, downUntil - Date.now())));
    }
    assert.ok(runs >= 3, `${runs} rounds`);
    assert.equal(await serverErrors(proxy), errorsBefore, 'a request served from the cache failed');
    assert.equal(await tokenMetric(proxy, 'arca_codeartifact_token_valid'), 0);
    assert.ok(await tokenMetric(proxy, 'arca_codeartifact_token_consecutive_failures') >= 1);
    const degraded = await request(proxy.url('/readyz'));
    assert.equal(degraded.status, 200, 'cached content is still served: arca stays ready');
    assert.match(degraded.body.toString(), /corp-shared .*degraded, no valid token.*consecutive failures [1-9]/);

    // Something new appears upstream while the service is down; after it returns the proxy
    // gets a fresh token and resolves it.
    index.addFiles(pipDists.filter((d) => d.name === 'ca-later'));
    await service.start({ samePort: true });
    // The next token request is at most a second away (the backoff of a 4-second token);
    // meanwhile the cached page keeps being served.
    await waitFor(async () => {
      const page = await request(`${simple()}ca-app/`);
      assert.equal(page.status, 200);
      return await tokenMetric(proxy, 'arca_codeartifact_token_valid') === 1;
    }, { timeoutMs: 10_000, intervalMs: 200, what: 'the proxy to get a token again' });
    const r = await pipInstall(['ca-later']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await tokenMetric(proxy, 'arca_codeartifact_token_valid'), 1);
    assert.equal(await tokenMetric(proxy, 'arca_codeartifact_token_consecutive_failures'), 0);
    assert.match((await request(proxy.url('/readyz'))).body.toString(), /corp-shared .*: ok/);
  });

  test('a token the service stops accepting: one forced refresh, one retry, the client never sees it', async () => {
    // Long-lived tokens, then a service that no longer knows them (a new token-signing secret).
    await service.stop();
    service.config.auth.max_token_duration_seconds = 3600;
    await service.start({ samePort: true });
    await waitFor(async () => {
      const r = await request(`${proxy.registry('main')}${set.roots[0]}`);
      assert.equal(r.status, 200);
      return await tokenMetric(proxy, 'arca_codeartifact_token_expires_at_seconds') > Date.now() / 1000 + 600;
    }, { timeoutMs: 15_000, intervalMs: 1100, what: 'a one-hour token' });
    await service.stop();
    service.config.data_dir = path.join(makeTempDir('ca-service-new'), 'data');
    await service.start({ samePort: true });

    const before = await tokenMetric(proxy, 'arca_codeartifact_token_refreshes_total');
    await sleep(1100);  // the proxy's cached packument is stale: it asks the service again
    const r = await request(`${proxy.registry('main')}${set.roots[1]}`);
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(await tokenMetric(proxy, 'arca_codeartifact_token_refreshes_total'), before + 1);
    assert.match(proxy.logs(), /corp-shared: the repository refused the token; refreshing it/);
    assert.match(proxy.logs(), /answered 401: retrying once with refreshed credentials/);
  });
});

describe('CodeArtifact upstream errors reach the client as gateway errors, without secrets', { timeout: 60_000 }, () => {
  let service;
  let fake;
  const fakeRequests = [];

  before(async () => {
    service = await startArca({
      label: 'ca-service-errors',
      config: { auth: authConfig({ allow_unsigned_loopback: false, anonymous_read: false }),
        domains: [{ name: 'corp', repositories: [{ name: 'shared' }] }] },
    });
    // A CodeArtifact API whose token answer is not JSON.
    fake = http.createServer((req, res) => {
      fakeRequests.push({ method: req.method, url: req.url, authorization: req.headers.authorization || '' });
      const port = fake.address().port;
      if (req.url.startsWith('/v1/repository/endpoint')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ repositoryEndpoint: `http://127.0.0.1:${port}/npm/shared/` }));
      } else if (req.url.startsWith('/v1/authorization-token')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"authorizationToken": ');
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise((resolve) => fake.listen(0, '127.0.0.1', resolve));
  });

  after(async () => {
    if (service) await service.stop();
    if (fake) fake.close();
  });

  test('wrong secret key: SigV4 rejected, a 502 in npm\'s form, one clear log line, no secret', async () => {
    awsEnvironment(WRONG_SECRET);
    const bad = await startArca({ label: 'ca-proxy-wrong-key', config: proxyConfig(service.baseUrl) });
    try {
      const r = await request(`${bad.registry('main')}some-package`);
      assert.equal(r.status, 502, r.body.toString());
      const body = JSON.parse(r.body.toString());
      assert.match(body.error, /codeartifact connection corp-shared: GetRepositoryEndpoint .* returned HTTP 403 \(InvalidSignatureException/);
      await sleep(200);
      const log = bad.logs();
      assert.match(log, /GetRepositoryEndpoint for corp\/shared \(npm\) returned HTTP 403 \(InvalidSignatureException: .*\) \(credentials from environment\)/);
      assert.ok(!log.includes(WRONG_SECRET) && !r.body.toString().includes(WRONG_SECRET), 'the secret key was printed');
      const ready = (await request(bad.url('/readyz'))).body.toString();
      assert.match(ready, /corp-shared .*degraded, no valid token.*InvalidSignatureException/);
      assert.equal(await tokenMetric(bad, 'arca_codeartifact_token_refreshes_total'), 0);
      assert.ok(await tokenMetric(bad, 'arca_codeartifact_token_refresh_failures_total') >= 1);
    } finally {
      await bad.stop();
      awsEnvironment(SECRET_ACCESS_KEY);
    }
  });

  test('a malformed token answer: a 502 naming it, nothing sent to the repository', async () => {
    awsEnvironment(SECRET_ACCESS_KEY);
    const bad = await startArca({ label: 'ca-proxy-malformed', config: proxyConfig(`http://127.0.0.1:${fake.address().port}`) });
    try {
      const r = await request(`${bad.registry('main')}some-package`);
      assert.equal(r.status, 502, r.body.toString());
      assert.match(JSON.parse(r.body.toString()).error, /GetAuthorizationToken answered with invalid JSON/);
      assert.ok(fakeRequests.some((q) => q.url.startsWith('/v1/authorization-token') && q.authorization.startsWith('AWS4-HMAC-SHA256 ')));
      assert.ok(!fakeRequests.some((q) => q.url.startsWith('/npm/')), 'a repository request went out without a token');
      assert.match((await request(bad.url('/readyz'))).body.toString(), /degraded, no valid token.*invalid JSON/);
    } finally {
      await bad.stop();
    }
  });
});

describe('the proxy finds AWS credentials like the CLI: credential_process, IMDSv2, ECS, web identity, role_arn', { timeout: 90_000 }, () => {
  let service;
  let imds;
  const imdsRequests = [];
  let ecs;
  const ecsRequests = [];
  let sts;
  const stsCalls = [];
  const SOURCE_KEY_ID = 'AKIDSOURCEPROFILE01';
  const WEB_IDENTITY = 'web-identity-jwt-from-the-file';

  before(async () => {
    service = await startArca({
      label: 'ca-service-creds',
      config: { auth: authConfig({ allow_unsigned_loopback: false, anonymous_read: false }),
        domains: [{ name: 'corp', repositories: [{ name: 'shared' }] }] },
    });
    // IMDSv2: a session token first, then the role and its credentials only with that token.
    imds = http.createServer((req, res) => {
      imdsRequests.push(`${req.method} ${req.url}`);
      if (req.method === 'PUT' && req.url === '/latest/api/token' && req.headers['x-aws-ec2-metadata-token-ttl-seconds']) {
        res.writeHead(200);
        return res.end('imds-session-1');
      }
      if (req.headers['x-aws-ec2-metadata-token'] !== 'imds-session-1') {
        res.writeHead(401);
        return res.end();
      }
      if (req.url === '/latest/meta-data/iam/security-credentials/') {
        res.writeHead(200);
        return res.end('arca-role');
      }
      if (req.url === '/latest/meta-data/iam/security-credentials/arca-role') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ Code: 'Success', AccessKeyId: ACCESS_KEY_ID, SecretAccessKey: SECRET_ACCESS_KEY,
          Expiration: new Date(Date.now() + 3600_000).toISOString() }));
      }
      res.writeHead(404);
      res.end();
    });
    await new Promise((resolve) => imds.listen(0, '127.0.0.1', resolve));

    // The ECS container endpoint: credentials only with the authorization token.
    ecs = http.createServer((req, res) => {
      ecsRequests.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'}`);
      if (req.url !== '/creds' || req.headers.authorization !== 'ecs-task-token') {
        res.writeHead(401);
        return res.end();
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ AccessKeyId: ACCESS_KEY_ID, SecretAccessKey: SECRET_ACCESS_KEY, Token: 'ecs-session',
        Expiration: new Date(Date.now() + 3600_000).toISOString() }));
    });
    await new Promise((resolve) => ecs.listen(0, '127.0.0.1', resolve));

    // STS: AssumeRole must be SigV4-signed with the source profile's key; AssumeRoleWithWebIdentity
    // carries the token from the file. Both answer STS's XML with the service's keys.
    sts = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        const params = new URLSearchParams(req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '');
        for (const [k, v] of new URLSearchParams(body)) params.set(k, v);
        const action = params.get('Action');
        stsCalls.push({ action, roleArn: params.get('RoleArn'), authorization: req.headers.authorization ?? '' });
        const ok = (action === 'AssumeRole' && (req.headers.authorization ?? '').includes(`Credential=${SOURCE_KEY_ID}/`)) ||
          (action === 'AssumeRoleWithWebIdentity' && params.get('WebIdentityToken') === WEB_IDENTITY);
        if (!ok) {
          res.writeHead(403, { 'content-type': 'text/xml' });
          return res.end('<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not allowed</Message></Error></ErrorResponse>');
        }
        const expiration = new Date(Date.now() + 3600_000).toISOString();
        res.writeHead(200, { 'content-type': 'text/xml' });
        res.end(`<${action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><${action}Result><Credentials>` +
          `<AccessKeyId>${ACCESS_KEY_ID}</AccessKeyId><SecretAccessKey>${SECRET_ACCESS_KEY}</SecretAccessKey>` +
          `<SessionToken>sts-session</SessionToken><Expiration>${expiration}</Expiration></Credentials>` +
          `</${action}Result></${action}Response>`);
      });
    });
    await new Promise((resolve) => sts.listen(0, '127.0.0.1', resolve));
  });

  after(async () => {
    if (service) await service.stop();
    if (imds) imds.close();
    if (ecs) ecs.close();
    if (sts) sts.close();
    awsEnvironment(SECRET_ACCESS_KEY);
  });

  // A request the service answers 404 to (it exists nowhere), which the proxy can only get
  // with a valid token: anything else would be a 401 or a 502.
  async function provesToken(label) {
    const proxy = await startArca({ label, config: proxyConfig(service.baseUrl) });
    try {
      const r = await request(`${proxy.registry('main')}not-there`);
      assert.equal(r.status, 404, r.body.toString());
      assert.ok(await tokenMetric(proxy, 'arca_codeartifact_token_refreshes_total') >= 1);
      assert.ok(!proxy.logs().includes(SECRET_ACCESS_KEY), 'the secret key was printed');
    } finally {
      await proxy.stop();
    }
  }

  test('credential_process from the profile in AWS_CONFIG_FILE', async () => {
    const dir = makeTempDir('ca-creds-process');
    const script = path.join(dir, 'creds.sh');
    fs.writeFileSync(script, `#!/bin/sh\necho '${JSON.stringify({ Version: 1, AccessKeyId: ACCESS_KEY_ID,
      SecretAccessKey: SECRET_ACCESS_KEY, Expiration: new Date(Date.now() + 3600_000).toISOString() })}'\n`);
    fs.writeFileSync(path.join(dir, 'config'), `[profile build]\ncredential_process = sh ${script}\n`);
    awsEnvironment(SECRET_ACCESS_KEY);
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    process.env.AWS_CONFIG_FILE = path.join(dir, 'config');
    process.env.AWS_SHARED_CREDENTIALS_FILE = path.join(dir, 'none');
    process.env.AWS_PROFILE = 'build';
    await provesToken('ca-proxy-process');
  });

  test('EC2 instance metadata (IMDSv2 with its session token)', async () => {
    awsEnvironment(SECRET_ACCESS_KEY);
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    delete process.env.AWS_EC2_METADATA_DISABLED;
    process.env.AWS_CONFIG_FILE = '/nonexistent/config';
    process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/credentials';
    process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = `http://127.0.0.1:${imds.address().port}`;
    await provesToken('ca-proxy-imds');
    assert.deepEqual(imdsRequests.slice(0, 3), ['PUT /latest/api/token',
      'GET /latest/meta-data/iam/security-credentials/', 'GET /latest/meta-data/iam/security-credentials/arca-role']);
  });

  // Only the provider under test can answer: no keys in the environment, no profile files, no IMDS.
  function bareEnvironment() {
    awsEnvironment(SECRET_ACCESS_KEY);
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    process.env.AWS_CONFIG_FILE = '/nonexistent/config';
    process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/credentials';
  }

  test('the ECS container endpoint with its authorization token', async () => {
    bareEnvironment();
    process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = `http://127.0.0.1:${ecs.address().port}/creds`;
    process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN = 'ecs-task-token';
    await provesToken('ca-proxy-ecs');
    assert.ok(ecsRequests.length >= 1);
    assert.ok(ecsRequests.every((r) => r === 'GET /creds ecs-task-token'), ecsRequests.join('\n'));
  });

  test('web identity: the token file and role through STS AssumeRoleWithWebIdentity', async () => {
    bareEnvironment();
    const dir = makeTempDir('ca-creds-webid');
    fs.writeFileSync(path.join(dir, 'token'), WEB_IDENTITY);
    process.env.AWS_WEB_IDENTITY_TOKEN_FILE = path.join(dir, 'token');
    process.env.AWS_ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/ci-web`;
    process.env.AWS_ENDPOINT_URL_STS = `http://127.0.0.1:${sts.address().port}`;
    const before = stsCalls.length;
    await provesToken('ca-proxy-webid');
    const calls = stsCalls.slice(before);
    assert.ok(calls.some((c) => c.action === 'AssumeRoleWithWebIdentity' && c.roleArn === `arn:aws:iam::${ACCOUNT}:role/ci-web`),
      JSON.stringify(calls));
  });

  test('a profile with role_arn and source_profile: STS AssumeRole signed with the source keys', async () => {
    bareEnvironment();
    const dir = makeTempDir('ca-creds-role');
    fs.writeFileSync(path.join(dir, 'credentials'),
      `[base]\naws_access_key_id = ${SOURCE_KEY_ID}\naws_secret_access_key = sourceSecretNeverPrinted000000000001\n`);
    fs.writeFileSync(path.join(dir, 'config'),
      `[profile deploy]\nrole_arn = arn:aws:iam::${ACCOUNT}:role/deployer\nsource_profile = base\n`);
    process.env.AWS_CONFIG_FILE = path.join(dir, 'config');
    process.env.AWS_SHARED_CREDENTIALS_FILE = path.join(dir, 'credentials');
    process.env.AWS_PROFILE = 'deploy';
    process.env.AWS_ENDPOINT_URL_STS = `http://127.0.0.1:${sts.address().port}`;
    const before = stsCalls.length;
    await provesToken('ca-proxy-role');
    const calls = stsCalls.slice(before);
    assert.ok(calls.some((c) => c.action === 'AssumeRole' && c.roleArn === `arn:aws:iam::${ACCOUNT}:role/deployer` &&
      c.authorization.startsWith('AWS4-HMAC-SHA256 ')), JSON.stringify(calls));
  });
});
