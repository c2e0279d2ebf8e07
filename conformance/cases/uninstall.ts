/** Uninstall: installation.deleted purges the installation's credentials and stops all work for it. */
import {
  DOCS, callsWithTokens, defineCases, describeRequests, expectAcked, expectStatus, installAndUninstall, installationBody,
  is2xx, filesUnder, notificationsFor, pokeUninstalled, postWebhook, tokenRequests, uuid,
} from './support.ts';

const SEC5 = 'sentry-platform.md §5; §13 (installation.deleted)';

export default defineCases([
  {
    id: 'UNI-001', area: 'uninstall', level: 'MUST',
    title: 'installation.deleted is acknowledged with 2xx',
    clause: { section: SEC5, url: DOCS.installationWebhook },
    requirement: 'installation.deleted is sent once and never retried: acknowledge it with 2xx.',
    async run(ctx) {
      const { delivery } = await installAndUninstall(ctx);
      expectAcked(ctx, delivery?.attempts[0]?.status ?? 0, 'installation.deleted not acknowledged 2xx');
    },
  },
  {
    id: 'UNI-002', area: 'uninstall', level: 'MUST',
    title: 'after uninstall nothing is sent to Sentry or Pushover for the installation',
    clause: { section: SEC5, url: DOCS.installationWebhook },
    requirement: 'installation.deleted: purge tokens and pending work; later webhooks for that installation are a no-op (2xx or 4xx) with no API calls and no notification.',
    async run(ctx) {
      const { inst, tokens, lastRequest } = await installAndUninstall(ctx);
      const { marker, answer } = await pokeUninstalled(ctx, inst);
      if (answer.status >= 500 || answer.status === 401) ctx.fail('a webhook for the uninstalled installation got an error', { expected: '2xx or 404/410', actual: String(answer.status) });
      await ctx.settle(Math.max(300, ctx.settings.pushoverRetryMinMs * 2));
      const calls = callsWithTokens(ctx, tokens).filter((r) => r.id > lastRequest);
      const grants = tokenRequests(ctx, inst.installationId).filter((r) => r.id > lastRequest);
      if (calls.length || grants.length) ctx.fail('Sentry was called for an uninstalled installation', { actual: describeRequests([...calls, ...grants], { status: true }) });
      if (notificationsFor(ctx, marker).length) ctx.fail('a notification was sent for an uninstalled installation');
    },
  },
  {
    id: 'UNI-003', area: 'uninstall', level: 'MUST',
    title: 'after uninstall no token bytes remain in DATA_DIR',
    clause: { section: SEC5, url: DOCS.installationWebhook },
    requirement: 'installation.deleted purges the credentials: neither the access token nor any refresh token is left in any file.',
    needsDataDir: true,
    async run(ctx) {
      const { tokens } = await installAndUninstall(ctx);
      const leftovers = async () => (await filesUnder(ctx.target.dataDir!)).filter((f) => tokens.some((t) => f.bytes.includes(t)));
      try {
        await ctx.waitFor('DATA_DIR without the uninstalled installation\'s tokens', async () => (await leftovers()).length === 0, 2000);
      } catch {
        const files = (await leftovers()).map((f) => f.relativePath);
        ctx.fail('token bytes left in DATA_DIR after uninstall', { expected: 'no file contains them', actual: files.join(', ') });
      }
    },
  },
  {
    id: 'UNI-004', area: 'uninstall', level: 'MUST',
    title: 'installation.deleted for an unknown installation is acknowledged with 2xx',
    clause: { section: 'sentry-platform.md §13 (2xx for installation.deleted of unknown installs)', url: DOCS.installationWebhook },
    requirement: 'Return 2xx for installation.deleted of installations the integration does not know.',
    async run(ctx) {
      const answer = await postWebhook(ctx, { resource: 'installation', body: installationBody(ctx, 'deleted', uuid()) });
      expectStatus(ctx, answer, is2xx, '2xx', 'installation.deleted of an unknown installation');
    },
  },
  {
    id: 'UNI-005', area: 'uninstall', level: 'SHOULD',
    title: 'a repeated installation.deleted is acknowledged with 2xx',
    clause: { section: 'sentry-platform.md §4.8 (duplicates happen)', url: DOCS.installationWebhook },
    requirement: 'Deletion is idempotent.',
    async run(ctx) {
      const { inst } = await installAndUninstall(ctx);
      const answer = await postWebhook(ctx, { resource: 'installation', body: installationBody(ctx, 'deleted', inst.installationId, inst.orgSlug) });
      expectStatus(ctx, answer, is2xx, '2xx', 'the second installation.deleted');
    },
  },
]);
