// Raw HTTP client helpers (node:http) that report exactly what the client saw: status, headers,
// body bytes, whether the body was complete, and any transport error.

import http from 'node:http';
import crypto from 'node:crypto';
import zlib from 'node:zlib';

// Sends one request. `target` is a full URL string; `rawPath` (optional) overrides the path
// sent on the wire verbatim (no normalisation), for tests of odd paths.
// Resolves (never rejects) with:
//   { status, headers, body: Buffer, complete: bool, error: string|null, ms, headersMs }
// status is undefined if no response head arrived. `complete` is true only if the whole body
// arrived and the message ended cleanly (content-length satisfied / last chunk seen).
export function request(target, {
  method = 'GET',
  headers = {},
  body,
  timeoutMs = 30_000,
  rawPath,
  agent = false,
} = {}) {
  const u = new URL(target);
  const started = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    const result = {
      status: undefined,
      headers: {},
      body: Buffer.alloc(0),
      complete: false,
      error: null,
      ms: 0,
      headersMs: undefined,
    };
    const finish = (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error && !result.error) result.error = error;
      result.ms = Date.now() - started;
      resolve(result);
    };
    const req = http.request({
      host: u.hostname,
      port: u.port,
      method,
      path: rawPath ?? (u.pathname + u.search),
      headers,
      agent,
    });
    const timer = setTimeout(() => {
      result.error = `client timeout after ${timeoutMs} ms`;
      req.destroy(new Error('client timeout'));
      finish();
    }, timeoutMs);
    req.on('error', (e) => finish(e.code || e.message));
    req.on('response', (res) => {
      result.status = res.statusCode;
      result.headers = res.headers;
      result.headersMs = Date.now() - started;
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('error', (e) => {
        result.error = result.error || e.code || e.message;
      });
      res.on('aborted', () => {
        result.error = result.error || 'aborted';
      });
      res.on('close', () => {
        result.body = Buffer.concat(chunks);
        result.complete = res.complete && !result.error;
        finish();
      });
    });
    if (body !== undefined) {
      req.on('error', () => {}); // EPIPE while writing after an early answer is reported above
      req.end(body);
    } else {
      req.end();
    }
  });
}

export async function getJson(target, opts = {}) {
  const r = await request(target, {
    ...opts,
    headers: { accept: 'application/json', ...(opts.headers || {}) },
  });
  let json;
  try {
    json = JSON.parse(decodeBody(r).toString('utf8'));
  } catch {
    json = undefined;
  }
  return { ...r, json };
}

// Body bytes after undoing Content-Encoding (gzip/deflate/br).
export function decodeBody(r) {
  const enc = (r.headers['content-encoding'] || '').toLowerCase();
  if (enc === 'gzip' || enc === 'x-gzip') return zlib.gunzipSync(r.body);
  if (enc === 'deflate') return zlib.inflateSync(r.body);
  if (enc === 'br') return zlib.brotliDecompressSync(r.body);
  return r.body;
}

export function sha512Integrity(bytes) {
  return 'sha512-' + crypto.createHash('sha512').update(bytes).digest('base64');
}

export function sha1Hex(bytes) {
  return crypto.createHash('sha1').update(bytes).digest('hex');
}

// Describes a response briefly for assertion messages.
export function describeResponse(r, maxBody = 300) {
  const head = r.body ? r.body.subarray(0, maxBody) : Buffer.alloc(0);
  let text = head.toString('utf8');
  // Binary bodies (tarballs): show a short hex prefix instead.
  if (/[\u0000-\u0008\u000e-\u001f\ufffd]/.test(text)) text = `<binary ${head.subarray(0, 16).toString('hex')}...>`;
  return `status=${r.status} complete=${r.complete} error=${r.error} ` +
    `bytes=${r.body ? r.body.length : 0} content-type=${r.headers?.['content-type']} ` +
    `content-length=${r.headers?.['content-length']} after=${r.ms}ms body=${JSON.stringify(text)}`;
}
