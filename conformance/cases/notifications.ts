/**
 * Notifications: a new Sentry issue becomes one Pushover message within Pushover's limits, sent with
 * the configured token and user; 5xx and network failures are retried (not sooner than
 * PUSHOVER_RETRY_MIN_MS), 4xx never.
 */
import {
  DOCS, attemptsFor, defineCases, emitIssue, expectCount, installFresh, notificationsFor, notifiedIssue, quietAfter,
  waitForNotification, type EmittedIssue,
} from './support.ts';
import type { CaseContext } from '../harness.ts';

const LIMITS = 'pushover-api.md §2.1, §3, §7';
const FRIENDLY = 'pushover-api.md §9 (Being Friendly)';
/** Length in code points, as Pushover counts. */
const cp = (s: string | undefined) => Array.from(s ?? '').length;

/** An issue whose first message attempt Pushover answers 503, once notified (after a retry). */
async function notifiedAfterOne503(ctx: CaseContext): Promise<EmittedIssue> {
  const inst = await installFresh(ctx);
  ctx.pushover.inject({ kind: 'status', status: 503, count: 1 });
  return notifiedIssue(ctx, inst);
}

export default defineCases([
  {
    id: 'NOT-001', area: 'notifications', level: 'MUST',
    title: 'a new issue produces exactly one notification with the configured token and user',
    clause: { section: 'pushover-api.md §2.1 (token, user, message)', url: DOCS.pushoverApi },
    requirement: 'issue.created → one POST /1/messages.json with token = PUSHOVER_TOKEN, user = PUSHOVER_USER and a non-empty message.',
    async run(ctx) {
      const inst = await installFresh(ctx);
      const issue = await notifiedIssue(ctx, inst);
      const msg = issue.notification;
      if (msg.token !== ctx.pushover.token || msg.user !== ctx.pushover.user) ctx.fail('notification not sent with the configured token and user');
      await quietAfter(ctx, inst);
      expectCount(ctx, notificationsFor(ctx, issue.marker).length, 1, 'notifications for one issue');
    },
  },
  {
    id: 'NOT-002', area: 'notifications', level: 'MUST',
    title: 'an issue with a huge title still yields fields within Pushover\'s limits',
    clause: { section: LIMITS, url: DOCS.pushoverApi },
    requirement: 'message ≤ 1024 and not blank, title ≤ 250, url ≤ 512, url_title ≤ 100 characters (code points); every attempt stays within them.',
    async run(ctx) {
      const inst = await installFresh(ctx);
      const long = `${'Ünïcødé 🚀 overflow '.repeat(150)}end`;
      const issue = await emitIssue(ctx, inst, { title: long });
      await ctx.waitFor('a message attempt for the long issue', () => attemptsFor(ctx, issue.marker).length > 0);
      for (const a of attemptsFor(ctx, issue.marker)) {
        const f = a.fields;
        const bad = [
          cp(f.message) > 1024 || !(f.message ?? '').trim() ? `message ${cp(f.message)}` : '',
          cp(f.title) > 250 ? `title ${cp(f.title)}` : '',
          cp(f.url) > 512 ? `url ${cp(f.url)}` : '',
          cp(f.url_title) > 100 ? `url_title ${cp(f.url_title)}` : '',
          /\uFFFD|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(`${f.title}${f.message}`) ? 'broken characters (U+FFFD or a lone surrogate)' : '',
        ].filter(Boolean);
        if (bad.length) ctx.fail('a field is over Pushover\'s limits', { expected: 'message 1..1024, title ≤ 250, url ≤ 512, url_title ≤ 100', actual: bad.join(', ') });
      }
      await waitForNotification(ctx, issue.marker);
    },
  },
  {
    id: 'NOT-003', area: 'notifications', level: 'MUST',
    title: 'a Pushover 5xx is retried and the notification arrives',
    clause: { section: `${FRIENDLY} rule 3`, url: DOCS.pushoverFriendly },
    requirement: '500 / other status / no reply → temporary: repeat the request later.',
    async run(ctx) {
      const issue = await notifiedAfterOne503(ctx);
      if (attemptsFor(ctx, issue.marker).length < 2) ctx.fail('the failed attempt was not seen (harness problem?)');
    },
  },
  {
    id: 'NOT-004', area: 'notifications', level: 'MUST',
    title: 'a Pushover 4xx is not retried',
    clause: { section: `${FRIENDLY} rule 2`, url: DOCS.pushoverFriendly },
    requirement: 'Any 4xx: "Repeating your same request will not work, no matter how many times you retry it."',
    async run(ctx) {
      const inst = await installFresh(ctx);
      ctx.pushover.inject({ kind: 'status', status: 400, count: 1, contentType: 'application/json; charset=utf-8',
        body: '{"user":"invalid","errors":["user identifier is not a valid user, group, or subscribed user key"],"status":0,"request":"00000000-0000-4000-8000-000000000000"}' });
      const issue = await emitIssue(ctx, inst);
      await ctx.waitFor('the first message attempt', () => attemptsFor(ctx, issue.marker).length > 0);
      await quietAfter(ctx, inst);
      const n = attemptsFor(ctx, issue.marker).length;
      if (n !== 1) ctx.fail('a 4xx answer was retried', { expected: '1 attempt', actual: `${n} attempts` });
    },
  },
  {
    id: 'NOT-005', area: 'notifications', level: 'SHOULD',
    title: 'a dropped Pushover connection is retried',
    clause: { section: `${FRIENDLY} rule 3 (can't connect / no reply)`, url: DOCS.pushoverFriendly },
    requirement: 'A network failure is temporary: repeat later.',
    async run(ctx) {
      const inst = await installFresh(ctx);
      ctx.pushover.inject({ kind: 'drop', count: 1 });
      await notifiedIssue(ctx, inst);
    },
  },
  {
    id: 'NOT-006', area: 'notifications', level: 'SHOULD',
    title: 'retries wait at least PUSHOVER_RETRY_MIN_MS',
    clause: { section: `${FRIENDLY} rule 3 (no sooner than 5 s; the harness lowers the minimum)`, url: DOCS.pushoverFriendly },
    requirement: 'Repeat no sooner than the minimum delay after the last request.',
    async run(ctx) {
      const issue = await notifiedAfterOne503(ctx);
      const [first, second] = attemptsFor(ctx, issue.marker);
      const gap = second && first ? second.at - first.at : Infinity;
      const min = ctx.settings.pushoverRetryMinMs * 0.9;
      if (gap < min) ctx.fail('retried too soon', { expected: `≥ ${ctx.settings.pushoverRetryMinMs} ms`, actual: `${Math.round(gap)} ms` });
    },
  },
  {
    id: 'NOT-007', area: 'notifications', level: 'SHOULD',
    title: 'Pushover credentials travel in the body, not in the URL',
    clause: { section: 'pushover-api.md §2.2, §10 pitfall 12', url: DOCS.pushoverApi },
    requirement: 'Never put parameters in a POST query string: URLs end up in logs (secrets) and long ones get 414.',
    async run(ctx) {
      await notifiedIssue(ctx, await installFresh(ctx));
      const inQuery = ctx.notifications().filter((n) => n.fromQuery.length > 0);
      if (inQuery.length) ctx.fail('parameters sent in the query string', { actual: inQuery[0]?.fromQuery.join(', ') });
    },
  },
  {
    id: 'NOT-008', area: 'notifications', level: 'SHOULD',
    title: 'the notification links to the issue',
    clause: { section: 'pushover-api.md §2.1 (url)', url: DOCS.pushoverApi },
    requirement: 'The message carries the issue\'s web URL (url, or in the message when it does not fit).',
    async run(ctx) {
      const { issueId, notification: msg } = await notifiedIssue(ctx, await installFresh(ctx));
      if (!`${msg.url ?? ''} ${msg.message ?? ''}`.includes(issueId)) ctx.fail('no link to the issue in the notification', { actual: `url=${msg.url ?? '(none)'}` });
    },
  },
  {
    id: 'NOT-009', area: 'notifications', level: 'SHOULD',
    title: 'non-ASCII issue titles arrive intact',
    clause: { section: 'pushover-api.md §7.1 (UTF-8)', url: DOCS.pushoverApi },
    requirement: 'Parameters are UTF-8; Sentry\'s \\uXXXX escapes must become the real characters.',
    async run(ctx) {
      const { notification: msg } = await notifiedIssue(ctx, await installFresh(ctx), { title: 'Fehler in Übersicht 🚀 日本' });
      const text = `${msg.title ?? ''} ${msg.message ?? ''}`;
      if (!text.includes('Übersicht 🚀 日本')) ctx.fail('the non-ASCII title was mangled', { expected: '… Übersicht 🚀 日本', actual: (msg.title ?? '').slice(0, 80) });
    },
  },
]);
