// PyPI test helpers: a stand-in package index (node:http on 127.0.0.1) that serves project
// pages as HTML only or as PEP 691 JSON, distribution files and PEP 658 .metadata files, with
// failure knobs; small wheels and sdists made offline by a Python script; virtualenvs with
// Debian's pip (23.0.1) and pyenv's (23.2.1); pip and twine runs isolated from the machine's
// PIP_* settings.
//
//   const index = new StandinIndex({ mode: 'json' });   // or 'html'
//   index.addFiles(await makeDists(dir, [{ name: 'foo', version: '1.0', deps: ['bar'] }]));
//   await index.start();                                // index.url ends with /simple/
//   index.setBehavior('/simple/foo/', { body: '<a href=', contentType: 'text/html' });

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { makeTempDir, registerCleanup, registerLogSource, run, tailText, cleanEnv } from './harness.mjs';

export const DEBIAN_PYTHON = '/usr/bin/python3';
// pyenv's Python 3.11 brings pip 23.2.1 (a newer pip than Debian's); without it the tests use
// Debian's Python for both.
const PYENV_311 = '/root/.pyenv/versions/3.11.7/bin/python3';
export const PYENV_PYTHON = fs.existsSync(PYENV_311) ? PYENV_311 : DEBIAN_PYTHON;

