/**
 * `POST /api/0/sentry-app-installations/{uuid}/authorizations/`: the authorization_code exchange,
 * the rotating refresh_token grant and the JWT-bearer manual refresh, in Sentry's validation order
 * (authentication → installation 404 → ownership 403 → grant_type → fields → grant checks),
 * with the `{"detail": …}` bodies of sentry-platform.md §2.3.
 *
 * @example
 * const reply = tokenEndpoint(ctx, uuid, deps); // { status: 201, body: { id: '1', token: … } }
 */
import type { EmulatorApp } from './types.ts';
import type { ResolvedOptions } from './options.ts';
import { AUTH_CHALLENGE, detail, header, json, jsonObject, type Reply, type RequestContext } from './reply.ts';
import type { EmulatorState, InstallationRow, Token } from './state.ts';
import { jwtSignatureValid, peekJwt } from './jwt.ts';

export const GRANT_AUTHORIZATION = 'authorization_code';
export const GRANT_REFRESH = 'refresh_token';
export const GRANT_JWT = 'urn:sentry:params:oauth:grant-type:jwt-bearer';

/** What the token endpoint needs. */
export interface TokenDeps {
  state: EmulatorState;
  options: ResolvedOptions;
}

/** The record/fault name of a token request, from its grant type. */
export function tokenEndpointName(ctx: RequestContext): string {
  const grant = jsonObject(ctx)?.grant_type;
  if (grant === GRANT_REFRESH) return 'token.refresh';
  if (grant === GRANT_JWT) return 'token.jwt';
  return 'token.exchange';
}

/** ApiTokenSerializer with `state` and `application: null`. */
export function tokenBody(token: Token, state: unknown): Record<string, unknown> {
  return {
    id: token.id,
    scopes: token.scopes,
    name: null,
    application: null,
    expiresAt: new Date(token.expiresAt).toISOString(),
    dateCreated: new Date(token.dateCreated).toISOString(),
    state: state ?? null,
    token: token.token,
    refreshToken: token.refreshToken,
    tokenLastCharacters: token.token.slice(-4),
  };
}

const fail = (text: string): Reply => detail(401, text, AUTH_CHALLENGE);

/** DRF CharField errors for a required, non-null, non-blank field; undefined when fine. */
function fieldProblem(body: Record<string, unknown>, name: string): Reply | undefined {
  const value = body[name];
  if (!(name in body)) return json(400, { [name]: ['This field is required.'] });
  if (value === null) return json(400, { [name]: ['This field may not be null.'] });
  if (typeof value === 'string' && value.trim() === '') return json(400, { [name]: ['This field may not be blank.'] });
  return undefined;
}

/**
 * token_exchange/validator.py: the exchanger, refresher and manual refresher all refuse an app
 * whose OAuth application is inactive, after the request's fields are read and before the grant,
 * refresh token or existing token is looked up.
 */
function inactive(app: EmulatorApp): Reply | undefined {
  return app.active === false ? detail(401, 'Application is not active') : undefined;
}

function refreshLimited(deps: TokenDeps, app: EmulatorApp): Reply | undefined {
  const { limit, windowSec } = deps.options.refreshRateLimit;
  const hit = deps.state.hit(`sentry-app:refresh:${app.slug}`, limit, windowSec);
  return hit.limited ? detail(429, 'Too many token refresh attempts') : undefined;
}

/** Handles one token request. Synchronous on purpose: a check-then-commit cannot interleave. */
export function tokenEndpoint(ctx: RequestContext, installationUuid: string, deps: TokenDeps): Reply {
  const body = jsonObject(ctx);
  if (!body) return fail('Invalid request');
  if (body.grant_type === GRANT_JWT) return jwtGrant(ctx, installationUuid, deps);
  const { state, options } = deps;
  const app = state.appByClientId(body.client_id);
  if (!app || body.client_secret !== app.clientSecret) return fail('Invalid Client ID / Secret pair');
  const row = state.installations.get(installationUuid);
  if (!row || row.deleted) return detail(404, 'Could not find given sentry app installation');
  if (row.appSlug !== app.slug) return detail(403, options.forbiddenDetail);
  if (body.grant_type === GRANT_AUTHORIZATION) return exchange(body, row, app, deps);
  if (body.grant_type === GRANT_REFRESH) return refresh(body, row, app, deps);
  return detail(403, 'Invalid grant_type');
}

