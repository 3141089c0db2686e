// The listener and the command line: startup errors exit non-zero with one clear line before
// anything listens; SIGTERM lets in-flight responses finish; 100-continue, h2c upgrade
// requests, keep-alive and header limits behave as HTTP/1.1 clients need.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Arca, arcaBin, startArca } from './lib/arca.mjs';
import { makeTempDir } from './lib/harness.mjs';
import { StandinRegistry, tarballFileName } from './lib/registry.mjs';
import { generatePackages } from './lib/packages.mjs';
import { request, sha512Integrity } from './lib/http.mjs';

function runArca(args, { timeout = 20_000 } = {}) {
  const r = spawnSync(arcaBin(), args, { encoding: 'utf8', timeout });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function writeConfig(dir, config) {
  const file = path.join(dir, 'arca.json');
  fs.writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config));
  return file;
}

// Sends raw bytes on one connection and collects what comes back until `until` matches.
function rawExchange(port, steps, { timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let received = '';
    let stepIndex = 0;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`raw exchange timed out; received so far:\n${received}`));
    }, timeoutMs);
    const advance = () => {
      while (stepIndex < steps.length) {
        const step = steps[stepIndex];
        if (step.send !== undefined) {
          sock.write(step.send);
          stepIndex++;
        } else if (step.until) {
          if (!step.until.test(received)) return;
          stepIndex++;
        }
      }
      clearTimeout(timer);
      sock.end();
      resolve(received);
    };
    sock.on('connect', advance);
    sock.on('data', (d) => {
      received += d.toString('latin1');
      advance();
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
  });
}

describe('command line and startup errors', () => {
  test('--version and --help exit 0', () => {
    const v = runArca(['--version']);
    assert.equal(v.code, 0);
    assert.match(v.out, /^arca \d+\.\d+\.\d+/);
    const h = runArca(['--help']);
    assert.equal(h.code, 0);
    assert.match(h.out, /serve/);
  });

  test('default-config prints the embedded configuration', () => {
    const r = runArca(['default-config']);
    assert.equal(r.code, 0);
    assert.match(r.out, /"public:npmjs"/);
    assert.match(r.out, /127\.0\.0\.1:5080/);
  });

  test('a bad config names the JSON path and exits non-zero', () => {
    const dir = makeTempDir('badcfg');
    const file = writeConfig(dir, { listen: '127.0.0.1:0', upstream: { read_timeout_ms: 'slow' } });
    const r = runArca(['serve', '--config', file]);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /upstream\.read_timeout_ms/);
    const unknown = runArca(['serve', '--config', writeConfig(dir, '{ "listn": "x" }')]);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.err, /listn: unknown key/);
    const missing = runArca(['serve', '--config', path.join(dir, 'nope.json')]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.err, /cannot read/);
  });

  test('a port already taken is a clear startup error', async () => {
    const a = await startArca({ label: 'port-holder' });
    const dir = makeTempDir('porttaken');
    const file = writeConfig(dir, { listen: `127.0.0.1:${a.port}`, data_dir: path.join(dir, 'data') });
    const r = runArca(['serve', '--config', file]);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /cannot bind 127\.0\.0\.1:\d+: .*in use/i);
    await a.stop();
  });

  test('a data directory that cannot be created is a clear startup error', () => {
    const dir = makeTempDir('baddata');
    const blocker = path.join(dir, 'a-file');
    fs.writeFileSync(blocker, 'not a directory');
    const file = writeConfig(dir, { listen: '127.0.0.1:0', data_dir: path.join(blocker, 'data') });
    const r = runArca(['serve', '--config', file]);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /data directory/);
  });
});

describe('listener behaviour', { timeout: 120_000 }, () => {
  let arca;
  let standin;
  let big;

  before(async () => {
    const set = await generatePackages({
      count: 2, scoped: 0, multiVersion: 0, roots: 2, deps: false, prefix: 'srv', seed: 11,
      sizes: { 0: 3_000_000 },
    });
    big = set.packages.find((p) => p.index === 0);
    standin = new StandinRegistry();
    standin.addPackages(set.packages);
    await standin.start();
    arca = await startArca({ label: 'listener', upstreamUrl: standin.url,
      config: { listener: { header_limit_bytes: 4096 } } });
  });

  test('keep-alive: two requests on one connection', async () => {
    const out = await rawExchange(arca.port, [
      { send: 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' },
      { until: /ok\n/ },
      { send: 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' },
      { until: /ok\n[\s\S]*ok\n/ },
    ]);
    assert.equal(out.match(/HTTP\/1\.1 200 OK/g).length, 2);
  });

  test('Expect: 100-continue gets a prompt 100 Continue before the body is sent', async () => {
    const body = '{"not":"a publish"}';
    const out = await rawExchange(arca.port, [
      { send: `PUT /local/npm/main/some-pkg HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
          `Expect: 100-continue\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n` },
      { until: /HTTP\/1\.1 100 Continue\r\n\r\n/ },
      { send: body },
      { until: /HTTP\/1\.1 400/ },
    ], { timeoutMs: 2500 });
    assert.match(out, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 400 /);
  });

  test('Upgrade: h2c is ignored and answered in HTTP/1.1', async () => {
    const out = await rawExchange(arca.port, [
      { send: 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n' +
          'Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n' },
      { until: /ok\n/ },
    ]);
    assert.match(out, /^HTTP\/1\.1 200 OK\r\n/);
    assert.doesNotMatch(out, /101 Switching/);
  });

  test('an oversized header block gets 431', async () => {
    const r = await request(arca.url('/healthz'), { headers: { 'x-big': 'a'.repeat(8000) } });
    assert.equal(r.status, 431);
  });

  test('an unknown path gets a JSON 404', async () => {
    const r = await request(arca.url('/no/such'));
    assert.equal(r.status, 404);
    assert.ok(JSON.parse(r.body.toString()).error);
  });

  test('SIGTERM lets an in-flight download finish, then exits 0', async () => {
    standin.setTarballBehavior(big.name, big.version, { chunks: 20, totalMs: 2000 });
    const url = `${arca.registry()}${big.name}/-/${tarballFileName(big.name, big.version)}`;
    const download = request(url, { timeoutMs: 30_000 });
    // Wait until the download is under way, then ask arca to stop.
    await new Promise((r) => setTimeout(r, 600));
    const stopped = arca.stop({ timeoutMs: 20_000 });
    const r = await download;
    assert.equal(r.status, 200);
    assert.ok(r.complete, 'the in-flight download must complete');
    assert.equal(sha512Integrity(r.body), big.integrity);
    const exit = await stopped;
    assert.equal(exit.timedOut, false);
    assert.equal(exit.code, 0);
  });
});
