import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import { request } from 'undici';
import { codePointLength } from '../pushover/limits.ts';
import { startPipelineStack, type PipelineStack } from './harness.ts';
import { issueData, signedWebhook } from './testing.ts';

const T = { timeout: 40_000 };
let h: PipelineStack | undefined;

async function fresh(options: Parameters<typeof startPipelineStack>[0] = {}): Promise<PipelineStack> {
  await h?.stop();
  h = await startPipelineStack(options);
  return h;
}

/** Messages on the Pushover emulator for one issue (the dedupe key is in `tags`). */
function messagesFor(s: PipelineStack, installationId: string, issueId: string, action = 'created') {
  return s.pushover.messages({ tags: `${installationId}:issue:${action}:${issueId}` });
}

async function post(s: PipelineStack, body: string | Buffer, headers: Record<string, string>) {
  const t0 = performance.now();
  const res = await request(`${s.stack.url}/webhook`, { method: 'POST', headers, body });
  const text = await res.body.text();
  return { status: res.statusCode, body: text, ms: performance.now() - t0 };
}

const hasLoneSurrogate = (s: string) => /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);

describe('issue webhook → outbox → Sentry API → Pushover, end to end', () => {
  afterEach(() => {
    if (!h) return;
    const text = h.stack.logger.lines.join('\n');
    assert.ok(!text.includes(h.pushover.token) && !text.includes(h.pushover.user), 'a Pushover key was logged');
    assert.ok(!text.includes(h.stack.emulator.app.clientSecret), 'client secret logged');
  });
  after(async () => { await h?.stop(); h = undefined; });

  it('issue.created → exactly one message with the right fields, fetched via the org-scoped path', T, async () => {
    const s = await fresh();
    const id = await s.install('acme');
    const { issueId, delivery } = await s.stack.emulator.emitIssue({ installationId: id, title: 'TypeError: x is undefined', level: 'fatal', culprit: 'app/main.ts in run', projectSlug: 'api' });
    assert.equal(delivery?.attempts[0]?.status, 200);
    await s.waitFor(() => messagesFor(s, id, issueId).length === 1, 'the message');
    await s.pipeline.outbox.idle();
    const [m] = messagesFor(s, id, issueId);
    assert.equal(s.pushover.messages().length, 1);
    assert.equal(m?.params.title, '[api] TypeError: x is undefined');
    assert.match(m?.params.message ?? '', /Level: fatal/);
    assert.match(m?.params.message ?? '', /Culprit: app\/main\.ts in run/);
    assert.match(m?.params.message ?? '', /Events: \d+/);
    assert.match(m?.params.message ?? '', /Short ID: \S+/);
    assert.match(m?.params.url ?? '', new RegExp(`/issues/${issueId}/`));
    assert.equal(m?.params.url_title, 'Open in Sentry');
    assert.equal(m?.params.priority, '1'); // fatal → high by default
    assert.equal(m?.params.tags, `${id}:issue:created:${issueId}`);
    const fetches = s.stack.emulator.requests({ endpoint: 'issue' });
    assert.equal(fetches.length, 1);
    assert.equal(fetches[0]?.path, `/api/0/organizations/acme/issues/${issueId}/`);
    assert.equal(fetches[0]?.status, 200);
    const health = await request(`${s.stack.url}/healthz`).then((r) => r.body.json()) as { pipeline: { deadLetters: number; outbox: { done: number }; pushover: { remaining?: number; limit?: number } } };
    assert.equal(health.pipeline.deadLetters, 0);
    assert.equal(health.pipeline.outbox.done, 1);
    assert.equal(health.pipeline.pushover.remaining, 9999);
  });

  it('non-ASCII title with a valid signature is accepted; one tampered byte → 401, nothing queued', T, async () => {
    const s = await fresh();
    const id = await s.install();
    const { issueId, delivery } = await s.stack.emulator.emitIssue({ installationId: id, title: 'Über 🚀 fehlgeschlagen', projectSlug: 'web' });
    assert.equal(delivery?.attempts[0]?.status, 200);
    assert.match(delivery!.body, /\\u00dcber \\ud83d\\ude80/); // Sentry's escaped bytes
    await s.waitFor(() => messagesFor(s, id, issueId).length === 1);
    assert.equal(messagesFor(s, id, issueId)[0]?.params.title, '[web] Über 🚀 fehlgeschlagen');
    const tampered = Buffer.from(delivery!.body.replace('fehlgeschlagen', 'fehlgeschlagem'));
    const res = await post(s, tampered, { ...delivery!.headers, 'request-id': 'f'.repeat(32) });
    assert.equal(res.status, 401);
    assert.equal(s.pipeline.outbox.stats().pending + s.pipeline.outbox.stats().done, 1);
  });

  it('over-long title and culprit are cut on code-point boundaries (emoji at the limit), emulator in reject mode', T, async () => {
    const s = await fresh();
    const id = await s.install();
    // "[proj] " prefix + title puts an emoji across the 249th code point of the title.
    const title = 'E'.repeat(240) + '😀'.repeat(30);
    const culprit = 'c'.repeat(1010) + '🧨'.repeat(40);
    const { issueId } = await s.stack.emulator.emitIssue({ installationId: id, title, culprit, projectSlug: 'p' });
    await s.waitFor(() => messagesFor(s, id, issueId).length === 1);
    const m = messagesFor(s, id, issueId)[0]!;
    assert.equal(codePointLength(m.params.title!), 250);
    assert.ok(m.params.title!.endsWith('😀…'));
    assert.ok(codePointLength(m.params.message!) <= 1024);
    assert.match(m.params.message!, /…/);
    for (const v of [m.params.title!, m.params.message!]) {
      assert.ok(!hasLoneSurrogate(v) && !v.includes('\ufffd'), 'split surrogate pair');
    }
    assert.equal(s.pushover.requests({ endpoint: 'messages' }).filter((r) => r.status === 400).length, 0);
  });

  it('Pushover 5xx ×3 then OK → delivered once, retried no sooner than the minimum delay', T, async () => {
    const s = await fresh();
    const id = await s.install();
    s.pushover.inject({ kind: 'status', status: 503, count: 3 });
    const { issueId } = await s.stack.emulator.emitIssue({ installationId: id });
    await s.waitFor(() => messagesFor(s, id, issueId).length === 1, 'delivery after retries');
    await s.pipeline.outbox.idle();
    const calls = s.pushover.requests({ endpoint: 'messages' });
    assert.deepEqual(calls.map((r) => r.status), [503, 503, 503, 200]);
    for (let i = 1; i < calls.length; i++) assert.ok(calls[i]!.at - calls[i - 1]!.at >= 20, 'retried sooner than PUSHOVER_RETRY_MIN_MS');
    assert.equal(s.pushover.messages().length, 1);
    assert.equal(s.pipeline.health().deadLetters, 0);
  });

  it('Pushover 400 → not retried, dead-lettered and counted on /healthz', T, async () => {
    const s = await fresh();
    const id = await s.install();
    s.pushover.inject({
      kind: 'status', status: 400, contentType: 'application/json; charset=utf-8',
      body: JSON.stringify({ user: 'invalid', errors: ['user identifier is not a valid user, group, or subscribed user key'], status: 0, request: 'r' }),
    });
    const { issueId } = await s.stack.emulator.emitIssue({ installationId: id });
    await s.waitFor(() => s.pipeline.health().deadLetters === 1, 'the dead letter');
    await s.pipeline.outbox.idle();
    assert.equal(s.pushover.requests({ endpoint: 'messages' }).length, 1);
    assert.equal(messagesFor(s, id, issueId).length, 0);
    const [dead] = s.pipeline.outbox.deadLetters();
    assert.match(dead?.lastError ?? '', /pushover: user/);
    const health = await request(`${s.stack.url}/healthz`).then((r) => r.body.json()) as { pipeline: { deadLetters: number } };
    assert.equal(health.pipeline.deadLetters, 1);
  });

  it('quota 429 → paused until X-Limit-App-Reset (no sends meanwhile), then delivered', T, async () => {
    const s = await fresh();
    const id = await s.install();
    s.pushover.setQuota({ limit: 100, remaining: 0 });
    const first = await s.stack.emulator.emitIssue({ installationId: id });
    await s.waitFor(() => s.pushover.requests({ endpoint: 'messages' }).some((r) => r.status === 429), 'the 429');
    const second = await s.stack.emulator.emitIssue({ installationId: id });
    await s.pipeline.outbox.idle();
    assert.equal(s.pushover.requests({ endpoint: 'messages' }).length, 1, 'sent while paused');
    const health = s.pipeline.health();
    const reset = s.pushover.quota().reset * 1000;
    assert.equal(health.pushover.pausedUntil, reset);
    assert.equal(health.pushover.lowQuota, true);
    assert.equal(health.outbox.pending, 2);
    assert.equal(health.deadLetters, 0);
    assert.ok(s.stack.logger.records().some((r) => r.level === 'warn' && /quota low/i.test(String(r.msg))), 'low-quota warning');
    // A month later the quota has reset: both jobs go out, once each.
    s.stack.emulator.advanceClock(reset - s.stack.emulator.clock.now() + 1000);
    s.pipeline.outbox.poke();
    await s.waitFor(() => s.pushover.messages().length === 2, 'delivery after the reset', 15_000);
    assert.equal(messagesFor(s, id, first.issueId).length, 1);
    assert.equal(messagesFor(s, id, second.issueId).length, 1);
  });

  it('Pushover slow (5 s) and Sentry API slow → webhooks still answered well under 1 s', { timeout: 60_000 }, async () => {
    const s = await fresh();
    const id = await s.install();
    s.pushover.inject({ kind: 'latency', ms: 5000 });
    s.stack.emulator.inject({ endpoint: 'issue', kind: 'latency', ms: 3000, count: 2 });
    const times: number[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { issueId, delivery } = await s.stack.emulator.emitIssue({ installationId: id });
      assert.equal(delivery?.attempts[0]?.status, 200);
      times.push(delivery!.attempts[0]!.durationMs);
      ids.push(issueId);
    }
    assert.ok(Math.max(...times) < 500, `ack took ${Math.max(...times)} ms`);
    await s.waitFor(() => ids.every((i) => messagesFor(s, id, i).length === 1), 'slow deliveries', 30_000);
  });

  it('duplicate delivery (new Request-ID and timestamp, same content) → one message', T, async () => {
    const s = await fresh();
    const id = await s.install();
    const { issueId, delivery } = await s.stack.emulator.emitIssue({ installationId: id });
    const again = await post(s, delivery!.body, { ...delivery!.headers, 'request-id': 'a'.repeat(32), 'sentry-hook-timestamp': String(Math.floor(Date.now() / 1000) + 300) });
    assert.equal(again.status, 200);
    assert.equal(JSON.parse(again.body).duplicate, true);
    // The emulator re-sending the same issue (Sentry's retry) is a duplicate too.
    await s.stack.emulator.emitIssue({ installationId: id, issueId });
    await s.waitFor(() => messagesFor(s, id, issueId).length === 1);
    await s.pipeline.outbox.idle();
    const late = await post(s, delivery!.body, { ...delivery!.headers, 'request-id': 'b'.repeat(32) });
    assert.equal(JSON.parse(late.body).duplicate, true); // still deduped after the job finished (window)
    await s.pipeline.outbox.idle();
    assert.equal(messagesFor(s, id, issueId).length, 1);
    assert.equal(s.pushover.messages().length, 1);
  });

  it('uninstall with jobs pending → pending jobs dropped, none sent; later webhooks ignored', T, async () => {
    const s = await fresh({ startWorker: false });
    const id = await s.install();
    const other = await s.install('other-org');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await s.stack.emulator.emitIssue({ installationId: id })).issueId);
    const kept = (await s.stack.emulator.emitIssue({ installationId: other })).issueId;
    assert.equal(s.pipeline.outbox.stats().pending, 4);
    const deleted = await s.stack.emulator.uninstall(id);
    assert.equal(deleted?.attempts[0]?.status, 200);
    assert.equal(s.pipeline.outbox.stats().dropped, 3);
    s.pipeline.start();
    await s.waitFor(() => messagesFor(s, other, kept).length === 1);
    await s.pipeline.outbox.idle();
    for (const issueId of ids) assert.equal(messagesFor(s, id, issueId).length, 0);
    assert.equal(s.pushover.messages().length, 1);
    assert.equal(s.stack.emulator.requests({ endpoint: 'issue' }).length, 1, 'API called for a dropped job');
    // A late delivery for the uninstalled installation: acknowledged, nothing queued, nothing sent.
    const late = signedWebhook({
      secret: s.stack.emulator.app.clientSecret, installationId: id, resource: 'issue', action: 'created',
      data: { issue: issueData({ id: '999999', org: 'acme' }) },
    });
    const res = await post(s, late.body, late.headers);
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).ignored, 'unknown installation');
    assert.equal(s.pipeline.outbox.stats().pending, 0);
  });
});
