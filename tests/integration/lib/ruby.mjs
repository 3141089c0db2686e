// RubyGems for the integration tests: real .gem files made with `gem build`, a stand-in
// RubyGems server (node:http on 127.0.0.1) serving the compact index (/versions, /info/<gem>)
// and /gems/<file> for them, computed by the real ruby from the gems' own specs, and `gem` /
// `bundle` runs isolated from the machine (their own GEM_HOME, HOME and bundler settings).

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { makeTempDir, registerCleanup, registerLogSource, run, cleanEnv, tailText } from './harness.mjs';

export function rubyAvailable() {
  for (const bin of ['ruby', 'gem', 'bundle']) {
    const found = (process.env.PATH || '').split(':').some((d) => d && fs.existsSync(path.join(d, bin)));
    if (!found) return false;
  }
  return true;
}

// Builds <name>-<version>.gem with `gem build`; deps: [[name, requirement...]]. Returns its path.
export async function buildGem(workDir, { name, version, deps = [], devDeps = [], requiredRuby, platform }) {
  const dir = path.join(workDir, `${name}-${version}-src`);
  fs.mkdirSync(path.join(dir, 'lib'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'lib', `${name}.rb`),
    `module ${name.replace(/(^|[_-])(\w)/g, (_, __, c) => c.toUpperCase())}; VERSION = ${JSON.stringify(version)}; end\n`);
  const lines = [
    'Gem::Specification.new do |s|',
    `  s.name = ${JSON.stringify(name)}`,
    `  s.version = ${JSON.stringify(version)}`,
    `  s.summary = ${JSON.stringify(`arca test gem ${name}`)}`,
    '  s.authors = ["arca tests"]',
    '  s.license = "MIT"',
    `  s.files = ["lib/${name}.rb"]`,
  ];
  if (platform) lines.push(`  s.platform = ${JSON.stringify(platform)}`);
  if (requiredRuby) lines.push(`  s.required_ruby_version = ${JSON.stringify(requiredRuby)}`);
  for (const [d, ...r] of deps) lines.push(`  s.add_dependency ${[d, ...r].map((x) => JSON.stringify(x)).join(', ')}`);
  for (const [d, r] of devDeps) lines.push(`  s.add_development_dependency ${JSON.stringify(d)}, ${JSON.stringify(r)}`);
  lines.push('end');
  fs.writeFileSync(path.join(dir, `${name}.gemspec`), lines.join('\n') + '\n');
  const r = await run('gem', ['build', `${name}.gemspec`], { cwd: dir, env: cleanEnv({ HOME: dir }) });
  if (r.code !== 0) throw new Error(`gem build ${name} failed:\n${r.stdout}\n${r.stderr}`);
  return path.join(dir, `${name}-${version}${platform ? `-${platform}` : ''}.gem`);
}

// The compact index lines of .gem files, as rubygems.org writes them: {name: [line, ...]}.
const k_index_script = `
require "rubygems/package"
require "digest"
require "json"
out = Hash.new { |h, k| h[k] = [] }
ARGV.each do |file|
  spec = Gem::Package.new(file).spec
  deps = spec.runtime_dependencies.map { |d| "#{d.name}:#{d.requirement.as_list.join("&")}" }.join(",")
  v = spec.platform.to_s == "ruby" ? spec.version.to_s : "#{spec.version}-#{spec.platform}"
  reqs = ["checksum:#{Digest::SHA256.file(file).hexdigest}"]
  rr = spec.required_ruby_version
  reqs << "ruby:#{rr.as_list.join("&")}" if rr && !rr.none?
  out[spec.name] << "#{v} #{deps}|#{reqs.join(",")}"
end
puts JSON.generate(out)
`;

