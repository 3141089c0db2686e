// The real cargo (rustup's, ~/.cargo/bin/cargo) with an isolated CARGO_HOME, and a stand-in
// sparse registry (index/config.json, index files by cargo's name-length layout, .crate files
// at a templated `dl`) serving crates made by `cargo package`.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import crypto from 'node:crypto';
import assert from 'node:assert/strict';
import { makeTempDir, run, cleanEnv, registerLogSource, registerCleanup, tailText } from './harness.mjs';

export const CARGO = path.join(os.homedir(), '.cargo', 'bin', 'cargo');
const RUSTUP_HOME = process.env.RUSTUP_HOME || path.join(os.homedir(), '.rustup');

export function cargoAvailable() {
  return fs.existsSync(CARGO);
}

export function sha256Hex(bytes) {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

// cargo's index layout: 1/a, 2/ab, 3/a/abc, ab/cd/abcd (lower case).
export function indexPath(name) {
  const n = name.toLowerCase();
  if (n.length === 1) return `1/${n}`;
  if (n.length === 2) return `2/${n}`;
  if (n.length === 3) return `3/${n[0]}/${n}`;
  return `${n.slice(0, 2)}/${n.slice(2, 4)}/${n}`;
}

// A cargo with its own CARGO_HOME whose config.toml names `registries` and replaces crates-io
// with `replaceWith` (when given).
export class Cargo {
  constructor({ label = 'cargo' } = {}) {
    this.label = label;
    this.root = makeTempDir(label);
    this.history = [];
    this.reset();
    registerLogSource(`cargo runs (${label})`, () => this.history.map((h) =>
      `$ cargo ${h.args.join(' ')} (in ${h.cwd}) -> ${h.code}\n  stdout: ${tailText(h.stdout, 20)}\n  stderr: ${tailText(h.stderr, 40)}`)
      .join('\n'));
  }

  // A fresh CARGO_HOME (no cached index, no downloaded crates).
  reset() {
    this.home = fs.mkdtempSync(path.join(this.root, 'home-'));
    this.registries = {};
    this.replaceWith = null;
    this.writeConfig();
  }

  // registries: {name: sparse index URL ending in '/'}; tokens: {name: token}.
  configure({ registries = {}, replaceWith = null, tokens = {} } = {}) {
    this.registries = registries;
    this.replaceWith = replaceWith;
    this.tokens = tokens;
    this.writeConfig();
  }

  writeConfig() {
    // cargo:token reads credentials.toml (registries that require auth need a provider).
    let text = '[net]\nretry = 0\n\n[registry]\nglobal-credential-providers = ["cargo:token"]\n\n[registries]\n';
    for (const [name, url] of Object.entries(this.registries)) {
      text += `${name} = { index = "sparse+${url}" }\n`;
    }
    if (this.replaceWith) text += `\n[source.crates-io]\nreplace-with = "${this.replaceWith}"\n`;
    for (const [name, url] of Object.entries(this.registries)) {
      if (this.replaceWith === name) text += `\n[source.${name}]\nregistry = "sparse+${url}"\n`;
    }
    fs.writeFileSync(path.join(this.home, 'config.toml'), text);
    let creds = '';
    for (const [name, token] of Object.entries(this.tokens || {})) creds += `[registries.${name}]\ntoken = "${token}"\n`;
    fs.writeFileSync(path.join(this.home, 'credentials.toml'), creds);
  }

  env(extra = {}) {
    return cleanEnv({
      CARGO_HOME: this.home,
      RUSTUP_HOME,
      PATH: `${path.dirname(CARGO)}:${process.env.PATH}`,
      CARGO_TERM_COLOR: 'never',
      CARGO_HTTP_TIMEOUT: '20',
      CARGO_TARGET_DIR: path.join(this.root, 'target'),
      ...extra,
    });
  }

  async run(args, { cwd = this.root, env = {}, timeoutMs = 120_000 } = {}) {
    const r = await run(CARGO, args, { cwd, env: this.env(env), timeoutMs });
    this.history.push({ args, cwd, ...r });
    return r;
  }

  async ok(args, opts) {
    const r = await this.run(args, opts);
    assert.equal(r.code, 0, `cargo ${args.join(' ')} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
    return r;
  }
}

// Writes a library crate: {name, version, deps: {name: req | {version, registry}}}; returns its dir.
export function writeCrate(parent, { name, version, deps = {}, description = 'arca test crate', code }) {
  const dir = path.join(parent, `${name}-${version}`);
  fs.mkdirSync(path.join(dir, 'src'), { recursive: true });
  let toml = `[package]\nname = "${name}"\nversion = "${version}"\nedition = "2021"\n` +
    `description = "${description}"\nlicense = "MIT"\n\n[dependencies]\n`;
  for (const [dep, spec] of Object.entries(deps)) {
    if (typeof spec === 'string') toml += `${dep} = "${spec}"\n`;
    else toml += `${dep} = { version = "${spec.version}", registry = "${spec.registry}" }\n`;
  }
  fs.writeFileSync(path.join(dir, 'Cargo.toml'), toml);
  const fn = name.replace(/-/g, '_');
  fs.writeFileSync(path.join(dir, 'src', 'lib.rs'), code ??
    `pub fn version() -> &'static str { "${name} ${version}" }\n`);
  return dir;
}

// Writes a binary project depending on `deps` whose main prints each dependency's version().
export function writeApp(dir, deps) {
  fs.mkdirSync(path.join(dir, 'src'), { recursive: true });
  let toml = '[package]\nname = "arca-app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n';
  let main = 'fn main() {\n';
  for (const [dep, spec] of Object.entries(deps)) {
    if (typeof spec === 'string') toml += `${dep} = "${spec}"\n`;
    else toml += `${dep} = { version = "${spec.version}", registry = "${spec.registry}" }\n`;
    main += `    println!("{}", ${dep.replace(/-/g, '_')}::version());\n`;
  }
  main += '}\n';
  fs.writeFileSync(path.join(dir, 'Cargo.toml'), toml);
  fs.writeFileSync(path.join(dir, 'src', 'main.rs'), main);
  fs.rmSync(path.join(dir, 'Cargo.lock'), { force: true });
  return dir;
}

// The versions Cargo.lock pins: {name: [versions]}.
export function lockedVersions(dir) {
  const text = fs.readFileSync(path.join(dir, 'Cargo.lock'), 'utf8');
  const out = {};
  for (const m of text.matchAll(/\[\[package\]\]\nname = "([^"]+)"\nversion = "([^"]+)"/g)) {
    (out[m[1]] ??= []).push(m[2]);
  }
  return out;
}

// A stand-in sparse registry on loopback. Crates are added with their .crate bytes and index
// deps; `dl` is templated ({lowerprefix}, {crate}, {version}) to check arca honours it.
export class StandinCargoRegistry {
  // dlHost: the host its config.json's dl names (default: its own, 127.0.0.1).
  constructor({ label = 'cargo stand-in', dlHost = '127.0.0.1' } = {}) {
    this.label = label;
    this.dlHost = dlHost;
    this.crates = new Map(); // lower name -> [entry]
    this.files = new Map(); // path -> bytes
    this.requests = [];
    registerCleanup(() => this.stop());
  }

  get url() {
    return `http://127.0.0.1:${this.port}/index/`;
  }

  // {name, version, crate: Buffer, deps: [{name, req, kind?}], cksum?: override (a wrong one)}
  add({ name, version, crate, deps = [], cksum, yanked = false }) {
    const entry = {
      name, vers: version,
      deps: deps.map((d) => ({ name: d.name, req: d.req, features: [], optional: false,
        default_features: true, target: null, kind: d.kind ?? 'normal' })),
      cksum: cksum ?? sha256Hex(crate), features: {}, yanked, links: null,
    };
    const key = name.toLowerCase();
    if (!this.crates.has(key)) this.crates.set(key, []);
    this.crates.get(key).push(entry);
    this.files.set(`/files/${indexPath(name).split('/').slice(0, -1).join('/')}/${name}-${version}.crate`, crate);
  }

  async start() {
    this.server = http.createServer((req, res) => {
      const url = new URL(req.url, 'http://x');
      this.requests.push(url.pathname);
      if (url.pathname === '/index/config.json') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ dl: `http://${this.dlHost}:${this.port}/files/{lowerprefix}/{crate}-{version}.crate`,
          api: `http://127.0.0.1:${this.port}` }, null, 2));
        return;
      }
      if (url.pathname.startsWith('/index/')) {
        const name = url.pathname.split('/').pop();
        const entries = this.crates.get(name);
        if (!entries || `/index/${indexPath(name)}` !== url.pathname) {
          res.writeHead(404);
          res.end('not found');
          return;
        }
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(entries.map((e) => JSON.stringify(e)).join('\n') + '\n');
        return;
      }
      const file = this.files.get(url.pathname);
      if (file) {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': file.length });
        res.end(file);
        return;
      }
      res.writeHead(404);
      res.end('not found');
    });
    await new Promise((resolve) => this.server.listen(this.port ?? 0, '127.0.0.1', resolve));
    this.port = this.server.address().port;
    return this;
  }

  async stop() {
    if (!this.server) return;
    const s = this.server;
    this.server = null;
    s.closeAllConnections?.();
    await new Promise((resolve) => s.close(resolve));
  }
}

// Packages the crate in `dir` with the real `cargo package` (its dependencies resolved through
// `cargo`'s configured registries) and returns the .crate bytes.
export async function packageCrate(cargo, dir, { name, version }) {
  await cargo.ok(['package', '--no-verify', '--allow-dirty', '--quiet'], { cwd: dir });
  return fs.readFileSync(path.join(cargo.root, 'target', 'package', `${name}-${version}.crate`));
}
