/**
 * The Sentry API client the integration needs: token grants (authorization code, refresh token,
 * JWT bearer), verify-install, organization and issue reads. Built on undici with an injected base
 * URL and dispatcher; every failure is a {@link SentryApiError} typed by class and carrying Sentry's
 * `detail`. Server-to-server calls never send an `Origin` header (Sentry would check it against the
 * app's Authorized Origins and answer 400).
 *
 * @example
 * const api = createSentryApi({ baseUrl: 'https://sentry.io', clientId, clientSecret });
 * const grant = await api.exchange(installationId, code);
 * await api.verifyInstallation(installationId, grant.token);
 */
import { createHmac, randomUUID } from 'node:crypto';
import { request, type Dispatcher } from 'undici';
import type { Clock } from '../clock.ts';
import { systemClock } from '../clock.ts';
import { isSlug, isUuid, parseTokenGrant, PayloadError, type TokenGrant } from './payloads.ts';
import { checkRegionUrl, printableRegionUrl } from './region.ts';

export type { TokenGrant } from './payloads.ts';

/** What went wrong, by class. */
export type SentryApiErrorKind =
  | 'auth' // 401
  | 'forbidden' // 403
  | 'not-found' // 404
  | 'rate-limited' // 429
  | 'server' // 5xx
  | 'network' // no answer: refused, reset, timeout, dropped
  | 'invalid'; // other 4xx, or a 2xx whose body is not what Sentry documents

/** A failed Sentry API call. `detail` is Sentry's `{"detail": …}` text when it sent one. */
export class SentryApiError extends Error {
  readonly kind: SentryApiErrorKind;
  /** HTTP status, or 0 when no answer arrived. */
  readonly status: number;
  readonly detail: string | undefined;
  /** Which call failed: 'exchange', 'refresh', 'jwt', 'verify', 'issue', 'organization'. */
  readonly operation: string;
  /** For `network`: whether the request may have reached Sentry (a lost answer), as opposed to refused before sending. */
  readonly maybeCommitted: boolean;
  constructor(init: { kind: SentryApiErrorKind; status: number; detail?: string; operation: string; maybeCommitted?: boolean; message?: string }) {
    super(init.message ?? `Sentry ${init.operation} failed: ${init.status || init.kind}${init.detail ? ` ${init.detail}` : ''}`);
    this.name = 'SentryApiError';
    this.kind = init.kind;
    this.status = init.status;
    this.detail = init.detail;
    this.operation = init.operation;
    this.maybeCommitted = init.maybeCommitted ?? (init.kind === 'network' || init.kind === 'server');
  }
}

/** Options for {@link createSentryApi}. */
export interface SentryApiOptions {
  /** e.g. `https://sentry.io` (no trailing slash needed). */
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  dispatcher?: Dispatcher;
  /** Per-request deadline (headers and body), default 10 s. */
  timeoutMs?: number;
  /** Used for JWT `iat`/`exp`; inject the emulator's clock in tests. */
  clock?: Clock;
}

/** The organization fields the server uses. */
export interface Organization {
  slug: string;
  id?: string;
  /** `links.regionUrl`, e.g. `https://de.sentry.io`, validated by {@link checkRegionUrl} against the base URL (no trailing slash). */
  regionUrl?: string;
  /** Set instead of `regionUrl` when Sentry sent one that is not an acceptable http(s) URL (printable form). */
  regionUrlRefused?: { value: string; reason: string };
}

/** The verify-install answer's useful parts. */
export interface VerifiedInstallation {
  appSlug?: string;
  orgSlug?: string;
  orgId?: number | string;
  status?: string;
}

/** The Sentry API as the server uses it. */
export interface SentryApi {
  /** `authorization_code` grant. */
  exchange(installationId: string, code: string, state?: string): Promise<TokenGrant>;
  /** `refresh_token` grant: the refresh token is single-use; persist the answer before using it. */
  refresh(installationId: string, refreshToken: string): Promise<TokenGrant>;
  /** JWT-bearer manual refresh: HS256 JWT signed with the client secret, fresh `jti` per call. */
  jwtRefresh(installationId: string): Promise<TokenGrant>;
  /** PUT `{"status":"installed"}` with the installation's own token. */
  verifyInstallation(installationId: string, token: string): Promise<VerifiedInstallation>;
  /** GET `/api/0/organizations/{org}/` (region discovery). */
  getOrganization(token: string, orgSlug: string): Promise<Organization>;
  /** GET `/api/0/organizations/{org}/issues/{id}/`, optionally on a region base URL (one {@link checkRegionUrl} refuses is ignored: SENTRY_URL is used). */
  getIssue(token: string, orgSlug: string, issueId: string, options?: { baseUrl?: string }): Promise<Record<string, unknown>>;
}

