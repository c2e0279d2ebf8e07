/**
 * The API an installation token reaches: authentication (Bearer, case-insensitive scheme; 401
 * `Token expired` / `Invalid token`), the Origin check, X-Sentry-Rate-Limit-* headers, verify
 * install (PUT), uninstall attempts by the app (403), the issue and organization endpoints.
 *
 * @example
 * const reply = apiEndpoint(ctx, { kind: 'issue', org: 'acme', issueId: '1' }, deps);
 */
import { serializeIssue } from './payloads.ts';
import type { ResolvedOptions } from './options.ts';
import { isValidOrigin } from './origin.ts';
import { AUTH_CHALLENGE, detail, header, json, type Reply, type RequestContext } from './reply.ts';
import type { EmulatorState, InstallationRow, Token } from './state.ts';
import type { EmulatorApp } from './types.ts';

/** What the API handlers need. */
export interface ApiDeps {
  state: EmulatorState;
  options: ResolvedOptions;
  baseUrl: () => string;
  /** The region cell host's URL (option `region`), once it listens. */
  regionBaseUrl?: () => string | undefined;
  /** Set when the request arrived on the region cell host: that cell's name. */
  cell?: string;
}

/** A routed API call. */
export type ApiRoute =
  | { kind: 'verify'; installationUuid: string }
  | { kind: 'uninstall'; installationUuid: string }
  | { kind: 'issue'; org: string; issueId: string }
  | { kind: 'issue.legacy'; issueId: string }
  | { kind: 'organization'; org: string }
  /** A user-level endpoint (e.g. `/api/0/projects/`): app tokens are refused there. */
  | { kind: 'user-level' };

interface Caller {
  token: Token;
  app: EmulatorApp;
  row: InstallationRow;
}

const NOT_FOUND = 'The requested resource does not exist';

/** Authenticates the bearer token, then checks Origin (Sentry's order: auth, then origin). */
function authenticate(ctx: RequestContext, deps: ApiDeps): Caller | Reply {
  const authorization = header(ctx, 'authorization');
  const match = authorization === undefined ? null : /^bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!match) return detail(401, 'Authentication credentials were not provided.', AUTH_CHALLENGE);
  const token = deps.state.tokens.get(match[1] as string);
  const app = token && deps.state.apps.get(token.appSlug);
  const row = token && deps.state.installations.get(token.installationUuid);
  if (!token || !app || !row) return detail(401, 'Invalid token', AUTH_CHALLENGE);
  if (deps.state.now() >= token.expiresAt) return detail(401, 'Token expired', AUTH_CHALLENGE);
  // UserAuthTokenAuthentication: a token of an inactive (or deleted) application stops working.
  if (app.active === false) return detail(401, 'UserApplication inactive or deleted', AUTH_CHALLENGE);
  const origin = header(ctx, 'origin');
  if (origin !== undefined && origin !== '' && origin !== 'null' && !isValidOrigin(origin, app.allowedOrigins)) {
    return json(400, `Invalid origin: ${origin}`);
  }
  return { token, app, row };
}

/** X-Sentry-Rate-Limit-* for this token and endpoint; 429 when over the (fixed-window) limit. */
function rateLimit(caller: Caller, endpoint: string, deps: ApiDeps): { headers: Record<string, string>; limited?: Reply } {
  const { limit, windowSec, concurrentLimit } = deps.options.apiRateLimit;
  const hit = deps.state.hit(`api:${caller.token.token}:${endpoint}`, limit, windowSec);
  const headers = {
    'X-Sentry-Rate-Limit-Limit': String(limit),
    'X-Sentry-Rate-Limit-Remaining': String(hit.remaining),
    'X-Sentry-Rate-Limit-Reset': String(hit.reset),
    'X-Sentry-Rate-Limit-ConcurrentLimit': String(concurrentLimit),
    'X-Sentry-Rate-Limit-ConcurrentRemaining': String(concurrentLimit - 1),
  };
  if (!hit.limited) return { headers };
  return {
    headers,
    limited: detail(429, `You are attempting to use this endpoint too frequently. Limit is ${limit} requests in ${windowSec} seconds`, headers),
  };
}

/** Whether the installation behind a token still grants org access (uninstall, pending). */
function orgAccess(caller: Caller, deps: ApiDeps): Reply | undefined {
  const { row } = caller;
  const { options } = deps;
  if (row.deleted && row.deletedAt !== undefined && deps.state.now() >= row.deletedAt + options.revokeAfterMs) {
    return detail(options.revokedToken.status, options.revokedToken.detail);
  }
  if (row.status === 'pending' && !options.pendingTokensWork) return detail(403, options.forbiddenDetail);
  return undefined;
}

/** Handles a token-authenticated API request. */
export function apiEndpoint(ctx: RequestContext, route: ApiRoute, deps: ApiDeps): Reply {
  const caller = authenticate(ctx, deps);
  if ('status' in caller) return caller;
  const limits = rateLimit(caller, route.kind, deps);
  if (limits.limited) return limits.limited;
  const reply = handle(ctx, route, caller, deps);
  return { ...reply, headers: { ...limits.headers, ...reply.headers } };
}

