// A stand-in npm registry (node:http on 127.0.0.1, random port) serving packuments built from
// tarballs held in memory, with a request log, per-path counters and failure knobs.
//
//   const reg = new StandinRegistry();
//   reg.addPackages(generated.packages);   // [{name, version, manifest, tarball}]
//   await reg.start();                     // reg.url, reg.port
//   reg.setTarballBehavior(name, version, { corrupt: true });
//   await reg.stop(); await reg.start();   // same port again
//
// Behaviours (tarballs and packuments; fields combine):
//   delayMs      wait this long before sending the response head
//   hang         accept the request and never answer (socket closed only by stop())
//   status       answer with this status and a JSON error instead of the document
//   corrupt      serve different bytes of the same length than the declared integrity
//   truncateAt   fraction (0..1) of the body to send before closing the socket, while the
//                head declares the full Content-Length
//   chunks,totalMs  stream the body in `chunks` pieces spread over `totalMs` milliseconds
//   declareLength  send a head declaring this Content-Length, then close without a body
//   redirectTo   answer 302 with this Location

import http from 'node:http';
import { EventEmitter } from 'node:events';
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { registerCleanup, registerLogSource, sleep, tailText } from './harness.mjs';

const ABBREV_FIELDS = [
  'name', 'version', 'dependencies', 'optionalDependencies', 'devDependencies',
  'bundleDependencies', 'peerDependencies', 'peerDependenciesMeta', 'bin', 'directories',
  'dist', 'engines', 'cpu', 'os', 'deprecated', '_hasShrinkwrap', 'hasInstallScript', 'funding',
  'license',
];

function parseSemver(v) {
  const m = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?/.exec(v);
  if (!m) return null;
  return { major: +m[1], minor: +m[2], patch: +m[3], pre: m[4] || '' };
}

export function compareSemver(a, b) {
  const x = parseSemver(a);
  const y = parseSemver(b);
  for (const k of ['major', 'minor', 'patch']) if (x[k] !== y[k]) return x[k] - y[k];
  if (x.pre === y.pre) return 0;
  if (!x.pre) return 1;
  if (!y.pre) return -1;
  return x.pre < y.pre ? -1 : 1;
}

export function unscopedName(name) {
  return name.startsWith('@') ? name.slice(name.indexOf('/') + 1) : name;
}

export function tarballFileName(name, version) {
  return `${unscopedName(name)}-${version}.tgz`;
}

export class StandinRegistry {
  constructor({ label = 'stand-in registry' } = {}) {
    this.label = label;
    this.packages = new Map(); // name -> { versions: Map(version -> entry), distTags, modified, created }
    this.requests = []; // { method, url, kind, name, version, status, headers, t, note }
    this.behaviors = new Map(); // key -> behavior
    this.sockets = new Set();
    this.hangingResponses = new Set();
    this.auditRequests = [];
    this.auditResponse = () => ({});
    this.port = 0;
    this.server = null;
    // 'sent' (rec) when a body has been written completely; 'request' (rec) on arrival.
    this.events = new EventEmitter();
    this.unregisterLog = registerLogSource(`${label} requests`, () => this.describeRequests(Infinity));
    registerCleanup(() => this.stop());
  }

  get url() {
    return `http://127.0.0.1:${this.port}/`;
  }

  // ---- content ------------------------------------------------------------------------------

  // pkg: { name, version, manifest (package.json object), tarball (Buffer), time? (Date) }
  addPackage(pkg) {
    let p = this.packages.get(pkg.name);
    let now = pkg.time ? new Date(pkg.time) : new Date();
    if (!p) {
      p = { versions: new Map(), distTags: {}, created: now, modified: now };
      this.packages.set(pkg.name, p);
    } else if (p.versions.size > 0) {
      // Last-Modified has whole seconds: make a change always move it to a later second, so
      // If-Modified-Since revalidation cannot miss it.
      now = new Date(Math.max(now.getTime(), Math.floor(p.modified.getTime() / 1000) * 1000 + 1000));
    }
    const tarball = Buffer.isBuffer(pkg.tarball) ? pkg.tarball : Buffer.from(pkg.tarball);
    p.versions.set(pkg.version, {
      manifest: pkg.manifest,
      tarball,
      integrity: 'sha512-' + crypto.createHash('sha512').update(tarball).digest('base64'),
      shasum: crypto.createHash('sha1').update(tarball).digest('hex'),
      time: now,
    });
    if (now > p.modified) p.modified = now;
    const stable = [...p.versions.keys()].filter((v) => !parseSemver(v).pre).sort(compareSemver);
    if (stable.length) p.distTags.latest = stable[stable.length - 1];
    return this;
  }

