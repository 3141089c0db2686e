// The real AWS CLI (Debian's awscli, /usr/bin/aws) and SDK (@aws-sdk/client-codeartifact from
// tests/integration/node_modules) pointed at an arca instance: hermetic HOME, fake credentials
// that match arca's configured access key, no instance metadata, no pager.

import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { makeTempDir, run, cleanEnv, registerLogSource, tailText } from './harness.mjs';

export const ACCESS_KEY_ID = 'AKIDARCAINTEGRATION';
export const SECRET_ACCESS_KEY = 'arca/integration+secret/KEY';
export const ACCOUNT = '111122223333';
export const REGION = 'us-east-1';

// The auth section of an arca config with the test key.
export function authConfig(extra = {}) {
  return {
    access_keys: [{ access_key_id: ACCESS_KEY_ID, secret_access_key: SECRET_ACCESS_KEY, account: ACCOUNT }],
    ...extra,
  };
}

// Debian's awscli v2 (the `aws` on PATH may be another one). null when not installed.
export function awsBin() {
  for (const p of ['/usr/bin/aws', '/usr/local/bin/aws']) if (fs.existsSync(p)) return p;
  return null;
}

export class Aws {
  constructor(arca, { label = 'aws', accessKeyId = ACCESS_KEY_ID, secret = SECRET_ACCESS_KEY, region = REGION } = {}) {
    this.arca = arca;
    this.root = makeTempDir(label);
    this.home = path.join(this.root, 'home');
    fs.mkdirSync(this.home, { recursive: true });
    this.env = {
      HOME: this.home,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_PAGER: '',
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secret,
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_CONFIG_FILE: path.join(this.root, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(this.root, 'credentials'),
      NO_UPDATE_NOTIFIER: '1',
    };
    this.history = [];
    registerLogSource(`aws cli runs (${label})`, () => this.history.map((h) =>
      `$ aws ${h.args.join(' ')} -> ${h.code}\n  stdout: ${tailText(h.stdout, 20)}\n  stderr: ${tailText(h.stderr, 20)}`)
      .join('\n'));
  }

  // Runs `aws codeartifact <args>` against arca; {code, stdout, stderr}.
  async run(args, { env = {}, timeoutMs = 60_000 } = {}) {
    const full = ['codeartifact', ...args, '--endpoint-url', this.arca.baseUrl, '--output', 'json'];
    const r = await run(awsBin(), full, { env: cleanEnv({ ...this.env, ...env }), timeoutMs, cwd: this.root });
    this.history.push({ args, ...r });
    return r;
  }

  // Runs and parses the JSON output; asserts success.
  async ok(args, opts) {
    const r = await this.run(args, opts);
    assert.equal(r.code, 0, `aws codeartifact ${args.join(' ')} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
    return r.stdout.trim() ? JSON.parse(r.stdout) : {};
  }

  // Runs, asserts failure with the named error type; returns stderr.
  async fails(args, errorType, opts) {
    const r = await this.run(args, opts);
    assert.notEqual(r.code, 0, `aws codeartifact ${args.join(' ')} unexpectedly succeeded:\n${r.stdout}`);
    assert.match(r.stderr, new RegExp(`\\(${errorType}\\)`), `expected ${errorType}, got:\n${r.stderr}`);
    return r.stderr;
  }
}

// The SDK client, or null when tests/integration/node_modules lacks it.
export function loadSdk() {
  const require = createRequire(path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'package.json'));
  try {
    return require('@aws-sdk/client-codeartifact');
  } catch {
    return null;
  }
}

export function sdkClient(sdk, arca, { accessKeyId = ACCESS_KEY_ID, secret = SECRET_ACCESS_KEY } = {}) {
  return new sdk.CodeartifactClient({
    region: REGION,
    endpoint: arca.baseUrl,
    credentials: { accessKeyId, secretAccessKey: secret },
    maxAttempts: 1,
  });
}
