import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { startSentryEmulator, signJwt } from './index.ts';
import { call, installAndExchange, postJson, tokenUrl } from './testing.ts';
import type { EmulatorApp, SentryEmulator } from './types.ts';

const CHALLENGE = 'xBasic realm="api"';
const JWT_GRANT = 'urn:sentry:params:oauth:grant-type:jwt-bearer';
const opts = { timeout: 10_000 };

describe('token endpoint (§2.3 matrix, rotation, JWT)', () => {
  let sentry: SentryEmulator;
  let other: EmulatorApp;
  beforeEach(async () => {
    sentry = await startSentryEmulator({ apps: [{ slug: 'first' }, { slug: 'second' }] });
    other = sentry.apps()[1] as EmulatorApp;
  });
  afterEach(() => sentry.close());

  const creds = (app: EmulatorApp = sentry.app) => ({ client_id: app.clientId, client_secret: app.clientSecret });
  const exchange = async (org = 'test-org') => {
    const install = await sentry.install({ org, sendWebhook: false });
    return { install, url: tokenUrl(sentry, install.installation.uuid) };
  };
  const assertDetail = (res: { status: number; text: string; headers: Headers }, status: number, text: string, challenge = false) => {
    assert.equal(res.status, status, res.text);
    assert.equal(res.text, JSON.stringify({ detail: text }));
    if (challenge) assert.equal(res.headers.get('www-authenticate'), CHALLENGE);
  };
  const jwtFor = (app: EmulatorApp, claims: Record<string, unknown> = {}) => {
    const iat = Math.floor(sentry.clock.now() / 1000);
    return signJwt(app.clientSecret, { iss: app.clientId, sub: app.clientId, iat, exp: iat + 60, jti: randomUUID(), ...claims });
  };
  const jwtCall = (url: string, authorization?: string) =>
    postJson(url, { grant_type: JWT_GRANT }, authorization === undefined ? {} : { Authorization: authorization });

  it('201 with every documented field, state echoed, 8-hour expiry', opts, async () => {
    const { install, url } = await exchange();
    const before = sentry.clock.now();
    const res = await postJson(url, { grant_type: 'authorization_code', code: install.code, state: 'xyz', ...creds() });
    assert.equal(res.status, 201);
    assert.deepEqual(Object.keys(res.body), ['id', 'scopes', 'name', 'application', 'expiresAt', 'dateCreated', 'state', 'token', 'refreshToken', 'tokenLastCharacters']);
    assert.equal(typeof res.body.id, 'string');
    assert.deepEqual(res.body.scopes, ['event:read', 'org:read', 'project:read']);
    assert.equal(res.body.name, null);
    assert.equal(res.body.application, null);
    assert.equal(res.body.state, 'xyz');
    assert.match(res.body.token, /^[0-9a-f]{64}$/);
    assert.match(res.body.refreshToken, /^[0-9a-f]{64}$/);
    assert.equal(res.body.tokenLastCharacters, res.body.token.slice(-4));
    const life = Date.parse(res.body.expiresAt) - Date.parse(res.body.dateCreated);
    assert.equal(life, 8 * 3600_000);
    assert.ok(Date.parse(res.body.dateCreated) >= before - 1);
    const noState = await installAndExchange(sentry, 'other-org');
    assert.equal(noState.token.state, null);
  });

  it('form-encoded, empty, {} and non-JSON content type → 401 Invalid request with WWW-Authenticate', opts, async () => {
    const { install, url } = await exchange();
    const form = `grant_type=authorization_code&code=${install.code}&client_id=${sentry.app.clientId}&client_secret=${sentry.app.clientSecret}`;
    assertDetail(await call(url, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: form }), 401, 'Invalid request', true);
    assertDetail(await call(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '' }), 401, 'Invalid request', true);
    assertDetail(await call(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' }), 401, 'Invalid request', true);
    const body = JSON.stringify({ grant_type: 'authorization_code', code: install.code, ...creds() });
    assertDetail(await call(url, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body }), 401, 'Invalid request', true);
    // The code survived all of that, and a charset suffix is fine.
    const ok = await call(url, { method: 'POST', headers: { 'Content-Type': 'application/json; charset=utf-8' }, body });
    assert.equal(ok.status, 201);
  });

  it('missing, unknown or wrong client credentials → 401 Invalid Client ID / Secret pair', opts, async () => {
    const { install, url } = await exchange();
    const base = { grant_type: 'authorization_code', code: install.code };
    for (const extra of [{}, { client_id: sentry.app.clientId }, { client_id: 'nope', client_secret: sentry.app.clientSecret },
      { client_id: sentry.app.clientId, client_secret: other.clientSecret }]) {
      assertDetail(await postJson(url, { ...base, ...extra }), 401, 'Invalid Client ID / Secret pair', true);
    }
  });

  it('checks in order: credentials, then 404 installation, then 403 ownership, then grant_type', opts, async () => {
    const { install, url } = await exchange();
    const unknown = tokenUrl(sentry, randomUUID());
    assertDetail(await postJson(unknown, { grant_type: 'nope', client_id: 'x', client_secret: 'y' }), 401, 'Invalid Client ID / Secret pair');
    assertDetail(await postJson(unknown, { grant_type: 'nope', ...creds() }), 404, 'Could not find given sentry app installation');
    assertDetail(await postJson(url, { grant_type: 'nope', code: install.code, ...creds(other) }), 403, 'You do not have permission to perform this action.');
    assertDetail(await postJson(url, { grant_type: 'nope', ...creds() }), 403, 'Invalid grant_type');
  });

  it('code missing, null or blank → 400 DRF field errors', opts, async () => {
    const { url } = await exchange();
    const res1 = await postJson(url, { grant_type: 'authorization_code', ...creds() });
    assert.equal(res1.status, 400);
    assert.equal(res1.text, '{"code":["This field is required."]}');
    const res2 = await postJson(url, { grant_type: 'authorization_code', code: null, ...creds() });
    assert.equal(res2.text, '{"code":["This field may not be null."]}');
    const res3 = await postJson(url, { grant_type: 'authorization_code', code: '', ...creds() });
    assert.equal(res3.text, '{"code":["This field may not be blank."]}');
  });

  it('unknown or reused code → 401 Could not find grant; code of another installation → 401 Forbidden grant', opts, async () => {
    const a = await exchange('org-a');
    const b = await exchange('org-b');
    assertDetail(await postJson(a.url, { grant_type: 'authorization_code', code: 'f'.repeat(32), ...creds() }), 401, 'Could not find grant for given code');
    assertDetail(await postJson(a.url, { grant_type: 'authorization_code', code: b.install.code, ...creds() }), 401, 'Forbidden grant');
    const theirs = await sentry.install({ app: 'second', org: 'org-c', sendWebhook: false });
    assertDetail(await postJson(a.url, { grant_type: 'authorization_code', code: theirs.code, ...creds() }), 401, 'Forbidden grant');
    assert.equal((await postJson(a.url, { grant_type: 'authorization_code', code: a.install.code, ...creds() })).status, 201);
    assertDetail(await postJson(a.url, { grant_type: 'authorization_code', code: a.install.code, ...creds() }), 401, 'Could not find grant for given code');
  });

  it('grant expires after 10 minutes of emulator time', opts, async () => {
    const a = await exchange('org-a');
    const b = await exchange('org-b');
    sentry.advanceClock(10 * 60_000 - 5_000);
    assert.equal((await postJson(a.url, { grant_type: 'authorization_code', code: a.install.code, ...creds() })).status, 201);
    sentry.advanceClock(5_000);
    assertDetail(await postJson(b.url, { grant_type: 'authorization_code', code: b.install.code, ...creds() }), 401, 'Grant has already expired');
  });

  it('concurrent double exchange → exactly one 201', opts, async () => {
    const { install, url } = await exchange();
    const body = { grant_type: 'authorization_code', code: install.code, ...creds() };
    const results = await Promise.all([postJson(url, body), postJson(url, body), postJson(url, body)]);
    assert.deepEqual(results.map((r) => r.status).sort(), [201, 401, 401]);
  });

  it('refresh rotates: new pair; old refresh token → 401, old access token → 401 Invalid token; refresh before expiry allowed', opts, async () => {
    const { install, token } = await installAndExchange(sentry);
    const url = tokenUrl(sentry, install.installation.uuid);
    const res = await postJson(url, { grant_type: 'refresh_token', refresh_token: token.refreshToken, ...creds() });
    assert.equal(res.status, 201);
    assert.notEqual(res.body.token, token.token);
    assert.notEqual(res.body.refreshToken, token.refreshToken);
    assertDetail(await postJson(url, { grant_type: 'refresh_token', refresh_token: token.refreshToken, ...creds() }), 401, 'Given refresh token does not exist');
    const orgUrl = `${sentry.url}/api/0/organizations/test-org/`;
    assertDetail(await call(orgUrl, { headers: { Authorization: `Bearer ${token.token}` } }), 401, 'Invalid token', true);
    assert.equal((await call(orgUrl, { headers: { Authorization: `Bearer ${res.body.token}` } })).status, 200);
  });

  it('refresh_token missing/null → 400; a refresh token of another app → 400 Token does not belong to the application', opts, async () => {
    const mine = await installAndExchange(sentry);
    const otherInstall = await sentry.install({ app: 'second', sendWebhook: false });
    const theirs = await postJson(tokenUrl(sentry, otherInstall.installation.uuid), { grant_type: 'authorization_code', code: otherInstall.code, ...creds(other) });
    const url = tokenUrl(sentry, mine.install.installation.uuid);
    assert.equal((await postJson(url, { grant_type: 'refresh_token', ...creds() })).text, '{"refresh_token":["This field is required."]}');
    assert.equal((await postJson(url, { grant_type: 'refresh_token', refresh_token: null, ...creds() })).text, '{"refresh_token":["This field may not be null."]}');
    assertDetail(await postJson(url, { grant_type: 'refresh_token', refresh_token: theirs.body.refreshToken, ...creds() }), 400, 'Token does not belong to the application');
  });

  it('10 refreshes per 60 s per app, then 429 Too many token refresh attempts; the next window is open', opts, async () => {
    const { install, token } = await installAndExchange(sentry);
    const url = tokenUrl(sentry, install.installation.uuid);
    sentry.advanceClock(60_000 - (sentry.clock.now() % 60_000) + 1); // start of a fixed window
    let refreshToken = token.refreshToken as string;
    for (let i = 0; i < 10; i++) {
      const res = await postJson(url, { grant_type: 'refresh_token', refresh_token: refreshToken, ...creds() });
      assert.equal(res.status, 201, `refresh ${i + 1}`);
      refreshToken = res.body.refreshToken;
    }
    assertDetail(await postJson(url, { grant_type: 'refresh_token', refresh_token: refreshToken, ...creds() }), 429, 'Too many token refresh attempts');
    assertDetail(await jwtCall(url, `Bearer ${jwtFor(sentry.app)}`), 429, 'Too many token refresh attempts');
    sentry.advanceClock(60_000);
    assert.equal((await postJson(url, { grant_type: 'refresh_token', refresh_token: refreshToken, ...creds() })).status, 201);
  });

  it('JWT grant replaces the current pair; the jti is single-use', opts, async () => {
    const { install, token } = await installAndExchange(sentry);
    const url = tokenUrl(sentry, install.installation.uuid);
    const jwt = jwtFor(sentry.app);
    const res = await jwtCall(url, `Bearer ${jwt}`);
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.state, null);
    assertDetail(await postJson(url, { grant_type: 'refresh_token', refresh_token: token.refreshToken, ...creds() }), 401, 'Given refresh token does not exist');
    assertDetail(await jwtCall(url, `Bearer ${jwt}`), 401, 'JWT has already been used', true);
    assert.equal((await jwtCall(url, `bearer ${jwtFor(sentry.app)}`)).status, 201);
  });

  it('JWT error rows: header, scheme, signature, expiry, iss, unknown installation, no token, feature flag', opts, async () => {
    const { install } = await installAndExchange(sentry);
    const url = tokenUrl(sentry, install.installation.uuid);
    assertDetail(await jwtCall(url), 401, 'Authorization header is in invalid form', true);
    assertDetail(await jwtCall(url, `Basic ${jwtFor(sentry.app)}`), 401, 'Bearer not present in token', true);
    assertDetail(await jwtCall(url, 'Bearer not.a.jwt'), 401, 'Could not validate JWT', true);
    const forged = signJwt('wrong-secret', { iss: sentry.app.clientId, sub: sentry.app.clientId, iat: 1, exp: 9e9, jti: 'x' });
    assertDetail(await jwtCall(url, `Bearer ${forged}`), 401, 'Could not validate JWT', true);
    const nowSec = Math.floor(sentry.clock.now() / 1000);
    assertDetail(await jwtCall(url, `Bearer ${jwtFor(sentry.app, { iat: nowSec - 120, exp: nowSec - 60 })}`), 401, 'Could not validate JWT', true);
    assertDetail(await jwtCall(url, `Bearer ${jwtFor(sentry.app, { iss: other.clientId })}`), 401, 'JWT is not valid for this application', true);
    assertDetail(await jwtCall(url, `Bearer ${jwtFor(sentry.app, { sub: 'someone-else' })}`), 401, 'JWT is not valid for this application', true);
    assertDetail(await jwtCall(url, `Bearer ${jwtFor(other)}`), 401, 'Could not validate JWT', true);
    assertDetail(await jwtCall(tokenUrl(sentry, randomUUID()), `Bearer ${jwtFor(sentry.app)}`), 401, 'Installation not found', true);
    const fresh = await sentry.install({ org: 'never-exchanged', sendWebhook: false });
    assertDetail(await jwtCall(tokenUrl(sentry, fresh.installation.uuid), `Bearer ${jwtFor(sentry.app)}`), 401, 'Installation does not have a token');
    sentry.updateApp(sentry.app.slug, { jwtRefreshEnabled: false });
    assertDetail(await jwtCall(url, `Bearer ${jwtFor(sentry.app)}`), 403, 'Manual token refresh is not enabled for this organization');
  });

  it('a refresh committed and then dropped strands the old pair; the JWT grant recovers', opts, async () => {
    const { install, token } = await installAndExchange(sentry);
    const url = tokenUrl(sentry, install.installation.uuid);
    sentry.inject({ endpoint: 'token.refresh', kind: 'commit-then-drop' });
    await assert.rejects(postJson(url, { grant_type: 'refresh_token', refresh_token: token.refreshToken, ...creds() }));
    const [recorded] = sentry.requests({ endpoint: 'token.refresh' });
    assert.equal(recorded?.status, 0);
    assert.equal(recorded?.fault, 'commit-then-drop');
    assertDetail(await postJson(url, { grant_type: 'refresh_token', refresh_token: token.refreshToken, ...creds() }), 401, 'Given refresh token does not exist');
    assert.equal((await jwtCall(url, `Bearer ${jwtFor(sentry.app)}`)).status, 201);
  });

  it('after uninstall, exchange and refresh → 404', opts, async () => {
    const { install, token } = await installAndExchange(sentry);
    const second = await sentry.install({ org: 'org-2', sendWebhook: false });
    await sentry.uninstall(install.installation.uuid);
    await sentry.uninstall(second.installation.uuid);
    assertDetail(await postJson(tokenUrl(sentry, install.installation.uuid), { grant_type: 'refresh_token', refresh_token: token.refreshToken, ...creds() }), 404, 'Could not find given sentry app installation');
    assertDetail(await postJson(tokenUrl(sentry, second.installation.uuid), { grant_type: 'authorization_code', code: second.code, ...creds() }), 404, 'Could not find given sentry app installation');
  });
});