  addPackages(pkgs) {
    for (const p of pkgs) this.addPackage(p);
    return this;
  }

  setDistTag(name, tag, version) {
    const p = this.packages.get(name);
    p.distTags[tag] = version;
    p.modified = new Date();
  }

  entry(name, version) {
    return this.packages.get(name)?.versions.get(version);
  }

  tarballPath(name, version) {
    return `${name}/-/${tarballFileName(name, version)}`;
  }

  tarballUrl(name, version) {
    return this.url + this.tarballPath(name, version);
  }

  packument(name, { abbreviated = false } = {}) {
    const p = this.packages.get(name);
    if (!p) return null;
    const versions = {};
    const time = { created: p.created.toISOString(), modified: p.modified.toISOString() };
    for (const [v, e] of [...p.versions.entries()].sort((a, b) => compareSemver(a[0], b[0]))) {
      const full = {
        ...e.manifest,
        _id: `${name}@${v}`,
        dist: { tarball: this.tarballUrl(name, v), shasum: e.shasum, integrity: e.integrity },
      };
      if (abbreviated) {
        const ab = {};
        for (const k of ABBREV_FIELDS) if (full[k] !== undefined) ab[k] = full[k];
        versions[v] = ab;
      } else {
        versions[v] = full;
      }
      time[v] = e.time.toISOString();
    }
    if (abbreviated) {
      return { name, modified: p.modified.toISOString(), 'dist-tags': { ...p.distTags }, versions };
    }
    const latest = p.versions.get(p.distTags.latest)?.manifest || {};
    return {
      _id: name,
      name,
      description: latest.description,
      'dist-tags': { ...p.distTags },
      versions,
      time,
      readme: `# ${name}\n`,
      readmeFilename: 'README.md',
      license: latest.license,
    };
  }

  // ---- knobs --------------------------------------------------------------------------------

  setTarballBehavior(name, version, behavior) {
    this.setBehavior(`tarball:${name}@${version}`, behavior);
  }

  setPackumentBehavior(name, behavior) {
    this.setBehavior(`packument:${name}`, behavior);
  }

  setBehavior(key, behavior) {
    if (behavior) this.behaviors.set(key, behavior);
    else this.behaviors.delete(key);
  }

  clearBehaviors() {
    this.behaviors.clear();
  }

  // ---- counters -----------------------------------------------------------------------------

  count(filter = {}) {
    return this.requests.filter((r) =>
      Object.entries(filter).every(([k, v]) => r[k] === v)).length;
  }

  countTarball(name, version) {
    return this.count({ kind: 'tarball', name, version });
  }

  countPackument(name) {
    return this.count({ kind: 'packument', name });
  }

  // Map "name@version" -> number of tarball requests.
  tarballCounts() {
    const m = new Map();
    for (const r of this.requests) {
      if (r.kind !== 'tarball') continue;
      const k = `${r.name}@${r.version}`;
      m.set(k, (m.get(k) || 0) + 1);
    }
    return m;
  }

  resetLog() {
    this.requests = [];
    this.auditRequests = [];
  }

  describeRequests(max = 150) {
    const lines = this.requests.map((r) =>
      `${new Date(r.t).toISOString()} ${r.method} ${r.url} -> ${r.status ?? '(pending)'}` +
      `${r.note ? ' [' + r.note + ']' : ''}` +
      `${r.headers['if-none-match'] ? ' if-none-match=' + r.headers['if-none-match'] : ''}`);
    return Number.isFinite(max) ? tailText(lines.join('\n'), max) : lines.join('\n');
  }

  // ---- server -------------------------------------------------------------------------------

