// NuGet test helpers: a zip writer and reader in plain JS (stored and deflated entries, CRC-32),
// real nupkgs built in memory (OPC parts, a nuspec at the root, lib files), NuGet version rules,
// a stand-in NuGet V3 upstream (node:http on 127.0.0.1) with failure knobs, and arca configs
// with a NuGet external connection.
//
//   const nupkg = buildNupkg({ id: 'Foo.Bar', version: '1.0.0',
//     dependencies: [{ id: 'Baz', range: '[1.0.0, )', targetFramework: 'netstandard2.0' }],
//     files: { 'lib/netstandard2.0/Foo.Bar.dll': 'not really a dll' } });
//   const up = await startNugetUpstream({ packages: [{ id: 'Foo.Bar', version: '1.0.0' }] });
//   up.indexUrl                      // http://127.0.0.1:<port>/v3/index.json
//   up.setWrongHash('Foo.Bar', '1.0.0');  // advertise a SHA-512 the served bytes do not have
//   up.hang(true);                   // accept requests and never answer
//   const arca = await startArca({ config: nugetConfig(up.indexUrl) });
//
// Stand-in layout (what nuget.org serves, minus gzip unless asked for):
//   v3/index.json                                        service index
//   v3-flatcontainer/{id}/index.json                     {"versions":[...]} lower-case, normalized
//   v3-flatcontainer/{id}/{ver}/{id}.{ver}.nupkg         the package
//   v3-flatcontainer/{id}/{ver}/{id}.nuspec              the nuspec inside it
//   v3/registration/{id}/index.json                      SemVer 1.0 versions only
//   v3/registration-semver2/{id}/index.json              all versions (RegistrationsBaseUrl/3.6.0)
//   v3/registration*/{id}/{ver}.json                     one leaf
//   query?q=&skip=&take=&prerelease=&semVerLevel=        search

import http from 'node:http';
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { registerCleanup, registerLogSource, tailText } from './harness.mjs';

