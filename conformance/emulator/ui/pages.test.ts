// The sandbox pages as a developer of another implementation uses them (`npm run emulator`): the
// emulator serves them, Install redirects to whatever redirect URL the app has, actions reach the
// integration as webhooks, and the feed shows the wire with every secret fingerprinted.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { PUSHOVER_EMULATOR_TOKEN, PUSHOVER_EMULATOR_USER, startPushoverEmulator, type PushoverEmulator } from '../../pushover.ts';
import { startSentryEmulator } from '../index.ts';
import { startReceiver, type Receiver } from '../testing.ts';
import type { SentryEmulator } from '../types.ts';
import { sandboxPages, type Feed } from './index.ts';
import { buildTimeline, redactBody } from './timeline.ts';

const T = { timeout: 30_000 };
const REDIRECT = 'http://127.0.0.1:9/their-setup?x=1';

/** A request on a fresh connection, redirects not followed. */
function http(url: string, init: { method?: string; body?: string; type?: string } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = init.type ? { 'content-type': init.type } : {};
    const req = request(url, { method: init.method ?? 'GET', headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

const post = (url: string, body: unknown) => http(url, { method: 'POST', body: JSON.stringify(body), type: 'application/json' });

describe('sandbox pages on a standalone emulator', () => {
  let receiver: Receiver;
  let sentry: SentryEmulator;
  before(async () => {
    receiver = await startReceiver();
    sentry = await startSentryEmulator({ pages: sandboxPages(), apps: [{ webhookUrl: receiver.url, redirectUrl: REDIRECT }] });
  });
  after(async () => {
    await sentry.close();
    await receiver.close();
  });

  it('serves the pages; other paths still reach the Sentry API', T, async () => {
    const root = await http(`${sentry.url}/`);
    assert.equal(root.status, 302);
    assert.equal(root.headers.location, '/settings/acme/integrations/');
    const page = await http(`${sentry.url}/settings/acme/integrations/`);
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
    assert.match(page.text, /data-view="integrations" data-org="acme" data-app="emulator-app"/);
    const escaped = await http(`${sentry.url}/settings/a%3Cb%3E/sentry-apps/emulator-app/`);
    assert.doesNotMatch(escaped.text, /a<b>/);
    for (const asset of ['/_ui/app.js', '/_ui/style.css']) assert.equal((await http(sentry.url + asset)).status, 200, asset);
    assert.equal((await http(`${sentry.url}/_ui/nothing`)).status, 404);
    const api = await http(`${sentry.url}/api/0/nothing/`);
    assert.equal(api.status, 404);
    assert.equal(sentry.requests({ endpoint: 'unknown' }).length, 1, 'page requests are not recorded; API requests are');
  });

  it('Install redirects the browser to the app\'s redirect URL with installationId, code and orgSlug; actions send webhooks', T, async () => {
    const install = await http(`${sentry.url}/_ui/install`, { method: 'POST', body: 'org=acme&app=emulator-app', type: 'application/x-www-form-urlencoded' });
    assert.equal(install.status, 303);
    const location = new URL(String(install.headers.location));
    assert.equal(`${location.origin}${location.pathname}`, 'http://127.0.0.1:9/their-setup');
    assert.equal(location.searchParams.get('x'), '1');
    assert.equal(location.searchParams.get('orgSlug'), 'acme');
    const code = location.searchParams.get('code')!;
    assert.match(code, /^[0-9a-f]{32}$/);
    const id = location.searchParams.get('installationId')!;
    assert.equal(sentry.installation(id)?.status, 'pending');

    // A second Install goes to the installation page instead of creating another one.
    const again = await http(`${sentry.url}/_ui/install`, { method: 'POST', body: 'org=acme', type: 'application/x-www-form-urlencoded' });
    assert.equal(again.headers.location, '/settings/acme/sentry-apps/emulator-app/');

    // Pending (not verified): Sentry sends no issue webhooks yet.
    const pending = await post(`${sentry.url}/_ui/issue`, { org: 'acme', title: 'Früh' });
    assert.deepEqual(JSON.parse(pending.text).webhook, false);
    sentry.updateApp('emulator-app', { verifyInstall: false });
    await sentry.uninstall(id);
    const direct = await sentry.install({ org: 'acme' });
    await direct.webhook;
    const issue = await post(`${sentry.url}/_ui/issue`, { org: 'acme', title: 'Ärger — 東京 💥' });
    assert.equal(issue.status, 200);
    assert.equal(JSON.parse(issue.text).delivered, true);
    const last = receiver.received.at(-1)!;
    assert.equal(last.headers['sentry-hook-resource'], 'issue');
    assert.match(last.body, /\\u00c4rger/, 'Sentry\'s \\uXXXX-escaped JSON');

    const before = sentry.clock.now();
    assert.equal((await post(`${sentry.url}/_ui/clock`, { hours: 8 })).status, 200);
    assert.ok(sentry.clock.now() - before >= 8 * 3600_000);
    assert.equal((await post(`${sentry.url}/_ui/clock`, { hours: -1 })).status, 400);
    assert.equal((await post(`${sentry.url}/_ui/uninstall`, { org: 'acme' })).status, 200);
    assert.equal(sentry.installation(direct.installation.uuid)?.deleted, true);
    assert.equal((await post(`${sentry.url}/_ui/uninstall`, { org: 'acme' })).status, 409);
    assert.equal((await post(`${sentry.url}/_ui/issue`, { org: 'Not A Slug' })).status, 400);

    const feed = JSON.parse((await http(`${sentry.url}/_ui/feed?org=acme`)).text) as Feed;
    assert.equal(feed.phone, null, 'no Pushover emulator in this process');
    assert.equal(feed.installation?.state, 'uninstalled');
    const titles = feed.timeline.map((e) => e.title);
    for (const t of ['Webhook installation.created', 'You created an issue: “Ärger — 東京 💥”', 'Webhook issue.created', 'You advanced Sentry’s clock by 8 h', 'Webhook installation.deleted']) {
      assert.ok(titles.includes(t), `${t} in ${titles.join(' | ')}`);
    }
    const text = JSON.stringify(feed);
    assert.ok(!text.includes(code), 'the grant code never appears');
    assert.ok(!text.includes(sentry.app.clientSecret));
    assert.match(text, /«redacted #[0-9a-f]{6}»/);
  });
});

describe('sandbox pages with a Pushover emulator', () => {
  let pushover: PushoverEmulator;
  let sentry: SentryEmulator;
  before(async () => {
    pushover = await startPushoverEmulator();
    sentry = await startSentryEmulator({ pages: sandboxPages({ pushover, org: 'demo' }) });
  });
  after(async () => {
    await sentry.close();
    await pushover.close();
  });
  afterEach(() => pushover.clearFaults());

  it('the phone shows accepted messages, newest first; the events stream announces changes', T, async () => {
    assert.equal((await http(`${sentry.url}/`)).headers.location, '/settings/demo/integrations/');
    const changes: string[] = [];
    const stream = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      request(`${sentry.url}/_ui/events`, { agent: false }, resolve).on('error', reject).end();
    });
    assert.match(String(stream.headers['content-type']), /^text\/event-stream/);
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => { changes.push(c); });
    for (const title of ['first', 'second ✓']) {
      const body = new URLSearchParams({ token: PUSHOVER_EMULATOR_TOKEN, user: PUSHOVER_EMULATOR_USER, title, message: 'm', url: 'https://example.com/i/1', priority: '1' });
      const sent = await http(`${pushover.url}/1/messages.json`, { method: 'POST', body: body.toString(), type: 'application/x-www-form-urlencoded' });
      assert.equal(sent.status, 200);
    }
    const feed = JSON.parse((await http(`${sentry.url}/_ui/feed`)).text) as Feed;
    assert.deepEqual(feed.phone?.map((n) => [n.title, n.priority, n.url]), [['second ✓', 1, 'https://example.com/i/1'], ['first', 1, 'https://example.com/i/1']]);
    const sends = feed.timeline.filter((e) => e.kind === 'pushover');
    assert.equal(sends.length, 2);
    assert.ok(!JSON.stringify(sends).includes(PUSHOVER_EMULATOR_TOKEN) && !JSON.stringify(sends).includes(PUSHOVER_EMULATOR_USER));
    const deadline = Date.now() + 10_000; // real time: the stream's coalescing timer is 50 ms
    while (!changes.join('').includes('event: change') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.match(changes.join(''), /event: change/);
    stream.destroy();
  });
});

describe('timeline', () => {
  it('fingerprints secrets in JSON and form bodies and keeps grant_type names', () => {
    const json = redactBody('{"grant_type":"refresh_token","refresh_token":"abc","client_id":"cid","client_secret":"s3cret"}');
    assert.match(json, /"grant_type": "refresh_token"/);
    assert.match(json, /"client_id": "cid"/);
    assert.ok(!json.includes('abc') && !json.includes('s3cret'));
    const form = redactBody('token=t0ken&user=us3r&title=hello');
    assert.ok(!form.includes('t0ken') && !form.includes('us3r') && form.includes('title=hello'));
    assert.equal(redactBody('{"code":"same"}'), redactBody('{"code":"same"}'), 'same value, same fingerprint');
    assert.match(redactBody('x'.repeat(5000)), /1000 more characters/);
  });

  it('orders by time, the user\'s action before what it caused; an unsettled webhook waits', () => {
    const entries = buildTimeline({
      actions: [{ at: 10, title: 'You clicked' }],
      deliveries: [
        { id: 1, url: 'u', resource: 'issue', action: 'created', installationId: 'i', body: '{}', signature: 's', headers: {}, attempts: [{ requestId: 'r', timestamp: '0', startedAt: 10, durationMs: 1, status: 503 }], delivered: false },
        { id: 2, url: 'u', resource: 'issue', action: 'created', installationId: 'i', body: '{}', signature: 's', headers: {}, attempts: [], delivered: false },
      ],
      requests: [{ id: 1, at: 5, method: 'POST', path: '/x?code=1', headers: { authorization: 'Bearer tok' }, body: '', status: 201, responseBody: '', endpoint: 'token.refresh' }],
    });
    assert.deepEqual(entries.map((e) => [e.kind, e.ok]), [['token', true], ['action', true], ['webhook', false]]);
    assert.ok(!entries[0]!.request!.includes('tok') && !entries[0]!.summary.includes('code=1'));
  });
});
