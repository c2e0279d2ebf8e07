/**
 * The emulator's HTTP front: reads the body, routes to a named endpoint, applies injected faults
 * (latency, status, drop, commit-then-drop) around the handler, answers and records every request.
 * Unknown paths are recorded as endpoint 'unknown' and answered 404.
 *
 * @example
 * const server = createServer(createHandler({ route, faults, recorder, control }));
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BodyTooLargeError, readBody } from '../../src/http.ts';
import { apiEndpoint, type ApiDeps, type ApiRoute } from './api.ts';
import { handleAvatarUpload, handlePublishRequest, type AvatarApp, type HandlerResponse } from './avatar.ts';
import type { FaultSet } from './faults.ts';
import type { Recorder } from './record.ts';
import { detail, type Reply, type RequestContext } from './reply.ts';
import { tokenEndpoint, tokenEndpointName, type TokenDeps } from './tokens.ts';

const BODY_LIMIT = 1 << 20;
/**
 * The avatar upload carries the image base64-encoded in JSON: 5,000,000 image bytes (Sentry's
 * `SENTRY_MAX_AVATAR_SIZE`) are ~6.7 MB of body, so that endpoint takes more than the rest, enough for
 * an oversized image to reach the endpoint's own 413 "Image too large" as on Sentry.
 */
const AVATAR_BODY_LIMIT = 8 << 20;

/** A routed request: the endpoint name (for the record and faults) and its handler. */
export interface Routed {
  endpoint: string;
  run(ctx: RequestContext): Reply | Promise<Reply>;
}

const seg = '([^/]+)';
const TOKEN = new RegExp(`^/api/0/sentry-app-installations/${seg}/authorizations/$`);
const INSTALLATION = new RegExp(`^/api/0/sentry-app-installations/${seg}/$`);
const ORG_ISSUE = new RegExp(`^/api/0/organizations/${seg}/issues/${seg}/$`);
const LEGACY_ISSUE = new RegExp(`^/api/0/issues/${seg}/$`);
const ORG = new RegExp(`^/api/0/organizations/${seg}/$`);
const PROJECTS = /^\/api\/0\/projects\/$/;
const APP_AVATAR = new RegExp(`^/api/0/sentry-apps/${seg}/avatar/$`);
const APP_PUBLISH = new RegExp(`^/api/0/sentry-apps/${seg}/publish-request/$`);

const notAllowed = (method: string): Reply => detail(405, `Method "${method}" not allowed.`);

/** Maps a method and path to a Sentry endpoint. */
export function routeSentry(ctx: RequestContext, deps: TokenDeps & ApiDeps): Routed {
  const api = (endpoint: string, route: ApiRoute, method: string): Routed => ({
    endpoint,
    run: (c) => (c.method === method ? apiEndpoint(c, route, deps) : notAllowed(c.method)),
  });
  const p = ctx.path;
  let m = TOKEN.exec(p);
  if (m) {
    const uuid = decodeURIComponent(m[1] as string);
    return { endpoint: tokenEndpointName(ctx), run: (c) => (c.method === 'POST' ? tokenEndpoint(c, uuid, deps) : notAllowed(c.method)) };
  }
  if ((m = INSTALLATION.exec(p))) {
    const installationUuid = decodeURIComponent(m[1] as string);
    if (ctx.method === 'DELETE') return api('installation.delete', { kind: 'uninstall', installationUuid }, 'DELETE');
    return api('verify', { kind: 'verify', installationUuid }, 'PUT');
  }
  if ((m = ORG_ISSUE.exec(p))) return api('issue', { kind: 'issue', org: decodeURIComponent(m[1] as string), issueId: decodeURIComponent(m[2] as string) }, 'GET');
  if ((m = LEGACY_ISSUE.exec(p)) && deps.options.legacyIssuePath) return api('issue.legacy', { kind: 'issue.legacy', issueId: decodeURIComponent(m[1] as string) }, 'GET');
  if ((m = ORG.exec(p))) return api('organization', { kind: 'organization', org: decodeURIComponent(m[1] as string) }, 'GET');
  if (PROJECTS.test(p)) return api('projects', { kind: 'user-level' }, 'GET');
  if ((m = APP_AVATAR.exec(p))) return appEndpoint('avatar', 'PUT', decodeURIComponent(m[1] as string), handleAvatarUpload, deps);
  if ((m = APP_PUBLISH.exec(p))) return appEndpoint('publish-request', 'POST', decodeURIComponent(m[1] as string), handlePublishRequest, deps);
  return { endpoint: 'unknown', run: () => detail(404, 'Not found') };
}

