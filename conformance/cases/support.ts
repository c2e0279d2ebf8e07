/**
 * Shared steps for conformance cases, so each case states its requirement in a few lines: fresh
 * installations, signed webhooks sent straight to the implementation, notification waits, what
 * Sentry saw (token grants, API calls) and the checks every area repeats.
 *
 * @example
 * const inst = await installFresh(ctx);              // redirect + webhook, exchange done
 * expireTokens(ctx);                                 // 8 h later on the emulator's clock
 * const issue = await notifiedIssue(ctx, inst);      // issue.created → a Pushover message
 * expectCount(ctx, granted(refreshes(ctx, inst.installationId)).length, 1, 'successful refreshes');
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { sign } from '../../src/sentry/signature.ts';
import { sentryJson } from '../../src/sentry/json.ts';
import { parseJson, rememberSentrySecrets, type Answer, type CaseContext, type ConformanceCase, type PushoverAttempt } from '../harness.ts';
import type { DeliveryRecord, RecordedRequest } from '../emulator/types.ts';

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

/**
 * Identity helper so case files get type checking and completion.
 *
 * @example
 * export default defineCases([{ id: 'TOK-001', area: 'tokens', level: 'MUST', … , async run(ctx) {} }]);
 */
export function defineCases<T extends ConformanceCase[]>(cases: T): T {
  return cases;
}

// ---------------------------------------------------------------------------------------------
// Installing

/** How the install reaches the implementation. */
export type InstallOrder = 'redirect-then-webhook' | 'webhook-then-redirect' | 'redirect-only' | 'webhook-only' | 'concurrent';

/** An installation Sentry has made but the implementation has not heard of (no redirect, no webhook yet). */
export interface PendingInstall {
  installationId: string;
  orgSlug: string;
  /** The single-use grant code (in the secret book). */
  code: string;
  /** Where Sentry sends the browser: the app's redirect URL with installationId, code and orgSlug. */
  redirectUrl: string;
}

/** A fresh installation the implementation has taken up. */
export interface Installed extends Omit<PendingInstall, 'redirectUrl'> {
  /** The redirect answer (when the redirect was sent). */
  redirect?: Answer;
  /** The webhook delivery's first attempt status (when the webhook was sent). */
  webhookStatus?: number;
}

/**
 * Installs the app in a new organization (`org-<label>-<random>`) without telling the implementation.
 *
 * @example
 * const pending = await pendingInstall(ctx, 'expired');
 * ctx.sentry.advanceClock(11 * 60_000);
 * await sendRedirect(ctx, pending);
 */
export async function pendingInstall(ctx: CaseContext, label?: string): Promise<PendingInstall> {
  const org = ['org', label, randomBytes(4).toString('hex')].filter(Boolean).join('-');
  const result = await ctx.sentry.install({ org, sendWebhook: false });
  const { code, redirectUrl } = result;
  if (!code || !redirectUrl) return ctx.fail('the emulator returned no grant code / redirect URL (harness problem)');
  ctx.secrets.add('grant code', code);
  return { installationId: result.installation.uuid, orgSlug: org, code, redirectUrl };
}

/**
 * The setup path plus the query of Sentry's redirect URL, with `query` changes applied (a string
 * sets a parameter, `null` removes it).
 */
export function setupPathFrom(ctx: CaseContext, redirectUrl: string, query: Record<string, string | null> = {}): string {
  const url = new URL(redirectUrl);
  for (const [name, value] of Object.entries(query)) {
    if (value === null) url.searchParams.delete(name);
    else url.searchParams.set(name, value);
  }
  return `${ctx.settings.setupPath}${url.search}`;
}

/**
 * Sends the browser's GET of the setup path for `pending` (optionally with a changed query).
 *
 * @example
 * const answer = await sendRedirect(ctx, pending, { code: null }); // no code
 */
export function sendRedirect(ctx: CaseContext, pending: PendingInstall, query: Record<string, string | null> = {}): Promise<Answer> {
  return ctx.http.send('GET', setupPathFrom(ctx, pending.redirectUrl, query));
}

