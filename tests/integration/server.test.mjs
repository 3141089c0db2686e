// The listener and the command line: startup errors exit non-zero with one clear line before
// anything listens; SIGTERM lets in-flight responses finish; 100-continue, h2c upgrade
// requests, keep-alive and header limits behave as HTTP/1.1 clients need; a Transfer-Encoding
// other than a single chunked is a 400 and closes the connection (RFC 9112 §6.1).

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Arca, arcaBin, assertNoSanitizerReport, startArca } from './lib/arca.mjs';
import { makeTempDir } from './lib/harness.mjs';
import { StandinRegistry, tarballFileName } from './lib/registry.mjs';
import { generatePackages } from './lib/packages.mjs';
import { request, sha512Integrity } from './lib/http.mjs';

function runArca(args, { timeout = 20_000 } = {}) {
  const r = spawnSync(arcaBin(), args, { encoding: 'utf8', timeout });
  assertNoSanitizerReport(r.stderr, `arca ${args.join(' ')}`);
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

// Sends raw bytes and collects everything the server answers until it closes the connection
// (a reset after the answer counts as a close). Rejects if it is still open after timeoutMs:
// a server that keeps the connection has parsed what followed as another request.
function rawUntilClose(port, bytes, { timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`the connection stayed open; received so far:\n${received}`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      resolve(received);
    };
    sock.on('connect', () => sock.write(bytes));
    sock.on('data', (d) => { received += d.toString('latin1'); });
    sock.on('error', (e) => {
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') return done();
      clearTimeout(timer);
      reject(e);
    });
    sock.on('close', done);
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

  // RFC 9112 §6.1: a request whose Transfer-Encoding is not a final chunked cannot be framed;
  // 400 and close. Treated as bodyless, its body would be read as a second request (smuggling).
  test('Transfer-Encoding other than a single chunked: one 400, then the connection closes', async () => {
    const smuggled = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
    for (const head of [
      'Transfer-Encoding: gzip',
      'Transfer-Encoding: identity',
      'Transfer-Encoding: chunked, identity',
      'Transfer-Encoding: gzip, chunked',
      'Transfer-Encoding: chunked\r\nTransfer-Encoding: identity',
    ]) {
      for (const method of ['GET', 'PUT']) {
        const out = await rawUntilClose(arca.port,
          `${method} /healthz HTTP/1.1\r\nHost: x\r\n${head}\r\n\r\n${smuggled}`);
        const statuses = out.match(/HTTP\/1\.1 \d{3}/g) ?? [];
        assert.deepEqual(statuses, ['HTTP/1.1 400'], `${method} ${head}: ${out}`);
        assert.match(out, /Connection: close\r\n/);
        assert.match(out, /Transfer-Encoding/);
      }
    }
    // HTTP/1.0 has no Transfer-Encoding at all: its framing is faulty too.
    const old = await rawUntilClose(arca.port,
      `PUT /healthz HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`);
    assert.deepEqual(old.match(/HTTP\/1\.1 \d{3}/g), ['HTTP/1.1 400'], old);
    // The listener is still serving.
    assert.equal((await request(arca.url('/healthz'))).status, 200);
  });

  test('a chunked upload is still read whole (npm publish with Transfer-Encoding: chunked)', async () => {
    const name = 'srv-chunked-upload';
    const tarball = Buffer.from('not really a tarball, but bytes a publish stores as they are');
    const body = JSON.stringify({
      _id: name, name, 'dist-tags': { latest: '1.0.0' },
      versions: { '1.0.0': { name, version: '1.0.0', _id: `${name}@1.0.0`,
        dist: { tarball: `http://x/${name}-1.0.0.tgz`, integrity: sha512Integrity(tarball) } } },
      _attachments: { [`${name}-1.0.0.tgz`]: { content_type: 'application/octet-stream',
        data: tarball.toString('base64'), length: tarball.length } },
    });
    // Several chunks, then a GET on the same connection: the framing must end where it should.
    const chunks = [body.slice(0, 7), body.slice(7, 100), body.slice(100)]
      .map((c) => `${Buffer.byteLength(c).toString(16)}\r\n${c}\r\n`).join('');
    const out = await rawExchange(arca.port, [
      { send: `PUT /local/npm/main/${name} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
          `Transfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n` },
      { until: /^HTTP\/1\.1 \d{3}[\s\S]*\r\n\r\n/ },
      { send: 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' },
      { until: /ok\n/ },
    ]);
    assert.match(out, /^HTTP\/1\.1 20[01] /, out);
    assert.equal(out.match(/HTTP\/1\.1 \d{3}/g).length, 2, out);
    const r = await request(`${arca.registry()}${name}/-/${name}-1.0.0.tgz`);
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(tarball));
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