/**
 * Maps a request on the region cell host: only the org-scoped endpoints exist there (installations,
 * authorizations, app settings and the legacy issue path are control-silo / sentry.io paths).
 */
export function routeRegion(ctx: RequestContext, deps: TokenDeps & ApiDeps): Routed {
  const routed = routeSentry(ctx, deps);
  if (routed.endpoint === 'issue' || routed.endpoint === 'organization') return routed;
  return { endpoint: 'unknown', run: () => detail(404, 'Not found') };
}

/**
 * App-settings endpoints (avatar upload, publish request). Sentry requires a logged-in user there;
 * the emulator models no user sessions, so they are open to anyone who can reach it.
 */
function appEndpoint(
  endpoint: string,
  method: string,
  slug: string,
  handle: (app: AvatarApp, body: unknown) => HandlerResponse,
  deps: ApiDeps,
): Routed {
  return {
    endpoint,
    run: (c) => {
      if (c.method !== method) return notAllowed(c.method);
      const app = deps.state.apps.get(slug);
      if (!app) return detail(404, 'The requested resource does not exist');
      let body: unknown;
      try {
        body = JSON.parse(c.raw.toString('utf8'));
      } catch {
        return detail(400, 'Malformed request');
      }
      const answer = handle(app, body);
      return answer.body === null ? { status: answer.status } : { status: answer.status, body: answer.body };
    },
  };
}

/** What the HTTP handler needs. */
export interface HandlerDeps {
  route(ctx: RequestContext): Routed;
  /** The `/_emulator/` API; without it (the region host) those paths go to `route` like any other. */
  control?: (ctx: RequestContext) => Promise<Reply>;
  /** The region cell this listener stands for, stamped on its records (absent: the main host). */
  cell?: string;
  faults: FaultSet;
  recorder: Recorder;
  now(): number;
  /** A real-time pause that the emulator's close() cuts short. */
  sleep(ms: number): Promise<void>;
  /** Extra pages served ahead of the Sentry routes (true = answered); not recorded. */
  pages?: (ctx: RequestContext, res: ServerResponse) => boolean | Promise<boolean>;
}

function send(res: ServerResponse, reply: Reply): string {
  const text = reply.body === undefined ? '' : JSON.stringify(reply.body);
  res.writeHead(reply.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...reply.headers });
  res.end(text);
  return text;
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/** The node:http request listener. */
export function createHandler(deps: HandlerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(req, res, deps).catch((error: unknown) => {
      // Never crash: an unexpected error is a 500 (and would be a bug in the emulator).
      if (!res.headersSent) send(res, detail(500, `Internal Error: ${error instanceof Error ? error.message : String(error)}`));
      else res.destroy();
    });
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, deps: HandlerDeps): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://emulator');
  const method = req.method ?? 'GET';
  let raw: Buffer;
  try {
    raw = await readBody(req, APP_AVATAR.test(url.pathname) ? AVATAR_BODY_LIMIT : BODY_LIMIT);
  } catch (error) {
    if (error instanceof BodyTooLargeError) {
      send(res, detail(413, 'Request body too large'));
      return;
    }
    throw error;
  }
  const ctx: RequestContext = { method, path: url.pathname, query: url.searchParams, headers: req.headers, raw };
  if (deps.pages && await deps.pages(ctx, res)) return;
  if (deps.control && (url.pathname === '/_emulator' || url.pathname.startsWith('/_emulator/'))) {
    send(res, await deps.control(ctx));
    return;
  }
  const at = deps.now();
  const routed = deps.route(ctx);
  const fault = deps.faults.take(routed.endpoint);
  const record = (status: number, responseBody: string): void => {
    deps.recorder.addRequest({
      at, method, path: url.pathname + url.search, headers: flatHeaders(req), body: raw.toString('utf8'),
      status, responseBody, endpoint: routed.endpoint, ...(fault ? { fault: fault.kind } : {}),
      ...(deps.cell === undefined ? {} : { region: deps.cell }),
    });
  };
  if (fault?.kind === 'latency') await deps.sleep(fault.ms);
  if (fault?.kind === 'drop') {
    record(0, '');
    req.socket.destroy();
    return;
  }
  if (fault?.kind === 'status') {
    const text = fault.body ?? JSON.stringify({ detail: 'Internal Error' });
    res.writeHead(fault.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
    record(fault.status, text);
    return;
  }
  const reply = await routed.run(ctx);
  if (fault?.kind === 'commit-then-drop') {
    // The operation is committed (e.g. the refresh rotated the pair); the answer is lost.
    record(0, JSON.stringify(reply.body ?? ''));
    req.socket.destroy();
    return;
  }
  record(reply.status, send(res, reply));
}
