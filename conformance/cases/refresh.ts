/**
 * Expiry, refresh and rotation. Sentry's access tokens live 8 hours; the harness moves the emulator's
 * clock forward, so the implementation learns about expiry from a 401 "Token expired" (its own
 * clock still says the token is young) and must refresh once and retry once.
 */
import {
  DOCS, bearer, defineCases, describeRequests, emitIssue, expectCount, expireTokens, granted, installFresh, issuedTokens,
  notifiedIssue, parseJson, refreshes, refreshTokensSent, scriptTokenExpired, tokenRequests, waitForNotification,
  type EmittedIssue, type Installed,
} from './support.ts';
import type { CaseContext } from '../harness.ts';
import type { RecordedRequest } from '../emulator/types.ts';

const SEC24 = 'sentry-platform.md §2.4';

/**
 * The lost-refresh scenario. The JWT grant's iat/exp come from the implementation's (real) clock,
 * so this runs with the emulator at real time and signals expiry with a scripted 401 "Token expired"
 * on the issue fetch; the refresh is committed by Sentry and its answer dropped.
 */
async function lostRefresh(ctx: CaseContext, check: (inst: Installed, issue: EmittedIssue) => Promise<void>): Promise<void> {
  await ctx.atRealTime(async () => {
    const inst = await installFresh(ctx);
    scriptTokenExpired(ctx);
    ctx.sentry.inject({ endpoint: 'token.refresh', kind: 'commit-then-drop', count: 1 });
    const issue = await emitIssue(ctx, inst);
    await requireFaultHit(ctx, inst, 'commit-then-drop', 'the refresh whose answer is lost');
    await check(inst, issue);
  });
}

/**
 * Fails the case as not exercised when no refresh met the injected fault: an implementation that
 * never refreshes (or fetches nothing) would otherwise pass the checks that follow it, untested.
 */
async function requireFaultHit(ctx: CaseContext, inst: Installed, fault: string, what: string): Promise<RecordedRequest> {
  const find = () => refreshes(ctx, inst.installationId).find((r) => r.fault === fault);
  // As long as a slow worker may need (the case's wait), then judged.
  const hit = await ctx.waitFor(`a refresh meeting the injected ${fault}`, find).catch(() => undefined) ?? find();
  if (!hit) {
    ctx.fail(`not exercised: no refresh was attempted, so ${what} never happened (an expired token must be refreshed: REF-001)`, {
      expected: 'a refresh_token grant after the 401 "Token expired"',
      actual: describeRequests(tokenRequests(ctx, inst.installationId), { status: true }) || 'no token request',
    });
  }
  return hit as RecordedRequest;
}

