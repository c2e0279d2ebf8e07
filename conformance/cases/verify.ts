/**
 * Verify install: with "Verify Install" on, the integration PUTs {"status":"installed"} with the
 * new access token, after the exchange (the harness runs the implementation with VERIFY_INSTALL=true
 * and the emulator's app has verifyInstall on).
 */
import {
  DOCS, bearer, defineCases, deliverInstallationCreated, exchanges, granted, installFresh, issuedTokens,
  parseJson, verifies,
} from './support.ts';

const SEC3 = 'sentry-platform.md §3';
/** A verify PUT Sentry accepted. */
const accepted = (r: { status: number }) => r.status === 200;

export default defineCases([
  {
    id: 'VER-001', area: 'verify', level: 'MUST',
    title: 'after a redirect install the installation is verified (status installed)',
    clause: { section: SEC3, url: DOCS.publicIntegration },
    requirement: 'With Verify Install on, the integration sends PUT /api/0/sentry-app-installations/{uuid}/ {"status":"installed"} once it holds the token.',
    async run(ctx) {
      const inst = await installFresh(ctx, { order: 'redirect-only' });
      if (!verifies(ctx, inst.installationId).some(accepted)) ctx.fail('no successful verify PUT');
    },
  },
  {
    id: 'VER-002', area: 'verify', level: 'MUST',
    title: 'verify carries {"status":"installed"} and the bearer token from the exchange',
    clause: { section: `${SEC3} (Auth, Body)`, url: DOCS.publicIntegration },
    requirement: 'Authorization: Bearer <the new access token>; body {"status":"installed"} — the only accepted value.',
    async run(ctx) {
      const inst = await installFresh(ctx, { order: 'redirect-only' });
      const issued = issuedTokens(ctx, inst.installationId)[0];
      const put = verifies(ctx, inst.installationId)[0];
      if (!put || !issued) return ctx.fail('no verify PUT / no issued token seen');
      const body = parseJson(put.body) as { status?: string } | undefined;
      if (body?.status !== 'installed') ctx.fail('verify body is not {"status":"installed"}', { actual: put.body.slice(0, 200) });
      if (bearer(put) !== issued.token) ctx.fail('verify did not use the token from the exchange', { expected: 'Bearer <new token>', actual: put.headers.authorization ? 'another bearer' : 'no Authorization header' });
    },
  },
  {
    id: 'VER-003', area: 'verify', level: 'MUST',
    title: 'verify is never sent before the exchange succeeded',
    clause: { section: `${SEC3}; §13 (persist before verifying)`, url: DOCS.publicIntegration },
    requirement: 'Verify after the token is persisted: no PUT precedes the 201 of the exchange.',
    async run(ctx) {
      const inst = await installFresh(ctx, { order: 'webhook-then-redirect' });
      const first201 = granted(exchanges(ctx, inst.installationId))[0];
      const early = verifies(ctx, inst.installationId).filter((r) => !first201 || r.id < first201.id);
      if (early.length) ctx.fail('a verify PUT was sent before the exchange succeeded', { actual: `${early.length} early PUT(s), status ${early[0]?.status}` });
    },
  },
  {
    id: 'VER-004', area: 'verify', level: 'MUST',
    title: 'a webhook-only install is verified too',
    clause: { section: SEC3, url: DOCS.publicIntegration },
    requirement: 'Whichever path exchanged the code, the installation is verified.',
    async run(ctx) {
      const inst = await installFresh(ctx, { order: 'webhook-only' });
      if (!verifies(ctx, inst.installationId).some(accepted)) ctx.fail('no successful verify PUT');
    },
  },
  {
    id: 'VER-005', area: 'verify', level: 'SHOULD',
    title: 'verify is sent once, not repeated for a duplicate installation.created',
    clause: { section: `${SEC3} (idempotent)`, url: DOCS.publicIntegration },
    requirement: 'Verify is idempotent on Sentry\'s side, but a duplicate webhook need not repeat it.',
    async run(ctx) {
      const inst = await installFresh(ctx);
      await deliverInstallationCreated(ctx, inst.installationId);
      await ctx.settle(150);
      const n = verifies(ctx, inst.installationId).length;
      if (n > 1) ctx.fail('verify sent more than once', { expected: '1', actual: String(n) });
    },
  },
]);