export const JWT_GRANT_TYPE = 'urn:sentry:params:oauth:grant-type:jwt-bearer';

function base64url(input: string | Buffer): string {
  return Buffer.from(input).toString('base64url');
}

/**
 * Builds the HS256 JWT for the manual refresh grant (`iss`/`sub` = client id, 60 s life, new `jti`).
 *
 * @example
 * const jwt = signClientJwt(clientId, clientSecret, Date.now());
 */
export function signClientJwt(clientId: string, clientSecret: string, nowMs: number, jti: string = randomUUID()): string {
  const iat = Math.floor(nowMs / 1000);
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const claims = base64url(JSON.stringify({ iss: clientId, sub: clientId, iat, exp: iat + 60, jti }));
  const signature = createHmac('sha256', clientSecret).update(`${header}.${claims}`).digest('base64url');
  return `${header}.${claims}.${signature}`;
}

function kindFor(status: number): SentryApiErrorKind {
  if (status === 401) return 'auth';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not-found';
  if (status === 429) return 'rate-limited';
  if (status >= 500) return 'server';
  return 'invalid';
}

/** Error codes meaning nothing was sent (so nothing can have been committed). */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

function detailOf(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as unknown;
    if (body && typeof body === 'object' && !Array.isArray(body)) {
      const { detail, error } = body as Record<string, unknown>;
      if (typeof detail === 'string') return detail;
      if (typeof error === 'string') return error;
    }
    return text.slice(0, 200);
  } catch {
    return text.slice(0, 200) || undefined;
  }
}

function segment(value: string, what: string, check: (v: unknown) => boolean, operation: string): string {
  if (!check(value)) {
    throw new SentryApiError({ kind: 'invalid', status: 0, operation, maybeCommitted: false, message: `refusing to call Sentry ${operation}: malformed ${what}` });
  }
  return encodeURIComponent(value);
}

/**
 * Creates the client.
 *
 * @example
 * const api = createSentryApi({ baseUrl: emulator.url, clientId, clientSecret, clock: emulator.clock });
 */
