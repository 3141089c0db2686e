// Shared plumbing for arca's integration tests: temp dirs, child processes with timeouts,
// cleanup on exit (even on failure), and dumping logs when a test fails.
//
// Importing this module registers root-level node:test hooks:
//  - afterEach: when a test fails, print the tail of every registered log (arca's stdout/stderr,
//    the stand-in registry's request log) to stderr; and fail the test when a registered
//    sanitizer check (lib/arca.mjs: arca's log) found a new AddressSanitizer/UBSan report;
//  - process 'exit': kill every child process still running; remove temp dirs if the run passed,
//    otherwise keep them and say where they are.

import { afterEach, after } from 'node:test';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const children = new Set(); // ChildProcess
const tempDirs = [];
const logSources = new Map(); // id -> { label, dump: () => string }
const cleanups = new Set(); // async () => void, run by the root after() hook
let nextLogId = 1;
let failed = false;
let dumpedSinceFailure = false;

// ---------------------------------------------------------------------------------------------
// Temp dirs

export function makeTempDir(label = 'tmp') {
  const safe = label.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 40);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `arca-it-${safe}-`));
  tempDirs.push(dir);
  return dir;
}

// ---------------------------------------------------------------------------------------------
// Logs shown on failure

// Registers something to print when a test fails. `dump` returns text. Returns an unregister fn.
export function registerLogSource(label, dump) {
  const id = nextLogId++;
  logSources.set(id, { label, dump });
  return () => logSources.delete(id);
}

export function tailText(text, maxLines = 300, maxChars = 60_000) {
  let lines = text.split('\n');
  let prefix = '';
  if (lines.length > maxLines) {
    prefix = `... (${lines.length - maxLines} earlier lines omitted)\n`;
    lines = lines.slice(-maxLines);
  }
  let out = lines.join('\n');
  if (out.length > maxChars) out = '... (truncated)\n' + out.slice(-maxChars);
  return prefix + out;
}

export function tailFile(file, maxLines = 300) {
  try {
    return tailText(fs.readFileSync(file, 'utf8'), maxLines);
  } catch (e) {
    return `(cannot read ${file}: ${e.message})`;
  }
}

function dumpLogs(reason) {
  const parts = [`\n======== ${reason}: logs ========`];
  for (const src of logSources.values()) {
    let text;
    try {
      text = src.dump();
    } catch (e) {
      text = `(dump failed: ${e.message})`;
    }
    // Print only what is new since this source was last printed.
    if (src.printed && text.startsWith(src.printed)) {
      const fresh = text.slice(src.printed.length);
      parts.push(`-------- ${src.label} (new since the previous dump) --------\n` +
        (fresh.trim() ? tailText(fresh) : '(nothing new)'));
    } else {
      parts.push(`-------- ${src.label} --------\n${tailText(text)}`);
    }
    src.printed = text;
  }
  parts.push(`======== end of logs (${reason}) ========\n`);
  process.stderr.write(parts.join('\n') + '\n');
}

// ---------------------------------------------------------------------------------------------
// Sanitizer reports (build-asan/: arca built with -DARCA_SANITIZE=address,undefined)

const sanitizerChecks = new Set(); // () => string[]: reports that appeared since the last call

// Registers a check that returns the sanitizer reports found since its previous call (an empty
// array when none). Every test fails when a check finds one, whatever the test asserted: a
// report may come from a request whose answer the test does not look at. Returns an unregister fn.
export function registerSanitizerCheck(fn) {
  sanitizerChecks.add(fn);
  return () => sanitizerChecks.delete(fn);
}

function newSanitizerReports() {
  const reports = [];
  for (const check of sanitizerChecks) {
    try {
      reports.push(...check());
    } catch {
      // a log that cannot be read has nothing to report
    }
  }
  return reports;
}

function sanitizerError(reports) {
  return new Error(`sanitizer report in arca's log:\n${reports.join('\n\n')}`);
}

afterEach((t) => {
  const reports = newSanitizerReports();
  if (t.passed === false || reports.length) {
    failed = true;
    dumpedSinceFailure = true;
    dumpLogs(`test "${t.name}" failed${reports.length ? ' (sanitizer report)' : ''}`);
  }
  if (reports.length) throw sanitizerError(reports);
});

