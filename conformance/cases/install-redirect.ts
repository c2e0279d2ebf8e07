/**
 * Install via the redirect (`/setup?installationId=&code=&orgSlug=`): the browser lands on the
 * integration with a single-use grant code that must be exchanged exactly once.
 */
import {
  DOCS, defineCases, exchanges, expectAcked, expectCount, expectStatus, expectStillServing, granted, installFresh, is4xx,
  isPage, notifiedIssue, pendingInstall, sendRedirect, verifies,
} from './support.ts';

const SEC1 = 'sentry-platform.md §1';
/** Sentry refused the code: a client error, or an upstream failure passed on (502–504). */
const errorPage = (s: number) => is4xx(s) || s === 502 || s === 503 || s === 504;

export default defineCases([
  {
    id: 'INR-001', area: 'install-redirect', level: 'MUST',
    title: 'redirect install: the code is exchanged and the user gets a success answer',
    clause: { section: `${SEC1}, §2`, url: DOCS.publicIntegration },
    requirement: 'On the redirect the integration exchanges the grant code for a token (POST …/authorizations/) and answers the browser with a page or a redirect (2xx/3xx).',
    async run(ctx) {
      const inst = await installFresh(ctx, { order: 'redirect-only' });
      expectStatus(ctx, inst.redirect!, isPage, '2xx or 3xx', 'the /setup redirect');
      expectCount(ctx, granted(exchanges(ctx, inst.installationId)).length, 1, 'expected exactly one successful exchange');
    },
  },
  {
    id: 'INR-002', area: 'install-redirect', level: 'MUST',
    title: 'redirect, then installation.created: acknowledged, one exchange, install usable',
    clause: { section: `${SEC1} "Same code twice"`, url: DOCS.publicIntegration },
    requirement: 'installation.created arrives after the redirect has exchanged the code; the emulator then sends it without `data.installation.code` (it is only included while unexchanged), so a handler must not require the field. The webhook must be acknowledged and the installation stay usable. (The same code arriving twice is INW-00x: webhook first, then the redirect.)',
    async run(ctx) {
      const inst = await installFresh(ctx, { order: 'redirect-then-webhook' });
      expectAcked(ctx, inst.webhookStatus, 'installation.created after the redirect was not acknowledged with 2xx');
      await notifiedIssue(ctx, inst);
    },
  },
  {
    id: 'INR-003', area: 'install-redirect', level: 'MUST',
    title: 'redirect without a code is refused with 4xx and nothing is exchanged',
    clause: { section: `${SEC1} "code visibility"; sentry-platform.md §13`, url: DOCS.publicIntegration },
    requirement: 'Handle a missing code: answer 4xx, do not call the token endpoint, keep serving.',
    async run(ctx) {
      const pending = await pendingInstall(ctx, 'nocode');
      const answer = await sendRedirect(ctx, pending, { code: null });
      expectStatus(ctx, answer, is4xx, '4xx', 'redirect without code');
      await ctx.settle(100);
      if (exchanges(ctx, pending.installationId).length) ctx.fail('the token endpoint was called without a code');
      await expectStillServing(ctx);
    },
  },
  {
    id: 'INR-004', area: 'install-redirect', level: 'MUST',
    title: 'a forged code gets an error answer, not a success page',
    clause: { section: 'sentry-platform.md §2.3 (401 Could not find grant for given code)', url: DOCS.publicIntegration },
    requirement: 'When Sentry refuses the exchange the integration shows an error (4xx, or 502–504 for an upstream failure), stores nothing and keeps serving.',
    async run(ctx) {
      const pending = await pendingInstall(ctx, 'forged');
      const answer = await sendRedirect(ctx, pending, { code: 'f'.repeat(32) });
      expectStatus(ctx, answer, errorPage, '4xx or 502/503/504', 'redirect with a forged code');
      if (verifies(ctx, pending.installationId).length) ctx.fail('verify-install was attempted although the exchange failed');
      await expectStillServing(ctx);
    },
  },
  {
    id: 'INR-005', area: 'install-redirect', level: 'MUST',
    title: 'an expired code (older than 10 minutes) gets an error answer',
    clause: { section: 'sentry-platform.md §2.4 (grant 10 min)', url: DOCS.publicIntegration },
    requirement: 'Grant codes live 10 minutes; an expired one is refused by Sentry (401 Grant has already expired) and the integration answers with an error, not a success.',
    async run(ctx) {
      const pending = await pendingInstall(ctx, 'expired');
      ctx.sentry.advanceClock(11 * 60_000);
      const answer = await sendRedirect(ctx, pending);
      expectStatus(ctx, answer, errorPage, '4xx or 502/503/504', 'redirect with an expired code');
      if (granted(exchanges(ctx, pending.installationId)).length) ctx.fail('an expired code was exchanged (emulator problem?)');
      await expectStillServing(ctx);
    },
  },
  {
    id: 'INR-006', area: 'install-redirect', level: 'MUST',
    title: 'a state the integration did not issue is refused with 4xx',
    clause: { section: `${SEC1} "state"; sentry-platform.md §13 /setup`, url: DOCS.publicIntegration },
    requirement: 'If state is present, verify it (bound to the integration, single-use, ≤ 10 min); a state it did not issue is refused with 4xx.',
    async run(ctx) {
      const pending = await pendingInstall(ctx, 'state');
      const answer = await sendRedirect(ctx, pending, { state: `forged-${Date.now()}` });
      expectStatus(ctx, answer, is4xx, '4xx', 'redirect with a forged state');
    },
  },
]);
