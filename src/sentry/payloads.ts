/**
 * Parsing and validation of what Sentry sends: webhook envelopes, installation payloads, token
 * responses, and the `/setup` query values that end up in URL paths. Unknown fields are ignored
 * (Sentry adds fields over time); missing required ones raise {@link PayloadError}.
 *
 * @example
 * const event = parseEnvelope(JSON.parse(raw.toString('utf8')), 'installation');
 * if (event.resource === 'installation' && event.action === 'created') parseInstallation(event.data);
 */

/** A payload that does not have the shape Sentry documents. */
export class PayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadError';
  }
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Grant codes are 32–64 lowercase hex in Sentry (a generous superset is accepted: letters, digits, `-`, `_`). */
const CODE_RE = /^[A-Za-z0-9_-]{16,128}$/;
const SLUG_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;

/**
 * True for a canonical lowercase UUID such as Sentry's installation ids. The id goes into URL paths,
 * so nothing else (no `/`, `..`, `%`) may pass.
 *
 * @example
 * isUuid('a8e5d37a-696c-4c54-adb5-b3f28d64c7de'); // true
 */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_RE.test(value);
}

/** True when `value` looks like a grant code (Sentry: 32–64 hex; accepted: 16–128 of `[A-Za-z0-9_-]`). */
export function looksLikeGrantCode(value: unknown): value is string {
  return typeof value === 'string' && CODE_RE.test(value);
}

/** True for an organization or app slug (letters, digits, `-`, `_`; up to 100). */
export function isSlug(value: unknown): value is string {
  return typeof value === 'string' && SLUG_RE.test(value);
}

/** The `actor` of a webhook. */
export interface Actor {
  type: string;
  id: string | number;
  name: string;
}

/** A validated webhook envelope. */
export interface WebhookEnvelope {
  /** From `Sentry-Hook-Resource`, else inferred from the single key of `data`. */
  resource: string;
  action: string;
  installationId: string;
  data: Record<string, unknown>;
  actor?: Actor;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Validates a parsed webhook body: `action` (string), `installation.uuid` (UUID), `data` (object),
 * optional `actor`. `resource` comes from the `Sentry-Hook-Resource` header when given.
 *
 * @example
 * parseEnvelope({ action: 'created', installation: { uuid }, data: { issue: {} } }).resource; // 'issue'
 */
export function parseEnvelope(body: unknown, resourceHeader?: string): WebhookEnvelope {
  if (!isObject(body)) throw new PayloadError('webhook body is not a JSON object');
  const { action, installation, data, actor } = body;
  if (typeof action !== 'string' || action === '') throw new PayloadError('webhook body has no action');
  if (!isObject(installation) || !isUuid(installation.uuid)) throw new PayloadError('webhook body has no valid installation.uuid');
  if (!isObject(data)) throw new PayloadError('webhook body has no data object');
  let resource = resourceHeader?.trim();
  if (!resource) {
    const keys = Object.keys(data);
    resource = keys.length === 1 ? keys[0]! : 'unknown';
  }
  const envelope: WebhookEnvelope = { resource, action, installationId: installation.uuid, data };
  if (isObject(actor) && typeof actor.type === 'string') {
    envelope.actor = {
      type: actor.type,
      id: typeof actor.id === 'number' || typeof actor.id === 'string' ? actor.id : '',
      name: typeof actor.name === 'string' ? actor.name : '',
    };
  }
  return envelope;
}

/** The parts of `data.installation` the server uses. */
export interface InstallationPayload {
  uuid: string;
  orgSlug: string;
  orgId?: number | string;
  appSlug?: string;
  appUuid?: string;
  status?: string;
  /** The single-use grant code; may be absent (already exchanged, or Sentry omitted it). */
  code?: string;
}

/**
 * Validates `data.installation` of an `installation.*` webhook (or the body of a verify answer).
 *
 * @example
 * parseInstallation(envelope.data.installation).code; // 'f3c71b49…' or undefined
 */
export function parseInstallation(value: unknown): InstallationPayload {
  if (!isObject(value)) throw new PayloadError('installation payload is not an object');
  if (!isUuid(value.uuid)) throw new PayloadError('installation payload has no valid uuid');
  const org = value.organization;
  if (!isObject(org) || !isSlug(org.slug)) throw new PayloadError('installation payload has no valid organization.slug');
  const out: InstallationPayload = { uuid: value.uuid, orgSlug: org.slug };
  if (typeof org.id === 'number' || typeof org.id === 'string') out.orgId = org.id;
  if (isObject(value.app)) {
    if (isSlug(value.app.slug)) out.appSlug = value.app.slug;
    if (typeof value.app.uuid === 'string') out.appUuid = value.app.uuid;
  }
  if (typeof value.status === 'string') out.status = value.status;
  if (typeof value.code === 'string' && value.code !== '') {
    if (!looksLikeGrantCode(value.code)) throw new PayloadError('installation payload has a malformed code');
    out.code = value.code;
  }
  return out;
}

/** A token pair from any grant (authorization code, refresh token, JWT bearer). */
export interface TokenGrant {
  token: string;
  refreshToken: string;
  /** ISO-8601 as Sentry sent it. */
  expiresAt: string;
  scopes: string[];
  id?: string;
}

/**
 * Validates a 201 token answer (§2.2): `token`, `refreshToken`, a parseable `expiresAt`; `scopes`
 * optional (the docs' sample omits it).
 *
 * @example
 * const grant = parseTokenGrant(await res.body.json());
 */
export function parseTokenGrant(body: unknown): TokenGrant {
  if (!isObject(body)) throw new PayloadError('token response is not a JSON object');
  const { token, refreshToken, expiresAt, scopes, id } = body;
  if (typeof token !== 'string' || token === '') throw new PayloadError('token response has no token');
  if (typeof refreshToken !== 'string' || refreshToken === '') throw new PayloadError('token response has no refreshToken');
  if (typeof expiresAt !== 'string' || !Number.isFinite(Date.parse(expiresAt))) {
    throw new PayloadError('token response has no valid expiresAt');
  }
  const grant: TokenGrant = {
    token,
    refreshToken,
    expiresAt,
    scopes: Array.isArray(scopes) ? scopes.filter((s): s is string => typeof s === 'string') : [],
  };
  if (typeof id === 'string' || typeof id === 'number') grant.id = String(id);
  return grant;
}
