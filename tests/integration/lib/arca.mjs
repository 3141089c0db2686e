// Starting the real arca binary ($ARCA_BIN) for a test: a config file in a fresh temp dir,
// port 0 + port_file, stdout/stderr captured in a log file (printed when a test fails), and
// stop (SIGTERM) / kill9 / restart on the same data_dir.

import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir, registerCleanup, registerLogSource, registerSanitizerCheck, spawnTracked, reapWithParent, sleep, tailFile, waitFor, withTimeout, cleanEnv }
  from './harness.mjs';
import { request } from './http.mjs';

export function arcaBin() {
  const bin = process.env.ARCA_BIN;
  if (!bin) throw new Error('ARCA_BIN is not set: run via ctest or set ARCA_BIN=/path/to/arca');
  if (!fs.existsSync(bin)) throw new Error(`ARCA_BIN=${bin} does not exist`);
  return bin;
}

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

// Objects merge recursively; arrays and scalars replace; undefined leaves the base value.
export function deepMerge(base, over) {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

export function defaultConfig({ dir, dataDir, upstreamUrl, ttlSeconds = 300 }) {
  return {
    listen: '127.0.0.1:0',
    data_dir: dataDir,
    port_file: path.join(dir, 'port'),
    log_level: 'info',
    upstream: { connect_timeout_ms: 2000, read_timeout_ms: 2000 },
    external_connections: {
      'public:npmjs': { url: upstreamUrl ?? 'http://127.0.0.1:9/', metadata_ttl_seconds: ttlSeconds },
    },
    domains: [{
      name: 'local',
      repositories: [
        { name: 'npm-store', external_connection: 'public:npmjs' },
        { name: 'main', upstreams: ['npm-store'] },
      ],
    }],
  };
}

// First line of an AddressSanitizer, LeakSanitizer or UndefinedBehaviorSanitizer report.
const k_sanitizer_report = /ERROR: (Address|Leak)Sanitizer|: runtime error: |AddressSanitizer:DEADLYSIGNAL/;

// For a short-lived arca run whose output a test captures itself: throws with the report.
export function assertNoSanitizerReport(output, what = 'arca') {
  const lines = String(output ?? '').split('\n');
  const i = lines.findIndex((l) => k_sanitizer_report.test(l));
  if (i >= 0) throw new Error(`sanitizer report from ${what}:\n${lines.slice(i, i + 200).join('\n')}`);
}

export class Arca {
  constructor({ label = 'arca', upstreamUrl, ttlSeconds, config = {}, dataDir } = {}) {
    this.label = label;
    this.dir = makeTempDir(label);
    this.dataDir = dataDir || path.join(this.dir, 'data');
    this.logPath = path.join(this.dir, 'arca.log');
    this.configPath = path.join(this.dir, 'arca.json');
    this.config = deepMerge(defaultConfig({ dir: this.dir, dataDir: this.dataDir, upstreamUrl, ttlSeconds }), config);
    this.portFile = this.config.port_file;
    this.proc = null;
    this.port = 0;
    this.starts = 0;
    this.exits = []; // {code, signal, expected}
    this.unregisterLog = registerLogSource(`arca log (${label}) ${this.logPath}`, () => this.logs());
    registerCleanup(() => this.kill9());
    this.sanitizerScanned = 0; // bytes of the log already searched for sanitizer reports
    registerSanitizerCheck(() => this.newSanitizerReports());
  }

  // Sanitizer reports written to the log since the previous call, each from its first line to
  // its SUMMARY line (at most 200 lines). In the sanitizer build, ASAN_OPTIONS/UBSAN_OPTIONS
  // (tests/CMakeLists.txt) make arca abort at the first report; the harness fails the test that
  // was running whether or not the test noticed the death.
  newSanitizerReports() {
    if (!fs.existsSync(this.logPath)) return [];
    const buf = fs.readFileSync(this.logPath);
    if (buf.length <= this.sanitizerScanned) return [];
    const text = buf.subarray(this.sanitizerScanned).toString('utf8');
    this.sanitizerScanned = buf.length;
    const lines = text.split('\n');
    const reports = [];
    for (let i = 0; i < lines.length; i++) {
      if (!k_sanitizer_report.test(lines[i])) continue;
      let end = i;
      while (end < lines.length - 1 && end - i < 200 && !/^SUMMARY: /.test(lines[end])) end++;
      reports.push(`--- ${this.label} (${this.logPath}) ---\n` + lines.slice(i, end + 1).join('\n'));
      i = end;
    }
    return reports;
  }

  writeConfig() {
    fs.writeFileSync(this.configPath, JSON.stringify(this.config, null, 2) + '\n');
  }

  // Starts the process and waits until the port file appears and GET /healthz answers 200.
  // opts.samePort: listen on the port of the previous run instead of a new one.
  async start({ samePort = false, timeoutMs = 30_000 } = {}) {
    if (this.proc) throw new Error('arca already running');
    if (samePort && this.port) this.config.listen = `127.0.0.1:${this.port}`;
    this.writeConfig();
    fs.rmSync(this.portFile, { force: true });
    fs.mkdirSync(path.dirname(this.logPath), { recursive: true });
    this.starts++;
    fs.appendFileSync(this.logPath,
      `\n===== [test harness] start #${this.starts} at ${new Date().toISOString()}: ` +
      `${arcaBin()} serve --config ${this.configPath}\n`);
    const logFd = fs.openSync(this.logPath, 'a');
    const proc = spawnTracked(arcaBin(), ['serve', '--config', this.configPath], {
      cwd: this.dir,
      env: cleanEnv({ HOME: path.join(this.dir, 'home') }),
      stdio: ['ignore', logFd, logFd],
    });
    fs.closeSync(logFd);
    if (proc.pid) reapWithParent(proc, this.configPath);
    this.proc = proc;
    const exitInfo = { code: null, signal: null, expected: false };
    proc.exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        exitInfo.code = code;
        exitInfo.signal = signal;
        this.exits.push(exitInfo);
        fs.appendFileSync(this.logPath,
          `===== [test harness] arca exited code=${code} signal=${signal} at ${new Date().toISOString()}\n`);
        if (this.proc === proc) this.proc = null;
        resolve(exitInfo);
      });
      proc.on('error', (e) => {
        exitInfo.code = -1;
        exitInfo.error = e;
        if (this.proc === proc) this.proc = null;
        resolve(exitInfo);
      });
    });
    proc.exitInfo = exitInfo;
    const died = () => proc.exitCode !== null || proc.signalCode !== null || exitInfo.code !== null;
    try {
      const portText = await waitFor(() => {
        if (died()) throw Object.assign(new Error('arca exited during startup'), { fatal: true });
        const t = fs.existsSync(this.portFile) ? fs.readFileSync(this.portFile, 'utf8').trim() : '';
        return /^\d+$/.test(t) ? t : null;
      }, { timeoutMs, what: `arca to write ${this.portFile}`, intervalMs: 20 }).catch((e) => {
        if (died()) throw new Error(`arca exited during startup (code ${proc.exitCode}, signal ${proc.signalCode})`);
        throw e;
      });
      this.port = Number(portText);
      await waitFor(async () => {
        if (died()) throw new Error('arca exited during startup');
        const r = await request(this.url('/healthz'), { timeoutMs: 2000 });
        return r.status === 200;
      }, { timeoutMs, what: 'GET /healthz to answer 200', intervalMs: 50 });
    } catch (e) {
      const tail = tailFile(this.logPath, 60);
      await this.kill9();
      throw new Error(`${this.label}: ${e.message}\n--- arca log tail ---\n${tail}`);
    }
    return this;
  }

  get running() {
    return this.proc !== null;
  }

  get baseUrl() {
    return `http://127.0.0.1:${this.port}`;
  }

  url(p = '/') {
    return this.baseUrl + (p.startsWith('/') ? p : '/' + p);
  }

  // npm registry URL of a repository (ends with '/').
  registry(repo = 'main', domain = 'local') {
    return `${this.baseUrl}/${domain}/npm/${repo}/`;
  }

  // SIGTERM and wait for exit; if it does not exit within timeoutMs, SIGKILL. Returns
  // {code, signal, timedOut}.
  async stop({ timeoutMs = 15_000 } = {}) {
    const proc = this.proc;
    if (!proc) return { code: null, signal: null, timedOut: false, notRunning: true };
    proc.exitInfo.expected = true;
    proc.kill('SIGTERM');
    try {
      const info = await withTimeout(proc.exited, timeoutMs, 'arca graceful stop');
      return { code: info.code, signal: info.signal, timedOut: false };
    } catch {
      proc.kill('SIGKILL');
      const info = await proc.exited;
      return { code: info.code, signal: info.signal, timedOut: true };
    }
  }

  async kill9() {
    const proc = this.proc;
    if (!proc) return null;
    proc.exitInfo.expected = true;
    proc.kill('SIGKILL');
    return proc.exited;
  }

  async restart(opts = {}) {
    const stopped = await this.stop();
    await this.start(opts);
    return stopped;
  }

  logs() {
    try {
      return fs.readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  // True if arca exited without being asked to (crash).
  crashed() {
    return this.exits.some((e) => !e.expected);
  }
}

// Convenience: new Arca(opts).start(). opts: { label, upstreamUrl, ttlSeconds, config, dataDir }
export async function startArca(opts = {}) {
  const a = new Arca(opts);
  await a.start(opts.startOptions);
  return a;
}

export { sleep };
