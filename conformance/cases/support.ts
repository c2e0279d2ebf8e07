/**
 * Shared steps for conformance cases: a fresh installation, signed webhooks sent straight to the
 * implementation, notification waits, and the tokens Sentry issued per installation.
 *
 * @example
 * const inst = await installFresh(ctx);            // redirect + webhook, exchange done
 * const { marker } = await emitIssue(ctx, inst);   // issue.created through the emulator
 * await waitForNotification(ctx, marker);
 */
import { randomBytes } from 'node:crypto';
import { sign } from '../../src/sentry/signature.ts';
import { sentryJson } from '../../src/sentry/json.ts';
import type { Answer, CaseContext, ConformanceCase, PushoverAttempt } from '../harness.ts';
import type { RecordedRequest } from '../emulator/types.ts';

/** Public doc URLs the clauses cite. */
export const DOCS = {
  publicIntegration: 'https://docs.sentry.io/organization/integrations/integration-platform/public-integration/',
  webhooks: 'https://docs.sentry.io/organization/integrations/integration-platform/webhooks/',
  installationWebhook: 'https://docs.sentry.io/organization/integrations/integration-platform/webhooks/installation/',
  issueWebhooks: 'https://docs.sentry.io/organization/integrations/integration-platform/webhooks/issues/',
  retrieveIssue: 'https://docs.sentry.io/api/events/retrieve-an-issue/',
  pushoverApi: 'https://pushover.net/api',
  pushoverFriendly: 'https://pushover.net/api#friendly',
  avatar: 'https://docs.sentry.io/organization/integrations/integration-platform/public-integration/#image-requirements',
} as const;

/** How the install reaches the implementation. */
export type InstallOrder = 'redirect-then-webhook' | 'webhook-then-redirect' | 'redirect-only' | 'webhook-only' | 'concurrent';

/** A fresh installation the implementation has taken up. */
export interface Installed {
  installationId: string;
  orgSlug: string;
  code: string;
  /** The redirect answer (when the redirect was sent). */
  redirect?: Answer;
  /** The webhook delivery's first attempt status (when the webhook was sent). */
  webhookStatus?: number;
}

/** Paths of the implementation. */
export function paths(ctx: CaseContext): { setup: string; webhook: string } {
  return { setup: ctx.settings.setupPath, webhook: ctx.settings.webhookPath };
}

/** The path + query part of the emulator's redirect URL, re-targeted at the implementation's setup path. */
export function setupPathFrom(ctx: CaseContext, redirectUrl: string): string {
  const u = new URL(redirectUrl);
  return `${ctx.settings.setupPath}${u.search}`;
}

/**
 * Installs the app in a new organization and delivers the install the way `order` says; then waits
 * until the implementation has exchanged the code (and verified, when the app requires it).
 */
export async function installFresh(ctx: CaseContext, options: { order?: InstallOrder; wait?: boolean } = {}): Promise<Installed> {
  const order = options.order ?? 'redirect-then-webhook';
  const org = `org-${randomBytes(4).toString('hex')}`;
  const result = await ctx.sentry.install({ org, sendWebhook: false });
  const installationId = result.installation.uuid;
  const code = result.code;
  if (!code || !result.redirectUrl) ctx.fail('the emulator returned no grant code / redirect URL (harness problem)');
  ctx.secrets.add('grant code', code);
  const installed: Installed = { installationId, orgSlug: org, code };
  const redirect = async () => {
    installed.redirect = await ctx.http.send('GET', setupPathFrom(ctx, result.redirectUrl as string));
  };
  const webhook = async () => {
    const delivery = await ctx.sentry.sendInstallationCreated(installationId);
    ctx.secrets.add('webhook signature', delivery.signature);
    installed.webhookStatus = delivery.attempts[0]?.status;
  };
  switch (order) {
    case 'redirect-then-webhook': await redirect(); await webhook(); break;
    case 'webhook-then-redirect': await webhook(); await redirect(); break;
    case 'redirect-only': await redirect(); break;
    case 'webhook-only': await webhook(); break;
    case 'concurrent': await Promise.all([redirect(), webhook()]); break;
  }
  if (options.wait !== false) await waitInstalled(ctx, installationId);
  return installed;
}

