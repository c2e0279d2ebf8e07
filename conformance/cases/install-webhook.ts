/**
 * Install via the installation.created webhook (asynchronous, may arrive before, after or without
 * the redirect; carries the same single-use code).
 */
import {
  DOCS, defineCases, emitIssue, exchanges, installationBody, installFresh, is2xx, postWebhook, expectStatus,
  setupPathFrom, uuid, waitInstalled, waitForNotification,
} from './support.ts';

const okPage = (s: number) => s >= 200 && s < 400;

export default defineCases([
  {
    id: 'INW-001', area: 'install-webhook', level: 'MUST',
    title: 'installation.created alone installs: code exchanged, webhook acknowledged 2xx',
    clause: { section: 'sentry-platform.md §4.5 installation.created', url: DOCS.installationWebhook },
    requirement: 'installation.created carries data.installation.code; an integration that never sees the redirect still exchanges it.',
    async run(ctx) {
      const inst = await installFresh(ctx, { order: 'webhook-only' });
      if (!is2xx(inst.webhookStatus ?? 0)) ctx.fail('installation.created not acknowledged with 2xx', { expected: '2xx', actual: String(inst.webhookStatus) });
    },
  },
  {
    id: 'INW-002', area: 'install-webhook', level: 'MUST',
    title: 'webhook then redirect with the same code: one successful exchange, install usable',
    clause: { section: 'sentry-platform.md §1 "Same code twice", §13', url: DOCS.publicIntegration },
    requirement: 'Arrival order is not guaranteed; 401 "Could not find grant for given code" while a token is held means already exchanged — it must not overwrite or break the installation.',
    async run(ctx) {
      const inst = await installFresh(ctx, { order: 'webhook-then-redirect' });
      if ((inst.redirect?.status ?? 0) >= 500) ctx.fail('the late redirect got a 5xx', { expected: 'not 5xx', actual: String(inst.redirect?.status) });
      const issue = await emitIssue(ctx, inst);
      await waitForNotification(ctx, issue.marker);
    },
  },
  {
    id: 'INW-003', area: 'install-webhook', level: 'SHOULD',
    title: 'the redirect arriving after the webhook install still shows success (2xx/3xx)',
    clause: { section: 'sentry-platform.md §13 /setup', url: DOCS.publicIntegration },
    requirement: 'A redirect whose code was already exchanged by the webhook path is a completed install, not an error for the user.',
    async run(ctx) {
      const inst = await installFresh(ctx, { order: 'webhook-then-redirect' });
      expectStatus(ctx, inst.redirect!, okPage, '2xx or 3xx', 'the late redirect');
    },
  },
  {
    id: 'INW-004', area: 'install-webhook', level: 'MUST',
    title: 'redirect and webhook at the same time: exactly one successful exchange, no 5xx',
    clause: { section: 'sentry-platform.md §1, §13 (single-flight)', url: DOCS.publicIntegration },
    requirement: 'Exchange once per installation even when webhook and redirect race; neither answer is a 5xx and the installation works.',
    async run(ctx) {
      const inst = await installFresh(ctx, { order: 'concurrent' });
      if ((inst.redirect?.status ?? 0) >= 500) ctx.fail('the redirect got a 5xx', { actual: String(inst.redirect?.status) });
      if (!is2xx(inst.webhookStatus ?? 0)) ctx.fail('the webhook was not acknowledged 2xx', { actual: String(inst.webhookStatus) });
      const issue = await emitIssue(ctx, inst);
      await waitForNotification(ctx, issue.marker);
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
      const n = exchanges(ctx, inst.installationId).length;
      if (n !== 1) ctx.fail('more than one exchange request', { expected: '1', actual: String(n) });
    },
  },
  {
    id: 'INW-006', area: 'install-webhook', level: 'MUST',
    title: 'a duplicate installation.created (new Request-ID, spent code) is acknowledged and breaks nothing',
    clause: { section: 'sentry-platform.md §4.8 (duplicates happen)', url: DOCS.webhooks },
    requirement: 'A repeated installation.created is answered 2xx; the stored token is kept (the installation keeps working).',
    async run(ctx) {
      const inst = await installFresh(ctx);
      const again = await ctx.sentry.sendInstallationCreated(inst.installationId);
      if (!is2xx(again.attempts[0]?.status ?? 0)) ctx.fail('duplicate installation.created not acknowledged 2xx', { actual: String(again.attempts[0]?.status) });
      const issue = await emitIssue(ctx, inst);
      await waitForNotification(ctx, issue.marker);
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
      const result = await ctx.sentry.install({ org: `org-nocode-${Date.now()}`, sendWebhook: false });
      ctx.secrets.add('grant code', result.code);
      const id = result.installation.uuid;
      const answer = await postWebhook(ctx, { resource: 'installation', body: installationBody(ctx, 'created', id, result.installation.org.slug) });
      expectStatus(ctx, answer, is2xx, '2xx', 'installation.created without code');
      await ctx.http.send('GET', setupPathFrom(ctx, result.redirectUrl!));
      await waitInstalled(ctx, id);
    },
  },
  {
    id: 'INW-008', area: 'install-webhook', level: 'MUST',
    title: 'installation.created is answered within 1 second',
    clause: { section: 'sentry-platform.md §4.1 (timeout 1 s)', url: DOCS.webhooks },
    requirement: 'Webhooks should respond within 1 second. Otherwise, the response is considered a timeout.',
    async run(ctx) {
      const result = await ctx.sentry.install({ org: `org-fast-${Date.now()}`, sendWebhook: false });
      ctx.secrets.add('grant code', result.code);
      ctx.sentry.inject({ endpoint: 'token.exchange', kind: 'latency', ms: 1500, count: 1 });
      const delivery = await ctx.sentry.sendInstallationCreated(result.installation.uuid);
      const first = delivery.attempts[0];
      if (!first || !is2xx(first.status) || first.durationMs >= 1000) {
        ctx.fail('installation.created (with a slow token endpoint) was not acknowledged 2xx within 1 s', {
          expected: '2xx in < 1000 ms', actual: `${first?.status} after ${first?.durationMs} ms`,
        });
      }
      await waitInstalled(ctx, result.installation.uuid);
    },
  },
  {
    id: 'INW-009', area: 'install-webhook', level: 'MUST',
    title: 'installation.created for an installation Sentry does not know is acknowledged and harmless',
    clause: { section: 'sentry-platform.md §2.3 (404 unknown installation)', url: DOCS.installationWebhook },
    requirement: 'A failed exchange (404) is an error to log, not a crash; the answer is not a 5xx.',
    async run(ctx) {
      const answer = await postWebhook(ctx, { resource: 'installation', body: installationBody(ctx, 'created', uuid(), 'ghost-org', 'e'.repeat(32)) });
      if (answer.status >= 500) ctx.fail('a 5xx for an unknown installation', { actual: String(answer.status) });
    },
  },
]);