/** Has the emulator deliver installation.created (with the grant code) to the implementation. */
export async function deliverInstallationCreated(ctx: CaseContext, installationId: string): Promise<DeliveryRecord> {
  const delivery = await ctx.sentry.sendInstallationCreated(installationId);
  ctx.secrets.add('webhook signature', delivery.signature);
  return delivery;
}

/**
 * Installs the app in a new organization and delivers the install the way `order` says; then waits
 * until the implementation has exchanged the code (and verified, when the app requires it).
 */
export async function installFresh(ctx: CaseContext, options: { order?: InstallOrder; wait?: boolean } = {}): Promise<Installed> {
  const pending = await pendingInstall(ctx);
  const installed: Installed = { installationId: pending.installationId, orgSlug: pending.orgSlug, code: pending.code };
  const redirect = async () => {
    installed.redirect = await sendRedirect(ctx, pending);
  };
  const webhook = async () => {
    installed.webhookStatus = (await deliverInstallationCreated(ctx, pending.installationId)).attempts[0]?.status;
  };
  switch (options.order ?? 'redirect-then-webhook') {
    case 'redirect-then-webhook': await redirect(); await webhook(); break;
    case 'webhook-then-redirect': await webhook(); await redirect(); break;
    case 'redirect-only': await redirect(); break;
    case 'webhook-only': await webhook(); break;
    case 'concurrent': await Promise.all([redirect(), webhook()]); break;
  }
  if (options.wait !== false) await waitInstalled(ctx, pending.installationId);
  return installed;
}

/**
 * Sessions (by their Sentry emulator) in which an install already waited the full time for a verify that
 * never came. Every case that installs waits for verify, so one implementation without it would cost each
 * of them the whole wait (~10 minutes for a run); once one install has missed it, later installs wait a
 * fifth of it ({@link VERIFY_FAST_FAIL_FRACTION}) and say why. Any verify seen (including a late one for
 * the install that missed it) clears the mark, so an implementation that verifies keeps the full wait.
 */
const missedVerify = new WeakMap<object, { waitedMs: number; installationId: string }>();

/** The shortened verify wait after a miss, as a fraction of --wait-ms (2 s of the default 10 s). */
export const VERIFY_FAST_FAIL_FRACTION = 1 / 5;

/** Waits until the code was exchanged (201) and, if the app verifies installs, the installation is `installed`. */
export async function waitInstalled(ctx: CaseContext, installationId: string): Promise<void> {
  await ctx.waitFor('the code exchange (201) for the new installation', () =>
    granted(exchanges(ctx, installationId)).length > 0);
  if (ctx.sentry.app.verifyInstall) {
    // Every case that installs stops here when verify is missing: say what to send and where it is specified.
    const what = 'the verify-install PUT (installation status "installed"); the implementation runs with ' +
      'VERIFY_INSTALL=true, so after the exchange it must send PUT /api/0/sentry-app-installations/{uuid}/ ' +
      '{"status":"installed"} with the new token (sentry-platform.md §3; VER-001..VER-004)';
    const verified = () => ctx.sentry.installation(installationId)?.status === 'installed';
    let missed = missedVerify.get(ctx.sentry);
    if (missed && ctx.sentry.installation(missed.installationId)?.status === 'installed') {
      missedVerify.delete(ctx.sentry);
      missed = undefined;
    }
    const fullMs = ctx.settings.waitMs;
    const waitMs = missed ? Math.round(fullMs * VERIFY_FAST_FAIL_FRACTION) : fullMs;
    const why = missed
      ? ` — wait shortened from ${fullMs} ms to ${waitMs} ms (fail fast) because an earlier case's install already waited ` +
        `${missed.waitedMs} ms for its verify in vain; the full wait returns once a verify is seen`
      : '';
    try {
      await ctx.waitFor(what + why, verified, waitMs);
    } catch (error) {
      // Only a wait that ran out counts as a missing verify (not a crashed process).
      if (!missed && !verified() && !ctx.target.exited()) missedVerify.set(ctx.sentry, { waitedMs: fullMs, installationId });
      throw error;
    }
    missedVerify.delete(ctx.sentry);
  }
  rememberTokens(ctx);
}

// ---------------------------------------------------------------------------------------------
// Uninstalling