/** Waits until the code was exchanged (201) and, if the app verifies installs, the installation is `installed`. */
export async function waitInstalled(ctx: CaseContext, installationId: string): Promise<void> {
  await ctx.waitFor('the code exchange (201) for the new installation', () =>
    exchanges(ctx, installationId).some((r) => r.status === 201));
  if (ctx.sentry.app.verifyInstall) {
    await ctx.waitFor('the verify-install PUT (installation status "installed")', () =>
      ctx.sentry.installation(installationId)?.status === 'installed');
  }
  rememberTokens(ctx);
}

/** Token-endpoint requests for one installation (all grant types), since the case began. */
export function tokenRequests(ctx: CaseContext, installationId: string, endpoint?: string): RecordedRequest[] {
  return ctx.sentryRequests()
    .filter((r) => r.endpoint.startsWith('token.') && r.path.includes(installationId))
    .filter((r) => !endpoint || r.endpoint === endpoint);
}

/** Code exchanges for one installation. */
export function exchanges(ctx: CaseContext, installationId: string): RecordedRequest[] {
  return tokenRequests(ctx, installationId, 'token.exchange');
}

/** Refresh-token grants for one installation. */
export function refreshes(ctx: CaseContext, installationId: string): RecordedRequest[] {
  return tokenRequests(ctx, installationId, 'token.refresh');
}

/** Every token pair Sentry issued for an installation (oldest first), from the 201 answers. */
export function issuedTokens(ctx: CaseContext, installationId: string): Array<{ token: string; refreshToken: string; endpoint: string }> {
  const out: Array<{ token: string; refreshToken: string; endpoint: string }> = [];
  for (const r of tokenRequests(ctx, installationId)) {
    if (r.status !== 201) continue;
    const body = parseJson(r.responseBody) as { token?: string; refreshToken?: string } | undefined;
    if (body?.token && body.refreshToken) out.push({ token: body.token, refreshToken: body.refreshToken, endpoint: r.endpoint });
  }
  return out;
}

/** Adds every token, refresh token and code seen on the emulator to the secret book. */
export function rememberTokens(ctx: CaseContext): void {
  for (const r of ctx.sentry.requests()) {
    if (!r.endpoint.startsWith('token.')) continue;
    const resp = parseJson(r.responseBody) as { token?: string; refreshToken?: string } | undefined;
    ctx.secrets.add('access token', resp?.token);
    ctx.secrets.add('refresh token', resp?.refreshToken);
    const req = parseJson(r.body) as { code?: string; refresh_token?: string } | undefined;
    ctx.secrets.add('grant code', req?.code);
    ctx.secrets.add('refresh token', req?.refresh_token);
  }
}

/** The bearer token of a recorded request, if any. */
export function bearer(r: RecordedRequest): string | undefined {
  const h = r.headers.authorization ?? r.headers.Authorization;
  const m = /^bearer\s+(.+)$/i.exec(h ?? '');
  return m?.[1];
}

/** API requests (issue, organization, verify, …) carrying one of `tokens`. */
export function callsWithTokens(ctx: CaseContext, tokens: readonly string[]): RecordedRequest[] {
  return ctx.sentryRequests().filter((r) => {
    const b = bearer(r);
    return b !== undefined && tokens.includes(b);
  });
}

/** A unique marker to put in an issue title and find again in the notification. */
export function marker(): string {
  return `CF${randomBytes(5).toString('hex')}`;
}

