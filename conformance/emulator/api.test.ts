import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import { startSentryEmulator, type EmulatorOptions } from './index.ts';
import { call, installAndExchange } from './testing.ts';
import type { SentryEmulator } from './types.ts';

const opts = { timeout: 10_000 };
const FORBIDDEN = '{"detail":"You do not have permission to perform this action."}';

describe('API with the installation token (§3 verify, §6 auth, §7 origins, §10 limits)', () => {
  let sentry: SentryEmulator | undefined;
  afterEach(async () => { await sentry?.close(); sentry = undefined; });
  const start = async (options: EmulatorOptions = {}) => {
    sentry = await startSentryEmulator({ apps: [{ slug: 'first' }, { slug: 'second' }], ...options });
    return sentry;
  };
  const bearer = (token: string, extra: Record<string, string> = {}) => ({ Authorization: `Bearer ${token}`, ...extra });
  const put = (s: SentryEmulator, uuid: string, headers: Record<string, string>, body = '{"status":"installed"}') =>
    call(`${s.url}/api/0/sentry-app-installations/${uuid}/`, { method: 'PUT', headers: { 'Content-Type': 'application/json', ...headers }, body });

  it('verify: 200 body and idempotent; 400 for other statuses; 401 without/unknown token; 403 other app; 404 unknown', opts, async () => {
    const s = await start();
    const { install, token } = await installAndExchange(s);
    const uuid = install.installation.uuid;
    assert.equal(s.installation(uuid)?.status, 'pending');
    const bad = await put(s, uuid, bearer(token.token), '{"status":"pending"}');
    assert.equal(bad.status, 400);
    assert.equal(bad.text, `{"status":["Invalid value 'pending' for status. Valid values: 'installed'"]}`);
    const noToken = await put(s, uuid, {});
    assert.equal(noToken.status, 401);
    assert.equal(noToken.headers.get('www-authenticate'), 'xBasic realm="api"');
    assert.equal((await put(s, uuid, bearer('0'.repeat(64)))).text, '{"detail":"Invalid token"}');
    const ok = await put(s, uuid, bearer(token.token));
    assert.equal(ok.status, 200);
    const expected = { app: { uuid: s.app.uuid, slug: 'first' }, organization: { slug: 'test-org', id: install.installation.org.id }, uuid, status: 'installed' };
    assert.equal(ok.text, JSON.stringify(expected));
    assert.equal((await put(s, uuid, bearer(token.token))).text, JSON.stringify(expected));
    assert.equal(s.installation(uuid)?.status, 'installed');
    const notFound = await put(s, randomUUID(), bearer(token.token));
    assert.equal(notFound.status, 404);
    assert.equal(notFound.text, '{"detail":"Could not find given sentry app installation"}');
    const otherInstall = await s.install({ app: 'second', sendWebhook: false });
    const wrongApp = await put(s, otherInstall.installation.uuid, bearer(token.token));
    assert.equal(wrongApp.status, 403);
    assert.equal(wrongApp.text, FORBIDDEN);
    const del = await call(`${s.url}/api/0/sentry-app-installations/${uuid}/`, { method: 'DELETE', headers: bearer(token.token) });
    assert.equal(del.status, 403);
  });

  it('auth: Bearer is case-insensitive; 401 Token expired after 8 h of emulator time; rate-limit headers', opts, async () => {
    const s = await start();
    const { token } = await installAndExchange(s);
    const url = `${s.url}/api/0/organizations/test-org/`;
    const ok = await call(url, { headers: { Authorization: `bEaReR ${token.token}` } });
    assert.equal(ok.status, 200);
    for (const name of ['limit', 'remaining', 'reset', 'concurrentlimit', 'concurrentremaining']) {
      assert.match(ok.headers.get(`x-sentry-rate-limit-${name}`) ?? '', /^\d+$/, name);
    }
    assert.equal(ok.body.links.regionUrl, s.url);
    assert.equal(ok.body.slug, 'test-org');
    s.advanceClock(8 * 3600_000 - 10_000);
    assert.equal((await call(url, { headers: bearer(token.token) })).status, 200);
    s.advanceClock(10_000);
    const expired = await call(url, { headers: bearer(token.token) });
    assert.equal(expired.status, 401);
    assert.equal(expired.text, '{"detail":"Token expired"}');
    assert.equal(expired.headers.get('www-authenticate'), 'xBasic realm="api"');
  });

  it('origin: none → no check; allowed → 200; not allowed or empty allow-list → 400 "Invalid origin: …"', opts, async () => {
    const s = await start();
    const { token } = await installAndExchange(s);
    const url = `${s.url}/api/0/organizations/test-org/`;
    const denied = await call(url, { headers: bearer(token.token, { Origin: 'https://evil.example' }) });
    assert.equal(denied.status, 400);
    assert.equal(denied.text, '"Invalid origin: https://evil.example"');
    s.updateApp('first', { allowedOrigins: ['docs.sentry.io', '*.example.com'] });
    assert.equal((await call(url, { headers: bearer(token.token, { Origin: 'https://DOCS.sentry.io' }) })).status, 200);
    assert.equal((await call(url, { headers: bearer(token.token, { Origin: 'http://a.example.com:8080' }) })).status, 200);
    assert.equal((await call(url, { headers: bearer(token.token, { Origin: 'https://evil.example' }) })).status, 400);
  });

  it('rate limit: over the per-token limit → 429 with the headers', opts, async () => {
    const s = await start({ apiRateLimit: { limit: 2, windowSec: 3600, concurrentLimit: 25 } });
    const { token } = await installAndExchange(s);
    const url = `${s.url}/api/0/organizations/test-org/`;
    s.advanceClock(3600_000 - (s.clock.now() % 3600_000) + 1);
    assert.equal((await call(url, { headers: bearer(token.token) })).status, 200);
    assert.equal((await call(url, { headers: bearer(token.token) })).status, 200);
    const limited = await call(url, { headers: bearer(token.token) });
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('x-sentry-rate-limit-remaining'), '0');
    assert.match(limited.body.detail, /too frequently/);
  });

  it('issues: org-scoped and legacy paths, scope and org checks, 404 for unknown', opts, async () => {
    const s = await start({ apps: [{ verifyInstall: false, webhookUrl: undefined }, { slug: 'noscope', scopes: ['org:read'], verifyInstall: false }] });
    const { install, token } = await installAndExchange(s);
    const { issueId } = await s.emitIssue({ installationId: install.installation.uuid, title: 'Boom' });
    const res = await call(`${s.url}/api/0/organizations/test-org/issues/${issueId}/`, { headers: bearer(token.token) });
    assert.equal(res.status, 200);
    assert.equal(res.body.id, issueId);
    assert.equal(res.body.title, 'Boom');
    assert.equal(typeof res.body.count, 'string');
    assert.equal((await call(`${s.url}/api/0/issues/${issueId}/`, { headers: bearer(token.token) })).status, 200);
    const other = await call(`${s.url}/api/0/organizations/other-org/issues/${issueId}/`, { headers: bearer(token.token) });
    assert.equal(other.text, FORBIDDEN);
    assert.equal((await call(`${s.url}/api/0/organizations/test-org/issues/999/`, { headers: bearer(token.token) })).status, 404);
    const scoped = await installAndExchange(s, 'scoped', 'noscope');
    const { issueId: scopedIssue } = await s.emitIssue({ installationId: scoped.install.installation.uuid });
    const denied = await call(`${s.url}/api/0/organizations/scoped/issues/${scopedIssue}/`, { headers: bearer(scoped.token.token) });
    assert.equal(denied.status, 403);
  });

  it('§6 rows: the issue body carries every documented field; organization needs its own org and org:read', opts, async () => {
    const s = await start({ apps: [{ verifyInstall: false }, { slug: 'noorg', scopes: ['event:read'], verifyInstall: false }] });
    const { install, token } = await installAndExchange(s);
    const { issueId } = await s.emitIssue({ installationId: install.installation.uuid });
    const res = await call(`${s.url}/api/0/organizations/test-org/issues/${issueId}/`, { headers: bearer(token.token) });
    const documented = ['activity', 'annotations', 'assignedTo', 'count', 'culprit', 'firstRelease', 'firstSeen', 'hasSeen', 'id',
      'isBookmarked', 'isPublic', 'isSubscribed', 'lastRelease', 'lastSeen', 'level', 'logger', 'metadata', 'numComments',
      'participants', 'permalink', 'pluginActions', 'pluginContexts', 'pluginIssues', 'project', 'seenBy', 'shareId', 'shortId',
      'stats', 'status', 'statusDetails', 'subscriptionDetails', 'tags', 'title', 'type', 'userCount', 'userReportCount'];
    assert.deepEqual(documented.filter((key) => !(key in res.body)), []);
    assert.deepEqual(Object.keys(res.body.project).sort(), ['id', 'name', 'platform', 'slug']);
    const other = await call(`${s.url}/api/0/organizations/other-org/`, { headers: bearer(token.token) });
    assert.equal(other.status, 403);
    assert.equal(other.text, FORBIDDEN);
    const byId = await call(`${s.url}/api/0/organizations/${install.installation.org.id}/`, { headers: bearer(token.token) });
    assert.equal(byId.body.slug, 'test-org');
    const noOrgRead = await installAndExchange(s, 'scoped', 'noorg');
    const denied = await call(`${s.url}/api/0/organizations/scoped/`, { headers: bearer(noOrgRead.token.token) });
    assert.equal(denied.status, 403);
    assert.equal(denied.text, FORBIDDEN);
  });

  it('§6 row: an app token on a user-level endpoint (/api/0/projects/) → 401 Token not found; configurable', opts, async () => {
    let s = await start();
    let { token } = await installAndExchange(s);
    const userLevel = await call(`${s.url}/api/0/projects/`, { headers: bearer(token.token) });
    assert.equal(userLevel.status, 401);
    assert.equal(userLevel.text, '{"detail":"Token not found"}');
    assert.equal(userLevel.headers.get('www-authenticate'), 'xBasic realm="api"');
    assert.equal(s.requests({ endpoint: 'projects' }).length, 1);
    assert.equal((await call(`${s.url}/api/0/projects/`, { headers: bearer('0'.repeat(64)) })).text, '{"detail":"Invalid token"}');
    await s.close();
    s = await start({ userLevelEndpoint: { status: 403, detail: 'Nope' } });
    ({ token } = await installAndExchange(s));
    const custom = await call(`${s.url}/api/0/projects/`, { headers: bearer(token.token) });
    assert.equal(custom.status, 403);
    assert.equal(custom.headers.get('www-authenticate'), null);
  });

  it('legacy issue path can be switched off (EU org behind sentry.io) → 404 recorded as unknown', opts, async () => {
    const s = await start({ legacyIssuePath: false, regionUrl: 'http://de.example' });
    const { install, token } = await installAndExchange(s);
    const { issueId } = await s.emitIssue({ installationId: install.installation.uuid });
    assert.equal((await call(`${s.url}/api/0/issues/${issueId}/`, { headers: bearer(token.token) })).status, 404);
    const org = await call(`${s.url}/api/0/organizations/test-org/`, { headers: bearer(token.token) });
    assert.equal(org.body.links.regionUrl, 'http://de.example');
  });

  it('uninstall revokes access immediately by default (403), or after a configurable delay with a configurable answer', opts, async () => {
    let s = await start();
    let { install, token } = await installAndExchange(s);
    await s.uninstall(install.installation.uuid);
    const revoked = await call(`${s.url}/api/0/organizations/test-org/`, { headers: bearer(token.token) });
    assert.equal(revoked.status, 403);
    assert.equal(revoked.text, FORBIDDEN);
    await s.close();
    s = await start({ revokeAfterMs: 60_000, revokedToken: { status: 401, detail: 'Invalid token' } });
    ({ install, token } = await installAndExchange(s));
    await s.uninstall(install.installation.uuid);
    const url = `${s.url}/api/0/organizations/test-org/`;
    assert.equal((await call(url, { headers: bearer(token.token) })).status, 200);
    s.advanceClock(60_000);
    assert.equal((await call(url, { headers: bearer(token.token) })).text, '{"detail":"Invalid token"}');
  });

  it('pending tokens work by default; pendingTokensWork: false → 403', opts, async () => {
    const s = await start({ pendingTokensWork: false });
    const { token } = await installAndExchange(s);
    assert.equal((await call(`${s.url}/api/0/organizations/test-org/`, { headers: bearer(token.token) })).status, 403);
  });
});
