/** Token exchange and the use of the access token on Sentry's API. */
import {
  DOCS, bearer, defineCases, describeRequests, exchanges, installFresh, issueFetches, issuedTokens, notifiedIssue,
  parseJson, refreshes,
} from './support.ts';

const SEC2 = 'sentry-platform.md §2.1';

export default defineCases([
  {
    id: 'TOK-001', area: 'tokens', level: 'MUST',
    title: 'the exchange is JSON with grant_type, code and client credentials in the body',
    clause: { section: SEC2, url: DOCS.publicIntegration },
    requirement: 'POST …/authorizations/ with Content-Type application/json and {"grant_type":"authorization_code","code","client_id","client_secret"} (form bodies get 401).',
    async run(ctx) {
      const inst = await installFresh(ctx, { order: 'redirect-only' });
      const req = exchanges(ctx, inst.installationId)[0];
      if (!req) return ctx.fail('no exchange request');
      const ct = req.headers['content-type'] ?? '';
      if (!ct.startsWith('application/json')) ctx.fail('exchange Content-Type is not application/json', { actual: ct || '(none)' });
      const body = parseJson(req.body) as Record<string, unknown> | undefined;
      const app = ctx.sentry.app;
      if (body?.grant_type !== 'authorization_code' || body.code !== inst.code || body.client_id !== app.clientId || body.client_secret !== app.clientSecret) {
        ctx.fail('exchange body lacks grant_type/code/client_id/client_secret', { expected: 'authorization_code + the redirect\'s code + app credentials', actual: `keys ${Object.keys(body ?? {}).join(',')}` });
      }
    },
  },
  {
    id: 'TOK-002', area: 'tokens', level: 'MUST',
    title: 'server-to-server calls carry no Origin header',
    clause: { section: 'sentry-platform.md §7', url: DOCS.publicIntegration },
    requirement: 'A token-authenticated request with an Origin header is checked against Authorized Origins and fails with 400 Invalid origin; server calls send none.',
    async run(ctx) {
      await notifiedIssue(ctx, await installFresh(ctx));
      const withOrigin = ctx.sentryRequests().filter((r) => r.headers.origin !== undefined);
      if (withOrigin.length) ctx.fail('requests with an Origin header', { actual: describeRequests(withOrigin) });
    },
  },
  {
    id: 'TOK-003', area: 'tokens', level: 'MUST',
    title: 'API calls use Authorization: Bearer with the current access token',
    clause: { section: 'sentry-platform.md §6 (Auth header)', url: DOCS.retrieveIssue },
    requirement: 'Call the API with Authorization: Bearer <token>; the issue fetch for a new issue uses the token Sentry issued.',
    async run(ctx) {
      const inst = await installFresh(ctx);
      const issue = await notifiedIssue(ctx, inst);
      const tokens = issuedTokens(ctx, inst.installationId).map((t) => t.token);
      const issueCalls = issueFetches(ctx, issue.issueId);
      if (!issueCalls.length) ctx.fail('the issue was never fetched from the API (the contract: fetch it with the token)');
      const bad = issueCalls.filter((r) => !tokens.includes(bearer(r) ?? ''));
      if (bad.length) ctx.fail('issue fetched without the installation\'s token', { actual: bad.map((r) => `${r.status} ${r.headers.authorization ? 'other bearer' : 'no auth'}`).join('; ') });
    },
  },
  {
    id: 'TOK-004', area: 'tokens', level: 'SHOULD',
    title: 'the issue is fetched through the organization-scoped path',
    clause: { section: 'sentry-platform.md §6 (Issue path; regions)', url: DOCS.retrieveIssue },
    requirement: 'Use GET /api/0/organizations/{org}/issues/{id}/ with the installation\'s own organization, and get the issue (200); the legacy /api/0/issues/{id}/ cannot be routed to EU orgs.',
    async run(ctx) {
      const inst = await installFresh(ctx);
      const issue = await notifiedIssue(ctx, inst);
      const calls = issueFetches(ctx, issue.issueId);
      const legacy = calls.filter((r) => !r.path.includes('/organizations/'));
      if (!calls.length) ctx.fail('the issue was never fetched');
      if (legacy.length) ctx.fail('legacy issue path used', { actual: legacy.map((r) => r.path).join('; ') });
      // Some organization-scoped path is not enough: the installation's own org (its slug or id), answered
      // 200 (a path built with an empty or wrong org is a 404 that the notification may hide by falling back).
      if (!calls.some((r) => r.endpoint === 'issue' && r.status === 200)) {
        ctx.fail('the issue was not fetched from its organization\'s path', {
          expected: `GET /api/0/organizations/${inst.orgSlug}/issues/${issue.issueId}/ → 200`,
          actual: calls.map((r) => `${r.method} ${r.path} → ${r.status}`).join('; '),
        });
      }
    },
  },
  {
    id: 'TOK-005', area: 'tokens', level: 'SHOULD',
    title: 'no refresh while the access token is valid',
    clause: { section: 'sentry-platform.md §10 (10 refreshes / 60 s), §13', url: DOCS.publicIntegration },
    requirement: 'Refresh proactively near expiry, not on every call: refreshes are rate-limited (429 after 10 per minute).',
    async run(ctx) {
      const inst = await installFresh(ctx);
      for (let i = 0; i < 2; i++) await notifiedIssue(ctx, inst);
      const n = refreshes(ctx, inst.installationId).length;
      if (n) ctx.fail('refreshed although the token had hours left', { expected: '0', actual: String(n) });
    },
  },
  {
    id: 'TOK-006', area: 'tokens', level: 'MUST',
    title: 'the client secret goes only to the token endpoint',
    clause: { section: 'sentry-platform.md §2.1, §13 (never log secrets)', url: DOCS.publicIntegration },
    requirement: 'The client secret appears only in token-endpoint bodies: never in API calls, URLs or notifications.',
    async run(ctx) {
      await notifiedIssue(ctx, await installFresh(ctx));
      const secret = ctx.sentry.app.clientSecret;
      const leaks = ctx.sentryRequests().filter((r) => !r.endpoint.startsWith('token.') && (r.path + JSON.stringify(r.headers) + r.body).includes(secret));
      const pushLeaks = ctx.pushoverAttempts().filter((a) => JSON.stringify(a.fields).includes(secret));
      if (leaks.length || pushLeaks.length) ctx.fail('client secret sent outside the token endpoint', { actual: [describeRequests(leaks), ...(pushLeaks.length ? ['Pushover message'] : [])].filter(Boolean).join('; ') });
    },
  },
]);
