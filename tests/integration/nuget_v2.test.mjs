// Debian's real `nuget` (2.8.7, on mono, a V2-only client) against arca's NuGet V2 feed
// (/local/nuget/main/api/v2/), arca proxying a stand-in NuGet V3 upstream on loopback that
// serves nupkgs built by the tests: install (a given version, the latest, the latest
// prerelease, dependencies resolved through arca), list (search term, -AllVersions,
// -Prerelease, SemVer 2.0 hidden), push with an arca token and installing the pushed package
// back, pushes refused (bad key, no key, the same version twice); and the feed's documents,
// paging, SemVer 2.0 hiding and bad queries over plain HTTP.
//
// The tests run in order and share arca: list relies on what install fetched.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir, registerLogSource, run, cleanEnv, tailText } from './lib/harness.mjs';
import { startArca, deepMerge } from './lib/arca.mjs';
import { authConfig } from './lib/aws.mjs';
import { request } from './lib/http.mjs';
import { buildNupkg, startNugetUpstream, nugetConfig, v2Feed, unzip } from './lib/nuget.mjs';

const NUGET = '/usr/bin/nuget';
const skip = fs.existsSync(NUGET) || process.env.CI ? false : 'nuget is not installed (scripts/setup.sh --test installs it)';

const EMPTY_CONFIG = `<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
  </packageSources>
</configuration>
`;

const shellQuote = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

// A hermetic nuget: its own HOME and XDG dirs, an empty NuGet.Config passed as -ConfigFile,
// -NonInteractive always; every run is kept for the failure log.
class NugetCli {
  constructor(label) {
    this.dir = makeTempDir(label);
    this.home = path.join(this.dir, 'home');
    fs.mkdirSync(this.home, { recursive: true });
    this.config = path.join(this.dir, 'NuGet.Config');
    fs.writeFileSync(this.config, EMPTY_CONFIG);
    this.history = [];
    registerLogSource(`nuget runs (${label})`, () => this.history.map((h) =>
      `$ nuget ${h.args.join(' ')} -> ${h.code} (${h.ms} ms)\n${tailText(h.stdout, 30)}\n${tailText(h.stderr, 30)}`)
      .join('\n'));
  }

  env() {
    return cleanEnv({
      HOME: this.home,
      XDG_CONFIG_HOME: path.join(this.home, '.config'),
      XDG_DATA_HOME: path.join(this.home, '.local/share'),
      XDG_CACHE_HOME: path.join(this.home, '.cache'),
      TERM: 'xterm',
    });
  }

  freshDir(name) {
    const d = path.join(this.dir, `${name}-${this.history.length}`);
    fs.mkdirSync(d, { recursive: true });
    return d;
  }

  // config: false for commands without -ConfigFile (pack).
  async run(args, { cwd = this.dir, timeoutMs = 60_000, config = true } = {}) {
    const full = [...args, '-NonInteractive', ...(config ? ['-ConfigFile', this.config] : [])];
    const r = await run(NUGET, full, { cwd, env: this.env(), timeoutMs });
    this.history.push({ args: full, ...r });
    return r;
  }

  // `nuget list` reads the console size and loops forever without a terminal: run it under
  // script(1) with a pty. Returns the "Id Version" lines it printed.
  async list(args, { timeoutMs = 60_000 } = {}) {
    const full = ['list', ...args, '-NonInteractive', '-ConfigFile', this.config];
    const cmd = `stty cols 120; ${NUGET} ${full.map(shellQuote).join(' ')}`;
    const r = await run('script', ['-eqc', cmd, '/dev/null'], { cwd: this.dir, env: this.env(), timeoutMs });
    this.history.push({ args: full, ...r });
    // Strip terminal control sequences and carriage returns.
    const text = r.stdout.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]/g, '').replace(/\r/g, '');
    const lines = text.split('\n').map((l) => l.trim()).filter((l) => /^[A-Za-z0-9_.-]+ [0-9][A-Za-z0-9.+-]*$/.test(l));
    return { ...r, lines };
  }
}