export function createSentryApi(options: SentryApiOptions): SentryApi {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 10_000;
  const clock = options.clock ?? systemClock;

  async function call(
    operation: string,
    method: 'GET' | 'POST' | 'PUT',
    url: string,
    body: unknown,
    headers: Record<string, string> = {},
  ): Promise<unknown> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    let status: number;
    let responseText: string;
    try {
      const res = await request(url, {
        method,
        headers: {
          accept: 'application/json',
          'user-agent': 'sentry-integration-kit',
          ...(text === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(text === undefined ? {} : { body: text }),
        signal: controller.signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
      });
      status = res.statusCode;
      responseText = await res.body.text();
    } catch (error) {
      const code = (error as { code?: string }).code ?? '';
      const timedOut = controller.signal.aborted || code.includes('TIMEOUT');
      throw new SentryApiError({
        kind: 'network',
        status: 0,
        operation,
        maybeCommitted: !NOT_SENT.has(code),
        message: `Sentry ${operation} failed: ${timedOut ? 'timed out' : 'no answer'}${code ? ` (${code})` : ''}`,
      });
    } finally {
      clearTimeout(timer);
    }
    if (status < 200 || status >= 300) {
      const detail = detailOf(responseText);
      throw new SentryApiError({ kind: kindFor(status), status, operation, ...(detail ? { detail } : {}) });
    }
    if (responseText === '') return undefined;
    try {
      return JSON.parse(responseText) as unknown;
    } catch {
      throw new SentryApiError({ kind: 'invalid', status, operation, maybeCommitted: true, message: `Sentry ${operation}: answer is not JSON` });
    }
  }

  const tokenUrl = (installationId: string, operation: string): string =>
    `${baseUrl}/api/0/sentry-app-installations/${segment(installationId, 'installation id', isUuid, operation)}/authorizations/`;

  async function grant(operation: string, installationId: string, body: unknown, headers?: Record<string, string>): Promise<TokenGrant> {
    const answer = await call(operation, 'POST', tokenUrl(installationId, operation), body, headers);
    try {
      return parseTokenGrant(answer);
    } catch (error) {
      // The grant was probably committed (2xx) but we cannot use the answer: treat as lost.
      throw new SentryApiError({ kind: 'invalid', status: 201, operation, maybeCommitted: true, message: `Sentry ${operation}: ${(error as PayloadError).message}` });
    }
  }

  return {
    exchange(installationId, code, state) {
      return grant('exchange', installationId, {
        grant_type: 'authorization_code',
        code,
        client_id: options.clientId,
        client_secret: options.clientSecret,
        ...(state ? { state } : {}),
      });
    },
    refresh(installationId, refreshToken) {
      return grant('refresh', installationId, {
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
        client_id: options.clientId,
        client_secret: options.clientSecret,
      });
    },
    jwtRefresh(installationId) {
      const jwt = signClientJwt(options.clientId, options.clientSecret, clock.now());
      return grant('jwt', installationId, { grant_type: JWT_GRANT_TYPE }, { authorization: `Bearer ${jwt}` });
    },
    async verifyInstallation(installationId, token) {
      const id = segment(installationId, 'installation id', isUuid, 'verify');
      const answer = await call('verify', 'PUT', `${baseUrl}/api/0/sentry-app-installations/${id}/`, { status: 'installed' }, { authorization: `Bearer ${token}` });
      const out: VerifiedInstallation = {};
      if (answer && typeof answer === 'object') {
        const a = answer as { app?: { slug?: unknown }; organization?: { slug?: unknown; id?: unknown }; status?: unknown };
        if (isSlug(a.app?.slug)) out.appSlug = a.app.slug;
        if (isSlug(a.organization?.slug)) out.orgSlug = a.organization.slug;
        if (typeof a.organization?.id === 'number' || typeof a.organization?.id === 'string') out.orgId = a.organization.id;
        if (typeof a.status === 'string') out.status = a.status;
      }
      return out;
    },
    async getOrganization(token, orgSlug) {
      const org = segment(orgSlug, 'organization slug', isSlug, 'organization');
      const answer = await call('organization', 'GET', `${baseUrl}/api/0/organizations/${org}/`, undefined, { authorization: `Bearer ${token}` });
      const a = (answer ?? {}) as { slug?: unknown; id?: unknown; links?: { regionUrl?: unknown } };
      const out: Organization = { slug: typeof a.slug === 'string' ? a.slug : orgSlug };
      if (typeof a.id === 'string' || typeof a.id === 'number') out.id = String(a.id);
      if (a.links?.regionUrl !== undefined && a.links.regionUrl !== null) {
        const region = checkRegionUrl(a.links.regionUrl, baseUrl);
        if (region.ok) out.regionUrl = region.url;
        else out.regionUrlRefused = { value: printableRegionUrl(a.links.regionUrl), reason: region.reason };
      }
      return out;
    },
    async getIssue(token, orgSlug, issueId, callOptions = {}) {
      const org = segment(orgSlug, 'organization slug', isSlug, 'issue');
      const issue = segment(issueId, 'issue id', (v) => typeof v === 'string' && /^\d{1,20}$/.test(v), 'issue');
      let root = baseUrl;
      if (callOptions.baseUrl !== undefined) {
        // The token goes to this host: a stored region URL is re-checked, never trusted blindly. One
        // that is refused (tampered, or stored before the host rule) is ignored: SENTRY_URL proxies
        // org-scoped paths to the region, so the notification still goes out.
        const region = checkRegionUrl(callOptions.baseUrl, baseUrl);
        if (region.ok) root = region.url;
      }
      const answer = await call('issue', 'GET', `${root}/api/0/organizations/${org}/issues/${issue}/`, undefined, { authorization: `Bearer ${token}` });
      if (!answer || typeof answer !== 'object' || Array.isArray(answer)) {
        throw new SentryApiError({ kind: 'invalid', status: 200, operation: 'issue', message: 'Sentry issue: answer is not an object' });
      }
      return answer as Record<string, unknown>;
    },
  };
}
