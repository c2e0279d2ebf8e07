// A small, correct Sentry → Pushover integration in plain JavaScript, using only node: modules.
// It exists to prove that the conformance contract (environment, /setup, /webhook) is all an
// implementation needs, and — with FLAW=<name> — to break one rule at a time so the self-test can
// check that the case meant to catch it does.
//
//   PORT=… SENTRY_URL=… SENTRY_CLIENT_ID=… SENTRY_CLIENT_SECRET=… PUSHOVER_URL=… PUSHOVER_TOKEN=…
//   PUSHOVER_USER=… DATA_DIR=… VERIFY_INSTALL=true PUSHOVER_RETRY_MIN_MS=200 node reference.mjs
import { createServer } from 'node:http';
import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const env = process.env;
const FLAW = env.FLAW ?? '';
const SENTRY = env.SENTRY_URL.replace(/\/+$/, '');
const SECRET = env.SENTRY_CLIENT_SECRET;
const CLIENT_ID = env.SENTRY_CLIENT_ID;
const VERIFY = env.VERIFY_INSTALL === 'true';
const RETRY_MIN = Number(env.PUSHOVER_RETRY_MIN_MS ?? 5000);
const DIR = env.DATA_DIR;
const LIMIT = 1024 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const persist = FLAW !== 'memory-only';

const log = (msg, extra = {}) => console.log(JSON.stringify({ t: new Date().toISOString(), msg, ...extra }));

// ---- state: one JSON file per installation (0600, temp file + rename), one per pending job ----
const installs = new Map();
const jobs = new Map();
const seen = new Set();
mkdirSync(join(DIR, 'jobs'), { recursive: true, mode: 0o700 });
function writeAtomic(file, value) {
  if (!persist) return;
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value), { mode: FLAW === 'world-readable' ? 0o644 : 0o600 });
  // The flaw must not depend on the umask (027 would make 0o644 files 640, and the flaw vanish).
  if (FLAW === 'world-readable') chmodSync(tmp, 0o644);
  renameSync(tmp, file);
}
const instFile = (id) => join(DIR, `installation-${id}.json`);
const jobFile = (key) => join(DIR, 'jobs', `${createHash('sha256').update(key).digest('hex')}.json`);
function save(rec) { installs.set(rec.installationId, rec); writeAtomic(instFile(rec.installationId), rec); }
if (persist) {
  for (const f of readdirSync(DIR)) if (f.startsWith('installation-')) { const r = JSON.parse(readFileSync(join(DIR, f), 'utf8')); installs.set(r.installationId, r); }
  for (const f of readdirSync(join(DIR, 'jobs'))) { const j = JSON.parse(readFileSync(join(DIR, 'jobs', f), 'utf8')); jobs.set(j.key, j); seen.add(j.key); }
}

// ---- Sentry API ----
async function sentry(method, path, { body, token } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${SENTRY}${path}`, { method, headers, body: body && JSON.stringify(body), signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  let json; try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json };
}
const authPath = (id) => `/api/0/sentry-app-installations/${id}/authorizations/`;
const creds = { client_id: CLIENT_ID, client_secret: SECRET };

const exchanging = new Map();
function install(id, code, orgSlug) {
  if (installs.get(id)?.token) return Promise.resolve(true);
  if (exchanging.has(id)) return exchanging.get(id);
  const p = (async () => {
    const r = await sentry('POST', authPath(id), { body: { grant_type: 'authorization_code', code, ...creds } });
    if (r.status !== 201) return !!installs.get(id)?.token; // 401 while a token is held = already exchanged
    save({ installationId: id, orgSlug, token: r.json.token, refreshToken: r.json.refreshToken, expiresAt: r.json.expiresAt });
    if (FLAW === 'leak-secrets') log('installed', { id, token: r.json.token });
    else log('installed', { id });
    if (VERIFY && FLAW !== 'no-verify') await sentry('PUT', `/api/0/sentry-app-installations/${id}/`, { body: { status: 'installed' }, token: r.json.token });
    return true;
  })().catch(() => false).finally(() => exchanging.delete(id));
  exchanging.set(id, p);
  return p;
}

function jwt(id) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ iss: CLIENT_ID, sub: CLIENT_ID, iat: now, exp: now + 60, jti: randomUUID() })}`;
  void id;
  return `${head}.${createHmac('sha256', SECRET).update(head).digest('base64url')}`;
}

