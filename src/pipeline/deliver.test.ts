import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatIssueNotification } from '../pushover/format.ts';
import type { PushoverMessage } from '../pushover/types.ts';
import { ANSWER_LOST_REASON, deliver, IN_DOUBT_REASON, issueForJob, type DeliverPorts, type FetchResult, type SendResult } from './deliver.ts';
import { jobFromWebhook, type NotificationJob } from './job.ts';
import { issueData } from './testing.ts';

function job(action = 'created', issue: Record<string, unknown> = issueData({ id: '7', org: 'acme' })): NotificationJob {
  const parsed = jobFromWebhook('issue', { action, installation: { uuid: 'inst' }, data: { issue } }, 0);
  assert.ok(parsed.ok);
  return parsed.job;
}

function ports(fetch: FetchResult, send: SendResult, sent: PushoverMessage[] = []): DeliverPorts {
  return {
    fetchIssue: async () => fetch,
    format: (issue, j) => formatIssueNotification(issue, { tags: j.key }),
    send: async (m) => { sent.push(m); return send; },
  };
}

describe('deliver', () => {
  it('sends the API issue merged over the webhook snapshot, tagged with the dedupe key', async () => {
    const sent: PushoverMessage[] = [];
    const outcome = await deliver(job(), ports({ ok: true, issue: { title: 'Fresh title', count: '12', permalink: undefined } }, { ok: true, request: 'r1' }, sent));
    assert.deepEqual(outcome, { kind: 'done', request: 'r1' });
    assert.equal(sent.length, 1);
    assert.equal(sent[0]?.title, '[front-end] Fresh title');
    assert.match(sent[0]?.message ?? '', /Events: 12/);
    assert.equal(sent[0]?.url, 'https://acme.sentry.io/issues/7/');
    assert.equal(sent[0]?.tags, 'inst:issue:created:7');
  });

  it('maps every failure class to retry or dead letter', async () => {
    const cases: [FetchResult, SendResult, string, boolean][] = [
      [{ ok: false, class: 'retry', error: '503', notBefore: 9 }, { ok: true }, 'retry', false],
      [{ ok: false, class: 'dead', error: 'needs-reauth' }, { ok: true }, 'dead', false],
      [{ ok: true, issue: {} }, { ok: false, class: 'retry', error: '500' }, 'retry', true],
      [{ ok: true, issue: {} }, { ok: false, class: 'quota', error: '429', notBefore: 5 }, 'retry', true],
      [{ ok: true, issue: {} }, { ok: false, class: 'permanent', error: '400 user invalid' }, 'dead', true],
      // A missing issue falls back to the webhook's own data.
      [{ ok: false, class: 'missing', error: '404' }, { ok: true }, 'done', true],
    ];
    for (const [fetch, send, kind, sends] of cases) {
      const sent: PushoverMessage[] = [];
      const outcome = await deliver(job(), ports(fetch, send, sent));
      assert.equal(outcome.kind, kind, JSON.stringify([fetch, send]));
      assert.equal(sent.length, sends ? 1 : 0);
      if (outcome.kind === 'retry' && !fetch.ok) assert.equal(outcome.notBefore, 9);
      if (outcome.kind === 'retry' && !send.ok && send.class === 'quota') assert.deepEqual([outcome.notBefore, outcome.pause], [5, true]);
    }
    const noTitle = job('created', { id: '8' });
    assert.equal((await deliver(noTitle, ports({ ok: false, class: 'missing', error: '404' }, { ok: true }))).kind, 'dead');
    const throwing: DeliverPorts = { ...ports({ ok: true, issue: {} }, { ok: true }), send: async () => { throw new Error('boom'); } };
    assert.deepEqual(await deliver(job(), throwing), { kind: 'retry', error: 'unexpected: boom' });
  });

  it('marks the send as started right before it; a job in doubt is resent (announced) or dead-lettered unsent', async () => {
    const calls: string[] = [];
    const traced = (): DeliverPorts => ({
      fetchIssue: async () => { calls.push('fetch'); return { ok: true, issue: {} }; },
      format: (issue, j) => { calls.push('format'); return formatIssueNotification(issue, { tags: j.key }); },
      markStarted: async () => { calls.push('mark'); },
      resending: () => { calls.push('resending'); },
      send: async () => { calls.push('send'); return { ok: true }; },
    });
    const run = async (options: Parameters<typeof deliver>[2]) => { calls.length = 0; return [(await deliver(job(), traced(), options)).kind, calls.join(',')]; };
    assert.deepEqual(await run({}), ['done', 'fetch,format,mark,send']);
    assert.deepEqual(await run({ inDoubt: false, onInDoubt: 'dead-letter' }), ['done', 'fetch,format,mark,send']);
    assert.deepEqual(await run({ inDoubt: true }), ['done', 'fetch,format,mark,resending,send']);
    assert.deepEqual(await run({ inDoubt: true, onInDoubt: 'resend' }), ['done', 'fetch,format,mark,resending,send']);
    assert.deepEqual(await run({ inDoubt: true, onInDoubt: 'dead-letter' }), ['dead', '']);
    assert.deepEqual(await deliver(job(), traced(), { inDoubt: true, onInDoubt: 'dead-letter' }), { kind: 'dead', error: IN_DOUBT_REASON });
    // A fetch that fails before the send marks nothing (the doubt, if any, is left for the next run).
    calls.splice(0);
    assert.equal((await deliver(job(), { ...traced(), fetchIssue: async () => ({ ok: false, class: 'retry', error: '503' }) }, { inDoubt: true })).kind, 'retry');
    assert.deepEqual(calls, []);
    // A marker that cannot be written: no send.
    calls.splice(0);
    const unmarked = await deliver(job(), { ...traced(), markStarted: async () => { throw new Error('journal failed'); } });
    assert.deepEqual([unmarked.kind, calls.join(',')], ['retry', 'fetch,format']);
  });

  it('a send whose answer was lost (maybeDelivered) is in doubt: retried in doubt, or dead-lettered under dead-letter; a plain failure is not', async () => {
    const lost: SendResult = { ok: false, class: 'retry', error: 'Pushover request failed (UND_ERR_SOCKET)', notBefore: 7, maybeDelivered: true };
    const refused: SendResult = { ok: false, class: 'retry', error: 'Pushover request failed (ECONNREFUSED)', notBefore: 7 };
    const gaveUp: SendResult = { ok: false, class: 'permanent', error: 'gave up after 5 transient failures', maybeDelivered: true };
    const ok: FetchResult = { ok: true, issue: {} };
    assert.deepEqual(await deliver(job(), ports(ok, lost)), { kind: 'retry', error: `pushover: ${lost.ok ? '' : lost.error}`, notBefore: 7, pause: false, inDoubt: true });
    const dead = await deliver(job(), ports(ok, lost), { onInDoubt: 'dead-letter' });
    assert.equal(dead.kind, 'dead');
    assert.ok(dead.kind === 'dead' && dead.inDoubt === true && dead.error.startsWith(ANSWER_LOST_REASON));
    assert.deepEqual(await deliver(job(), ports(ok, refused), { onInDoubt: 'dead-letter' }), { kind: 'retry', error: 'pushover: Pushover request failed (ECONNREFUSED)', notBefore: 7, pause: false });
    assert.deepEqual(await deliver(job(), ports(ok, gaveUp)), { kind: 'dead', error: 'pushover: gave up after 5 transient failures', inDoubt: true });
  });

  it('labels non-created actions in the title', () => {
    assert.equal(issueForJob(job('resolved'), { title: 'X' }).title, 'Resolved: X');
    assert.equal(issueForJob(job('created'), { title: 'X' }).title, 'X');
  });
});
