// `aws codeartifact login` against arca, then the real clients with the token arca issued:
// npm publish + npm install, twine upload + pip install. Anonymous access is off here, so
// everything below works only because the token does; without it (or with an expired one)
// the data plane answers 401.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startArca } from './lib/arca.mjs';
import { Aws, awsBin, authConfig } from './lib/aws.mjs';
import { makeTempDir, run, cleanEnv } from './lib/harness.mjs';
import { request } from './lib/http.mjs';
import { makeDists, Venv, PYENV_PYTHON } from './lib/pypi.mjs';

const skip = awsBin() ? false : 'awscli is not installed (scripts/setup.sh --test installs it)';

let arca;
let aws;

before(async () => {
  if (skip) return;
  arca = await startArca({
    label: 'ca-login',
    config: {
      auth: authConfig({ allow_unsigned_loopback: false, anonymous_read: false, anonymous_write: false }),
      external_connections: { 'public:pypi': { url: 'http://127.0.0.1:9/simple/' } },
    },
  });
  aws = new Aws(arca, { label: 'ca-login-aws' });
});

after(async () => {
  if (arca) await arca.stop();
});

async function npmIn(home, args, cwd) {
  return run('npm', [...args, '--no-audit', '--no-fund', '--no-update-notifier', '--fetch-retries', '0',
    '--cache', path.join(home, 'npm-cache')], { cwd, env: cleanEnv({ HOME: home }), timeoutMs: 120_000 });
}

test('login --tool npm, then npm publish and npm install with the token', { skip }, async () => {
  const r = await aws.run(['login', '--tool', 'npm', '--domain', 'local', '--repository', 'main']);
  assert.equal(r.code, 0, r.stderr);
  const npmrc = fs.readFileSync(path.join(aws.home, '.npmrc'), 'utf8');
  const registry = `${arca.baseUrl}/local/npm/main/`;
  assert.match(npmrc, new RegExp(`registry=${registry.replace(/[.]/g, '\\.')}`));
  const token = /:_authToken=(\S+)/.exec(npmrc)[1];
  assert.match(token, /^arca1\./);

  const pkgDir = makeTempDir('ca-login-pkg');
  fs.writeFileSync(path.join(pkgDir, 'package.json'), JSON.stringify({ name: 'logged-in', version: '1.0.0' }));
  fs.writeFileSync(path.join(pkgDir, 'index.js'), 'module.exports = 42;\n');
  const pub = await npmIn(aws.home, ['publish'], pkgDir);
  assert.equal(pub.code, 0, pub.stderr);

  const project = makeTempDir('ca-login-project');
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'p', version: '1.0.0',
    dependencies: { 'logged-in': '^1.0.0' } }));
  const inst = await npmIn(aws.home, ['install'], project);
  assert.equal(inst.code, 0, inst.stderr);
  assert.equal(JSON.parse(fs.readFileSync(path.join(project, 'node_modules/logged-in/package.json'))).version, '1.0.0');

  // Without the token: 401 (anonymous reads are off in this config).
  const anon = await request(`${registry}logged-in`);
  assert.equal(anon.status, 401);
  const withToken = await request(`${registry}logged-in`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(withToken.status, 200);
  // A forged or tampered token is refused, never taken for anonymous.
  const forged = await request(`${registry}logged-in`, { headers: { authorization: `Bearer ${token.slice(0, -2)}xx` } });
  assert.equal(forged.status, 401);
  assert.match(JSON.parse(forged.body).error, /invalid/);
  // A token of another domain does not open this one.
  await aws.ok(['create-domain', '--domain', 'other']);
  await aws.ok(['create-repository', '--domain', 'other', '--repository', 'main']);
  const other = await aws.ok(['get-authorization-token', '--domain', 'other']);
  const cross = await request(`${registry}logged-in`, { headers: { authorization: `Bearer ${other.authorizationToken}` } });
  assert.equal(cross.status, 401);
});

test('login --tool twine and --tool pip, then twine upload and pip install with the token', { skip }, async () => {
  let r = await aws.run(['login', '--tool', 'twine', '--domain', 'local', '--repository', 'main']);
  assert.equal(r.code, 0, r.stderr);
  const pypirc = fs.readFileSync(path.join(aws.home, '.pypirc'), 'utf8');
  assert.match(pypirc, new RegExp(`repository\\s*[:=]\\s*${arca.baseUrl}/local/pypi/main/`));
  assert.match(pypirc, /username\s*[:=]\s*aws/);
  const password = /password\s*[:=]\s*(\S+)/.exec(pypirc)[1];
  assert.match(password, /^arca1\./);

  const dists = await makeDists(makeTempDir('ca-login-dists'), [{ name: 'ca-login-demo', version: '1.2.3' }]);
  const up = await run('/usr/bin/twine', ['upload', '--repository', 'codeartifact', '--non-interactive',
    ...dists.map((d) => d.path)], { env: cleanEnv({ HOME: aws.home }), timeoutMs: 120_000 });
  assert.equal(up.code, 0, `twine upload failed:\n${up.stdout}\n${up.stderr}`);

  r = await aws.run(['login', '--tool', 'pip', '--domain', 'local', '--repository', 'main']);
  assert.equal(r.code, 0, r.stderr);
  const conf = [path.join(aws.home, '.config/pip/pip.conf'), path.join(aws.home, '.pip/pip.conf')]
    .filter((p) => fs.existsSync(p)).map((p) => fs.readFileSync(p, 'utf8')).join('\n');
  const m = /index-url\s*=\s*(\S+)/.exec(conf);
  assert.ok(m, `no index-url in pip config:\n${conf}\n${r.stdout}\n${r.stderr}`);
  const indexUrl = m[1];
  assert.match(indexUrl, new RegExp(`^http://aws:arca1\\.[^@]+@127\\.0\\.0\\.1:${arca.port}/local/pypi/main/simple/$`));

  const venv = await new Venv(PYENV_PYTHON, 'ca-login').create();
  await venv.pipOk(['install', '--index-url', indexUrl, 'ca-login-demo==1.2.3']);
  assert.equal((await venv.installed())['ca-login-demo'], '1.2.3');
  // The same index without credentials is refused.
  const bare = await venv.pip(['download', '--no-deps', '-d', makeTempDir('ca-login-dl'), '--index-url',
    indexUrl.replace(/aws:[^@]+@/, ''), 'ca-login-demo==1.2.3']);
  assert.notEqual(bare.code, 0);
});