/** An installation that was installed and then uninstalled through the emulator. */
export interface Uninstalled {
  inst: Installed;
  /** Every access and refresh token Sentry issued for it. */
  tokens: string[];
  /** The installation.deleted delivery. */
  delivery: DeliveryRecord | undefined;
  /** Id of the last request Sentry saw once the uninstall was delivered. */
  lastRequest: number;
}

/** Installs, uninstalls through the emulator, and returns the installation with its tokens. */
export async function installAndUninstall(ctx: CaseContext): Promise<Uninstalled> {
  const inst = await installFresh(ctx);
  const tokens = issuedTokens(ctx, inst.installationId).flatMap((t) => [t.token, t.refreshToken]);
  const delivery = await ctx.sentry.uninstall(inst.installationId);
  rememberTokens(ctx);
  return { inst, tokens, delivery, lastRequest: lastRequestId(ctx) };
}

/** Sends a signed issue.created for an (uninstalled) installation; `marker` finds its notification. */
export async function pokeUninstalled(ctx: CaseContext, inst: { installationId: string; orgSlug: string }): Promise<{ marker: string; answer: Answer }> {
  const m = marker();
  const answer = await postWebhook(ctx, { resource: 'issue', body: issueBody(inst.installationId, inst.orgSlug, '998877', `${m} after uninstall`) });
  return { marker: m, answer };
}

/** Every regular file under `dir` (recursively) with its bytes and its path relative to `dir`. */
export async function filesUnder(dir: string): Promise<Array<{ path: string; relativePath: string; bytes: Buffer }>> {
  const out: Array<{ path: string; relativePath: string; bytes: Buffer }> = [];
  const walk = async (d: string) => {
    let entries;
    try { entries = await readdir(d, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) { try { out.push({ path: p, relativePath: relative(dir, p), bytes: await readFile(p) }); } catch { /* vanished */ } }
    }
  };
  await walk(dir);
  return out;
}

// ---------------------------------------------------------------------------------------------
// What Sentry saw

/** A little more than the access-token lifetime of 8 hours (sentry-platform.md §2.4). */
export const PAST_TOKEN_LIFETIME_MS = 8 * 3600_000 + 60_000;

/**
 * Moves the emulator's clock past the access-token lifetime: every token issued so far is expired,
 * while the implementation's own clock still says it is young (it learns from a 401 "Token expired").
 */
export function expireTokens(ctx: CaseContext): void {
  ctx.sentry.advanceClock(PAST_TOKEN_LIFETIME_MS);
}

/** Scripts the next issue fetch to answer 401 "Token expired": expiry for cases at real time ({@link CaseContext.atRealTime}). */
export function scriptTokenExpired(ctx: CaseContext): void {
  ctx.sentry.inject({ endpoint: 'issue', kind: 'status', status: 401, body: '{"detail":"Token expired"}', count: 1 });
}

/** Token-endpoint requests for one installation (all grant types, or one `endpoint`), since the case began. */
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

/** The refresh tokens the implementation sent in its refresh grants, in order ('' when none). */
export function refreshTokensSent(ctx: CaseContext, installationId: string): string[] {
  return refreshes(ctx, installationId).map((r) => (parseJson(r.body) as { refresh_token?: string } | undefined)?.refresh_token ?? '');
}

/** The token requests Sentry granted (answered 201). */
export function granted(requests: readonly RecordedRequest[]): RecordedRequest[] {
  return requests.filter((r) => r.status === 201);
}

/**
 * The first `max` items joined with ", ", and how many were left out — for failure messages about lists
 * that grow with the run (files in DATA_DIR, requests).
 * @example firstOf(['a', 'b', 'c'], 2) // 'a, b, and 1 more'
 */
export function firstOf(items: readonly string[], max = 10): string {
  const shown = items.slice(0, max).join(', ');
  return items.length > max ? `${shown}, and ${items.length - max} more` : shown;
}

/** Verify-install PUTs for one installation. */
export function verifies(ctx: CaseContext, installationId: string): RecordedRequest[] {
  return ctx.sentryRequests({ endpoint: 'verify' }).filter((r) => r.path.includes(installationId));
}