// ---------------------------------------------------------------------------------------------
// CRC-32 and zip

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(buf) {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const toBuffer = (x) => (Buffer.isBuffer(x) ? x : Buffer.from(x instanceof Uint8Array ? x : String(x)));

// DOS date/time of 2026-01-01 00:00:00: fixed, so equal inputs give equal bytes.
const DOS_TIME = 0;
const DOS_DATE = ((2026 - 1980) << 9) | (1 << 5) | 1;

// entries: [{ name, data (Buffer|string), method: 'deflate' (default) | 'store' }]. Returns the
// archive as a Buffer (no data descriptors, no zip64, no comment).
export function zip(entries) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const data = toBuffer(e.data ?? '');
    const method = e.method === 'store' ? 0 : 8;
    const body = method === 8 ? zlib.deflateRawSync(data) : data;
    const crc = crc32(data);
    const flags = /^[\x20-\x7e]*$/.test(e.name) ? 0 : 0x0800;
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(flags, 6);
    lh.writeUInt16LE(method, 8);
    lh.writeUInt16LE(DOS_TIME, 10);
    lh.writeUInt16LE(DOS_DATE, 12);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(body.length, 18);
    lh.writeUInt32LE(data.length, 22);
    lh.writeUInt16LE(name.length, 26);
    lh.writeUInt16LE(0, 28);
    locals.push(lh, name, body);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(flags, 8);
    ch.writeUInt16LE(method, 10);
    ch.writeUInt16LE(DOS_TIME, 12);
    ch.writeUInt16LE(DOS_DATE, 14);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(body.length, 20);
    ch.writeUInt32LE(data.length, 24);
    ch.writeUInt16LE(name.length, 28);
    // extra length, comment length, disk, internal attributes: 0
    ch.writeUInt32LE(0, 38); // external attributes
    ch.writeUInt32LE(offset, 42);
    centrals.push(ch, name);
    offset += lh.length + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

// Reads an archive written by zip() or by any ordinary zip tool (no zip64). Returns
// Map(name -> Buffer); throws on anything malformed or on a CRC mismatch.
export function unzip(buf) {
  buf = toBuffer(buf);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip archive (no end of central directory)');
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out = new Map();
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error('bad central directory entry');
    const method = buf.readUInt16LE(p + 10);
    const crc = buf.readUInt32LE(p + 16);
    const csize = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    p += 46 + nameLen + extraLen + commentLen;
    if (buf.readUInt32LE(local) !== 0x04034b50) throw new Error(`bad local header for ${name}`);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const raw = buf.subarray(start, start + csize);
    let data;
    if (method === 0) data = Buffer.from(raw);
    else if (method === 8) data = zlib.inflateRawSync(raw);
    else throw new Error(`unsupported compression method ${method} for ${name}`);
    if (crc32(data) !== crc) throw new Error(`CRC mismatch for ${name}`);
    out.set(name, data);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// NuGet versions

const VERSION_RE = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;

export function parseVersion(v) {
  const m = VERSION_RE.exec(String(v).trim());
  if (!m) return null;
  return {
    parts: [+m[1], +(m[2] ?? 0), +(m[3] ?? 0), +(m[4] ?? 0)],
    pre: m[5] ?? '',
    build: m[6] ?? '',
  };
}

// NuGet's normalized form: 1.0 -> 1.0.0, 01.2.03 -> 1.2.3, fourth part only when non-zero,
// build metadata dropped. Throws on an invalid version.
export function normalizeVersion(v) {
  const p = parseVersion(v);
  if (!p) throw new Error(`invalid NuGet version '${v}'`);
  const nums = p.parts[3] ? p.parts : p.parts.slice(0, 3);
  return nums.join('.') + (p.pre ? `-${p.pre}` : '');
}

// SemVer 2.0 package: a pre-release label with dots, or build metadata.
export function isSemver2(v) {
  const p = parseVersion(v);
  return !!p && (p.pre.includes('.') || p.build !== '');
}

export function isPrerelease(v) {
  const p = parseVersion(v);
  return !!p && p.pre !== '';
}

// SemVer 2.0 precedence (labels case-insensitive, as NuGet compares them).
export function compareVersions(a, b) {
  const x = parseVersion(a);
  const y = parseVersion(b);
  for (let i = 0; i < 4; i++) if (x.parts[i] !== y.parts[i]) return x.parts[i] - y.parts[i];
  if (x.pre === y.pre) return 0;
  if (!x.pre) return 1;
  if (!y.pre) return -1;
  const xs = x.pre.toLowerCase().split('.');
  const ys = y.pre.toLowerCase().split('.');
  for (let i = 0; i < Math.min(xs.length, ys.length); i++) {
    const xn = /^\d+$/.test(xs[i]);
    const yn = /^\d+$/.test(ys[i]);
    if (xn && yn && +xs[i] !== +ys[i]) return +xs[i] - +ys[i];
    if (xn !== yn) return xn ? -1 : 1;
    if (xs[i] !== ys[i]) return xs[i] < ys[i] ? -1 : 1;
  }
  return xs.length - ys.length;
}

export function sha512Base64(bytes) {
  return crypto.createHash('sha512').update(bytes).digest('base64');
}

// ---------------------------------------------------------------------------------------------
// nupkgs

export function xmlEscape(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

// The nuspec of a package. dependencies: [{ id, range, targetFramework }]; entries without a
// targetFramework go into a group without one (or a flat list when no entry has one).
export function nuspecXml({ id, version, dependencies = [], description, authors = 'arca tests',
  title, tags, extraNuspec = '' }) {
  const dep = (d) => `        <dependency id="${xmlEscape(d.id)}"${d.range ? ` version="${xmlEscape(d.range)}"` : ''} />`;
  let deps = '';
  if (dependencies.length) {
    const grouped = dependencies.some((d) => d.targetFramework);
    if (!grouped) {
      deps = `    <dependencies>\n${dependencies.map((d) => dep(d).slice(2)).join('\n')}\n    </dependencies>\n`;
    } else {
      const groups = new Map();
      for (const d of dependencies) {
        const k = d.targetFramework || '';
        if (!groups.has(k)) groups.set(k, []);
        groups.get(k).push(d);
      }
      const body = [...groups].map(([tf, ds]) =>
        `      <group${tf ? ` targetFramework="${xmlEscape(tf)}"` : ''}>\n${ds.map(dep).join('\n')}\n      </group>`);
      deps = `    <dependencies>\n${body.join('\n')}\n    </dependencies>\n`;
    }
  }
  return `<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>${xmlEscape(id)}</id>
    <version>${xmlEscape(version)}</version>
${title ? `    <title>${xmlEscape(title)}</title>\n` : ''}    <authors>${xmlEscape(authors)}</authors>
    <requireLicenseAcceptance>false</requireLicenseAcceptance>
    <description>${xmlEscape(description ?? `arca test package ${id} ${version}`)}</description>
${tags ? `    <tags>${xmlEscape(tags)}</tags>\n` : ''}${deps}${extraNuspec}  </metadata>
</package>
`;
}

function contentTypesXml(names) {
  const defaults = new Map([['rels', 'application/vnd.openxmlformats-package.relationships+xml'],
    ['nuspec', 'application/octet']]);
  const overrides = [];
  for (const n of names) {
    const base = n.split('/').pop();
    const dot = base.lastIndexOf('.');
    if (dot <= 0) overrides.push(n);
    else if (!defaults.has(base.slice(dot + 1).toLowerCase())) defaults.set(base.slice(dot + 1).toLowerCase(), 'application/octet');
  }
  return '<?xml version="1.0" encoding="utf-8"?>' +
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
    [...defaults].map(([e, t]) => `<Default Extension="${xmlEscape(e)}" ContentType="${t}" />`).join('') +
    overrides.map((n) => `<Override PartName="/${xmlEscape(n)}" ContentType="application/octet" />`).join('') +
    '</Types>';
}

// A real nupkg (an OPC zip the way `nuget pack` lays it out): [Content_Types].xml,
// _rels/.rels naming the manifest, <id>.nuspec at the root, and `files` ({ path: content }).
// nuspec: a full nuspec text to use instead of the generated one.
export function buildNupkg({ id, version, dependencies = [], description, authors, title, tags,
  extraNuspec = '', files, nuspec, method = 'deflate' }) {
  const nuspecName = `${id}.nuspec`;
  const fileMap = files ?? { [`lib/netstandard2.0/${id}.txt`]: `${id} ${version}\n` };
  const names = [nuspecName, ...Object.keys(fileMap)];
  const rels = '<?xml version="1.0" encoding="utf-8"?>' +
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
    `<Relationship Type="http://schemas.microsoft.com/packaging/2010/07/manifest" Target="/${xmlEscape(nuspecName)}" Id="R${crc32(Buffer.from(id)).toString(16)}" />` +
    '</Relationships>';
  return zip([
    { name: '_rels/.rels', data: rels, method },
    { name: nuspecName, data: nuspec ?? nuspecXml({ id, version, dependencies, description, authors, title, tags, extraNuspec }), method },
    ...Object.entries(fileMap).map(([name, data]) => ({ name, data, method })),
    { name: '[Content_Types].xml', data: contentTypesXml(names), method },
  ]);
}

// ---------------------------------------------------------------------------------------------
// The stand-in V3 upstream

const json = (v) => JSON.stringify(v);

// packages: [{ id, version, listed = true, nupkg?, dependencies?, description?, authors?, ... }]
// (without nupkg one is built from the other fields). Options: label, gzip (registration
// documents gzip-encoded when the client accepts it, as nuget.org does).
export async function startNugetUpstream({ packages = [], label = 'nuget upstream', gzip = false } = {}) {
  const up = new NugetUpstream({ label, gzip });
  for (const p of packages) up.addPackage(p);
  await up.start();
  return up;
}

export class NugetUpstream {
  constructor({ label = 'nuget upstream', gzip = false } = {}) {
    this.label = label;
    this.gzip = gzip;
    this.pkgs = new Map(); // lower id -> Map(lower normalized version -> entry)
    this.requests = []; // { method, path, status }
    this.overrides = new Map(); // path (no leading slash) -> { status, body, contentType }
    this.hanging = false;
    this.hung = new Set();
    this.server = null;
    this.port = 0;
    registerLogSource(`${label} requests`, () =>
      tailText(this.requests.map((r) => `${r.method} /${r.path} -> ${r.status}`).join('\n')));
  }

  get baseUrl() {
    return `http://127.0.0.1:${this.port}/`;
  }

  get indexUrl() {
    return `${this.baseUrl}v3/index.json`;
  }

  // Adds (or replaces) one version. Returns the entry: { id, version (as given),
  // normalized, listed, nupkg, hash, nuspec, dependencies, description, ... }.
  addPackage(p) {
    const normalized = normalizeVersion(p.version);
    const nupkg = p.nupkg ?? buildNupkg(p);
    let nuspec = p.nuspecText;
    if (!nuspec) {
      try {
        for (const [n, d] of unzip(nupkg)) if (!n.includes('/') && n.toLowerCase().endsWith('.nuspec')) nuspec = d.toString('utf8');
      } catch {
        nuspec = '';
      }
    }
    const e = {
      ...p,
      id: p.id,
      version: p.version,
      normalized,
      listed: p.listed !== false,
      nupkg,
      nuspec: nuspec ?? '',
      hash: sha512Base64(nupkg),
      dependencies: p.dependencies ?? [],
      published: p.published ?? '2026-01-01T00:00:00+00:00',
    };
    const lid = p.id.toLowerCase();
    if (!this.pkgs.has(lid)) this.pkgs.set(lid, new Map());
    this.pkgs.get(lid).set(normalized.toLowerCase(), e);
    return e;
  }

  entry(id, version) {
    return this.pkgs.get(id.toLowerCase())?.get(normalizeVersion(version).toLowerCase());
  }

  // The registration and search advertise a SHA-512 the served nupkg does not have.
  setWrongHash(id, version, wrong = true) {
    const e = this.entry(id, version);
    if (!e) throw new Error(`no ${id} ${version} in the stand-in`);
    e.hash = wrong ? sha512Base64(Buffer.concat([e.nupkg, Buffer.from('tampered')])) : sha512Base64(e.nupkg);
  }

  // true: accept every request and never answer (until hang(false) or stop()).
  hang(on = true) {
    this.hanging = on;
    if (!on) {
      for (const res of this.hung) res.destroy();
      this.hung.clear();
    }
  }

  override(p, { status = 200, body = '', contentType = 'application/json' } = {}) {
    this.overrides.set(p.replace(/^\//, ''), { status, body, contentType });
    return this;
  }

  clearOverrides() {
    this.overrides.clear();
  }

  // Requests whose path (no leading slash) matches `pred` (a string suffix or a function).
  count(pred) {
    const f = typeof pred === 'function' ? pred : (r) => r.path.endsWith(pred);
    return this.requests.filter(f).length;
  }

  async start() {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
    this.port = this.server.address().port;
    registerCleanup(() => this.stop());
    return this;
  }

  async stop() {
    if (!this.server) return;
    const s = this.server;
    this.server = null;
    this.hang(false);
    s.closeAllConnections?.();
    await new Promise((resolve) => s.close(() => resolve()));
  }

  serviceIndex() {
    const b = this.baseUrl;
    const r = (id, type, comment) => ({ '@id': id, '@type': type, comment });
    return {
      version: '3.0.0',
      resources: [
        r(`${b}v3-flatcontainer/`, 'PackageBaseAddress/3.0.0', 'Base URL of where NuGet packages are stored'),
        r(`${b}query`, 'SearchQueryService', 'Query endpoint of NuGet Search service'),
        r(`${b}query`, 'SearchQueryService/3.0.0-rc', 'Query endpoint of NuGet Search service'),
        r(`${b}query`, 'SearchQueryService/3.5.0', 'Query endpoint of NuGet Search service'),
        r(`${b}v3/registration/`, 'RegistrationsBaseUrl', 'Base URL of where NuGet package registration info is stored'),
        r(`${b}v3/registration/`, 'RegistrationsBaseUrl/3.0.0-rc', 'SemVer 1.0.0 packages only'),
        r(`${b}v3/registration/`, 'RegistrationsBaseUrl/3.4.0', 'SemVer 1.0.0 packages only'),
        r(`${b}v3/registration-semver2/`, 'RegistrationsBaseUrl/3.6.0', 'Includes SemVer 2.0.0 packages'),
        r(`${b}v3/registration-semver2/`, 'RegistrationsBaseUrl/Versioned', 'Includes SemVer 2.0.0 packages'),
      ],
      '@context': { '@vocab': 'http://schema.nuget.org/services#', comment: 'http://www.w3.org/2000/01/rdf-schema#comment' },
    };
  }

  sorted(lid) {
    const m = this.pkgs.get(lid);
    if (!m) return [];
    return [...m.values()].sort((a, b) => compareVersions(a.normalized, b.normalized));
  }

  flatUrl(e) {
    const lid = e.id.toLowerCase();
    const lv = e.normalized.toLowerCase();
    return `${this.baseUrl}v3-flatcontainer/${lid}/${lv}/${lid}.${lv}.nupkg`;
  }

  catalogEntry(e, regBase) {
    const b = this.baseUrl;
    const lid = e.id.toLowerCase();
    const groups = new Map();
    for (const d of e.dependencies) {
      const k = d.targetFramework || '';
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k).push(d);
    }
    const catId = `${b}catalog/${lid}.${e.normalized.toLowerCase()}.json`;
    return {
      '@id': catId,
      '@type': 'PackageDetails',
      authors: e.authors ?? 'arca tests',
      dependencyGroups: [...groups].map(([tf, ds], i) => ({
        '@id': `${catId}#dependencygroup/${tf || i}`,
        '@type': 'PackageDependencyGroup',
        ...(tf ? { targetFramework: tf } : {}),
        dependencies: ds.map((d) => ({
          '@id': `${catId}#dependencygroup/${tf || i}/${d.id.toLowerCase()}`,
          '@type': 'PackageDependency',
          id: d.id,
          range: d.range ?? '',
          registration: `${regBase}${d.id.toLowerCase()}/index.json`,
        })),
      })),
      description: e.description ?? `arca test package ${e.id} ${e.version}`,
      iconUrl: '',
      id: e.id,
      language: '',
      licenseUrl: '',
      listed: e.listed,
      minClientVersion: '',
      packageContent: this.flatUrl(e),
      packageHash: e.hash,
      packageHashAlgorithm: 'SHA512',
      packageSize: e.nupkg.length,
      projectUrl: '',
      published: e.listed ? e.published : '1900-01-01T00:00:00+00:00',
      requireLicenseAcceptance: false,
      summary: '',
      tags: e.tags ? String(e.tags).split(/\s+/).filter(Boolean) : [],
      title: e.title ?? '',
      version: e.version,
    };
  }

  leaf(e, regBase) {
    const lid = e.id.toLowerCase();
    return {
      '@id': `${regBase}${lid}/${e.normalized.toLowerCase()}.json`,
      '@type': 'Package',
      commitId: '00000000-0000-0000-0000-000000000000',
      commitTimeStamp: e.published,
      catalogEntry: this.catalogEntry(e, regBase),
      packageContent: this.flatUrl(e),
      registration: `${regBase}${lid}/index.json`,
    };
  }

  registrationIndex(lid, regBase, semver2) {
    const versions = this.sorted(lid).filter((e) => semver2 || !isSemver2(e.version));
    if (!versions.length) return null;
    const url = `${regBase}${lid}/index.json`;
    const lower = versions[0].normalized.toLowerCase();
    const upper = versions[versions.length - 1].normalized.toLowerCase();
    return {
      '@id': url,
      '@type': ['catalog:CatalogRoot', 'PackageRegistration', 'catalog:Permalink'],
      commitId: '00000000-0000-0000-0000-000000000000',
      commitTimeStamp: '2026-01-01T00:00:00+00:00',
      count: 1,
      items: [{
        '@id': `${url}#page/${lower}/${upper}`,
        '@type': 'catalog:CatalogPage',
        count: versions.length,
        items: versions.map((e) => this.leaf(e, regBase)),
        lower,
        parent: url,
        upper,
      }],
    };
  }

  search(params) {
    const q = (params.get('q') ?? '').trim().toLowerCase();
    const skip = Number(params.get('skip') ?? 0);
    const take = Number(params.get('take') ?? 20);
    const pre = params.get('prerelease') === 'true';
    const semver2 = (params.get('semVerLevel') ?? '').startsWith('2');
    const regBase = `${this.baseUrl}v3/registration${semver2 ? '-semver2' : ''}/`;
    const data = [];
    for (const lid of [...this.pkgs.keys()].sort()) {
      const exact = q.startsWith('packageid:') ? q.slice('packageid:'.length) : null;
      if (exact !== null ? lid !== exact : q && !lid.includes(q)) continue;
      const vs = this.sorted(lid).filter((e) => e.listed && (pre || !isPrerelease(e.version)) &&
        (semver2 || !isSemver2(e.version)));
      if (!vs.length) continue;
      const latest = vs[vs.length - 1];
      data.push({
        '@id': `${regBase}${lid}/index.json`,
        '@type': 'Package',
        registration: `${regBase}${lid}/index.json`,
        id: latest.id,
        version: latest.normalized,
        description: latest.description ?? `arca test package ${latest.id} ${latest.version}`,
        summary: '',
        title: latest.title ?? latest.id,
        iconUrl: '',
        licenseUrl: '',
        projectUrl: '',
        tags: latest.tags ? String(latest.tags).split(/\s+/).filter(Boolean) : [],
        authors: [latest.authors ?? 'arca tests'],
        totalDownloads: 0,
        verified: false,
        versions: vs.map((e) => ({ version: e.normalized, downloads: 0, '@id': `${regBase}${lid}/${e.normalized.toLowerCase()}.json` })),
      });
    }
    return { totalHits: data.length, data: data.slice(skip, skip + take) };
  }

  handle(req, res) {
    const u = new URL(req.url, 'http://x');
    let rel;
    try {
      rel = decodeURIComponent(u.pathname).replace(/^\//, '');
    } catch {
      rel = u.pathname.replace(/^\//, '');
    }
    const rec = { method: req.method, path: rel + u.search, status: 0 };
    this.requests.push(rec);
    if (this.hanging) {
      rec.status = 'hung';
      this.hung.add(res);
      return;
    }
    const send = (status, type, body, extra = {}) => {
      rec.status = status;
      let buf = toBuffer(body);
      const headers = { 'Content-Type': type, ...extra };
      if (this.gzip && type.startsWith('application/json') && /\bgzip\b/.test(req.headers['accept-encoding'] ?? '')) {
        buf = zlib.gzipSync(buf);
        headers['Content-Encoding'] = 'gzip';
      }
      headers['Content-Length'] = buf.length;
      res.writeHead(status, headers);
      res.end(req.method === 'HEAD' ? undefined : buf);
    };
    const notFound = () => send(404, 'application/xml',
      '<?xml version="1.0" encoding="utf-8"?><Error><Code>BlobNotFound</Code><Message>The specified blob does not exist.</Message></Error>');
    const o = this.overrides.get(rel);
    if (o) return send(o.status, o.contentType, o.body);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed\n');
    if (rel === 'v3/index.json') return send(200, 'application/json', json(this.serviceIndex()));
    if (rel === 'query') return send(200, 'application/json', json(this.search(u.searchParams)));
    let m = /^v3-flatcontainer\/([^/]+)\/index\.json$/.exec(rel);
    if (m) {
      const vs = this.sorted(m[1]);
      if (m[1] !== m[1].toLowerCase() || !vs.length) return notFound();
      return send(200, 'application/json', json({ versions: vs.map((e) => e.normalized.toLowerCase()) }));
    }
    m = /^v3-flatcontainer\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(rel);
    if (m) {
      const [, lid, lv, file] = m;
      const e = lid === lid.toLowerCase() && lv === lv.toLowerCase() ? this.pkgs.get(lid)?.get(lv) : undefined;
      if (!e) return notFound();
      if (file === `${lid}.${lv}.nupkg`) return send(200, 'application/octet-stream', e.nupkg);
      if (file === `${lid}.nuspec`) return send(200, 'application/xml', e.nuspec);
      return notFound();
    }
    m = /^v3\/(registration|registration-semver2)\/([^/]+)\/([^/]+)\.json$/.exec(rel);
    if (m) {
      const [, kind, lid, name] = m;
      const semver2 = kind === 'registration-semver2';
      const regBase = `${this.baseUrl}v3/${kind}/`;
      if (lid !== lid.toLowerCase()) return notFound();
      if (name === 'index') {
        const doc = this.registrationIndex(lid, regBase, semver2);
        return doc ? send(200, 'application/json', json(doc)) : notFound();
      }
      const e = this.pkgs.get(lid)?.get(name);
      if (!e || (!semver2 && isSemver2(e.version))) return notFound();
      return send(200, 'application/json', json(this.leaf(e, regBase)));
    }
    return notFound();
  }
}

// ---------------------------------------------------------------------------------------------
// arca configs

// An arca config whose `public:nuget-org` points at `indexUrl` (a V3 service index);
// repositories `nuget-store` (the connection) and `main` (upstream: the store).
export function nugetConfig(indexUrl, { ttlSeconds = 300 } = {}) {
  return {
    external_connections: {
      'public:nuget-org': { url: indexUrl, metadata_ttl_seconds: ttlSeconds },
    },
    domains: [{
      name: 'local',
      repositories: [
        { name: 'nuget-store', external_connection: 'public:nuget-org' },
        { name: 'main', upstreams: ['nuget-store'] },
      ],
    }],
  };
}

// Feed URLs of a repository on a running arca (`arca.baseUrl`).
export function v3Index(baseUrl, repo = 'main', domain = 'local') {
  return `${baseUrl}/${domain}/nuget/${repo}/v3/index.json`;
}

export function v2Feed(baseUrl, repo = 'main', domain = 'local') {
  return `${baseUrl}/${domain}/nuget/${repo}/api/v2/`;
}