export default defineCases([
  {
    id: 'REF-001', area: 'refresh', level: 'MUST',
    title: 'an expired token is refreshed and the call retried',
    clause: { section: `${SEC24}; §13 (401 Token expired → refresh once, retry once)`, url: DOCS.publicIntegration },
    requirement: 'Tokens expire after eight hours; on 401 "Token expired" refresh with the refresh token and retry the call.',
    async run(ctx) {
      const inst = await installFresh(ctx);
      expireTokens(ctx);
      await notifiedIssue(ctx, inst);
      if (!granted(refreshes(ctx, inst.installationId)).length) ctx.fail('no successful refresh after expiry');
    },
  },
  {
    id: 'REF-002', area: 'refresh', level: 'MUST',
    title: 'the refresh is JSON with grant_type refresh_token and the latest refresh token',
    clause: { section: 'sentry-platform.md §2.1 (refresh_token body)', url: DOCS.publicIntegration },
    requirement: 'POST …/authorizations/ {"grant_type":"refresh_token","refresh_token","client_id","client_secret"} as application/json.',
    async run(ctx) {
      const inst = await installFresh(ctx);
      const first = issuedTokens(ctx, inst.installationId)[0];
      expireTokens(ctx);
      await notifiedIssue(ctx, inst);
      const req = refreshes(ctx, inst.installationId)[0];
      if (!req || !first) return ctx.fail('no refresh request');
      const body = parseJson(req.body) as Record<string, unknown> | undefined;
      if (!(req.headers['content-type'] ?? '').startsWith('application/json')) ctx.fail('refresh is not application/json');
      if (body?.grant_type !== 'refresh_token' || body.refresh_token !== first.refreshToken || body.client_id !== ctx.sentry.app.clientId) {
        ctx.fail('refresh body wrong', { expected: 'refresh_token grant with the refresh token from the exchange', actual: `grant_type=${String(body?.grant_type)}` });
      }
    },
  },
  {
    id: 'REF-003', area: 'refresh', level: 'MUST',
    title: 'five webhooks arriving at expiry cause exactly one refresh',
    clause: { section: `${SEC24} (single-use refresh token); §13 single-flight`, url: DOCS.publicIntegration },
    requirement: 'Refresh tokens are single-use: concurrent callers share one refresh (a second one would strand the installation).',
    async run(ctx) {
      const inst = await installFresh(ctx);
      expireTokens(ctx);
      const issues = await Promise.all([1, 2, 3, 4, 5].map(() => emitIssue(ctx, inst)));
      for (const issue of issues) await waitForNotification(ctx, issue.marker);
      expectCount(ctx, refreshes(ctx, inst.installationId).length, 1, 'refresh count at expiry');
    },
  },
  {
    id: 'REF-004', area: 'refresh', level: 'MUST',
    title: 'the rotated refresh token is kept: a second expiry works too',
    clause: { section: `${SEC24} (rotation deletes the old pair)`, url: DOCS.publicIntegration },
    requirement: 'Each refresh returns a new refresh token and kills the old one; the integration stores the new pair before using it.',
    async run(ctx) {
      const inst = await installFresh(ctx);
      for (let round = 1; round <= 2; round++) {
        expireTokens(ctx);
        await notifiedIssue(ctx, inst);
      }
      expectCount(ctx, granted(refreshes(ctx, inst.installationId)).length, 2, 'successful refreshes over two expiries');
    },
  },
  {
    id: 'REF-005', area: 'refresh', level: 'MUST',
    title: 'after a refresh the old access token is not used again',
    clause: { section: `${SEC24} (old access token dies immediately)`, url: DOCS.publicIntegration },
    requirement: 'After rotation the old token gets 401 Invalid token: use the new one for every later call.',
    async run(ctx) {
      const inst = await installFresh(ctx);
      const old = issuedTokens(ctx, inst.installationId)[0]?.token;
      expireTokens(ctx);
      await notifiedIssue(ctx, inst);
      // The rotation may come from either grant (refresh_token or JWT-bearer); without one there is nothing to judge.
      const rotation = granted(tokenRequests(ctx, inst.installationId)).find((r) => r.endpoint !== 'token.exchange');
      if (!rotation) return ctx.fail('the token was never rotated after it expired', { expected: 'a refresh or JWT grant after the clock passed 8 h' });
      const rotatedAt = rotation.id;
      await notifiedIssue(ctx, inst);
      const stale = ctx.sentryRequests().filter((r) => r.id > rotatedAt && bearer(r) === old);
      if (stale.length) ctx.fail('the old access token was used after the refresh', { actual: describeRequests(stale, { status: true }) });
    },
  },
  {
    id: 'REF-006', area: 'refresh', level: 'MUST',
    title: 'a lost refresh response does not cause a refresh loop',
    clause: { section: 'sentry-platform.md §11 (#94190), §13 (never retry the same refresh token)', url: DOCS.publicIntegration },
    requirement: 'If the refresh answer is lost the old refresh token is dead: recover (JWT grant) or mark the installation for re-auth — never loop.',
    async run(ctx) {
      await lostRefresh(ctx, async (inst) => {
        await ctx.settle(1500);
        const sent = refreshTokensSent(ctx, inst.installationId);
        const maxSame = Math.max(0, ...sent.map((t) => sent.filter((u) => u === t).length));
        if (sent.length > 3 || maxSame > 2) ctx.fail('refresh requests keep coming after the lost answer', { expected: '≤ 3 refresh grants, no refresh token sent more than twice', actual: `${sent.length} grants, one token sent ${maxSame}×` });
      });
    },
  },
  {
    id: 'REF-007', area: 'refresh', level: 'SHOULD',
    title: 'after a lost refresh response the installation recovers through the JWT grant',
    clause: { section: 'sentry-platform.md §2.1 (JWT manual refresh), §11', url: DOCS.publicIntegration },
    requirement: 'Refresh manually with a client-secret-signed JWT (fresh jti each attempt) when the refresh chain is broken.',
    async run(ctx) {
      await lostRefresh(ctx, async (inst, issue) => {
        await waitForNotification(ctx, issue.marker);
        if (!granted(tokenRequests(ctx, inst.installationId, 'token.jwt')).length) ctx.fail('no successful JWT grant');
        const after = ctx.sentryRequests({ endpoint: 'issue' }).filter((r) => r.path.includes(issue.issueId));
        if (!after.some((r) => r.status === 200)) ctx.fail('the issue was not fetched with the recovered token');
      });
    },
  },
  {
    id: 'REF-008', area: 'refresh', level: 'SHOULD',
    title: 'a refresh token is never sent twice',
    clause: { section: 'sentry-platform.md §13 (never retry the same refresh token)', url: DOCS.publicIntegration },
    requirement: 'Refresh tokens are single-use; after an unanswered refresh the token must be assumed spent.',
    async run(ctx) {
      await lostRefresh(ctx, async (inst) => {
        await ctx.settle(800);
        const sent = refreshTokensSent(ctx, inst.installationId);
        if (new Set(sent).size !== sent.length) ctx.fail('the same refresh token was sent again', { actual: `${sent.length} refresh grants` });
      });
    },
  },
  {
    id: 'REF-009', area: 'refresh', level: 'SHOULD',
    title: 'a 5xx from the token endpoint during refresh is retried later and the notification still arrives',
    clause: { section: 'sentry-platform.md §12 (faults on the token endpoint)', url: DOCS.publicIntegration },
    requirement: 'A transient token-endpoint failure is recovered from (retry the refresh later, or the JWT grant) instead of giving up.',
    async run(ctx) {
      // At real time with a scripted expiry, so a JWT-grant recovery (also fine here) can succeed.
      await ctx.atRealTime(async () => {
        const inst = await installFresh(ctx);
        scriptTokenExpired(ctx);
        ctx.sentry.inject({ endpoint: 'token.refresh', kind: 'status', status: 503, count: 1 });
        const issue = await emitIssue(ctx, inst);
        await waitForNotification(ctx, issue.marker, Math.max(ctx.settings.waitMs, 15_000));
        const failed = await requireFaultHit(ctx, inst, 'status', 'the 503');
        // Recovered, not merely notified from the webhook's own fields: the issue was fetched afterwards.
        if (!ctx.sentryRequests().some((r) => r.endpoint.startsWith('issue') && r.id > failed.id && r.status === 200)) {
          ctx.fail('the issue was not fetched after the failed refresh: the token was not recovered');
        }
      });
    },
    timeoutMs: 25_000,
  },
  {
    id: 'REF-010', area: 'refresh', level: 'SHOULD',
    title: 'a 429 on refresh is followed by back-off, not a burst',
    clause: { section: 'sentry-platform.md §10 (10 refreshes / 60 s → 429)', url: DOCS.publicIntegration },
    requirement: 'Back off on 429 without relying on Retry-After.',
    async run(ctx) {
      const inst = await installFresh(ctx);
      ctx.sentry.inject({ endpoint: 'token.refresh', kind: 'status', status: 429, body: '{"detail":"Too many token refresh attempts"}', count: 1 });
      expireTokens(ctx);
      await emitIssue(ctx, inst);
      await requireFaultHit(ctx, inst, 'status', 'the 429');
      await ctx.settle(1000);
      const n = refreshes(ctx, inst.installationId).length;
      if (n > 2) ctx.fail('refresh retried in a burst after 429', { expected: '≤ 2 refresh grants within 1 s', actual: String(n) });
    },
  },
]);