export function normalize(name) {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

export function sha256Hex(bytes) {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

// ---------------------------------------------------------------------------------------------
// Making distributions

const MAKE_DISTS_PY = String.raw`
import base64, hashlib, io, json, os, sys, tarfile, zipfile
spec = json.load(sys.stdin)
out = spec["outdir"]
os.makedirs(out, exist_ok=True)
result = []
def metadata_text(p):
    lines = ["Metadata-Version: 2.1", "Name: " + p.get("metaName", p["name"]),
             "Version: " + p.get("metaVersion", p["version"]), "Summary: arca test package " + p["name"]]
    if p.get("requiresPython"):
        lines.append("Requires-Python: " + p["requiresPython"])
    for d in p.get("deps", []):
        lines.append("Requires-Dist: " + d)
    return "\n".join(lines) + "\n\n"
for p in spec["packages"]:
    dist = p["name"].replace("-", "_").replace(".", "_")
    mod = p.get("module", dist.lower())
    ver = p["version"]
    meta = metadata_text(p)
    if p.get("wheel", True):
        fn = "%s-%s-py3-none-any.whl" % (dist, ver)
        di = "%s-%s.dist-info" % (dist, ver)
        members = {
            mod + "/__init__.py": "VERSION = %r\nNAME = %r\n" % (ver, p["name"]),
            di + "/METADATA": meta,
            di + "/WHEEL": "Wheel-Version: 1.0\nGenerator: arca-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        }
        record = []
        for name, text in members.items():
            data = text.encode()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append("%s,sha256=%s,%d" % (name, digest, len(data)))
        record.append(di + "/RECORD,,")
        members[di + "/RECORD"] = "\n".join(record) + "\n"
        path = os.path.join(out, fn)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for name, text in members.items():
                z.writestr(name, text)
        result.append({"name": p["name"], "version": ver, "filename": fn, "path": path,
                       "metadata": meta, "requiresPython": p.get("requiresPython", "")})
    if p.get("sdist", False):
        fn = "%s-%s.tar.gz" % (dist, ver)
        path = os.path.join(out, fn)
        with tarfile.open(path, "w:gz") as t:
            data = meta.encode()
            info = tarfile.TarInfo("%s-%s/PKG-INFO" % (dist, ver))
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        result.append({"name": p["name"], "version": ver, "filename": fn, "path": path,
                       "metadata": None, "requiresPython": p.get("requiresPython", "")})
json.dump(result, sys.stdout)
`;

// Builds wheels (and sdists with sdist: true) from specs
//   { name, version, deps: ['bar>=1'], requiresPython, sdist, metaName, metaVersion }
// Returns [{ name, version, filename, path, bytes, sha256, metadata (text or null), requiresPython }].
export async function makeDists(outdir, packages) {
  const r = await run(DEBIAN_PYTHON, ['-c', MAKE_DISTS_PY], {
    input: JSON.stringify({ outdir, packages }),
    env: pythonEnv(),
    timeoutMs: 60_000,
  });
  if (r.code !== 0) throw new Error(`making dists failed: ${r.stderr}`);
  return JSON.parse(r.stdout).map((d) => {
    const bytes = fs.readFileSync(d.path);
    return { ...d, bytes, sha256: sha256Hex(bytes) };
  });
}

// A real project built by Debian's python3-build (setuptools backend, no isolation).
export async function buildProject(dir, { name, version, deps = [], requiresPython = '>=3.7' }) {
  const mod = name.replace(/[-.]/g, '_').toLowerCase();
  fs.mkdirSync(path.join(dir, mod), { recursive: true });
  fs.writeFileSync(path.join(dir, mod, '__init__.py'), `VERSION = ${JSON.stringify(version)}\n`);
  fs.writeFileSync(path.join(dir, 'pyproject.toml'), [
    '[build-system]',
    'requires = ["setuptools"]',
    'build-backend = "setuptools.build_meta"',
    '',
    '[project]',
    `name = ${JSON.stringify(name)}`,
    `version = ${JSON.stringify(version)}`,
    'description = "arca upload test"',
    `requires-python = ${JSON.stringify(requiresPython)}`,
    `dependencies = ${JSON.stringify(deps)}`,
    '',
    '[tool.setuptools]',
    `packages = [${JSON.stringify(mod)}]`,
    '',
  ].join('\n'));
  const outdir = path.join(dir, 'dist');
  const r = await run(DEBIAN_PYTHON, ['-m', 'build', '--no-isolation', '--outdir', outdir, '.'], {
    cwd: dir, env: pythonEnv(), timeoutMs: 120_000,
  });
  if (r.code !== 0) throw new Error(`python3 -m build failed:\n${r.stdout}\n${r.stderr}`);
  return fs.readdirSync(outdir).sort().map((f) => path.join(outdir, f));
}

// ---------------------------------------------------------------------------------------------
// pip and twine

// The environment without the machine's PIP_* settings (PIP_FIND_LINKS would bypass arca).
export function pythonEnv(extra = {}) {
  const env = cleanEnv(extra);
  for (const k of Object.keys(env)) {
    if (/^PIP_/i.test(k) || k === 'PYTHONPATH' || k === 'VIRTUAL_ENV') delete env[k];
  }
  return env;
}

export class Venv {
  constructor(python, label) {
    this.python = python;
    this.label = label;
    this.dir = path.join(makeTempDir(`venv-${label}`), 'venv');
    this.log = [];
    registerLogSource(`pip (${label})`, () => this.log.join('\n'));
  }

  async create() {
    const r = await run(this.python, ['-m', 'venv', this.dir], { env: pythonEnv(), timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`venv with ${this.python} failed: ${r.stderr}`);
    return this;
  }

  get bin() {
    return path.join(this.dir, 'bin');
  }

  // Runs pip isolated from user/site config and caches. Resolves with run()'s result.
  async pip(args, { timeoutMs = 120_000 } = {}) {
    const full = ['-m', 'pip', '--isolated', '--disable-pip-version-check', '--no-cache-dir', '--no-input', ...args];
    const r = await run(path.join(this.bin, 'python'), full, {
      env: pythonEnv({ HOME: path.join(this.dir, 'home') }),
      timeoutMs,
    });
    this.log.push(`$ pip ${args.join(' ')}\n(exit ${r.code})\n${tailText(r.stdout, 80)}\n${tailText(r.stderr, 80)}`);
    return r;
  }

  async pipOk(args, opts) {
    const r = await this.pip(args, opts);
    if (r.code !== 0) throw new Error(`pip ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    return r;
  }

  // {normalized name: version} of what is installed.
  async installed() {
    const r = await this.pipOk(['list', '--format', 'json']);
    const out = {};
    for (const p of JSON.parse(r.stdout)) out[normalize(p.name)] = p.version;
    return out;
  }

  async pythonOk(code) {
    const r = await run(path.join(this.bin, 'python'), ['-c', code], { env: pythonEnv(), timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(`python -c failed: ${r.stderr}`);
    return r.stdout;
  }
}

export async function twine(args, { timeoutMs = 120_000, home } = {}) {
  return run('/usr/bin/twine', args, {
    env: pythonEnv({ HOME: home || makeTempDir('twine-home'), TWINE_NON_INTERACTIVE: '1' }),
    timeoutMs,
  });
}

// ---------------------------------------------------------------------------------------------
// The stand-in index

function escapeHtml(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export class StandinIndex {
  // mode 'html': PEP 503 pages only (Accept ignored); 'json': PEP 691 JSON when asked for.
  // metadata: serve PEP 658 .metadata files for wheels (with their sha256).
  // relative: file links relative to the page ("../../files/x") instead of absolute.
  constructor({ mode = 'json', metadata = true, relative = false, label } = {}) {
    this.mode = mode;
    this.metadata = metadata;
    this.relative = relative;
    this.label = label || `stand-in index (${mode})`;
    this.projects = new Map(); // normalized -> { name, files: Map(filename -> dist) }
    // path -> { status, body, contentType, corrupt, hugeChunked, hugeDeclared, delayMs }
    this.behaviors = new Map();
    this.requests = [];
    this.sockets = new Set();
    this.server = null;
    this.port = 0;
    registerLogSource(`${this.label} requests`, () =>
      this.requests.map((r) => `${r.method} ${r.url} -> ${r.status} (${r.accept || ''})`).join('\n'));
    registerCleanup(() => this.stop());
  }

  get root() {
    return `http://127.0.0.1:${this.port}/`;
  }

  get url() {
    return `${this.root}simple/`;
  }

  // dists from makeDists(); extra per-file fields: yanked (true or reason), requiresPython.
  addFiles(dists) {
    for (const d of dists) {
      const key = normalize(d.name);
      let p = this.projects.get(key);
      if (!p) {
        p = { name: d.name, files: new Map() };
        this.projects.set(key, p);
      }
      p.files.set(d.filename, d);
    }
    return this;
  }

  // Real wheels from a folder (Debian's /usr/share/python-wheels), named by their file names.
  addWheelFolder(dir) {
    const dists = [];
    for (const f of fs.readdirSync(dir)) {
      if (!f.endsWith('.whl')) continue;
      const [dist, version] = f.split('-');
      const bytes = fs.readFileSync(path.join(dir, f));
      dists.push({ name: dist, version, filename: f, bytes, sha256: sha256Hex(bytes), metadata: null });
    }
    return this.addFiles(dists);
  }

  setBehavior(urlPath, behavior) {
    if (behavior) this.behaviors.set(urlPath, behavior);
    else this.behaviors.delete(urlPath);
  }

  count(predicate) {
    return this.requests.filter(predicate).length;
  }

  fileUrl(pageDepthRelative, filename) {
    return this.relative ? `../../files/${encodeURIComponent(filename)}` : `${this.root}files/${encodeURIComponent(filename)}`;
  }

  pageHtml(p) {
    const links = [...p.files.values()].map((d) => {
      let attrs = `href="${escapeHtml(this.fileUrl(2, d.filename))}#sha256=${d.sha256}"`;
      if (d.requiresPython) attrs += ` data-requires-python="${escapeHtml(d.requiresPython)}"`;
      if (d.yanked) attrs += ` data-yanked="${escapeHtml(d.yanked === true ? '' : d.yanked)}"`;
      if (this.metadata && d.metadata) {
        const h = sha256Hex(Buffer.from(d.metadata));
        attrs += ` data-dist-info-metadata="sha256=${h}" data-core-metadata="sha256=${h}"`;
      }
      return `    <a ${attrs}>${escapeHtml(d.filename)}</a><br/>`;
    });
    return `<!DOCTYPE html>\n<html><head><title>Links for ${escapeHtml(p.name)}</title></head><body>\n` +
      `<h1>Links for ${escapeHtml(p.name)}</h1>\n${links.join('\n')}\n</body></html>\n`;
  }

  pageJson(p) {
    const files = [...p.files.values()].map((d) => {
      const f = {
        filename: d.filename,
        url: this.fileUrl(2, d.filename),
        hashes: { sha256: d.sha256 },
        'requires-python': d.requiresPython || null,
        yanked: d.yanked || false,
        size: d.bytes.length,
        'upload-time': '2024-05-01T12:00:00.000000Z',
      };
      if (this.metadata && d.metadata) {
        f['core-metadata'] = { sha256: sha256Hex(Buffer.from(d.metadata)) };
      }
      return f;
    });
    return JSON.stringify({ meta: { 'api-version': '1.1' }, name: p.name, versions: [...new Set([...p.files.values()].map((d) => d.version))], files });
  }

  async start() {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
    this.port = this.server.address().port;
    return this;
  }

  async stop() {
    if (!this.server) return;
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  }

  handle(req, res) {
    const delay = this.behaviors.get(new URL(req.url, this.root).pathname)?.delayMs;
    if (delay) setTimeout(() => this.respond(req, res), delay);
    else this.respond(req, res);
  }

  respond(req, res) {
    const url = new URL(req.url, this.root);
    const rec = { method: req.method, url: url.pathname, accept: req.headers.accept, status: 0 };
    this.requests.push(rec);
    const send = (status, type, body, extra = {}) => {
      rec.status = status;
      res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...extra });
      res.end(body);
    };
    const b = this.behaviors.get(url.pathname);
    if (b?.hugeDeclared) {
      rec.status = 200;
      res.writeHead(200, { 'Content-Type': 'text/html', 'Content-Length': String(2 * 1024 * 1024 * 1024) });
      res.write('<html><body>');
      return; // never finishes; arca must give up on its own
    }
    if (b?.hugeChunked) {
      rec.status = 200;
      res.writeHead(200, { 'Content-Type': 'text/html' });
      const chunk = Buffer.alloc(256 * 1024, '<a href="x">x</a>\n');
      let sent = 0;
      const pump = () => {
        while (sent < 2 * 1024 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      res.on('close', () => { sent = Infinity; });
      pump();
      return;
    }
    if (b?.status) return send(b.status, 'text/plain', `stand-in says ${b.status}\n`);
    if (b?.body !== undefined) return send(200, b.contentType || 'text/html', b.body);
    let m = /^\/simple\/([^/]+)\/$/.exec(url.pathname);
    if (m) {
      const p = this.projects.get(m[1]);
      if (!p) return send(404, 'text/plain', 'no such project\n');
      const wantsJson = (req.headers.accept || '').includes('application/vnd.pypi.simple.v1+json');
      if (this.mode === 'json' && wantsJson) {
        return send(200, 'application/vnd.pypi.simple.v1+json', this.pageJson(p));
      }
      return send(200, 'text/html', this.pageHtml(p));
    }
    m = /^\/files\/([^/]+)$/.exec(url.pathname);
    if (m) {
      let filename = decodeURIComponent(m[1]);
      const metadata = filename.endsWith('.metadata');
      if (metadata) filename = filename.slice(0, -'.metadata'.length);
      for (const p of this.projects.values()) {
        const d = p.files.get(filename);
        if (!d) continue;
        if (metadata) {
          if (!this.metadata || !d.metadata) break;
          return send(200, 'application/octet-stream', d.metadata);
        }
        let bytes = d.bytes;
        if (b?.corrupt) {
          bytes = Buffer.from(bytes);
          bytes[bytes.length - 1] ^= 0xff;
        }
        rec.status = 200;
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': bytes.length });
        res.end(bytes);
        return;
      }
      return send(404, 'text/plain', 'no such file\n');
    }
    send(404, 'text/plain', 'not found\n');
  }
}

// An arca config with PyPI repositories: for each { name, url } of `stores` a repository
// `<name>` with external connection `pypi:<name>`, and repositories `main-<name>` with it as
// upstream; plus `main` with every store upstream and `downstream` with `main` upstream.
export function pypiConfig(stores, { ttlSeconds = 300 } = {}) {
  const external = {};
  const repos = [];
  for (const s of stores) {
    external[`pypi:${s.name}`] = { format: 'pypi', url: s.url, metadata_ttl_seconds: ttlSeconds };
    repos.push({ name: s.name, external_connection: `pypi:${s.name}` });
    repos.push({ name: `main-${s.name}`, upstreams: [s.name] });
  }
  repos.push({ name: 'main', upstreams: stores.map((s) => s.name) });
  repos.push({ name: 'downstream', upstreams: ['main'] });
  return {
    external_connections: external,
    domains: [{ name: 'local', repositories: repos }],
  };
}

// A legacy-API upload body as twine sends it: `fields` is [[name, value], ...] (repeat a name
// for lists), `file` is { filename, bytes }. Digests are not added: pass them in `fields`.
export function uploadBody(fields, file) {
  const boundary = `----arca${crypto.randomBytes(8).toString('hex')}`;
  const chunks = [];
  for (const [name, value] of fields) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  }
  if (file) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="content"; ` +
      `filename="${file.filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`));
    chunks.push(Buffer.from(file.bytes));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

// The usual fields for uploading `dist` (from makeDists) as `name`/`version`.
export function uploadFields(dist, { name = dist.name, version = dist.version, sha256, md5 } = {}) {
  return [
    [':action', 'file_upload'], ['protocol_version', '1'], ['name', name], ['version', version],
    ['filetype', dist.filename.endsWith('.whl') ? 'bdist_wheel' : 'sdist'], ['pyversion', 'py3'],
    ['metadata_version', '2.1'], ['summary', 'test'],
    ['sha256_digest', sha256 ?? sha256Hex(dist.bytes)],
    ['md5_digest', md5 ?? crypto.createHash('md5').update(dist.bytes).digest('hex')],
  ];
}