function exchange(body: Record<string, unknown>, row: InstallationRow, app: EmulatorApp, deps: TokenDeps): Reply {
  const problem = fieldProblem(body, 'code');
  if (problem) return problem;
  const off = inactive(app);
  if (off) return off;
  const { state } = deps;
  const grant = state.grants.get(String(body.code));
  if (!grant) return detail(401, 'Could not find grant for given code');
  if (grant.installationUuid !== row.uuid || grant.appSlug !== app.slug) return detail(401, 'Forbidden grant');
  if (state.now() >= grant.expiresAt) return detail(401, 'Grant has already expired');
  const token = state.mintToken(row, app);
  state.dropGrant(grant);
  return json(201, tokenBody(token, body.state));
}

function refresh(body: Record<string, unknown>, row: InstallationRow, app: EmulatorApp, deps: TokenDeps): Reply {
  const problem = fieldProblem(body, 'refresh_token');
  if (problem) return problem;
  const limited = refreshLimited(deps, app);
  if (limited) return limited;
  const off = inactive(app);
  if (off) return off;
  const { state } = deps;
  const old = state.refreshTokens.get(String(body.refresh_token));
  if (!old) return detail(401, 'Given refresh token does not exist');
  if (old.appSlug !== app.slug) return detail(400, 'Token does not belong to the application');
  // Sentry's refresher does not check that the refresh token belongs to the URL's installation;
  // it deletes the old row and mints the new pair for the URL's installation.
  state.dropToken(old);
  return json(201, tokenBody(state.mintToken(row, app), body.state));
}

function jwtGrant(ctx: RequestContext, installationUuid: string, deps: TokenDeps): Reply {
  const { state, options } = deps;
  const authorization = header(ctx, 'authorization');
  if (!authorization) return fail(options.jwtMissingHeaderDetail);
  const [scheme, jwt, ...rest] = authorization.trim().split(/\s+/);
  if (scheme?.toLowerCase() !== 'bearer' || !jwt || rest.length > 0) return fail('Bearer not present in token');
  // The installation in the URL names the app whose client secret must have signed the JWT.
  const row = state.installations.get(installationUuid);
  const app = row && !row.deleted ? state.apps.get(row.appSlug) : undefined;
  if (!row || !app) return fail('Installation not found');
  const peeked = peekJwt(jwt);
  if (!peeked || !jwtSignatureValid(jwt, app.clientSecret)) return fail('Could not validate JWT');
  const { exp, iat, jti, iss, sub } = peeked.claims;
  const nowSec = state.now() / 1000;
  if (typeof exp !== 'number' || exp <= nowSec) return fail('Could not validate JWT');
  if (typeof iat !== 'number' || iat > nowSec + 1) return fail('Could not validate JWT');
  if (typeof jti !== 'string' || jti === '') return fail('Could not validate JWT');
  if (iss !== app.clientId || sub !== app.clientId) return fail('JWT is not valid for this application');
  if (state.usedJtis.has(jti)) return fail('JWT has already been used');
  state.usedJtis.add(jti);
  if (!app.jwtRefreshEnabled) return detail(403, 'Manual token refresh is not enabled for this organization');
  const limited = refreshLimited(deps, app);
  if (limited) return limited;
  const off = inactive(app);
  if (off) return off;
  const existing = state.tokensOf(row.uuid);
  if (existing.length === 0) return detail(401, 'Installation does not have a token');
  for (const token of existing) state.dropToken(token);
  return json(201, tokenBody(state.mintToken(row, app), undefined));
}