function handle(ctx: RequestContext, route: ApiRoute, caller: Caller, deps: ApiDeps): Reply {
  switch (route.kind) {
    case 'verify': return verify(ctx, route.installationUuid, caller, deps);
    case 'uninstall': return uninstall(route.installationUuid, deps);
    case 'issue': return issue(route.org, route.issueId, caller, deps);
    case 'issue.legacy': return issue(undefined, route.issueId, caller, deps);
    case 'organization': return organization(route.org, caller, deps);
    case 'user-level': {
      const { status, detail: text } = deps.options.userLevelEndpoint;
      return detail(status, text, status === 401 ? AUTH_CHALLENGE : undefined);
    }
  }
}

/** The serialized installation (verify's 200 body). */
export function installationBody(row: InstallationRow, app: EmulatorApp): Record<string, unknown> {
  return {
    app: { uuid: app.uuid, slug: app.slug },
    organization: { slug: row.org.slug, id: row.org.id },
    uuid: row.uuid,
    status: row.status,
  };
}

function verify(ctx: RequestContext, uuid: string, caller: Caller, deps: ApiDeps): Reply {
  const row = deps.state.installations.get(uuid);
  if (!row || row.deleted) return detail(404, 'Could not find given sentry app installation');
  // has_object_permission: the token's app (proxy user) must own the installation.
  if (row.appSlug !== caller.app.slug) return detail(403, deps.options.forbiddenDetail);
  let body: unknown;
  try {
    body = ctx.raw.length === 0 ? {} : JSON.parse(ctx.raw.toString('utf8'));
  } catch {
    return detail(400, 'Invalid request');
  }
  const status = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).status : undefined;
  // The only accepted value is "installed"; a missing status leaves the installation unchanged.
  if (status !== undefined && status !== 'installed') {
    return json(400, { status: [`Invalid value '${String(status)}' for status. Valid values: 'installed'`] });
  }
  if (status === 'installed') row.status = 'installed';
  return json(200, installationBody(row, caller.app));
}

function uninstall(uuid: string, deps: ApiDeps): Reply {
  const row = deps.state.installations.get(uuid);
  if (!row || row.deleted) return detail(404, 'Could not find given sentry app installation');
  // Integrators cannot uninstall with their own token (getsentry/sentry#56275).
  return detail(403, deps.options.forbiddenDetail);
}

/** The slug of an org named by slug or numeric id in a path. */
function orgSlug(org: string, deps: ApiDeps): string {
  for (const [slug, id] of deps.state.orgs) if (String(id) === org) return slug;
  return org;
}

/**
 * Region routing: the region host serves only its own orgs; on the main host the legacy issue
 * path cannot reach an org that lives in a region cell (§6: "EU orgs may 404").
 */
function regionProblem(org: string | undefined, caller: Caller, deps: ApiDeps): Reply | undefined {
  const { state, options } = deps;
  if (deps.cell !== undefined) {
    if (org === undefined || state.regionOf(orgSlug(org, deps)) !== deps.cell) {
      const reply = options.region?.foreignOrg ?? { status: 404, detail: NOT_FOUND };
      return detail(reply.status, reply.detail);
    }
    return undefined;
  }
  if (org === undefined && state.regionOf(caller.row.org.slug) !== undefined) return detail(404, NOT_FOUND);
  return undefined;
}

function issue(org: string | undefined, issueId: string, caller: Caller, deps: ApiDeps): Reply {
  const misrouted = regionProblem(org, caller, deps);
  if (misrouted) return misrouted;
  if (org !== undefined && org !== caller.row.org.slug && org !== String(caller.row.org.id)) {
    return detail(403, deps.options.forbiddenDetail);
  }
  const denied = orgAccess(caller, deps);
  if (denied) return denied;
  if (!caller.token.scopes.includes('event:read')) return detail(403, deps.options.forbiddenDetail);
  const found = deps.state.issues.get(issueId);
  if (!found || found.orgSlug !== caller.row.org.slug) return detail(404, NOT_FOUND);
  return json(200, {
    activity: [],
    ...serializeIssue(found),
    firstRelease: null,
    lastRelease: null,
    participants: [],
    pluginActions: [],
    pluginContexts: [],
    pluginIssues: [],
    seenBy: [],
    stats: {},
    tags: [],
    userReportCount: 0,
  });
}

function organization(org: string, caller: Caller, deps: ApiDeps): Reply {
  const misrouted = regionProblem(org, caller, deps);
  if (misrouted) return misrouted;
  if (org !== caller.row.org.slug && org !== String(caller.row.org.id)) return detail(403, deps.options.forbiddenDetail);
  const denied = orgAccess(caller, deps);
  if (denied) return denied;
  if (!caller.token.scopes.includes('org:read')) return detail(403, deps.options.forbiddenDetail);
  const base = deps.baseUrl();
  const cellUrl = deps.state.regionOf(caller.row.org.slug) === undefined ? undefined : deps.regionBaseUrl?.();
  return json(200, {
    id: String(caller.row.org.id),
    slug: caller.row.org.slug,
    name: caller.row.org.slug,
    links: { organizationUrl: base, regionUrl: cellUrl ?? deps.options.regionUrl ?? base },
  });
}
