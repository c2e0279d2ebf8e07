import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import { InstallNotAllowedError, signJwt, startSentryEmulator, type EmulatorOptions } from './index.ts';
import { call, installAndExchange, postJson, startReceiver, tokenUrl } from './testing.ts';
import type { SentryEmulator } from './types.ts';

const opts = { timeout: 10_000 };
const CHALLENGE = 'xBasic realm="api"';
const JWT_GRANT = 'urn:sentry:params:oauth:grant-type:jwt-bearer';

describe('app flags: active (§2.3 "Application is not active", §6 inactive app) and owner org (§0 unpublished apps)', () => {
  const running: { close(): Promise<void> }[] = [];
  afterEach(async () => { for (const server of running.splice(0)) await server.close(); });
  const start = async (options: EmulatorOptions = {}) => {
    const sentry = await startSentryEmulator(options);
    running.push(sentry);
    return sentry;
  };
  const control = (s: SentryEmulator, path: string, body?: unknown, method = body === undefined ? 'GET' : 'POST') =>
    call(`${s.url}/_emulator/${path}`, { method, headers: { 'Content-Type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const creds = (s: SentryEmulator) => ({ client_id: s.app.clientId, client_secret: s.app.clientSecret });
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
  const jwtFor = (s: SentryEmulator) => {
    const iat = Math.floor(s.clock.now() / 1000);
    return signJwt(s.app.clientSecret, { iss: s.app.clientId, sub: s.app.clientId, iat, exp: iat + 60, jti: randomUUID() });
  };
  const assertDetail = (res: { status: number; text: string; headers: Headers }, status: number, text: string, challenge?: boolean) => {
    assert.equal(res.status, status, res.text);
    assert.equal(res.text, JSON.stringify({ detail: text }));
    if (challenge !== undefined) assert.equal(res.headers.get('www-authenticate'), challenge ? CHALLENGE : null);
  };

  it('apps are active by default; the flag is settable over /_emulator/ and shown in the state', opts, async () => {
    const s = await start();
    assert.equal(s.app.active, true);
    const patched = await control(s, `apps/${s.app.slug}`, { active: false }, 'PATCH');
    assert.equal(patched.status, 200);
    assert.equal(patched.body.active, false);
    assert.equal((await control(s, 'state')).body.apps[0].active, false);
    const created = await control(s, 'apps', { slug: 'dormant', active: false });
    assert.equal(created.body.active, false);
  });

  it('inactive app: exchange → 401 Application is not active (after credentials and fields, before the grant); the code survives', opts, async () => {
    const s = await start();
    const install = await s.install({ org: 'acme', sendWebhook: false });
    const url = tokenUrl(s, install.installation.uuid);
    await control(s, `apps/${s.app.slug}`, { active: false }, 'PATCH');
    const body = { grant_type: 'authorization_code', code: install.code, ...creds(s) };
    assertDetail(await postJson(url, body), 401, 'Application is not active', false);
    // Order: credentials first, then the installation, then field errors, then the validator.
    assertDetail(await postJson(url, { ...body, client_secret: 'wrong' }), 401, 'Invalid Client ID / Secret pair', true);
    assertDetail(await postJson(tokenUrl(s, randomUUID()), body), 404, 'Could not find given sentry app installation');
    assert.equal((await postJson(url, { grant_type: 'authorization_code', ...creds(s) })).text, '{"code":["This field is required."]}');
    // The validator runs before the grant lookup: an unknown code still reads "not active".
    assertDetail(await postJson(url, { ...body, code: 'f'.repeat(32) }), 401, 'Application is not active');
    s.updateApp(s.app.slug, { active: true });
    assert.equal((await postJson(url, body)).status, 201);
  });

  it('inactive app: refresh and JWT grants → 401 Application is not active; nothing rotates', opts, async () => {
    const s = await start();
    const { install, token } = await installAndExchange(s, 'acme');
    const url = tokenUrl(s, install.installation.uuid);
    s.updateApp(s.app.slug, { active: false });
    const refresh = { grant_type: 'refresh_token', refresh_token: token.refreshToken, ...creds(s) };
    assertDetail(await postJson(url, refresh), 401, 'Application is not active', false);
    assertDetail(await postJson(url, { grant_type: JWT_GRANT }, { Authorization: `Bearer ${jwtFor(s)}` }), 401, 'Application is not active');
    s.updateApp(s.app.slug, { active: true });
    // The old pair was not deleted: the access token works and the refresh token still rotates.
    assert.equal((await call(`${s.url}/api/0/organizations/acme/`, { headers: bearer(token.token) })).status, 200);
    assert.equal((await postJson(url, refresh)).status, 201);
  });

  it('inactive app: API calls with its token → 401 UserApplication inactive or deleted (after Invalid token / Token expired)', opts, async () => {
    const s = await start();
    const { install, token } = await installAndExchange(s, 'acme');
    const { issueId } = await s.emitIssue({ installationId: install.installation.uuid });
    await control(s, `apps/${s.app.slug}`, { active: false }, 'PATCH');
    const urls = [`${s.url}/api/0/organizations/acme/`, `${s.url}/api/0/organizations/acme/issues/${issueId}/`, `${s.url}/api/0/issues/${issueId}/`];
    for (const url of urls) assertDetail(await call(url, { headers: bearer(token.token) }), 401, 'UserApplication inactive or deleted', true);
    const verify = await call(`${s.url}/api/0/sentry-app-installations/${install.installation.uuid}/`, {
      method: 'PUT', headers: { 'Content-Type': 'application/json', ...bearer(token.token) }, body: '{"status":"installed"}',
    });
    assertDetail(verify, 401, 'UserApplication inactive or deleted', true);
    assert.equal(s.installation(install.installation.uuid)?.status, 'pending');
    assertDetail(await call(urls[0] as string, { headers: bearer('0'.repeat(64)) }), 401, 'Invalid token', true);
    s.advanceClock(8 * 3600_000);
    assertDetail(await call(urls[0] as string, { headers: bearer(token.token) }), 401, 'Token expired', true);
  });

  it('unpublished app with an owner org: other orgs get 404 (typed error / control API), no installation, no webhook', opts, async () => {
    const hook = await startReceiver();
    running.push(hook);
    const s = await start({ apps: [{ ownerOrg: 'acme', webhookUrl: hook.url, redirectUrl: 'https://example.test/setup' }] });
    await assert.rejects(s.install({ org: 'intruder' }), (error: unknown) => {
      assert.ok(error instanceof InstallNotAllowedError);
      assert.equal(error.status, 404);
      assert.equal(error.org, 'intruder');
      assert.equal(error.ownerOrg, 'acme');
      return true;
    });
    const refused = await control(s, 'install', { org: 'intruder' });
    assert.equal(refused.status, 404);
    assert.equal(refused.body.detail, 'The requested resource does not exist');
    assert.match(refused.body.error, /unpublished/);
    assert.deepEqual(s.installations(), []);
    assert.equal(hook.received.length, 0);
    // The owner installs (and is the default org of install()).
    const own = await control(s, 'install', {});
    assert.equal(own.status, 201);
    assert.equal(own.body.installation.org.slug, 'acme');
    assert.equal(hook.received.length, 1);
    // Published apps install anywhere; so does an app whose owner was cleared.
    await control(s, `apps/${s.app.slug}`, { published: true }, 'PATCH');
    assert.equal((await control(s, 'install', { org: 'customer', sendWebhook: false })).status, 201);
    await control(s, `apps/${s.app.slug}`, { published: false, ownerOrg: null }, 'PATCH');
    assert.equal(s.app.ownerOrg, undefined);
    assert.equal((await control(s, 'install', { org: 'another', sendWebhook: false })).status, 201);
    assert.deepEqual(s.installations().map((i) => i.org.slug), ['acme', 'customer', 'another']);
  });

  it('without an owner org (the default) an unpublished app installs in any org', opts, async () => {
    const s = await start();
    assert.equal(s.app.published, false);
    assert.equal(s.app.ownerOrg, undefined);
    for (const org of ['a', 'b']) assert.equal((await control(s, 'install', { org, sendWebhook: false })).status, 201);
  });
});