const refreshing = new Map();
function refresh(id, failedToken) {
  if (FLAW !== 'no-single-flight' && refreshing.has(id)) return refreshing.get(id);
  const p = (async () => {
    const rec = installs.get(id);
    if (!rec) throw new Error('gone');
    if (rec.token !== failedToken && FLAW !== 'no-single-flight') return; // someone refreshed meanwhile
    let r;
    try {
      r = await sentry('POST', authPath(id), { body: { grant_type: 'refresh_token', refresh_token: rec.refreshToken, ...creds } });
    } catch {
      r = { status: 0 }; // lost answer: the refresh token may be spent — never send it again
    }
    if (r.status === 429 || r.status >= 500) throw Object.assign(new Error('refresh later'), { retry: true });
    if (r.status !== 201) {
      const res = await fetch(`${SENTRY}${authPath(id)}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${jwt(id)}` }, body: JSON.stringify({ grant_type: 'urn:sentry:params:oauth:grant-type:jwt-bearer' }) });
      const json = await res.json().catch(() => undefined);
      if (res.status !== 201) { save({ ...rec, status: 'needs-reauth' }); throw new Error('needs re-auth'); }
      r = { status: 201, json };
    }
    if (!installs.has(id)) return;
    const refreshToken = FLAW === 'refresh-token-not-persisted' ? rec.refreshToken : r.json.refreshToken;
    save({ ...rec, token: r.json.token, refreshToken, expiresAt: r.json.expiresAt });
  })().finally(() => refreshing.delete(id));
  refreshing.set(id, p);
  return p;
}

async function withToken(id, call) {
  const rec = installs.get(id);
  if (!rec || rec.status === 'needs-reauth') throw new Error('not installed');
  const first = await call(rec.token);
  if (first.status !== 401 || FLAW === 'no-refresh') return first;
  await refresh(id, rec.token);
  const again = installs.get(id);
  if (!again) throw new Error('gone');
  return call(again.token);
}

// ---- notifications: durable jobs, one worker, retry 5xx/network (≥ RETRY_MIN), never 4xx ----
const cut = (s, n) => { const a = Array.from(s ?? ''); return a.length > n ? `${a.slice(0, n - 1).join('')}…` : a.join(''); };
async function runJob(job) {
  if (!installs.has(job.installationId)) return 'done';
  let issue = job.snapshot;
  const org = FLAW === 'empty-org-path' ? '' : installs.get(job.installationId).orgSlug; // '' → a 404, hidden by the snapshot
  const path = FLAW === 'legacy-issue-path' ? `/api/0/issues/${job.issueId}/` : `/api/0/organizations/${org}/issues/${job.issueId}/`;
  try {
    const r = await withToken(job.installationId, (token) => sentry('GET', path, { token }));
    if (r.status === 200 && r.json) issue = { ...issue, ...r.json, web_url: job.snapshot.web_url ?? r.json.permalink };
    else if (r.status >= 500 || r.status === 429) return 'retry';
  } catch (e) {
    if (e.retry) return 'retry';
    if (!installs.has(job.installationId)) return 'done';
  }
  const limits = FLAW === 'no-length-limits' ? Infinity : 1;
  const title = limits === 1 ? cut(`[${issue.project?.slug ?? 'sentry'}] ${issue.title}`, 250) : `[${issue.project?.slug}] ${issue.title}`;
  let url = issue.web_url ?? '';
  let message = `${issue.level ?? 'error'} · ${issue.culprit ?? ''} · ${issue.count ?? 1} events`;
  if (Array.from(url).length > 512) { message += `\n${url}`; url = ''; }
  const form = new URLSearchParams({ token: env.PUSHOVER_TOKEN, user: env.PUSHOVER_USER, title, message: limits === 1 ? cut(message, 1024) : message, ...(url ? { url, url_title: 'Open in Sentry' } : {}) });
  try {
    const res = await fetch(`${env.PUSHOVER_URL.replace(/\/+$/, '')}/1/messages.json`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form, signal: AbortSignal.timeout(5000) });
    const body = await res.json().catch(() => undefined);
    if (res.status === 200 && body?.status === 1) return 'done';
    if (res.status >= 400 && res.status < 500 && FLAW !== 'retry-on-4xx') return 'done'; // permanent: never repeat
    return FLAW === 'no-pushover-retry' ? 'done' : 'retry';
  } catch {
    return FLAW === 'no-pushover-retry' ? 'done' : 'retry';
  }
}
function finish(job) { jobs.delete(job.key); if (persist) rmSync(jobFile(job.key), { force: true }); }
async function work(job) {
  const outcome = await runJob(job);
  if (!jobs.has(job.key)) return;
  if (outcome === 'done') return finish(job);
  job.attempts = (job.attempts ?? 0) + 1;
  if (job.attempts > 20) return finish(job);
  setTimeout(() => { void work(job); }, RETRY_MIN * Math.min(2 ** (job.attempts - 1), 8));
}
function enqueue(job) {
  jobs.set(job.key, job);
  writeAtomic(jobFile(job.key), job);
  return work(job);
}
for (const job of jobs.values()) setTimeout(() => { void work(job); }, 10);

