/**
 * Install via the installation.created webhook (asynchronous, may arrive before, after or without
 * the redirect; carries the same single-use code).
 */
import {
  DOCS, defineCases, deliverInstallationCreated, exchanges, expectAcked, expectAckedWithin1s, expectCount, expectNot5xx,
  expectStatus, installationBody, installFresh, is2xx, isPage, notifiedIssue, pendingInstall, postWebhook, sendRedirect,
  uuid, waitInstalled,
} from './support.ts';

export default defineCases([
  {
    id: 'INW-001', area: 'install-webhook', level: 'MUST',
    title: 'installation.created alone installs: code exchanged, webhook acknowledged 2xx',
    clause: { section: 'sentry-platform.md §4.5 installation.created', url: DOCS.installationWebhook },
    requirement: 'installation.created carries data.installation.code; an integration that never sees the redirect still exchanges it.',
    async run(ctx) {
      const inst = await installFresh(ctx, { order: 'webhook-only' });
      expectAcked(ctx, inst.webhookStatus, 'installation.created not acknowledged with 2xx');
    },
  },
  {
    id: 'INW-002', area: 'install-webhook', level: 'MUST',
    title: 'webhook then redirect with the same code: one successful exchange, install usable',
    clause: { section: 'sentry-platform.md §1 "Same code twice", §13', url: DOCS.publicIntegration },
    requirement: 'Arrival order is not guaranteed; 401 "Could not find grant for given code" while a token is held means already exchanged — it must not overwrite or break the installation.',
    async run(ctx) {
      const inst = await installFresh(ctx, { order: 'webhook-then-redirect' });
      expectNot5xx(ctx, inst.redirect?.status, 'the late redirect got a 5xx');
      await notifiedIssue(ctx, inst);
    },
  },
  {
    id: 'INW-003', area: 'install-webhook', level: 'SHOULD',
    title: 'the redirect arriving after the webhook install still shows success (2xx/3xx)',
    clause: { section: 'sentry-platform.md §13 /setup', url: DOCS.publicIntegration },
    requirement: 'A redirect whose code was already exchanged by the webhook path is a completed install, not an error for the user.',
    async run(ctx) {
      const inst = await installFresh(ctx, { order: 'webhook-then-redirect' });
      expectStatus(ctx, inst.redirect!, isPage, '2xx or 3xx', 'the late redirect');
    },
  },
  {
    id: 'INW-004', area: 'install-webhook', level: 'MUST',
    title: 'redirect and webhook at the same time: exactly one successful exchange, no 5xx',
    clause: { section: 'sentry-platform.md §1, §13 (single-flight)', url: DOCS.publicIntegration },
    requirement: 'Exchange once per installation even when webhook and redirect race; neither answer is a 5xx and the installation works.',
    async run(ctx) {
      const inst = await installFresh(ctx, { order: 'concurrent' });
      expectNot5xx(ctx, inst.redirect?.status, 'the redirect got a 5xx');
      expectAcked(ctx, inst.webhookStatus, 'the webhook was not acknowledged 2xx');
      await notifiedIssue(ctx, inst);
    },
  },
  {
    id: 'INW-005', area: 'install-webhook', level: 'SHOULD',
    title: 'racing redirect and webhook make a single exchange request',
    clause: { section: 'sentry-platform.md §13 (one exchange per installation at a time)', url: DOCS.publicIntegration },
    requirement: 'One exchange per installation at a time (single-flight across webhook and redirect).',
    async run(ctx) {
      const inst = await installFresh(ctx, { order: 'concurrent' });
      await ctx.settle(100);
      expectCount(ctx, exchanges(ctx, inst.installationId).length, 1, 'more than one exchange request');
    },
  },
  {
    id: 'INW-006', area: 'install-webhook', level: 'MUST',
    title: 'a duplicate installation.created (new Request-ID, spent code) is acknowledged and breaks nothing',
    clause: { section: 'sentry-platform.md §4.8 (duplicates happen)', url: DOCS.webhooks },
    requirement: 'A repeated installation.created is answered 2xx; the stored token is kept (the installation keeps working).',
    async run(ctx) {
      const inst = await installFresh(ctx);
      const again = await deliverInstallationCreated(ctx, inst.installationId);
      expectAcked(ctx, again.attempts[0]?.status, 'duplicate installation.created not acknowledged 2xx');
      await notifiedIssue(ctx, inst);
      const attempts = exchanges(ctx, inst.installationId).length;
      if (attempts > 3) ctx.fail('exchange attempts keep coming for a spent code', { expected: '≤ 3', actual: String(attempts) });
    },
  },
  {
    id: 'INW-007', area: 'install-webhook', level: 'MUST',
    title: 'installation.created without a code is acknowledged; the redirect then installs',
    clause: { section: 'sentry-platform.md §4.5 ("code … may be absent"), §11 (#71440)', url: DOCS.installationWebhook },
    requirement: 'Handle an absent code: acknowledge with 2xx and install through the redirect.',
    async run(ctx) {
      const pending = await pendingInstall(ctx, 'nocode');
      const answer = await postWebhook(ctx, { resource: 'installation', body: installationBody(ctx, 'created', pending.installationId, pending.orgSlug) });
      expectStatus(ctx, answer, is2xx, '2xx', 'installation.created without code');
      await sendRedirect(ctx, pending);
      await waitInstalled(ctx, pending.installationId);
    },
  },
  {
    id: 'INW-008', area: 'install-webhook', level: 'MUST',
    title: 'installation.created is answered within 1 second',
    clause: { section: 'sentry-platform.md §4.1 (timeout 1 s)', url: DOCS.webhooks },
    requirement: 'Webhooks should respond within 1 second. Otherwise, the response is considered a timeout.',
    async run(ctx) {
      const pending = await pendingInstall(ctx, 'fast');
      ctx.sentry.inject({ endpoint: 'token.exchange', kind: 'latency', ms: 1500, count: 1 });
      const delivery = await deliverInstallationCreated(ctx, pending.installationId);
      expectAckedWithin1s(ctx, 'installation.created (with a slow token endpoint)', delivery.attempts[0]);
      await waitInstalled(ctx, pending.installationId);
    },
  },
  {
    id: 'INW-009', area: 'install-webhook', level: 'MUST',
    title: 'installation.created for an installation Sentry does not know is acknowledged and harmless',
    clause: { section: 'sentry-platform.md §2.3 (404 unknown installation)', url: DOCS.installationWebhook },
    requirement: 'A failed exchange (404) is an error to log, not a crash; the answer is not a 5xx.',
    async run(ctx) {
      const answer = await postWebhook(ctx, { resource: 'installation', body: installationBody(ctx, 'created', uuid(), 'ghost-org', 'e'.repeat(32)) });
      expectNot5xx(ctx, answer.status, 'a 5xx for an unknown installation');
    },
  },
]);
