// Maven helpers: a stand-in upstream serving a folder in the Maven 2 layout over HTTP (Debian's
// /usr/share/maven-repo: no checksums, no maven-metadata.xml), arca configs with a Maven
// external connection, and real `mvn` run hermetically (own settings.xml, local repository and
// HOME).

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { makeTempDir, registerCleanup, run, cleanEnv } from './harness.mjs';

export const DEBIAN_MAVEN_REPO = '/usr/share/maven-repo';

export class StandinMavenRepo {
  // root: folder served at "/"; overrides: path -> { status, body, contentType } served instead.
  constructor({ root = DEBIAN_MAVEN_REPO, label = 'maven upstream' } = {}) {
    this.root = root;
    this.label = label;
    this.overrides = new Map();
    this.requests = [];
    this.server = null;
    this.port = 0;
  }

  // delayMs: answer that path only after this long (to make concurrent requests overlap).
  override(p, { status = 200, body = '', contentType = 'application/octet-stream', delayMs = 0 } = {}) {
    this.overrides.set(p.replace(/^\//, ''), { status, body, contentType, delayMs });
    return this;
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
    s.closeAllConnections?.();
    await new Promise((resolve) => s.close(() => resolve()));
  }

  get url() {
    return `http://127.0.0.1:${this.port}/`;
  }

  handle(req, res) {
    const rel = decodeURIComponent(new URL(req.url, 'http://x').pathname).replace(/^\//, '');
    this.requests.push({ method: req.method, path: rel });
    const send = (status, type, body) => {
      res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const o = this.overrides.get(rel);
    if (o && o.delayMs) {
      setTimeout(() => send(o.status, o.contentType, o.body), o.delayMs);
      return undefined;
    }
    if (o) return send(o.status, o.contentType, o.body);
    if (rel.split('/').includes('..')) return send(400, 'text/plain', 'bad path\n');
    const file = path.join(this.root, rel);
    let st;
    try {
      st = fs.statSync(file);
    } catch {
      return send(404, 'text/plain', 'not found\n');
    }
    if (!st.isFile()) return send(404, 'text/plain', 'not found\n');
    send(200, 'application/octet-stream', fs.readFileSync(file));
  }

  // Requests whose path ends with `suffix`.
  count(suffix) {
    return this.requests.filter((r) => r.path.endsWith(suffix)).length;
  }
}

// An arca config whose `public:maven-central` points at `url`; repositories
// `maven-central-store` (the connection) and `main` (upstream: the store).
export function mavenConfig(url, { ttlSeconds = 300 } = {}) {
  return {
    external_connections: {
      'public:maven-central': { url, metadata_ttl_seconds: ttlSeconds },
    },
    domains: [{
      name: 'local',
      repositories: [
        { name: 'maven-central-store', external_connection: 'public:maven-central' },
        { name: 'main', upstreams: ['maven-central-store'] },
      ],
    }],
  };
}

export function settingsXml(mirrorUrl) {
  return `<?xml version="1.0" encoding="UTF-8"?>
<settings>
  <mirrors>
    <mirror><id>arca</id><mirrorOf>*</mirrorOf><url>${mirrorUrl}</url></mirror>
  </mirrors>
  <!-- Credentials as \`aws codeartifact login\` would set them: Maven sends them preemptively
       on deploy (a placeholder token is anonymous to arca when no auth is configured). -->
  <servers>
    <server><id>arca</id><username>aws</username><password>placeholder-token</password></server>
  </servers>
  <!-- The super POM's central has snapshots disabled; the mirror inherits that policy. -->
  <profiles>
    <profile>
      <id>arca-snapshots</id>
      <repositories>
        <repository><id>central</id><url>http://central</url>
          <releases><enabled>true</enabled></releases><snapshots><enabled>true</enabled></snapshots></repository>
      </repositories>
    </profile>
  </profiles>
  <activeProfiles><activeProfile>arca-snapshots</activeProfile></activeProfiles>
</settings>
`;
}

// A hermetic mvn: its own HOME, settings.xml and (unless given) local repository.
export class Mvn {
  constructor(mirrorUrl, label = 'mvn') {
    this.dir = makeTempDir(label);
    this.home = path.join(this.dir, 'home');
    fs.mkdirSync(this.home, { recursive: true });
    this.settings = path.join(this.dir, 'settings.xml');
    fs.writeFileSync(this.settings, settingsXml(mirrorUrl));
  }

  freshLocalRepo(name = 'm2') {
    const d = path.join(this.dir, `${name}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`);
    fs.mkdirSync(d, { recursive: true });
    return d;
  }

  async run(cwd, args, { localRepo, timeoutMs = 180_000 } = {}) {
    const repo = localRepo ?? this.freshLocalRepo();
    const r = await run('mvn', ['-B', '-s', this.settings, `-Dmaven.repo.local=${repo}`, '-DforkCount=0', ...args], {
      cwd,
      env: cleanEnv({ HOME: this.home, MAVEN_OPTS: '-Xss4m', MAVEN_ARGS: '' }),
      timeoutMs,
    });
    r.localRepo = repo;
    return r;
  }

  async ok(cwd, args, opts) {
    const r = await this.run(cwd, args, opts);
    if (r.code !== 0) {
      const lines = (r.stdout + r.stderr).split('\n').filter((l) => !/^\s+at /.test(l));
      throw new Error(`mvn ${args.join(' ')} failed (code ${r.code}):\n${lines.slice(-80).join('\n')}`);
    }
    return r;
  }
}

// Writes a tiny jar project: org.example.arca:<artifactId>:<version>, one class, optional
// dependencies [{groupId, artifactId, version}] and a distributionManagement pointing at
// `deployUrl` (releases and snapshots).
export function writeProject(dir, { artifactId, version, groupId = 'org.example.arca', deps = [], deployUrl, code }) {
  fs.mkdirSync(path.join(dir, 'src/main/java/org/example/arca'), { recursive: true });
  const depXml = deps.map((d) => `    <dependency><groupId>${d.groupId}</groupId><artifactId>${d.artifactId}</artifactId><version>${d.version}</version></dependency>`).join('\n');
  const dist = deployUrl ? `
  <distributionManagement>
    <repository><id>arca</id><url>${deployUrl}</url></repository>
    <snapshotRepository><id>arca</id><url>${deployUrl}</url></snapshotRepository>
  </distributionManagement>` : '';
  fs.writeFileSync(path.join(dir, 'pom.xml'), `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>${groupId}</groupId>
  <artifactId>${artifactId}</artifactId>
  <version>${version}</version>
  <packaging>jar</packaging>
  <properties>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
    <maven.compiler.source>11</maven.compiler.source>
    <maven.compiler.target>11</maven.compiler.target>
  </properties>
  <dependencies>
${depXml}
  </dependencies>${dist}
</project>
`);
  const cls = artifactId.replace(/[^A-Za-z0-9]/g, '_');
  fs.writeFileSync(path.join(dir, `src/main/java/org/example/arca/${cls}.java`),
    code ?? `package org.example.arca;\npublic class ${cls} {\n  public static String hello() { return "${artifactId} ${version}"; }\n}\n`);
  return dir;
}