after(async () => {
  // Reports from before()/after() hooks of a describe block (no afterEach runs for those).
  const reports = newSanitizerReports();
  if (reports.length) {
    process.stderr.write(`\n${sanitizerError(reports).message}\n`);
    process.exitCode = 1;
  }
  if (process.exitCode && !dumpedSinceFailure) {
    failed = true;
    dumpLogs('a test or hook failed');
  }
  // Close servers etc. (node 20's test runner waits for the event loop to drain).
  for (const fn of [...cleanups].reverse()) {
    try {
      await withTimeout(Promise.resolve().then(fn), 5_000, 'cleanup');
    } catch {
      // best effort
    }
  }
  cleanups.clear();
  killAllChildren('SIGKILL');
});

// Registers an async cleanup run after all tests (also on failure). Returns an unregister fn.
export function registerCleanup(fn) {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

function killAllChildren(signal) {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
    }
  }
}

process.on('exit', (code) => {
  killAllChildren('SIGKILL');
  if (code === 0 && !failed) {
    for (const dir of tempDirs) {
      try {
        fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
      } catch {
        // best effort
      }
    }
  } else if (tempDirs.length) {
    process.stderr.write(`\nkept temp dirs for inspection:\n  ${tempDirs.join('\n  ')}\n`);
  }
});

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    killAllChildren('SIGKILL');
    process.exit(128 + (os.constants.signals[sig] || 1));
  });
}

// ---------------------------------------------------------------------------------------------
// Child processes

// Spawns a tracked child; it is SIGKILLed at process exit if still running.
export function spawnTracked(cmd, args, opts = {}) {
  const child = spawn(cmd, args, opts);
  children.add(child);
  child.on('exit', () => children.delete(child));
  child.on('error', () => children.delete(child));
  return child;
}

// If this test process dies without cleaning up (e.g. SIGKILLed by ctest's timeout), a small
// detached shell SIGKILLs `child` too. It checks that the pid still runs a command line holding
// `marker` (so a reused pid is never touched) and exits by itself once either process is gone.
export function reapWithParent(child, marker) {
  const script = 'while kill -0 "$1" 2>/dev/null && grep -qaF -- "$3" "/proc/$2/cmdline" 2>/dev/null; ' +
    'do sleep 1; done; grep -qaF -- "$3" "/proc/$2/cmdline" 2>/dev/null && kill -9 "$2" 2>/dev/null; exit 0';
  const reaper = spawn('/bin/sh', ['-c', script, 'arca-it-reaper', String(process.pid), String(child.pid), marker], {
    detached: true,
    stdio: 'ignore',
  });
  reaper.on('error', () => {});
  reaper.unref();
}

// Runs a command to completion with a timeout (SIGKILL on expiry). Never rejects for a non-zero
// exit; rejects only if the program cannot be started. Result: {code, signal, stdout, stderr,
// timedOut, ms}.
export function run(cmd, args, { cwd, env, timeoutMs = 120_000, input } = {}) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawnTracked(cmd, args, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        timedOut,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: Date.now() - started,
      });
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

// ---------------------------------------------------------------------------------------------
// Small utilities

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Resolves/rejects like `promise`, or rejects after ms (the timer never outlives the race).
export function withTimeout(promise, ms, what = 'operation') {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

// Polls `fn` (sync or async) until it returns a truthy value; throws after timeoutMs.
export async function waitFor(fn, { timeoutMs = 10_000, intervalMs = 25, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastErr;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}` +
        (lastErr ? ` (last error: ${lastErr.message})` : ''));
    }
    await sleep(intervalMs);
  }
}

// An environment for child processes without npm_config_* / NODE_OPTIONS leaking in from the
// caller (e.g. when the suite itself is started from an npm script).
export function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k)) continue;
    if (k === 'NODE_OPTIONS' || k === 'NODE_TEST_CONTEXT') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

export function fmtMs(ms) {
  return `${(ms / 1000).toFixed(2)} s`;
}