/** Every request to Sentry's API for one issue (any path with `/issues/<id>/`). */
export function issueFetches(ctx: CaseContext, issueId: string): RecordedRequest[] {
  return ctx.sentryRequests().filter((r) => r.path.includes(`/issues/${issueId}/`));
}

/** Every token pair Sentry issued for an installation (oldest first), from the 201 answers. */
export function issuedTokens(ctx: CaseContext, installationId: string): Array<{ token: string; refreshToken: string; endpoint: string }> {
  const out: Array<{ token: string; refreshToken: string; endpoint: string }> = [];
  for (const r of granted(tokenRequests(ctx, installationId))) {
    const body = parseJson(r.responseBody) as { token?: string; refreshToken?: string } | undefined;
    if (body?.token && body.refreshToken) out.push({ token: body.token, refreshToken: body.refreshToken, endpoint: r.endpoint });
  }
  return out;
}

/** Adds every credential seen on the Sentry emulator to the secret book ({@link rememberSentrySecrets}). */
export function rememberTokens(ctx: CaseContext): void {
  rememberSentrySecrets(ctx.sentry, ctx.secrets);
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

/** Id of the last request the emulator recorded (0 when none): "after this point" for later filters. */
export function lastRequestId(ctx: CaseContext): number {
  return ctx.sentry.requests().at(-1)?.id ?? 0;
}

/** `METHOD path` of each request (with `→ status` when asked), for a failure's `actual`. */
export function describeRequests(requests: readonly RecordedRequest[], options: { status?: boolean } = {}): string {
  return requests.map((r) => `${r.method} ${r.path}${options.status ? ` → ${r.status}` : ''}`).join('; ');
}

// ---------------------------------------------------------------------------------------------
// Issues and notifications

/** A unique marker to put in an issue title and find again in the notification. */
export function marker(): string {
  return `CF${randomBytes(5).toString('hex')}`;
}

/** What {@link emitIssue} returns: the marker in the title and the first delivery attempt. */
export interface EmittedIssue {
  marker: string;
  issueId: string;
  status?: number;
  durationMs?: number;
  /** Why the first attempt got no answer (status 0), e.g. `timeout after 1000 ms`. */
  error?: string;
}

/** Sends an issue webhook through the emulator with a unique marker in the title. */
export async function emitIssue(
  ctx: CaseContext,
  inst: { installationId: string },
  options: { title?: string; action?: 'created' | 'resolved' | 'assigned' | 'ignored' | 'archived' | 'unresolved'; issueId?: string } = {},
): Promise<EmittedIssue> {
  const m = marker();
  const { issueId, delivery } = await ctx.sentry.emitIssue({
    installationId: inst.installationId, action: options.action ?? 'created', issueId: options.issueId,
    title: options.title ? `${m} ${options.title}` : `${m} TypeError: cannot read properties of undefined`,
  });
  if (delivery) ctx.secrets.add('webhook signature', delivery.signature);
  const first = delivery?.attempts[0];
  return { marker: m, issueId, status: first?.status, durationMs: first?.durationMs, ...(first?.error ? { error: first.error } : {}) };
}

/**
 * Emits an issue.created and waits for its notification: the installation works end to end.
 *
 * @example
 * const issue = await notifiedIssue(ctx, inst, { title: 'Übersicht' });
 * issue.notification.title; // the Pushover fields
 */
export async function notifiedIssue(
  ctx: CaseContext,
  inst: { installationId: string },
  options: { title?: string } = {},
): Promise<EmittedIssue & { notification: Record<string, string> }> {
  const issue = await emitIssue(ctx, inst, options);
  return { ...issue, notification: await waitForNotification(ctx, issue.marker) };
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
 * Proves that nothing more happens for earlier issues: sends a sentinel issue for the same
 * installation, waits for its notification, then a short grace period (work queued before the
 * sentinel is done).
 */
export async function quietAfter(ctx: CaseContext, inst: { installationId: string }): Promise<void> {
  await notifiedIssue(ctx, inst, { title: 'sentinel' });
  await ctx.settle(Math.max(150, ctx.settings.pushoverRetryMinMs * 2));
}

// ---------------------------------------------------------------------------------------------
// Webhooks sent by the harness

/**
 * Posts a webhook straight to the implementation with Sentry's headers, signed over the exact bytes.
 * `signature: null` leaves the signature header out; a string replaces it; `headers` are merged
 * last (may override anything).
 */
export async function postWebhook(
  ctx: CaseContext,
  options: { resource: string; body: string | Buffer; signature?: string | null; headers?: Record<string, string>; timeoutMs?: number },
): Promise<Answer> {
  const body = typeof options.body === 'string' ? Buffer.from(options.body, 'utf8') : options.body;
  const signature = options.signature === undefined ? sign(ctx.sentry.app.clientSecret, body) : options.signature;
  if (signature) ctx.secrets.add('webhook signature', signature);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'request-id': randomBytes(16).toString('hex'),
    'sentry-hook-resource': options.resource,
    'sentry-hook-timestamp': String(Math.floor(Date.now() / 1000)),
    ...(signature === null ? {} : { 'sentry-hook-signature': signature }),
    ...options.headers,
  };
  return ctx.http.send('POST', ctx.settings.webhookPath, { headers, body, timeoutMs: options.timeoutMs });
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

/** An issue.created body built by the harness (for installations or issues the emulator does not serve). */
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

/** A random UUID v4 string. */
export function uuid(): string {
  return crypto.randomUUID();
}

/** JSON.parse that returns undefined instead of throwing (the harness's, for the cases). */
export { parseJson };

// ---------------------------------------------------------------------------------------------
// Checks

/** 2xx: accepted. */
export const is2xx = (s: number): boolean => s >= 200 && s < 300;
/** 4xx: refused as a bad request. */
export const is4xx = (s: number): boolean => s >= 400 && s < 500;
/** What a browser can be shown after an install: a page (2xx) or a redirect (3xx). */
export const isPage = (s: number): boolean => s >= 200 && s < 400;
/** Anything but a server error. */
export const isNot5xx = (s: number): boolean => s < 500;

/** Fails unless `answer.status` satisfies `ok`. */
export function expectStatus(ctx: CaseContext, answer: Answer, ok: (status: number) => boolean, expected: string, what: string): void {
  if (!ok(answer.status)) {
    ctx.fail(`${what}: answered ${answer.status}`, { expected, actual: `${answer.status} ${answer.body.slice(0, 200)}` });
  }
}

/**
 * A delivery attempt's status as a reader should see it: the emulator records a timeout or connection
 * error as status 0 (as Sentry does), which on its own reads like an HTTP status.
 */
function deliveryStatus(status: number | undefined, error?: string): string {
  return status === 0 ? `no answer (${error ?? 'timeout or connection error'})` : String(status);
}

/** Fails with `message` unless a webhook's status (e.g. an emulator delivery's first attempt) is 2xx. */
export function expectAcked(ctx: CaseContext, status: number | undefined, message: string): void {
  if (!is2xx(status ?? 0)) ctx.fail(message, { expected: '2xx', actual: deliveryStatus(status) });
}

/** Fails unless a webhook was acknowledged 2xx in under 1 s (sentry-platform.md §4.1). */
export function expectAckedWithin1s(ctx: CaseContext, what: string, attempt: { status?: number; durationMs?: number; error?: string } | undefined): void {
  const { status, durationMs, error } = attempt ?? {};
  if (!status || !is2xx(status) || (durationMs ?? Infinity) >= 1000) {
    ctx.fail(`${what} was not acknowledged 2xx within 1 s`, { expected: '2xx in < 1000 ms', actual: `${deliveryStatus(status, error)} after ${durationMs} ms` });
  }
}

/** Fails with `message` when a status is a 5xx. */
export function expectNot5xx(ctx: CaseContext, status: number | undefined, message: string): void {
  if ((status ?? 0) >= 500) ctx.fail(message, { expected: 'not 5xx', actual: String(status) });
}

/** Fails with `message` unless `actual` is `expected` (a count of requests, refreshes, notifications…). */
export function expectCount(ctx: CaseContext, actual: number, expected: number, message: string): void {
  if (actual !== expected) ctx.fail(message, { expected: String(expected), actual: String(actual) });
}

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
