import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { sentryJson } from '../../src/sentry/json.ts';
import { sign, verify } from '../../src/sentry/signature.ts';
import { startSentryEmulator, type EmulatorOptions } from './index.ts';
import { envelope, installationData, userActor } from './payloads.ts';
import { call, startReceiver, type Receiver } from './testing.ts';
import type { EmulatorApp, SentryEmulator } from './types.ts';

const opts = { timeout: 15_000 };
const VECTOR_SECRET = '3a2f9ee3b0a84e8c9b1d8f0e2c6a7b5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b';
const VECTOR_1 = '{"action":"created","installation":{"uuid":"a8e5d37a-696c-4c54-adb5-b3f28d64c7de"},"data":{"installation":{"app":{"uuid":"2ebf071f-28df-4989-aca9-c37c763b278f","slug":"webhooks-galore"},"organization":{"slug":"test-org","id":5},"uuid":"a8e5d37a-696c-4c54-adb5-b3f28d64c7de","status":"pending","code":"f3c71b491e3949b6b033ae45312a4fcb"}},"actor":{"type":"user","id":1,"name":"Meredith Heller"}}';

describe('webhooks out (§4)', () => {
  let sentry: SentryEmulator | undefined;
  let hook: Receiver | undefined;
  afterEach(async () => {
    await sentry?.close();
    await hook?.close();
    sentry = undefined;
    hook = undefined;
  });
  const start = async (app: Partial<EmulatorApp> = {}, options: EmulatorOptions = {}) => {
    hook = await startReceiver();
    sentry = await startSentryEmulator({ apps: [{ webhookUrl: hook.url, ...app }], ...options });
    return { s: sentry, h: hook };
  };

  it('the installation payload builder reproduces reference vector 1 byte for byte', () => {
    const data = installationData({
      uuid: 'a8e5d37a-696c-4c54-adb5-b3f28d64c7de', status: 'pending',
      app: { uuid: '2ebf071f-28df-4989-aca9-c37c763b278f', slug: 'webhooks-galore' },
      organization: { slug: 'test-org', id: 5 }, code: 'f3c71b491e3949b6b033ae45312a4fcb',
    });
    const body = sentryJson(envelope('created', 'a8e5d37a-696c-4c54-adb5-b3f28d64c7de', data, userActor(1, 'Meredith Heller')));
    assert.equal(body, VECTOR_1);
    assert.equal(Buffer.byteLength(body), 393);
    assert.equal(sign(VECTOR_SECRET, body), '9b68b7bc3a04d0823d787e0cf8a906f33d5efb464f2a171778e1cdd64b31cc20');
  });

  it('install sends a signed installation.created with the grant code, exact headers, custom headers first', opts, async () => {
    const { s, h } = await start({ webhookHeaders: ['X-Custom: yes', 'Content-Type: text/evil'] });
    const result = await s.install({ org: 'acme' });
    const delivery = await result.webhook;
    assert.ok(delivery?.delivered);
    assert.equal(h.received.length, 1);
    const [got] = h.received;
    assert.ok(got);
    assert.equal(got.body, delivery?.body);
    assert.ok(verify(s.app.clientSecret, got.body, got.headers['sentry-hook-signature']));
    assert.equal(got.headers['content-type'], 'application/json');
    assert.match(String(got.headers['request-id']), /^[0-9a-f]{32}$/);
    assert.equal(got.headers['sentry-hook-resource'], 'installation');
    const ts = Number(got.headers['sentry-hook-timestamp']);
    assert.ok(Math.abs(ts - Math.floor(s.clock.now() / 1000)) <= 2);
    assert.equal(got.headers['x-custom'], 'yes');
    const parsed = JSON.parse(got.body);
    assert.deepEqual(Object.keys(parsed), ['action', 'installation', 'data', 'actor']);
    assert.equal(parsed.data.installation.code, result.code);
    assert.equal(parsed.data.installation.status, 'pending');
    assert.deepEqual(Object.keys(parsed.data.installation), ['app', 'organization', 'uuid', 'status', 'code']);
    // The redirect and re-install rules (§1).
    assert.equal(result.redirectUrl, undefined);
    const again = await s.install({ org: 'acme' });
    assert.equal(again.installation.uuid, result.installation.uuid);
    assert.equal(again.code, undefined);
    assert.equal(again.webhook, undefined);
  });

  it('redirect URL keeps existing query params and carries state only for external installs', opts, async () => {
    const { s } = await start({ redirectUrl: 'https://example.test/setup?x=1', verifyInstall: false });
    const directory = await s.install({ org: 'a', sendWebhook: false });
    const url = new URL(directory.redirectUrl ?? '');
    assert.equal(url.searchParams.get('x'), '1');
    assert.equal(url.searchParams.get('installationId'), directory.installation.uuid);
    assert.equal(url.searchParams.get('code'), directory.code);
    assert.equal(url.searchParams.get('orgSlug'), 'a');
    assert.equal(url.searchParams.has('state'), false);
    assert.equal(directory.installation.status, 'installed');
    const external = await s.install({ org: 'b', state: 's-1', sendWebhook: false });
    assert.equal(new URL(external.redirectUrl ?? '').searchParams.get('state'), 's-1');
  });

  it('published apps: 5xx retried (new Request-ID each time, same body), 4xx and 3xx never; redirects not followed', opts, async () => {
    const { s, h } = await start({ published: true, verifyInstall: false });
    const { installation } = await s.install({ sendWebhook: false });
    h.respond(() => ({ status: 503 }));
    const failed = await s.emitWebhook({ installationId: installation.uuid, resource: 'comment', action: 'created', data: {} });
    assert.deepEqual(failed.attempts.map((a) => a.status), [503, 503, 503, 503]);
    assert.equal(new Set(failed.attempts.map((a) => a.requestId)).size, 4);
    assert.equal(new Set(h.received.map((r) => r.body)).size, 1);
    assert.equal(failed.delivered, false);
    h.respond((_r, i) => ({ status: i === 4 ? 500 : 204 }));
    const recovered = await s.emitWebhook({ installationId: installation.uuid, resource: 'comment', action: 'created', data: {} });
    assert.deepEqual(recovered.attempts.map((a) => a.status), [500, 204]);
    assert.ok(recovered.delivered);
    h.respond(() => ({ status: 404 }));
    assert.deepEqual((await s.emitWebhook({ installationId: installation.uuid, resource: 'comment', action: 'created', data: {} })).attempts.map((a) => a.status), [404]);
    h.respond(() => ({ status: 302, headers: { Location: `${h.url}/elsewhere` } }));
    const before = h.received.length;
    const redirected = await s.emitWebhook({ installationId: installation.uuid, resource: 'comment', action: 'created', data: {} });
    assert.deepEqual(redirected.attempts.map((a) => a.status), [302]);
    assert.ok(redirected.delivered);
    assert.equal(h.received.length, before + 1);
  });

  it('unpublished apps are never retried; installation.deleted is never retried even when published', opts, async () => {
    const { s, h } = await start({ published: false, verifyInstall: false });
    const { installation } = await s.install({ sendWebhook: false });
    h.respond(() => ({ status: 500 }));
    assert.equal((await s.emitWebhook({ installationId: installation.uuid, resource: 'comment', action: 'created', data: {} })).attempts.length, 1);
    s.updateApp(s.app.slug, { published: true });
    const deleted = await s.uninstall(installation.uuid);
    assert.equal(deleted?.action, 'deleted');
    assert.equal(deleted?.attempts.length, 1);
    assert.equal(s.installation(installation.uuid)?.deleted, true);
    assert.equal(await s.uninstall(installation.uuid), undefined);
  });

  it('a slow receiver is recorded as status 0 after the 1 s timeout, and retried when published', opts, async () => {
    const { s, h } = await start({ published: true, verifyInstall: false }, { maxRetries: 1 });
    const { installation } = await s.install({ sendWebhook: false });
    h.respond((_r, i) => (i === 0 ? { delayMs: 1600 } : { status: 200 }));
    const started = performance.now();
    const record = await s.emitWebhook({ installationId: installation.uuid, resource: 'comment', action: 'created', data: {} });
    const elapsed = performance.now() - started;
    assert.equal(record.attempts[0]?.status, 0);
    assert.match(record.attempts[0]?.error ?? '', /timeout/);
    assert.ok((record.attempts[0]?.durationMs ?? 0) >= 950, `timed out after ${record.attempts[0]?.durationMs} ms`);
    assert.equal(record.attempts[1]?.status, 200);
    assert.ok(elapsed < 1550, `took ${elapsed} ms`);
  });

  it('connection errors are status 0; injected webhook faults (status, drop, commit-then-drop)', opts, async () => {
    const { s, h } = await start({ verifyInstall: false });
    const { installation } = await s.install({ sendWebhook: false });
    const send = () => s.emitWebhook({ installationId: installation.uuid, resource: 'comment', action: 'created', data: {} });
    s.inject({ endpoint: 'webhook', kind: 'status', status: 502 });
    assert.equal((await send()).attempts[0]?.status, 502);
    s.inject({ endpoint: 'webhook', kind: 'drop' });
    assert.equal((await send()).attempts[0]?.status, 0);
    assert.equal(h.received.length, 0);
    s.inject({ endpoint: 'webhook', kind: 'commit-then-drop' });
    assert.equal((await send()).attempts[0]?.status, 0);
    assert.equal(h.received.length, 1);
    await h.close();
    const refused = await send();
    assert.equal(refused.attempts[0]?.status, 0);
    assert.ok(refused.attempts[0]?.error);
  });

  it('issue webhooks only for installed installations subscribed to issue; payload shapes per action', opts, async () => {
    const { s, h } = await start();
    const { installation, code } = await s.install({ sendWebhook: false });
    const pending = await s.emitIssue({ installationId: installation.uuid });
    assert.equal(pending.delivery, undefined);
    const ex = await call(`${s.url}/api/0/sentry-app-installations/${installation.uuid}/authorizations/`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ grant_type: 'authorization_code', code, client_id: s.app.clientId, client_secret: s.app.clientSecret }),
    });
    await call(`${s.url}/api/0/sentry-app-installations/${installation.uuid}/`, {
      method: 'PUT', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${ex.body.token}` }, body: '{"status":"installed"}',
    });
    const created = await s.emitIssue({ installationId: installation.uuid, title: 'Über 🚀' });
    const body = JSON.parse(created.delivery?.body ?? '{}');
    assert.deepEqual(Object.keys(body.data.issue).slice(0, 3), ['url', 'web_url', 'project_url']);
    assert.match(created.delivery?.body ?? '', /\\u00dcber \\ud83d\\ude80/);
    assert.equal(h.received.at(-1)?.headers['sentry-hook-resource'], 'issue');
    const resolved = JSON.parse((await s.emitIssue({ installationId: installation.uuid, issueId: created.issueId, action: 'resolved' })).delivery?.body ?? '{}');
    assert.equal(resolved.data.resolution_type, 'resolved');
    assert.equal(resolved.data.issue.status, 'resolved');
    assert.equal(resolved.data.issue.url, undefined);
    const assigned = JSON.parse((await s.emitIssue({ installationId: installation.uuid, issueId: created.issueId, action: 'assigned' })).delivery?.body ?? '{}');
    assert.equal(assigned.data.assignee.type, 'user');
    for (const action of ['ignored', 'archived', 'unresolved'] as const) {
      assert.equal((await s.emitIssue({ installationId: installation.uuid, issueId: created.issueId, action })).delivery?.action, action);
    }
    s.updateApp(s.app.slug, { events: ['comment'] });
    assert.equal((await s.emitIssue({ installationId: installation.uuid })).delivery, undefined);
  });

  it('pendingGetsIssueWebhooks: true sends issue webhooks to pending installations', opts, async () => {
    const { s } = await start({}, { pendingGetsIssueWebhooks: true });
    const { installation } = await s.install({ sendWebhook: false });
    assert.ok((await s.emitIssue({ installationId: installation.uuid })).delivery?.delivered);
  });

  it('close() ends a delivery in flight at once', opts, async () => {
    const { s, h } = await start({ verifyInstall: false });
    const { installation } = await s.install({ sendWebhook: false });
    h.respond(() => ({ delayMs: 5000 }));
    const pending = s.emitWebhook({ installationId: installation.uuid, resource: 'comment', action: 'created', data: {} });
    while (h.received.length === 0) await new Promise((r) => setTimeout(r, 5));
    const started = performance.now();
    await s.close();
    const record = await pending;
    sentry = undefined;
    assert.equal(record.attempts[0]?.status, 0);
    assert.ok(performance.now() - started < 800);
  });
});