/** Sends an issue webhook through the emulator with a unique marker in the title. */
export async function emitIssue(
  ctx: CaseContext,
  inst: { installationId: string },
  options: { title?: string; action?: 'created' | 'resolved' | 'assigned' | 'ignored' | 'archived' | 'unresolved'; issueId?: string } = {},
): Promise<{ marker: string; issueId: string; status?: number; durationMs?: number }> {
  const m = marker();
  const { issueId, delivery } = await ctx.sentry.emitIssue({
    installationId: inst.installationId, action: options.action ?? 'created', issueId: options.issueId,
    title: options.title ? `${m} ${options.title}` : `${m} TypeError: cannot read properties of undefined`,
  });
  if (delivery) ctx.secrets.add('webhook signature', delivery.signature);
  return { marker: m, issueId, status: delivery?.attempts[0]?.status, durationMs: delivery?.attempts[0]?.durationMs };
}

/** Pushover messages (since the case began) that mention `m` in any text field. */
export function notificationsFor(ctx: CaseContext, m: string): Array<Record<string, string>> {
  return ctx.notifications().map((n) => n.fields).filter((f) => mentions(f, m));
}

/** Message attempts (accepted or not) that mention `m`. */
export function attemptsFor(ctx: CaseContext, m: string): PushoverAttempt[] {
  return ctx.pushoverAttempts().filter((a) => mentions(a.fields, m));
}

function mentions(fields: Record<string, string>, m: string): boolean {
  return ['title', 'message', 'url', 'url_title', 'tags'].some((k) => (fields[k] ?? '').includes(m));
}

/** Waits for the first accepted notification mentioning `m`. */
export async function waitForNotification(ctx: CaseContext, m: string, timeoutMs?: number): Promise<Record<string, string>> {
  return ctx.waitFor(`a Pushover notification mentioning ${m}`, () => notificationsFor(ctx, m)[0], timeoutMs);
}

/**
 * Proves that nothing more happens for `m`: sends a sentinel issue for the same installation,
 * waits for its notification, then a short grace period (work queued before the sentinel is done).
 */
export async function quietAfter(ctx: CaseContext, inst: { installationId: string }): Promise<void> {
  const sentinel = await emitIssue(ctx, inst, { title: 'sentinel' });
  await waitForNotification(ctx, sentinel.marker);
  await ctx.settle(Math.max(150, ctx.settings.pushoverRetryMinMs * 2));
}

/** Headers Sentry sends with a webhook. */
export function hookHeaders(resource: string, body: string, secret: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'content-type': 'application/json',
    'request-id': randomBytes(16).toString('hex'),
    'sentry-hook-resource': resource,
    'sentry-hook-timestamp': String(Math.floor(Date.now() / 1000)),
    'sentry-hook-signature': sign(secret, body),
    ...extra,
  };
}

/**
 * Posts a webhook straight to the implementation. `signature: null` leaves the signature header
 * out; a string replaces it; `headers` are merged last (may override anything).
 */
export async function postWebhook(
  ctx: CaseContext,
  options: { resource: string; body: string | Buffer; signature?: string | null; headers?: Record<string, string>; timeoutMs?: number },
): Promise<Answer> {
  const secret = ctx.sentry.app.clientSecret;
  const body = typeof options.body === 'string' ? Buffer.from(options.body, 'utf8') : options.body;
  const headers = hookHeaders(options.resource, '', secret);
  headers['sentry-hook-signature'] = sign(secret, body);
  if (options.signature === null) delete headers['sentry-hook-signature'];
  else if (typeof options.signature === 'string') headers['sentry-hook-signature'] = options.signature;
  if (headers['sentry-hook-signature']) ctx.secrets.add('webhook signature', headers['sentry-hook-signature']);
  return ctx.http.send('POST', ctx.settings.webhookPath, {
    headers: { ...headers, ...(options.headers ?? {}) }, body, timeoutMs: options.timeoutMs,
  });
}

/** Sentry's envelope, serialised exactly as Sentry does (compact, `\uXXXX`, key order). */
export function envelope(action: string, installationId: string, data: unknown, actor: unknown = { type: 'application', id: 'sentry', name: 'Sentry' }): string {
  return sentryJson({ action, installation: { uuid: installationId }, data, actor });
}