export async function compactIndexLines(gemFiles) {
  const r = await run('ruby', ['-e', k_index_script, ...gemFiles], { env: cleanEnv() });
  if (r.code !== 0) throw new Error(`computing the compact index failed:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

// A RubyGems-compatible upstream: /versions, /info/<gem>, /names, /gems/<file>; a request log;
// `corrupt` (file name -> true) serves other bytes of the same length than the index declares.
export class StandinGemServer {
  constructor({ label = 'stand-in rubygems' } = {}) {
    this.label = label;
    this.files = new Map(); // gem file name -> Buffer
    this.info = {}; // name -> [line]
    this.corrupt = new Set();
    this.requests = [];
    this.server = null;
    this.port = 0;
    registerLogSource(label, () => tailText(this.requests.map((r) => `${r.method} ${r.url} ${r.status}`).join('\n')));
    registerCleanup(() => this.stop());
  }

  async addGems(gemFiles) {
    const lines = await compactIndexLines(gemFiles);
    for (const [name, list] of Object.entries(lines)) this.info[name] = [...(this.info[name] || []), ...list];
    for (const f of gemFiles) this.files.set(path.basename(f), fs.readFileSync(f));
  }

  infoBody(name) {
    return `---\n${this.info[name].join('\n')}\n`;
  }

  versionsBody() {
    let out = 'created_at: 2024-01-01T00:00:00Z\n---\n';
    for (const name of Object.keys(this.info).sort()) {
      const versions = this.info[name].map((l) => l.split(' ')[0]).join(',');
      out += `${name} ${versions} ${crypto.createHash('md5').update(this.infoBody(name)).digest('hex')}\n`;
    }
    return out;
  }

  handle(req, res) {
    const url = new URL(req.url, 'http://x');
    const p = url.pathname;
    const send = (status, body, type = 'text/plain') => {
      this.requests.push({ method: req.method, url: req.url, status });
      res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    };
    let m;
    if (p === '/versions') return send(200, this.versionsBody());
    if (p === '/names') return send(200, `---\n${Object.keys(this.info).sort().join('\n')}\n`);
    if ((m = /^\/info\/([^/]+)$/.exec(p))) {
      if (!this.info[m[1]]) return send(404, 'This gem could not be found');
      return send(200, this.infoBody(m[1]));
    }
    if ((m = /^\/gems\/([^/]+\.gem)$/.exec(p))) {
      const bytes = this.files.get(m[1]);
      if (!bytes) return send(404, 'This gem could not be found');
      if (this.corrupt.has(m[1])) return send(200, Buffer.alloc(bytes.length, 0x61), 'application/octet-stream');
      return send(200, bytes, 'application/octet-stream');
    }
    return send(404, 'Not Found');
  }

  async start() {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
    this.port = this.server.address().port;
    this.url = `http://127.0.0.1:${this.port}/`;
  }

  async stop() {
    if (!this.server) return;
    const s = this.server;
    this.server = null;
    s.closeAllConnections?.();
    await new Promise((resolve) => s.close(() => resolve()));
  }

  count(pattern) {
    return this.requests.filter((r) => pattern.test(r.url)).length;
  }
}

// `gem` and `bundle` with a private GEM_HOME, HOME and bundler configuration.
export class RubyClient {
  constructor({ label = 'ruby' } = {}) {
    this.dir = makeTempDir(label);
    this.home = path.join(this.dir, 'home');
    this.gemHome = path.join(this.dir, 'gems');
    fs.mkdirSync(this.home, { recursive: true });
  }

  env(extra = {}) {
    return cleanEnv({
      HOME: this.home,
      GEM_HOME: this.gemHome,
      GEM_PATH: this.gemHome,
      GEM_SPEC_CACHE: path.join(this.dir, 'spec-cache'),
      BUNDLE_USER_HOME: path.join(this.dir, 'bundle-home'),
      BUNDLE_APP_CONFIG: path.join(this.dir, 'bundle-config'),
      BUNDLE_PATH: path.join(this.dir, 'bundle-path'),
      BUNDLE_DISABLE_SHARED_GEMS: 'true',
      BUNDLE_SILENCE_ROOT_WARNING: 'true',
      ...extra,
    });
  }

  gem(args, opts = {}) {
    return run('gem', args, { timeoutMs: 60_000, ...opts, env: this.env(opts.env) });
  }

  bundle(args, opts = {}) {
    return run('bundle', args, { timeoutMs: 60_000, ...opts, env: this.env(opts.env) });
  }

  // A Gemfile project in its own folder.
  project(name, source, gems) {
    const dir = path.join(this.dir, name);
    fs.mkdirSync(dir, { recursive: true });
    const lines = [`source ${JSON.stringify(source)}`, ...gems.map(([g, r]) => (r ? `gem ${JSON.stringify(g)}, ${JSON.stringify(r)}` : `gem ${JSON.stringify(g)}`))];
    fs.writeFileSync(path.join(dir, 'Gemfile'), lines.join('\n') + '\n');
    return dir;
  }

  installed() {
    const specs = path.join(this.gemHome, 'specifications');
    if (!fs.existsSync(specs)) return [];
    return fs.readdirSync(specs).map((f) => f.replace(/\.gemspec$/, '')).sort();
  }
}

export function describe(r) {
  return `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}