  async start() {
    const server = http.createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 30_000;
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await new Promise((resolve, reject) => {
          server.once('error', reject);
          server.listen(this.port, '127.0.0.1', () => {
            server.off('error', reject);
            resolve();
          });
        });
        break;
      } catch (e) {
        if (e.code !== 'EADDRINUSE' || !this.port || Date.now() > deadline) throw e;
        await sleep(100);
      }
    }
    this.port = server.address().port;
    this.server = server;
    return this;
  }

  // Closes the listener and every open connection (hanging requests included): afterwards
  // connections to the port are refused.
  async stop() {
    const server = this.server;
    if (!server) return;
    this.server = null;
    const closed = new Promise((resolve) => server.close(() => resolve()));
    for (const res of this.hangingResponses) res.destroy();
    this.hangingResponses.clear();
    for (const s of this.sockets) s.destroy();
    server.closeAllConnections?.();
    await closed;
  }

  get running() {
    return this.server !== null;
  }

  // ---- request handling ---------------------------------------------------------------------

  classify(rawUrl) {
    const u = new URL(rawUrl, 'http://x');
    let p = u.pathname.replace(/^\/+/, '');
    if (p === '-/npm/v1/security/advisories/bulk') return { kind: 'audit' };
    if (p === '-/ping') return { kind: 'ping' };
    let parts;
    try {
      if (p.startsWith('@')) p = p.replace(/%2f/i, '/');
      parts = p.split('/').map(decodeURIComponent);
    } catch {
      return { kind: 'other' };
    }
    let name;
    let rest;
    if (parts[0].startsWith('@')) {
      if (parts.length < 2) return { kind: 'other' };
      name = `${parts[0]}/${parts[1]}`;
      rest = parts.slice(2);
    } else {
      name = parts[0];
      rest = parts.slice(1);
    }
    if (rest.length === 0) return { kind: 'packument', name };
    if (rest.length === 2 && rest[0] === '-' && rest[1].endsWith('.tgz')) {
      const prefix = `${unscopedName(name)}-`;
      if (rest[1].startsWith(prefix)) {
        return { kind: 'tarball', name, version: rest[1].slice(prefix.length, -4) };
      }
    }
    return { kind: 'other', name };
  }

  async handle(req, res) {
    const info = this.classify(req.url);
    const rec = {
      method: req.method, url: req.url, ...info, status: undefined,
      headers: { ...req.headers }, t: Date.now(), note: '',
    };
    this.requests.push(rec);
    this.events.emit('request', rec);
    const send = (status, headers, body) => {
      rec.status = status;
      res.writeHead(status, headers);
      res.end(body);
    };
    const sendJson = (status, obj, extra = {}) => {
      const body = Buffer.from(JSON.stringify(obj));
      send(status, { 'content-type': 'application/json', 'content-length': body.length, ...extra }, body);
    };
    try {
      if (info.kind === 'audit' && req.method === 'POST') {
        const chunks = [];
        for await (const c of req) chunks.push(c);
        let raw = Buffer.concat(chunks);
        if ((req.headers['content-encoding'] || '').includes('gzip')) raw = zlib.gunzipSync(raw);
        let parsed;
        try {
          parsed = JSON.parse(raw.toString('utf8'));
        } catch {
          parsed = raw.toString('utf8');
        }
        this.auditRequests.push({ headers: { ...req.headers }, body: parsed });
        return sendJson(200, this.auditResponse(parsed));
      }
      if (info.kind === 'ping') return sendJson(200, {});
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return sendJson(405, { error: 'method not allowed' });
      }
      if (info.kind === 'packument') return await this.servePackument(req, res, info, rec, sendJson);
      if (info.kind === 'tarball') return await this.serveTarball(req, res, info, rec, sendJson);
      return sendJson(404, { error: 'Not found' });
    } catch (e) {
      rec.note += ` handler error: ${e.message}`;
      if (!res.headersSent) sendJson(500, { error: e.message });
      else res.destroy();
    }
  }

  // Applies delay/hang/status; returns true if the response was already dealt with.
  async preamble(behavior, res, rec, sendJson) {
    if (!behavior) return false;
    if (behavior.hang) {
      rec.note = 'hang';
      this.hangingResponses.add(res);
      res.on('close', () => this.hangingResponses.delete(res));
      return true;
    }
    if (behavior.delayMs) {
      rec.note += `delay ${behavior.delayMs}ms `;
      await sleep(behavior.delayMs);
      if (res.destroyed) return true;
    }
    if (behavior.redirectTo) {
      rec.note += `redirect to ${behavior.redirectTo} `;
      res.writeHead(302, { location: behavior.redirectTo, 'content-length': 0 });
      res.end();
      return true;
    }
    if (behavior.status) {
      rec.note += `status ${behavior.status} `;
      sendJson(behavior.status, { error: `stand-in configured status ${behavior.status}` });
      return true;
    }
    return false;
  }

  async servePackument(req, res, info, rec, sendJson) {
    const behavior = this.behaviors.get(`packument:${info.name}`);
    const p = this.packages.get(info.name);
    if (await this.preamble(behavior, res, rec, sendJson)) return;
    if (!p) return sendJson(404, { error: 'Not found' });
    const accept = req.headers.accept || '';
    // As registry.npmjs.org: the corgi type anywhere in Accept selects the abbreviated form.
    const abbreviated = accept.includes('application/vnd.npm.install-v1+json');
    const doc = this.packument(info.name, { abbreviated });
    const body = Buffer.from(JSON.stringify(doc));
    const etag = `"${crypto.createHash('sha1').update(body).digest('hex')}"`;
    const lastModified = new Date(Math.floor(p.modified.getTime() / 1000) * 1000);
    const headers = {
      'content-type': abbreviated ? 'application/vnd.npm.install-v1+json' : 'application/json',
      etag,
      'last-modified': lastModified.toUTCString(),
      'cache-control': 'public, max-age=300',
    };
    const inm = req.headers['if-none-match'];
    const ims = req.headers['if-modified-since'];
    let notModified = false;
    if (inm !== undefined) {
      notModified = inm.split(',').map((s) => s.trim().replace(/^W\//, '')).includes(etag);
    } else if (ims !== undefined) {
      const since = Date.parse(ims);
      notModified = !Number.isNaN(since) && lastModified.getTime() <= since;
    }
    if (notModified) {
      rec.status = 304;
      res.writeHead(304, { etag, 'last-modified': headers['last-modified'] });
      return res.end();
    }
    await this.streamBody(req, res, rec, 200, headers, body, behavior);
  }

  async serveTarball(req, res, info, rec, sendJson) {
    const behavior = this.behaviors.get(`tarball:${info.name}@${info.version}`);
    const entry = this.entry(info.name, info.version);
    if (await this.preamble(behavior, res, rec, sendJson)) return;
    if (!entry) return sendJson(404, { error: 'Not found' });
    await this.streamBody(req, res, rec, 200, {
      'content-type': 'application/octet-stream',
      etag: `"${entry.shasum}"`,
    }, entry.tarball, behavior);
  }

  async streamBody(req, res, rec, status, headers, body, behavior = {}) {
    let bytes = body;
    if (behavior.corrupt) {
      bytes = Buffer.from(body);
      // Change bytes near the end (so a streaming proxy has already sent most of the body
      // before it can know) and one at the start.
      bytes[bytes.length - 1] ^= 0xff;
      bytes[Math.max(0, bytes.length - 100)] ^= 0x55;
      rec.note += 'corrupt ';
    }
    rec.status = status;
    if (behavior.declareLength !== undefined) {
      rec.note += `declares ${behavior.declareLength} bytes `;
      res.writeHead(status, { ...headers, 'content-length': behavior.declareLength });
      res.flushHeaders();
      await new Promise((r) => setTimeout(r, 200));
      res.socket?.destroy();
      res.destroy();
      return;
    }
    res.writeHead(status, { ...headers, 'content-length': bytes.length });
    if (req.method === 'HEAD') return res.end();
    let limit = bytes.length;
    if (behavior.truncateAt !== undefined) {
      limit = Math.floor(bytes.length * behavior.truncateAt);
      rec.note += `truncate at ${limit}/${bytes.length} `;
    }
    const chunks = Math.max(1, behavior.chunks || 1);
    const pause = chunks > 1 && behavior.totalMs ? behavior.totalMs / chunks : 0;
    if (pause) rec.note += `slow ${chunks}x${Math.round(pause)}ms `;
    const step = Math.ceil(bytes.length / chunks);
    let sent = 0;
    for (let i = 0; i < chunks && sent < limit; i++) {
      if (res.destroyed) return;
      const end = Math.min(limit, sent + step);
      const ok = res.write(bytes.subarray(sent, end));
      sent = end;
      if (!ok) await new Promise((r) => { res.once('drain', r); res.once('close', r); });
      if (pause && sent < limit) await sleep(pause);
    }
    if (limit < bytes.length) {
      // Let the bytes leave, then cut the connection before the declared length.
      await new Promise((r) => setTimeout(r, 50));
      res.socket?.destroy();
      res.destroy();
      return;
    }
    res.end(() => this.events.emit('sent', rec));
  }
}