/** An installation payload (created/deleted) for an installation the caller names. */
export function installationBody(ctx: CaseContext, action: 'created' | 'deleted', installationId: string, orgSlug = 'unknown-org', code?: string): string {
  const app = ctx.sentry.app;
  return envelope(action, installationId, {
    installation: {
      app: { uuid: app.uuid, slug: app.slug }, organization: { slug: orgSlug, id: 4242 }, uuid: installationId,
      status: 'installed', ...(code ? { code } : {}),
    },
  }, { type: 'user', id: 1, name: 'Conformance' });
}

/** A comment.created body with non-ASCII text (Sentry sends it `\uXXXX`-escaped). */
export function commentBody(installationId: string, comment = 'Über 🚀 ünïcödé — 日本語'): string {
  return envelope('created', installationId, {
    comment_id: 1234, issue_id: 100, project_slug: 'sentry', timestamp: '2022-03-02T21:51:44.118160Z', comment,
  }, { type: 'user', id: 1, name: 'colleen' });
}

/** A random UUID v4 string. */
export function uuid(): string {
  return crypto.randomUUID();
}

/** Fails unless `answer.status` satisfies `ok`. */
export function expectStatus(ctx: CaseContext, answer: Answer, ok: (status: number) => boolean, expected: string, what: string): void {
  if (!ok(answer.status)) {
    ctx.fail(`${what}: answered ${answer.status}`, { expected, actual: `${answer.status} ${answer.body.slice(0, 200)}` });
  }
}

export const is2xx = (s: number): boolean => s >= 200 && s < 300;
export const is4xx = (s: number): boolean => s >= 400 && s < 500;

/** Checks the implementation still serves: a correctly signed webhook of an unknown resource gets 2xx. */
export async function expectStillServing(ctx: CaseContext): Promise<void> {
  const body = envelope('pinged', uuid(), { probe: true });
  let answer: Answer;
  try {
    answer = await postWebhook(ctx, { resource: 'conformance_probe', body });
  } catch (error) {
    ctx.fail('the implementation stopped answering after the bad request', { expected: 'a 2xx for a valid signed webhook', actual: (error as Error).message });
  }
  expectStatus(ctx, answer, is2xx, '2xx for a valid signed webhook', 'still serving');
}

/** JSON.parse that returns undefined instead of throwing. */
export function parseJson(text: string): unknown {
  try { return JSON.parse(text); } catch { return undefined; }
}

/** An issue.created body built by the harness (for installations the emulator no longer serves). */
export function issueBody(installationId: string, orgSlug: string, issueId: string, title: string): string {
  const web = `https://${orgSlug}.sentry.io/issues/${issueId}/`;
  return envelope('created', installationId, {
    issue: {
      url: `https://sentry.io/api/0/organizations/${orgSlug}/issues/${issueId}/`, web_url: web,
      project_url: `https://${orgSlug}.sentry.io/issues/?project=1`, annotations: [], assignedTo: null, count: '1',
      culprit: 'app.js in handler', firstSeen: '2026-01-01T00:00:00.000000Z', hasSeen: false, id: issueId,
      isBookmarked: false, isPublic: false, isSubscribed: false, lastSeen: '2026-01-01T00:00:00.000000Z', level: 'error',
      logger: null, metadata: { type: 'Error', value: title }, numComments: 0, permalink: null, platform: 'javascript',
      project: { id: '1', name: 'front-end', platform: '', slug: 'front-end' }, shareId: null, shortId: 'FRONT-END-1',
      status: 'unresolved', statusDetails: {}, subscriptionDetails: null, substatus: 'new', title, type: 'error', userCount: 1,
    },
  });
}

/** Identity helper so case files get type checking and completion. */
export function defineCases<T extends ConformanceCase[]>(cases: T): T {
  return cases;
}