function assertOk(r, what) {
  assert.equal(r.code, 0, `${what} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
}

// Files of an installed package folder (paths relative to it, '/' separated) -> Buffer.
function folderFiles(dir) {
  const out = new Map();
  const walk = (d, rel) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p, r);
      else out.set(r, fs.readFileSync(p));
    }
  };
  walk(dir, '');
  return out;
}

// What `nuget install` extracted equals the nupkg's files (less the OPC parts), and the nupkg
// it kept is byte for byte the one given.
function assertInstalled(outDir, id, version, nupkg) {
  const folder = path.join(outDir, `${id}.${version}`);
  assert.ok(fs.existsSync(folder), `${id}.${version} was not installed; ${outDir} has: ${fs.readdirSync(outDir).join(', ')}`);
  const files = folderFiles(folder);
  const kept = files.get(`${id}.${version}.nupkg`);
  assert.ok(kept, `${id}.${version}.nupkg is missing from ${folder}`);
  assert.ok(kept.equals(nupkg), `${id}.${version}.nupkg differs from the bytes served`);
  for (const [name, data] of unzip(nupkg)) {
    if (name === '[Content_Types].xml' || name.startsWith('_rels/') || name.startsWith('package/') ||
        name.endsWith('.nuspec')) continue;
    assert.ok(files.has(name), `${name} of ${id} ${version} was not extracted`);
    assert.ok(files.get(name).equals(data), `${name} of ${id} ${version} differs`);
  }
}

const installed = (outDir) => fs.readdirSync(outDir).filter((n) => fs.statSync(path.join(outDir, n)).isDirectory()).sort();

describe('nuget 2.8.7 against arca\'s V2 feed', { skip, timeout: 300_000 }, () => {
  let up;
  let arca;
  let feed;
  let token;
  let nuget;
  const served = {}; // "Id@version" -> nupkg served by the stand-in

  const pkg = (id, version, dependencies = []) => {
    const nupkg = buildNupkg({
      id, version, dependencies,
      description: `${id} ${version} from the stand-in upstream`,
      files: {
        [`lib/net45/${id}.dll`]: `${id} ${version} (not really an assembly)\n`,
        'content/readme.txt': `readme of ${id} ${version}\n`,
      },
    });
    served[`${id}@${version}`] = nupkg;
    return { id, version, nupkg, dependencies };
  };

  before(async () => {
    up = await startNugetUpstream({
      label: 'nuget v2 upstream',
      packages: [
        pkg('Arca.Demo', '1.0.0', [{ id: 'Arca.Dep', range: '[1.0.0, )', targetFramework: 'net45' }]),
        pkg('Arca.Demo', '1.1.0', [{ id: 'Arca.Dep', range: '[1.1.0, )', targetFramework: 'net45' }]),
        pkg('Arca.Demo', '2.0.0-beta', [{ id: 'Arca.Dep', range: '[1.1.0, )', targetFramework: 'net45' }]),
        pkg('Arca.Dep', '1.0.0'),
        pkg('Arca.Dep', '1.1.0'),
        pkg('Arca.Dep', '2.0.0-rc.1'), // SemVer 2.0: never shown to this client
      ],
    });
    arca = await startArca({
      label: 'nuget-v2',
      config: deepMerge(nugetConfig(up.indexUrl), {
        auth: authConfig({ anonymous_read: true, anonymous_write: false }),
      }),
    });
    feed = v2Feed(arca.baseUrl);
    // A token as `aws codeartifact get-authorization-token` gets it (unsigned, from loopback).
    const t = await request(arca.url('/v1/authorization-token?domain=local'), { method: 'POST' });
    assert.equal(t.status, 200, t.body.toString());
    token = JSON.parse(t.body.toString()).authorizationToken;
    assert.ok(token);
    nuget = new NugetCli('nuget-v2-client');
  });

  after(async () => {
    if (arca) await arca.stop();
    if (up) await up.stop();
  });

  test('install a given version: the package and its dependency come through arca from the upstream', async () => {
    const out = nuget.freshDir('install-1.0.0');
    const r = await nuget.run(['install', 'Arca.Demo', '-Version', '1.0.0', '-Source', feed, '-OutputDirectory', out, '-NoCache']);
    assertOk(r, 'nuget install Arca.Demo 1.0.0');
    // nuget 2.x picks the lowest version a dependency range allows.
    assert.deepEqual(installed(out), ['Arca.Demo.1.0.0', 'Arca.Dep.1.0.0']);
    assertInstalled(out, 'Arca.Demo', '1.0.0', served['Arca.Demo@1.0.0']);
    assertInstalled(out, 'Arca.Dep', '1.0.0', served['Arca.Dep@1.0.0']);
    // Both nupkgs were fetched from the stand-in (the client talked to arca only).
    assert.equal(up.count('arca.demo.1.0.0.nupkg'), 1);
    assert.equal(up.count('arca.dep.1.0.0.nupkg'), 1);
  });

  test('install without -Version takes the latest stable; -Prerelease the latest of all', async () => {
    const out = nuget.freshDir('install-latest');
    let r = await nuget.run(['install', 'Arca.Demo', '-Source', feed, '-OutputDirectory', out, '-NoCache']);
    assertOk(r, 'nuget install Arca.Demo');
    assert.deepEqual(installed(out), ['Arca.Demo.1.1.0', 'Arca.Dep.1.1.0']);
    assertInstalled(out, 'Arca.Demo', '1.1.0', served['Arca.Demo@1.1.0']);
    assertInstalled(out, 'Arca.Dep', '1.1.0', served['Arca.Dep@1.1.0']);

    const pre = nuget.freshDir('install-prerelease');
    r = await nuget.run(['install', 'Arca.Demo', '-Prerelease', '-Source', feed, '-OutputDirectory', pre, '-NoCache']);
    assertOk(r, 'nuget install Arca.Demo -Prerelease');
    assert.deepEqual(installed(pre), ['Arca.Demo.2.0.0-beta', 'Arca.Dep.1.1.0']);
    assertInstalled(pre, 'Arca.Demo', '2.0.0-beta', served['Arca.Demo@2.0.0-beta']);
    // Nothing SemVer 2.0 reached this client.
    assert.equal(up.count('arca.dep.2.0.0-rc.1.nupkg'), 0);
  });

  test('list with a search term, -AllVersions and -Prerelease', async () => {
    let r = await nuget.list(['Demo', '-Source', feed]);
    assertOk(r, 'nuget list Demo');
    assert.deepEqual(r.lines, ['Arca.Demo 1.1.0']);

    r = await nuget.list(['Arca', '-AllVersions', '-Source', feed]);
    assertOk(r, 'nuget list Arca -AllVersions');
    assert.deepEqual(r.lines, ['Arca.Demo 1.0.0', 'Arca.Demo 1.1.0', 'Arca.Dep 1.0.0', 'Arca.Dep 1.1.0']);

    r = await nuget.list(['Arca', '-Prerelease', '-Source', feed]);
    assertOk(r, 'nuget list Arca -Prerelease');
    assert.deepEqual(r.lines, ['Arca.Demo 2.0.0-beta', 'Arca.Dep 1.1.0']);
  });

  test('push a package made by nuget pack with an arca token, then install it back', async () => {
    const work = nuget.freshDir('pack');
    fs.writeFileSync(path.join(work, 'hello.txt'), 'hello from a pushed package\n');
    fs.writeFileSync(path.join(work, 'Arca.Pushed.nuspec'), `<?xml version="1.0"?>
<package>
  <metadata>
    <id>Arca.Pushed</id>
    <version>1.0</version>
    <authors>arca tests</authors>
    <description>pushed through arca's V2 feed</description>
    <dependencies>
      <dependency id="Arca.Dep" version="1.0.0" />
    </dependencies>
  </metadata>
  <files>
    <file src="hello.txt" target="content" />
  </files>
</package>
`);
    const dist = path.join(work, 'dist');
    fs.mkdirSync(dist);
    let r = await nuget.run(['pack', 'Arca.Pushed.nuspec', '-OutputDirectory', dist], { cwd: work, config: false });
    assertOk(r, 'nuget pack');
    // nuget pack keeps the version as written (1.0); arca normalizes it to 1.0.0.
    const file = 'Arca.Pushed.1.0.nupkg';
    const bytes = fs.readFileSync(path.join(dist, file));

    // The nupkg path must be relative for nuget 2.8.7's push (cwd is its folder).
    r = await nuget.run(['push', file, '-ApiKey', token, '-Source', feed], { cwd: dist });
    assertOk(r, 'nuget push');
    assert.match(r.stdout, /Your package was pushed/);

    const out = nuget.freshDir('install-pushed');
    r = await nuget.run(['install', 'Arca.Pushed', '-Version', '1.0.0', '-Source', feed, '-OutputDirectory', out, '-NoCache']);
    assertOk(r, 'nuget install Arca.Pushed');
    assert.deepEqual(installed(out), ['Arca.Dep.1.0.0', 'Arca.Pushed.1.0.0']);
    assertInstalled(out, 'Arca.Pushed', '1.0.0', bytes);
    assert.equal(fs.readFileSync(path.join(out, 'Arca.Pushed.1.0.0', 'content', 'hello.txt'), 'utf8'),
      'hello from a pushed package\n');
    // A pushed package is never looked up upstream as a nupkg.
    assert.equal(up.count((q) => q.path.includes('arca.pushed') && q.path.endsWith('.nupkg')), 0);

    // The same version again: 409, and what is stored is unchanged.
    const again = buildNupkg({ id: 'Arca.Pushed', version: '1.0.0', description: 'a different body' });
    fs.writeFileSync(path.join(dist, 'again.nupkg'), again);
    r = await nuget.run(['push', 'again.nupkg', '-ApiKey', token, '-Source', feed], { cwd: dist });
    assert.notEqual(r.code, 0, `a duplicate push was accepted:\n${r.stdout}`);
    assert.match(r.stdout + r.stderr, /409|Conflict/);
    const dl = await request(`${feed}package/Arca.Pushed/1.0.0`);
    assert.equal(dl.status, 200);
    assert.ok(dl.body.equals(bytes), 'the stored nupkg changed after a refused push');
  });

  test('the feed over HTTP: documents, paging by next links, SemVer 2.0 hiding, bad queries', async () => {
    const svc = await request(feed);
    assert.equal(svc.status, 200);
    assert.match(svc.headers['content-type'], /xml/);
    assert.match(svc.body.toString(), /<collection href="Packages">/);
    const meta = await request(`${feed}$metadata`);
    assert.equal(meta.status, 200);
    assert.match(meta.body.toString(), /<FunctionImport Name="FindPackagesById"/);

    // Everything stored so far, one page, then the same walked two entries at a time.
    const entries = (body) => [...body.matchAll(/<d:Id>([^<]*)<\/d:Id>\s*<d:Version>([^<]*)</g)].map((m) => `${m[1]}@${m[2]}`);
    const nextOf = (body) => /<link rel="next" href="([^"]*)"/.exec(body)?.[1]?.replace(/&amp;/g, '&');
    const all = await request(`${feed}Packages()`);
    assert.equal(all.status, 200);
    assert.match(all.headers['content-type'], /^application\/atom\+xml/);
    const full = entries(all.body.toString());
    assert.equal(nextOf(all.body.toString()), undefined);
    assert.ok(full.length >= 6, `Packages() shows ${full.join(', ')}`);
    const walked = [];
    let url = `${feed}Packages()?$top=2`;
    for (let i = 0; url && i < 20; i++) {
      const r = await request(url);
      assert.equal(r.status, 200, url);
      const page = entries(r.body.toString());
      assert.ok(page.length <= 2 && page.length > 0, `${url}: ${page.join(', ')}`);
      walked.push(...page);
      url = nextOf(r.body.toString());
    }
    assert.deepEqual(walked, full);

    // SemVer 2.0 versions only for clients that ask for them; ids are case-insensitive.
    const byId = await request(`${feed}FindPackagesById()?id='arca.dep'`);
    assert.deepEqual(entries(byId.body.toString()), ['Arca.Dep@1.0.0', 'Arca.Dep@1.1.0']);
    const byId2 = await request(`${feed}FindPackagesById()?id='ARCA.DEP'&semVerLevel=2.0.0`);
    assert.deepEqual(entries(byId2.body.toString()), ['Arca.Dep@1.0.0', 'Arca.Dep@1.1.0', 'Arca.Dep@2.0.0-rc.1']);

    // Search() without includePrerelease hides pre-releases (as NuGet.Server does); with
    // includePrerelease=true they show. The pre-release is fetched first so it is stored.
    assert.equal((await request(`${feed}package/Arca.Demo/2.0.0-beta`)).status, 200);
    const stable = await request(`${feed}Search()?searchTerm='arca.demo'`);
    assert.equal(stable.status, 200);
    const stableEntries = entries(stable.body.toString());
    assert.ok(stableEntries.includes('Arca.Demo@1.1.0'), stableEntries.join(', '));
    assert.ok(!stableEntries.some((e) => e.includes('-')), `pre-release shown: ${stableEntries.join(', ')}`);
    const withPre = await request(`${feed}Search()?searchTerm='arca.demo'&includePrerelease=true`);
    assert.ok(entries(withPre.body.toString()).includes('Arca.Demo@2.0.0-beta'), withPre.body.toString().slice(0, 300));
    // '+' in a query is a space (form encoding), decoded like %20.
    const plus = await request(`${feed}Packages()?$filter=Id+eq+'Arca.Demo'&$orderby=Version`);
    assert.equal(plus.status, 200);
    assert.ok(entries(plus.body.toString()).every((e) => e.startsWith('Arca.Demo@')));
    assert.ok(entries(plus.body.toString()).length >= 2);
    assert.equal((await request(`${feed}Packages()?$filter=Id%zzeq`)).status, 400);

    // Bad queries: 400 with an OData error body, naming the problem.
    for (const [q, why] of [
      [`Packages()?$filter=Nope eq 'x'`, /unknown property/],
      [`Packages()?$filter=(Id eq 'x'`, /unexpected/],
      [`Search()?$orderby=Id sideways`, /unexpected/],
      [`Packages()?$top=many`, /\$top/],
      [`Packages(Id='Arca.Demo',Version='1.x')`, /version/i],
      [`Packages(Id='..%2F..%2Fetc',Version='1.0.0')`, /id/],
      [`Packages(Id='Arca.Demo')`, /Version/],
    ]) {
      const r = await request(feed + q);
      assert.equal(r.status, 400, `${q}: ${r.status} ${r.body}`);
      const body = r.body.toString();
      assert.match(body, /<m:error xmlns:m="http:\/\/schemas.microsoft.com\/ado\/2007\/08\/dataservices\/metadata">/, q);
      assert.match(/<m:message[^>]*>([^<]*)</.exec(body)?.[1] ?? '', why, q);
    }
  });

  test('a push with a bad key or without one is refused and stores nothing', async () => {
    const dir = nuget.freshDir('refused');
    fs.writeFileSync(path.join(dir, 'Arca.Refused.1.0.0.nupkg'), buildNupkg({ id: 'Arca.Refused', version: '1.0.0' }));
    // A forged arca token (the signature of a real one, tampered) and no key at all.
    const forged = `${token.slice(0, -4)}AAAA`;
    let r = await nuget.run(['push', 'Arca.Refused.1.0.0.nupkg', '-ApiKey', forged, '-Source', feed], { cwd: dir });
    assert.notEqual(r.code, 0, `a push with a forged key was accepted:\n${r.stdout}`);
    assert.doesNotMatch(r.stdout, /Your package was pushed/);
    r = await nuget.run(['push', 'Arca.Refused.1.0.0.nupkg', '-Source', feed], { cwd: dir });
    assert.notEqual(r.code, 0, `a push without a key was accepted:\n${r.stdout}`);
    assert.doesNotMatch(r.stdout, /Your package was pushed/);
    // The token never shows up in what the client printed.
    for (const h of nuget.history) assert.ok(!(h.stdout + h.stderr).includes(token), 'the token was printed');

    const entry = await request(`${feed}Packages(Id='Arca.Refused',Version='1.0.0')`);
    assert.equal(entry.status, 404);
    const dl = await request(`${feed}package/Arca.Refused/1.0.0`);
    assert.equal(dl.status, 404);
  });
});

// The same credential rule as npm and twine (issue 14): with no access keys configured and
// anonymous writes allowed (the default on a loopback listener), a key that is not an arca token
// is anonymous; once access keys are configured, only arca tokens push.
describe('nuget push with a placeholder API key', { skip, timeout: 300_000 }, () => {
  let up;
  let nuget;
  const started = [];

  before(async () => {
    up = await startNugetUpstream({ label: 'nuget placeholder upstream', packages: [] });
    nuget = new NugetCli('nuget-placeholder-client');
  });

  after(async () => {
    for (const a of started) await a.stop();
    if (up) await up.stop();
  });

  test('an open loopback listener: -ApiKey anything pushes; a forged arca token does not', async () => {
    const arca = await startArca({ label: 'nuget-open', config: nugetConfig(up.indexUrl) });
    started.push(arca);
    const feed = v2Feed(arca.baseUrl);
    const dir = nuget.freshDir('open');
    const nupkg = buildNupkg({ id: 'Arca.Open', version: '1.0.0' });
    fs.writeFileSync(path.join(dir, 'Arca.Open.1.0.0.nupkg'), nupkg);
    let r = await nuget.run(['push', 'Arca.Open.1.0.0.nupkg', '-ApiKey', 'anything', '-Source', feed], { cwd: dir });
    assertOk(r, 'nuget push -ApiKey anything');
    assert.match(r.stdout, /Your package was pushed/);
    const out = nuget.freshDir('install-open');
    r = await nuget.run(['install', 'Arca.Open', '-Version', '1.0.0', '-Source', feed, '-OutputDirectory', out, '-NoCache']);
    assertOk(r, 'nuget install Arca.Open');
    assertInstalled(out, 'Arca.Open', '1.0.0', nupkg);

    // Something that claims to be an arca token is still verified.
    const t = await request(arca.url('/v1/authorization-token?domain=local'), { method: 'POST' });
    const forged = `${JSON.parse(t.body.toString()).authorizationToken.slice(0, -4)}AAAA`;
    fs.writeFileSync(path.join(dir, 'Arca.Forged.1.0.0.nupkg'), buildNupkg({ id: 'Arca.Forged', version: '1.0.0' }));
    r = await nuget.run(['push', 'Arca.Forged.1.0.0.nupkg', '-ApiKey', forged, '-Source', feed], { cwd: dir });
    assert.notEqual(r.code, 0, `a push with a forged token was accepted:\n${r.stdout}`);
    assert.equal((await request(`${feed}package/Arca.Forged/1.0.0`)).status, 404);
  });

  test('access keys configured (anonymous writes still on): -ApiKey anything is refused', async () => {
    const arca = await startArca({
      label: 'nuget-keys',
      config: deepMerge(nugetConfig(up.indexUrl), { auth: authConfig({ anonymous_write: true }) }),
    });
    started.push(arca);
    const feed = v2Feed(arca.baseUrl);
    const dir = nuget.freshDir('keys');
    fs.writeFileSync(path.join(dir, 'Arca.Keyed.1.0.0.nupkg'), buildNupkg({ id: 'Arca.Keyed', version: '1.0.0' }));
    let r = await nuget.run(['push', 'Arca.Keyed.1.0.0.nupkg', '-ApiKey', 'anything', '-Source', feed], { cwd: dir });
    assert.notEqual(r.code, 0, `a placeholder key was accepted with access keys configured:\n${r.stdout}`);
    assert.equal((await request(`${feed}package/Arca.Keyed/1.0.0`)).status, 404);
    const t = await request(arca.url('/v1/authorization-token?domain=local'), { method: 'POST' });
    assert.equal(t.status, 200, t.body.toString());
    r = await nuget.run(['push', 'Arca.Keyed.1.0.0.nupkg', '-ApiKey', JSON.parse(t.body.toString()).authorizationToken,
      '-Source', feed], { cwd: dir });
    assertOk(r, 'nuget push with an arca token');
  });
});
