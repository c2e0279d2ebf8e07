import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { request } from 'undici';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PUSHOVER_EMULATOR_TOKEN, PUSHOVER_EMULATOR_USER } from '../../conformance/pushover.ts';
import { ConfigError } from '../config.ts';
import { parseJournal } from '../outbox/journal.ts';
import { JOURNAL_FILE } from '../outbox/outbox.ts';
import { codePointLength } from '../pushover/limits.ts';
import { IN_DOUBT_REASON } from './deliver.ts';
import { deadLettersCommand } from '../outbox/cli.ts';
import { inDoubtPolicyFromEnv, onOff, openPipeline, PipelineEnvError, RESENT_MSG, type Pipeline } from './pipeline.ts';
import { openServePipeline } from './serve.ts';
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

  it('a dead letter replayed from the command line while the server runs: the worker takes the request and sends it', T, async () => {
    const s = await fresh({ pipeline: { replayPollMs: 20 } });
    const id = await s.install();
    s.pushover.inject({ kind: 'status', status: 400, contentType: 'application/json', body: '{"user":"invalid","errors":["user identifier is invalid"],"status":0,"request":"r"}' });
    const { issueId } = await s.stack.emulator.emitIssue({ installationId: id });
    await s.waitFor(() => s.pipeline.health().deadLetters === 1, 'the dead letter');
    const out: string[] = [];
    const err: string[] = [];
    const code = await deadLettersCommand(['replay', '--all', '--json'], { out: (l) => out.push(l), err: (l) => err.push(l), env: { DATA_DIR: s.stack.config.dataDir } });
    assert.equal(code, 0, err.join('\n'));
    assert.deepEqual(JSON.parse(out.join('')), { replayed: 1, by: 'server' });
    await s.waitFor(() => messagesFor(s, id, issueId).length === 1, 'the replayed send');
    assert.equal(s.pipeline.health().deadLetters, 0);
    assert.equal(s.stack.logger.records().filter((r) => r['msg'] === 'dead letters replayed on request').length, 1);
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
    // The log names the dedupe key (a field called `key` would be redacted as a credential).
    assert.ok(s.stack.logger.lines.some((l) => l.includes('duplicate delivery acknowledged') && l.includes(`"dedupeKey":"${id}:issue:created:${issueId}"`)));
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

  it('an unreadable installation record (corrupt, wrong key, I/O) queues the webhook instead of dropping it; mended, it is sent', T, async () => {
    const s = await fresh({ startWorker: false });
    const id = await s.install();
    const path = join(s.stack.dataDir, `${id}.json`);
    const good = readFileSync(path);
    writeFileSync(path, '{"installationId": "half a rec');
    const { issueId, delivery } = await s.stack.emulator.emitIssue({ installationId: id });
    assert.equal(delivery?.attempts[0]?.status, 200);
    assert.equal(JSON.parse(delivery!.attempts[0]!.responseBody ?? '{}').queued, true, 'acknowledged as queued, not as an unknown installation');
    assert.equal(s.pipeline.outbox.stats().pending, 1);
    assert.ok(s.stack.logger.lines.some((l) => l.includes('installation record unreadable: webhook queued anyway') && l.includes(id)));
    // A readable store that has no such installation still means "ignore", not "queue".
    const stranger = signedWebhook({
      secret: s.stack.emulator.app.clientSecret, installationId: randomUUID(), resource: 'issue', action: 'created',
      data: { issue: issueData({ id: '4242', org: 'acme' }) },
    });
    const strangerAnswer = await post(s, stranger.body, stranger.headers);
    assert.equal(JSON.parse(strangerAnswer.body).ignored, 'unknown installation', strangerAnswer.body);
    assert.equal(s.pipeline.outbox.stats().pending, 1);
    writeFileSync(path, good);
    s.pipeline.start();
    await s.waitFor(() => messagesFor(s, id, issueId).length === 1, 'the message once the record is readable');
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


  /**
   * Makes the next issue's job in doubt the way a SIGKILL would: while its Pushover request is on the
   * wire (start marker durable, no outcome yet) the journal is copied; the original run then completes.
   * Returns the copy, which a second pipeline opens as its outbox — the restarted process.
   */
  async function crashMidSend(s: PipelineStack, installationId: string): Promise<{ issueId: string; image: string }> {
    s.pushover.inject({ kind: 'latency', ms: 1500 });
    const { issueId } = await s.stack.emulator.emitIssue({ installationId });
    const journal = join(s.stack.config.dataDir, 'outbox', JOURNAL_FILE);
    const hasStart = () => parseJournal(readFileSync(journal)).records.some((r) => (r as { t: string }).t === 'start');
    await s.waitFor(hasStart, 'the start marker');
    const image = join(s.stack.dataDir, 'crash-image');
    mkdirSync(image);
    copyFileSync(journal, join(image, JOURNAL_FILE));
    await s.waitFor(() => messagesFor(s, installationId, issueId).length === 1, 'the first send', 15_000);
    await s.pipeline.outbox.idle();
    await s.pipeline.stop();
    assert.ok(!parseJournal(readFileSync(join(image, JOURNAL_FILE))).records.some((r) => (r as { t: string }).t === 'ack'), 'copied before the ack');
    return { issueId, image };
  }

  /** The restarted process: a second pipeline on the same store and emulators, its outbox on `image`. */
  function restartOn(s: PipelineStack, image: string, env: Record<string, string> = {}): Promise<Pipeline> {
    return openPipeline({
      config: s.stack.config,
      env: { PUSHOVER_TOKEN: PUSHOVER_EMULATOR_TOKEN, PUSHOVER_USER: PUSHOVER_EMULATOR_USER, PUSHOVER_RETRY_MIN_MS: '20', PUSHOVER_URL: s.pushover.url, OUTBOX_DIR: image, ...env },
      store: s.stack.store, api: s.stack.api, tokens: () => s.stack.app.tokens,
      clock: s.stack.emulator.clock, logger: s.stack.logger, outbox: { durability: 'none' },
    });
  }

  const resendLines = (s: PipelineStack) => s.stack.logger.records().filter((r) => r['msg'] === RESENT_MSG);

  it('in doubt after a crash mid-send, NOTIFY_IN_DOUBT unset (resend): sent again once, warned with the key, counted', { timeout: 60_000 }, async () => {
    const s = await fresh();
    const id = await s.install();
    const { issueId, image } = await crashMidSend(s, id);
    assert.deepEqual(resendLines(s), []);
    const again = await restartOn(s, image);
    try {
      again.start();
      await s.waitFor(() => messagesFor(s, id, issueId).length === 2, 'the resend');
      await again.outbox.idle();
      const [line, ...more] = resendLines(s);
      assert.deepEqual(more, []);
      assert.equal(line?.['level'], 'warn');
      assert.equal(line?.['dedupeKey'], `${id}:issue:created:${issueId}`);
      assert.equal(line?.['interruptedSends'], 1);
      assert.deepEqual(again.health().inDoubt, { resent: 1, deadLettered: 0 });
      assert.deepEqual([again.outbox.stats().done, again.outbox.stats().dead], [1, 0]);
      const sent = s.stack.logger.records().filter((r) => r['msg'] === 'notification sent');
      assert.equal(sent.at(-1)?.['dedupeKey'], `${id}:issue:created:${issueId}`, 'the job key is logged, not redacted');
    } finally {
      await again.close();
    }
    const health = await request(`${s.stack.url}/healthz`).then((r) => r.body.json()) as { pipeline: { inDoubt: unknown } };
    assert.deepEqual(health.pipeline.inDoubt, { resent: 0, deadLettered: 0 }, 'the first process saw nothing in doubt');
  });

  it('in doubt with NOTIFY_IN_DOUBT=dead-letter: not sent, dead-lettered as possibly delivered, counted; a replay sends it', { timeout: 60_000 }, async () => {
    const s = await fresh();
    const id = await s.install();
    const { issueId, image } = await crashMidSend(s, id);
    const again = await restartOn(s, image, { NOTIFY_IN_DOUBT: 'dead-letter' });
    try {
      again.start();
      await again.outbox.idle();
      assert.equal(messagesFor(s, id, issueId).length, 1);
      assert.equal(s.stack.emulator.requests({ endpoint: 'issue' }).length, 1, 'nothing fetched for the dead letter');
      const [dead, ...more] = again.outbox.deadLetters();
      assert.deepEqual(more, []);
      assert.equal(dead?.key, `${id}:issue:created:${issueId}`);
      assert.equal(dead?.lastError, IN_DOUBT_REASON);
      assert.match(dead?.lastError ?? '', /^in doubt: .*may already have been delivered/);
      assert.equal(dead?.inDoubt, true);
      assert.deepEqual(again.health().inDoubt, { resent: 0, deadLettered: 1 });
      assert.equal(again.health().deadLetters, 1);
      // The operator decides to send it after all.
      assert.equal(await again.outbox.replay('all'), 1);
      await s.waitFor(() => messagesFor(s, id, issueId).length === 2, 'the replayed send');
      await again.outbox.idle();
      assert.deepEqual(resendLines(s), [], 'a replay is not an in-doubt resend');
      assert.deepEqual(again.health().inDoubt, { resent: 0, deadLettered: 1 });
    } finally {
      await again.close();
    }
  });

  it('Pushover answer lost after it stored the message, resend (default): retried as a logged in-doubt resend, so two messages', T, async () => {
    const s = await fresh();
    const id = await s.install();
    s.pushover.inject({ kind: 'accept-then-drop' });
    const { issueId } = await s.stack.emulator.emitIssue({ installationId: id });
    await s.waitFor(() => messagesFor(s, id, issueId).length === 2, 'the resend after the lost answer');
    await s.pipeline.outbox.idle();
    const [line, ...more] = resendLines(s);
    assert.deepEqual(more, []);
    assert.equal(line?.['dedupeKey'], `${id}:issue:created:${issueId}`);
    assert.deepEqual(s.pipeline.health().inDoubt, { resent: 1, deadLettered: 0 });
    assert.deepEqual([s.pipeline.outbox.stats().done, s.pipeline.health().deadLetters], [1, 0]);
  });

  it('Pushover answer lost, NOTIFY_IN_DOUBT=dead-letter: one message, not retried, dead-lettered as possibly delivered', T, async () => {
    const s = await fresh({ env: { NOTIFY_IN_DOUBT: 'dead-letter' } });
    const id = await s.install();
    s.pushover.inject({ kind: 'accept-then-drop' });
    const { issueId } = await s.stack.emulator.emitIssue({ installationId: id });
    await s.waitFor(() => s.pipeline.health().deadLetters === 1, 'the dead letter');
    await s.pipeline.outbox.idle();
    assert.equal(messagesFor(s, id, issueId).length, 1);
    assert.equal(s.pushover.requests({ endpoint: 'messages' }).length, 1, 'not retried');
    const [dead] = s.pipeline.outbox.deadLetters();
    assert.match(dead?.lastError ?? '', /^in doubt: the Pushover request was sent but its answer was lost/);
    assert.deepEqual([dead?.inDoubt, dead?.inDoubtCount], [true, 1]);
    assert.deepEqual(s.pipeline.health().inDoubt, { resent: 0, deadLettered: 1 });
    assert.deepEqual(resendLines(s), []);
  });

  it('a connection dropped before any answer is in doubt too (Pushover may have stored it): dead-letter mode does not resend', T, async () => {
    const s = await fresh({ env: { NOTIFY_IN_DOUBT: 'dead-letter' } });
    const id = await s.install();
    s.pushover.inject({ kind: 'drop' }); // here the emulator did not store it; the client cannot know
    const { issueId } = await s.stack.emulator.emitIssue({ installationId: id });
    await s.waitFor(() => s.pipeline.health().deadLetters === 1, 'the dead letter');
    await s.pipeline.outbox.idle();
    assert.equal(messagesFor(s, id, issueId).length, 0, 'at most once: a possibly missing message, never a repeat');
    assert.equal(s.pushover.requests({ endpoint: 'messages' }).length, 1);
    assert.equal(await s.pipeline.outbox.replay('all'), 1, 'the operator can send it');
    await s.waitFor(() => messagesFor(s, id, issueId).length === 1, 'the replayed send');
  });

  it('NOTIFY_IN_DOUBT and NOTIFY_HTML with another value are configuration errors naming the variable (serve exits 2)', T, async () => {
    const s = await fresh({ startWorker: false });
    for (const bad of ['resent', 'at-most-once', 'dead_letter']) {
      await assert.rejects(restartOn(s, join(s.stack.dataDir, 'x'), { NOTIFY_IN_DOUBT: bad }), (e: Error) => e instanceof PipelineEnvError && e.message === 'NOTIFY_IN_DOUBT must be one of resend, dead-letter');
    }
    await assert.rejects(openServePipeline({ config: s.stack.config, env: { PUSHOVER_TOKEN: PUSHOVER_EMULATOR_TOKEN, PUSHOVER_USER: PUSHOVER_EMULATOR_USER, NOTIFY_IN_DOUBT: 'x' }, store: s.stack.store, api: s.stack.api, tokens: () => s.stack.app.tokens }), ConfigError);
    await assert.rejects(restartOn(s, join(s.stack.dataDir, 'y'), { NOTIFY_HTML: 'perhaps' }), (e: Error) => e instanceof PipelineEnvError && /^NOTIFY_HTML must be on or off .*got "perhaps"/.test(e.message));
    assert.deepEqual(['On', ' yes ', '1', 'false', 'NO', '0', '', undefined].map((v) => onOff({ NOTIFY_HTML: v }, 'NOTIFY_HTML', true)), [true, true, true, false, false, false, true, true]);
    assert.equal(inDoubtPolicyFromEnv({ NOTIFY_IN_DOUBT: ' Dead-Letter ' }), 'dead-letter');
    assert.equal(inDoubtPolicyFromEnv({ NOTIFY_IN_DOUBT: '' }), 'resend');
    assert.equal(inDoubtPolicyFromEnv({}), 'resend');
  });
});
