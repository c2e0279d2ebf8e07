/**
 * Persistence across restarts (exec mode only): tokens, rotated refresh tokens, uninstalls and
 * accepted work survive a stop/start with the same DATA_DIR; token files are private.
 */
import { stat } from 'node:fs/promises';
import {
  DOCS, attemptsFor, callsWithTokens, defineCases, describeRequests, emitIssue, expireTokens, filesUnder, firstOf, granted,
  installAndUninstall, installFresh, issuedTokens, lastRequestId, notifiedIssue, pokeUninstalled, refreshes, waitForNotification,
} from './support.ts';

const SEC13 = 'sentry-platform.md §13 (persist atomically)';

export default defineCases([
  {
    id: 'PER-001', area: 'persistence', level: 'MUST',
    title: 'after a restart the installation still works (tokens persisted)',
    clause: { section: SEC13, url: DOCS.publicIntegration },
    requirement: 'Persist {installation, token, refreshToken, expiresAt} durably: the code is single-use, so a lost token cannot be recovered by re-exchanging it.',
    needsRestart: true,
    async run(ctx) {
      const inst = await installFresh(ctx);
      await ctx.restart();
      await notifiedIssue(ctx, inst);
    },
  },
  {
    id: 'PER-002', area: 'persistence', level: 'MUST',
    title: 'a refresh token rotated before a restart is the one used after it',
    clause: { section: `${SEC13}; sentry-platform.md §2.4 (rotation)`, url: DOCS.publicIntegration },
    requirement: 'Persist the new pair before using it: after a restart, the next expiry refreshes with the rotated refresh token.',
    needsRestart: true,
    async run(ctx) {
      const inst = await installFresh(ctx);
      expireTokens(ctx);
      await notifiedIssue(ctx, inst);
      await ctx.restart();
      expireTokens(ctx);
      await notifiedIssue(ctx, inst);
      const ok = granted(refreshes(ctx, inst.installationId)).length;
      if (ok < 2) ctx.fail('the second expiry after the restart was not refreshed', { expected: '2 successful refreshes', actual: String(ok) });
    },
  },
  {
    id: 'PER-003', area: 'persistence', level: 'SHOULD',
    title: 'files in DATA_DIR are not readable by group or others',
    clause: { section: 'sentry-platform.md §13; prior-art.md §10 item 5 (mode 0600)', url: DOCS.publicIntegration },
    requirement: 'Token files are secrets: mode 0600 (no group/other permissions).',
    needsDataDir: true,
    async run(ctx) {
      const inst = await installFresh(ctx);
      // DATA_DIR holds every earlier case's files too (54 in one run): list this installation's first
      // (named by its id or holding its tokens), then the rest by path, and only the first ten.
      const mine = [inst.installationId, ...issuedTokens(ctx, inst.installationId).flatMap((t) => [t.token, t.refreshToken])];
      const open: Array<{ line: string; ours: boolean; path: string }> = [];
      for (const f of await filesUnder(ctx.target.dataDir!)) {
        const s = await stat(f.path).catch(() => undefined);
        if (!s || (s.mode & 0o077) === 0) continue;
        const ours = mine.some((m) => f.relativePath.includes(m) || f.bytes.includes(m));
        open.push({ line: `${f.relativePath} (${(s.mode & 0o777).toString(8)})`, ours, path: f.relativePath });
      }
      open.sort((a, b) => Number(b.ours) - Number(a.ours) || a.path.localeCompare(b.path));
      if (open.length) {
        ctx.fail(`${open.length} file${open.length === 1 ? ' is' : 's are'} readable by group/others`, { expected: 'mode 0600', actual: firstOf(open.map((o) => o.line)) });
      }
    },
  },
  {
    id: 'PER-004', area: 'persistence', level: 'MUST',
    title: 'an uninstall survives a restart',
    clause: { section: 'sentry-platform.md §5, §13', url: DOCS.installationWebhook },
    requirement: 'A purged installation stays purged: after a restart its webhooks cause no API calls.',
    needsRestart: true,
    async run(ctx) {
      const { inst, tokens } = await installAndUninstall(ctx);
      await ctx.restart();
      const before = lastRequestId(ctx);
      await pokeUninstalled(ctx, inst);
      await ctx.settle(300);
      const calls = callsWithTokens(ctx, tokens).filter((r) => r.id > before);
      if (calls.length) ctx.fail('Sentry was called for the uninstalled installation after a restart', { actual: describeRequests(calls) });
    },
  },
  {
    id: 'PER-005', area: 'persistence', level: 'SHOULD',
    title: 'a notification accepted before a restart is still delivered after it',
    clause: { section: 'DESIGN "never loses what was already accepted"; sentry-platform.md §13 (persist/enqueue, respond)', url: DOCS.webhooks },
    requirement: 'Once a webhook is acknowledged its work is durable: a restart while Pushover is failing does not lose the notification.',
    needsRestart: true,
    async run(ctx) {
      const inst = await installFresh(ctx);
      ctx.pushover.inject({ kind: 'status', status: 503, count: 1000 });
      const issue = await emitIssue(ctx, inst);
      await ctx.waitFor('a failed message attempt', () => attemptsFor(ctx, issue.marker).length > 0);
      await ctx.restart();
      ctx.pushover.clearFaults();
      await waitForNotification(ctx, issue.marker, Math.max(ctx.settings.waitMs, 15_000));
    },
    timeoutMs: 30_000,
  },
]);