// ---- HTTP ----
function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}
function verify(raw, sig) {
  if (FLAW === 'no-signature-check') return true;
  if (typeof sig !== 'string' || !/^[0-9a-f]{64}$/.test(sig)) return false;
  let bytes = raw;
  if (FLAW === 'reserialised-signature') { try { bytes = Buffer.from(JSON.stringify(JSON.parse(raw.toString('utf8')))); } catch { /* raw */ } }
  return timingSafeEqual(createHmac('sha256', SECRET).update(bytes).digest(), Buffer.from(sig, 'hex'));
}
function readBody(req) {
  return new Promise((resolve, reject) => {
    const tooLarge = () => { req.resume(); reject(Object.assign(new Error('too large'), { status: 413 })); };
    if (Number(req.headers['content-length']) > LIMIT) return tooLarge();
    const chunks = []; let size = 0;
    req.on('data', (c) => { size += c.length; if (size > LIMIT) tooLarge(); else chunks.push(c); });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function onWebhook(req, res) {
  const raw = await readBody(req);
  const sig = req.headers['sentry-hook-signature'] ?? req.headers['sentry-app-signature'];
  if (!verify(raw, sig)) return send(res, 401, { error: 'invalid signature' });
  if (raw.length === 0) return send(res, 200, { ok: true, ignored: 'empty body' });
  let body;
  try { body = JSON.parse(raw.toString('utf8')); } catch { return send(res, FLAW === 'crash-on-bad-json' ? 500 : 400, { error: 'malformed JSON' }); }
  const resource = req.headers['sentry-hook-resource'];
  if (!body || typeof body !== 'object' || Array.isArray(body) || typeof body.action !== 'string' || typeof body.installation?.uuid !== 'string') {
    return send(res, 400, { error: 'not a Sentry webhook envelope' });
  }
  const id = body.installation.uuid;
  if (!UUID.test(id) && FLAW !== 'no-uuid-check') return send(res, 400, { error: 'bad installation uuid' });
  if (resource === 'installation' && body.action === 'created') {
    const code = body.data?.installation?.code;
    if (typeof code === 'string' && /^[0-9a-f]{32,64}$/.test(code)) void install(id, code, body.data.installation.organization?.slug);
  } else if (resource === 'installation' && body.action === 'deleted') {
    if (FLAW !== 'no-purge') {
      installs.delete(id);
      if (persist) rmSync(instFile(id), { force: true });
      for (const job of [...jobs.values()]) if (job.installationId === id) finish(job);
    }
  } else if (resource === 'issue' && installs.has(id) && body.data?.issue?.id) {
    const issue = body.data.issue;
    const key = FLAW === 'dedupe-on-request-id' ? `rid:${req.headers['request-id']}` : `${id}:issue:${body.action}:${issue.id}`;
    if (FLAW === 'no-dedupe' || !seen.has(key)) {
      seen.add(key);
      const job = { key: FLAW === 'no-dedupe' ? `${key}:${randomUUID()}` : key, installationId: id, issueId: String(issue.id), snapshot: issue };
      const done = enqueue(job);
      if (FLAW === 'slow-ack') await done;
    }
  }
  send(res, 200, { ok: true });
}

async function onSetup(req, res, url) {
  const q = url.searchParams;
  const id = q.get('installationId') ?? '', code = q.get('code') ?? '', org = q.get('orgSlug') ?? '';
  if (q.has('state')) return send(res, 400, { error: 'unknown state' });
  if ((!UUID.test(id) && FLAW !== 'no-uuid-check') || !/^[0-9a-f]{32,64}$/.test(code) || !/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(org)) {
    return send(res, 400, { error: 'installationId, code and orgSlug are required' });
  }
  const ok = await install(id, code, org);
  if (!ok) return send(res, 502, { error: 'Sentry refused the installation' });
  res.writeHead(302, { location: `${SENTRY}/settings/${org}/sentry-apps/` });
  res.end();
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  try {
    if (url.pathname === '/webhook') return req.method === 'POST' ? await onWebhook(req, res) : send(res, 405, { error: 'POST only' }, { allow: 'POST' });
    if (url.pathname === '/setup') return req.method === 'GET' ? await onSetup(req, res, url) : send(res, 405, { error: 'GET only' }, { allow: 'GET' });
    if (url.pathname === '/') return send(res, 200, { ok: true });
    send(res, 404, { error: 'not found' });
  } catch (e) {
    if (!res.headersSent) send(res, e.status ?? 500, { error: e.status === 413 ? 'body too large' : 'internal error' }, { connection: 'close' });
  }
});
server.headersTimeout = 10_000;
server.requestTimeout = 15_000;
server.listen(Number(env.PORT), '127.0.0.1', () => log('ready', { port: Number(env.PORT) }));
process.on('SIGTERM', () => { server.close(() => process.exit(0)); server.closeAllConnections(); });
