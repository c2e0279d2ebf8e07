import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { startSentryEmulator } from './index.ts';
import { call, installAndExchange, postJson, startReceiver, tokenUrl, type Receiver } from './testing.ts';
import type { SentryEmulator } from './types.ts';

const opts = { timeout: 10_000 };

describe('/_emulator/ control API, request faults and the record', () => {
  let sentry: SentryEmulator;
  let hook: Receiver;
  beforeEach(async () => {
    hook = await startReceiver();
    sentry = await startSentryEmulator({ apps: [{ webhookUrl: hook.url, redirectUrl: 'https://example.test/setup' }] });
  });
  afterEach(async () => {
    await sentry.close();
    await hook.close();
  });
  const control = (path: string, body?: unknown, method = body === undefined ? 'GET' : 'POST') =>
    call(`${sentry.url}/_emulator/${path}`, { method, headers: { 'Content-Type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

  it('drives install, exchange, emit, clock, uninstall over HTTP', opts, async () => {
    const installed = await control('install', { org: 'acme', state: 'st' });
    assert.equal(installed.status, 201);
    const { installation, code, redirectUrl, webhook } = installed.body;
    assert.equal(installation.status, 'pending');
    assert.match(redirectUrl, /state=st/);
    assert.equal(webhook.delivered, true);
    assert.equal(hook.received.length, 1);
    assert.equal((await control(`installations/${installation.uuid}`)).body.uuid, installation.uuid);
    const state = await control('state');
    assert.equal(state.body.installations.length, 1);
    assert.equal(state.body.apps[0].slug, sentry.app.slug);
    const again = await control(`installations/${installation.uuid}/installation-created`, {});
    assert.equal(JSON.parse(again.body.body).data.installation.code, code);
    const emitted = await control('emit/webhook', { installationId: installation.uuid, resource: 'comment', action: 'created', data: { comment: 'hi' } });
    assert.equal(emitted.status, 200);
    assert.equal(hook.received.at(-1)?.headers['sentry-hook-resource'], 'comment');
    assert.equal((await control('emit/issue', { installationId: installation.uuid })).body.delivery, undefined);
    assert.equal((await control('deliveries?resource=comment')).body.length, 1);
    const before = sentry.clock.now();
    const advanced = await control('clock/advance', { ms: 11 * 60_000 });
    assert.ok(advanced.body.now >= before + 11 * 60_000);
    const expired = await postJson(tokenUrl(sentry, installation.uuid), { grant_type: 'authorization_code', code, client_id: sentry.app.clientId, client_secret: sentry.app.clientSecret });
    assert.equal(expired.text, '{"detail":"Grant has already expired"}');
    assert.equal((await control('requests?endpoint=token.exchange')).body.length, 1);
    const gone = await control('uninstall', { installationId: installation.uuid });
    assert.equal(gone.body.installation.deleted, true);
    assert.equal(gone.body.webhook.action, 'deleted');
    const apps = await control('apps', { slug: 'second', verifyInstall: false });
    assert.equal(apps.status, 201);
    assert.equal((await control('apps/second', { published: true }, 'PATCH')).body.published, true);
    assert.equal((await control('apps')).body.length, 2);
  });

  it('rejects bad control input with 400 and unknown things with 404', opts, async () => {
    assert.equal((await call(`${sentry.url}/_emulator/install`, { method: 'POST', body: '{nope' })).status, 400);
    assert.equal((await control('clock/advance', { ms: -1 })).status, 400);
    assert.equal((await control('faults', { endpoint: 'x', kind: 'explode' })).status, 400);
    assert.equal((await control('uninstall', {})).status, 400);
    assert.equal((await control('emit/issue', { installationId: 'nope' })).status, 404);
    assert.equal((await control('nothing-here')).status, 404);
  });

  it('request faults over HTTP: status, latency, drop, each for its count; clear', opts, async () => {
    const { token } = await installAndExchange(sentry);
    const url = `${sentry.url}/api/0/organizations/test-org/`;
    const auth = { headers: { Authorization: `Bearer ${token.token}` } };
    assert.equal((await control('faults', { endpoint: 'organization', kind: 'status', status: 503, count: 2 })).status, 201);
    assert.equal((await call(url, auth)).status, 503);
    assert.equal((await call(url, auth)).status, 503);
    assert.equal((await call(url, auth)).status, 200);
    await control('faults', { endpoint: 'organization', kind: 'latency', ms: 300 });
    const started = performance.now();
    assert.equal((await call(url, auth)).status, 200);
    assert.ok(performance.now() - started >= 280);
    await control('faults', { endpoint: 'organization', kind: 'drop' });
    await assert.rejects(call(url, auth));
    await control('faults', { endpoint: '*', kind: 'status', status: 500, count: 0 });
    assert.equal((await call(url, auth)).status, 500);
    assert.equal((await call(url, auth)).status, 500);
    assert.equal((await control('faults', undefined, 'DELETE')).status, 200);
    assert.equal((await call(url, auth)).status, 200);
    const faulted = sentry.requests({ endpoint: 'organization' }).map((r) => r.fault ?? 'none');
    assert.deepEqual(faulted, ['status', 'status', 'none', 'latency', 'drop', 'status', 'status', 'none']);
  });

  it('records unknown paths (answered 404) and tells listeners about requests and deliveries', opts, async () => {
    const events: string[] = [];
    const off = sentry.onEvent((e) => events.push(e.type === 'request' ? `request:${e.request.endpoint}` : `delivery:${e.delivery.action}`));
    const res = await call(`${sentry.url}/api/0/teams/`, { headers: { 'X-Test': '1' } });
    assert.equal(res.status, 404);
    const [recorded] = sentry.requests({ endpoint: 'unknown' });
    assert.equal(recorded?.path, '/api/0/teams/');
    assert.equal(recorded?.status, 404);
    assert.equal(recorded?.headers['x-test'], '1');
    await (await sentry.install()).webhook;
    off();
    await call(`${sentry.url}/nothing`);
    assert.deepEqual(events, ['request:unknown', 'delivery:created']);
    assert.equal((await call(`${sentry.url}/api/0/organizations/x/`, { method: 'POST' })).status, 405);
  });
});
