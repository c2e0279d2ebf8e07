/**
 * What handlers return: a status, a JSON body (or raw text) and headers. Handlers stay pure so the
 * router can apply faults (e.g. commit the refresh, then drop the answer) around them.
 *
 * @example
 * return detail(401, 'Invalid token', AUTH_CHALLENGE);   // {"detail":"Invalid token"}
 */
import type { IncomingHttpHeaders } from 'node:http';

/** A handler's answer. */
export interface Reply {
  status: number;
  /** Serialised with JSON.stringify (DRF's compact renderer gives the same bytes for these bodies). */
  body?: unknown;
  headers?: Record<string, string>;
}

/** A parsed incoming request. */
export interface RequestContext {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  raw: Buffer;
}

/** `WWW-Authenticate` that DRF adds to authentication failures (seen in getsentry/sentry#33938). */
export const AUTH_CHALLENGE: Record<string, string> = { 'WWW-Authenticate': 'xBasic realm="api"' };

/** `{"detail": text}` with a status. */
export function detail(status: number, text: string, headers?: Record<string, string>): Reply {
  return headers ? { status, body: { detail: text }, headers } : { status, body: { detail: text } };
}

/** Any JSON body with a status. */
export function json(status: number, body: unknown, headers?: Record<string, string>): Reply {
  return headers ? { status, body, headers } : { status, body };
}

/** The first value of a header. */
export function header(ctx: RequestContext, name: string): string | undefined {
  const value = ctx.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The body as a JSON object the way Sentry's `load_json_body` sees it: only for a Content-Type
 * starting with application/json, and only a non-empty object counts (else undefined).
 */
export function jsonObject(ctx: RequestContext): Record<string, unknown> | undefined {
  const type = (header(ctx, 'content-type') ?? '').toLowerCase();
  if (!type.startsWith('application/json')) return undefined;
  try {
    const value: unknown = JSON.parse(ctx.raw.toString('utf8'));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    return Object.keys(value).length === 0 ? undefined : value as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
