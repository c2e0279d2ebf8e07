/**
 * The integration server on `node:http`: GET /setup (redirect install), POST /webhook (signed
 * webhooks; installation.created / installation.deleted handled here, everything else handed to a
 * pluggable handler), GET /healthz, graceful shutdown. All collaborators are injected.
 *
 * @example
 * const app = createServer({ config, store, api, clock, logger });
 * const url = await app.listen();
 * // … later
 * await app.close(); // stop accepting, finish in-flight work, close the store
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer as createHttpServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../clock.ts';
import { systemClock } from '../clock.ts';
import type { Config } from '../config.ts';
import { BodyTooLargeError, headerValue, readBody, sendJson } from '../http.ts';
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import type { SentryApi } from '../sentry/api.ts';
import { isSlug, isUuid, looksLikeGrantCode, parseEnvelope, parseInstallation, PayloadError, type WebhookEnvelope } from '../sentry/payloads.ts';
import { verify } from '../sentry/signature.ts';
import { createTokenManager, type TokenManager } from '../sentry/tokens.ts';
import type { InstallationStore } from '../store/types.ts';
import { clientAddress, clientKey } from './client-address.ts';
import { createFailureLimiter } from './failure-limit.ts';
import { createInstaller, InstallError, type Installer } from './install.ts';
import { sendPage } from './pages.ts';
import { createStateSigner, externalInstallUrl, type StateSigner } from './state.ts';

/** Webhook body limit: 1 MiB. */
export const WEBHOOK_BODY_LIMIT = 1 << 20;
/** The window of SETUP_FAILURE_LIMIT: a grant code's own life, 10 minutes. */
export const SETUP_FAILURE_WINDOW_MS = 10 * 60_000;
/** Characters of a request's `Request-ID` header that reach the log (Sentry's are 32). */
const MAX_LOGGED_REQUEST_ID = 64;

/** A verified webhook handed to a pluggable handler. */
export interface WebhookRequest {
  /** `Sentry-Hook-Resource`, or inferred from the envelope; undefined for UI-component requests without one. */
  resource: string | undefined;
  /** The validated envelope, when the body is one. */
  envelope?: WebhookEnvelope;
  /** The parsed JSON body (undefined for an empty body). */
  json: unknown;
  /** The exact bytes that were signed. */
  raw: Buffer;
  headers: IncomingHttpHeaders;
  /** Which header carried the signature. */
  signatureHeader: 'sentry-hook-signature' | 'sentry-app-signature';
  requestId: string;
  logger: Logger;
}

/** What a handler answers; nothing means 200 `{"ok":true}`. */
export interface WebhookReply {
  status: number;
  body?: unknown;
}

/** Handles webhooks the server itself does not (issue.*, UI components, …). Default: 2xx and ignore. */
export type WebhookHandler = (request: WebhookRequest) => Promise<WebhookReply | void> | WebhookReply | void;

/** Dependencies of {@link createServer}. */
export interface ServerDeps {
  config: Config;
  store: InstallationStore;
  api: SentryApi;
  clock?: Clock;
  logger?: Logger;
  /** Built from the other dependencies when absent. */
  tokens?: TokenManager;
  /** For resources and actions the server does not handle itself. */
  onWebhook?: WebhookHandler;
  /** Called after an installation is purged (e.g. to drop its queued work). */
  onInstallationDeleted?: (installationId: string) => Promise<void> | void;
  /** Extra /healthz fields (outbox, Pushover…); merged into the answer. */
  health?: () => Promise<Record<string, unknown>> | Record<string, unknown>;
  /** How long installation.created may hold its answer while exchanging (default 800 ms: Sentry waits 1 s). */
  webhookAckMs?: number;
  /** Passed to the token manager (tests inject a sleep that does not wait). */
  sleep?: (ms: number) => Promise<void>;
  /** Server timeouts (ms). */
  timeouts?: { headers?: number; request?: number; keepAlive?: number };
  /** How long `close` waits for in-flight requests before cutting connections (default 10 s). */
  drainMs?: number;
}

/** The running application. */
export interface IntegrationServer {
  readonly server: Server;
  readonly tokens: TokenManager;
  readonly installer: Installer;
  readonly states: StateSigner;
  /** Starts listening (default: config host/port); resolves with the base URL. */
  listen(port?: number, host?: string): Promise<string>;
  /** A fresh external-install link carrying a signed state (needs SENTRY_APP_SLUG). */
  externalInstallUrl(): string | undefined;
  /** Resolves when background work (webhook-started installs, refreshes) has settled. */
  idle(): Promise<void>;
  /** Graceful shutdown: stop accepting, finish in-flight requests and work, close the store. */
  close(): Promise<void>;
}

/** The path part of a request target, as `new URL` normalises it; a bad target is `/`. */
function parseTarget(target: string | undefined): URL {
  try {
    return new URL(target ?? '/', 'http://localhost');
  } catch {
    return new URL('http://localhost/');
  }
}

/**
 * Builds the server (not yet listening).
 *
 * @example
 * const app = createServer({ config, store, api });
 * await app.listen(0, '127.0.0.1');
 */
export function createServer(deps: ServerDeps): IntegrationServer {
  const { config, store, api } = deps;
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? silentLogger;
  const tokens = deps.tokens ?? createTokenManager({
    store, api, clock, logger, skewMs: config.tokenRefreshSkewMs, jwtRefresh: config.jwtRefresh, ...(deps.sleep ? { sleep: deps.sleep } : {}),
  });
  const installer = createInstaller({ config, store, api, tokens, clock, logger });
  const secrets = [config.clientSecret ?? '', config.clientSecretPrevious ?? ''].filter(Boolean);
  // Without a secret nothing verifies (fail closed); the signer still needs a key.
  const states = createStateSigner(config.clientSecret ?? randomBytes(32).toString('hex'), clock, undefined, secrets.slice(1));
  const ackMs = deps.webhookAckMs ?? 800;
  const setupFailures = createFailureLimiter({ limit: config.setupFailureLimit, windowMs: SETUP_FAILURE_WINDOW_MS, clock });
  const background = new Set<Promise<unknown>>();
  let closing: Promise<void> | undefined;
  // Request ids: 16 hex digits, a random per-server prefix and a counter. Unique per process and cheap
  // (no entropy read per request); they correlate log lines, they are not secrets.
  const requestIdPrefix = randomBytes(4).toString('hex');
  let requestCount = 0;
  const requestIdOf = () => requestIdPrefix + (requestCount++ >>> 0).toString(16).padStart(8, '0');
  // Webhooks (the hot path) arrive on exactly the configured path, which then needs no URL parsing.
  const webhookTargetIsCanonical = parseTarget(config.webhookPath).pathname === config.webhookPath;

  const track = <T>(promise: Promise<T>): Promise<T> => {
    const settled = promise.then(() => {}, () => {});
    background.add(settled);
    void settled.finally(() => background.delete(settled));
    return promise;
  };

  function redirectTarget(orgSlug: string, appSlug: string | undefined): string {
    if (config.setupRedirectUrl) return config.setupRedirectUrl;
    const slug = config.appSlug ?? appSlug;
    return slug
      ? `${config.sentryUrl}/settings/${orgSlug}/sentry-apps/${encodeURIComponent(slug)}/`
      : `${config.sentryUrl}/settings/${orgSlug}/integrations/`;
  }

  async function handleSetup(req: IncomingMessage, res: ServerResponse, url: URL, log: Logger): Promise<void> {
    if (req.method === 'GET' && url.pathname === `${config.setupPath}/start`) {
      const link = app.externalInstallUrl();
      if (!link) return sendPage(res, 404, 'Not available', 'Set SENTRY_APP_SLUG to enable install links.');
      res.writeHead(302, { location: link, 'cache-control': 'no-store' });
      res.end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET');
      return sendPage(res, 405, 'Method not allowed', 'Use GET.');
    }
    // Read first: the peer address is gone from a socket the client has closed meanwhile.
    const client = clientKey(clientAddress(req, config.trustProxy));
    const q = url.searchParams;
    const installationId = q.get('installationId') ?? '';
    const code = q.get('code');
    const orgSlug = q.get('orgSlug') ?? '';
    const state = q.get('state');
    const bad = (message: string) => {
      log.warn('setup rejected', { reason: message });
      sendPage(res, 400, 'Installation failed', message);
    };
    if (!isUuid(installationId)) return bad('The installation id is missing or malformed.');
    if (!isSlug(orgSlug)) return bad('The organization is missing or malformed.');
    if (code !== null && !looksLikeGrantCode(code)) return bad('The installation code is malformed.');
    const ilog = log.child({ installation: installationId });
    try {
      // Limited before the state is checked (a refused request must not spend a valid state); a
      // reload after a completed install calls nobody, so it is never limited.
      const waitMs = code === null ? 0 : setupFailures.retryAfterMs(client);
      if (waitMs > 0 && (await store.get(installationId))?.status !== 'active') {
        const seconds = Math.ceil(waitMs / 1000);
        ilog.warn('setup refused: too many failed code exchanges from this address', { client, retryAfterS: seconds });
        res.setHeader('retry-after', String(seconds));
        return sendPage(res, 429, 'Too many failed installations', `Too many installation codes from this address were refused. Try again in ${seconds} s; if the installation link has expired by then, start the installation again from Sentry.`);
      }
      if (state !== null) {
        const check = states.verify(state);
        // A reload of a finished install: the first load spent the state, and nothing is left to do.
        const finished = check === 'replayed' && (await store.get(installationId))?.status === 'active';
        if (check !== 'ok' && !finished) return bad(`The installation link is not valid (${check} state). Start the installation again.`);
      }
      if (code === null) {
        // Sentry sometimes omits the code (getsentry/sentry#71440): fine if the webhook already completed the install.
        const record = await store.get(installationId);
        if (!record || record.status !== 'active') {
          return bad('Sentry did not send an installation code. If the integration does not show as installed shortly, reinstall it.');
        }
        res.writeHead(302, { location: redirectTarget(record.orgSlug, undefined), 'cache-control': 'no-store' });
        res.end();
        return;
      }
      const settle = setupFailures.begin(client);
      const result = await track(installer.complete({ installationId, code, orgSlug, ...(state ? { state } : {}), source: 'setup' }))
        .catch((error: unknown) => {
          settle(error instanceof InstallError && error.kind === 'grant');
          throw error;
        });
      settle(false);
      ilog.info('setup complete', { outcome: result.outcome, verified: result.record.verified });
      res.writeHead(302, { location: redirectTarget(result.record.orgSlug, result.appSlug), 'cache-control': 'no-store' });
      res.end();
    } catch (error) {
      if (error instanceof InstallError) {
        ilog.warn('setup failed', { kind: error.kind, error: error.message, detail: error.detail });
        if (error.kind === 'grant') return sendPage(res, 400, 'Installation failed', `${error.message}. Reinstall the integration from Sentry.`);
        if (error.kind === 'gone') return sendPage(res, 400, 'Installation removed', 'The integration was uninstalled meanwhile.');
        return sendPage(res, 502, 'Sentry did not answer as expected', `${error.message}. Reload this page to retry.`);
      }
      // A browser is waiting: anything else (the store unreadable, a bug) is still a page, not JSON.
      ilog.error('setup failed', { error });
      return sendPage(res, 500, 'Installation failed', 'The integration could not read or save its installation records. Reload this page to retry; if it keeps failing, tell the integration\'s operator.');
    }
  }

  async function handleInstallationWebhook(envelope: WebhookEnvelope, log: Logger): Promise<WebhookReply> {
    const id = envelope.installationId;
    if (envelope.action === 'deleted') {
      tokens.forget(id);
      const existed = await store.withLock(id, () => store.delete(id));
      tokens.forget(id); // again: anything that started while we waited for the lock is void too
      if (deps.onInstallationDeleted) await deps.onInstallationDeleted(id);
      log.info('installation deleted; tokens purged', { existed });
      return { status: 200, body: { ok: true } };
    }
    if (envelope.action !== 'created') return { status: 200, body: { ok: true, ignored: true } };
    const payload = parseInstallation(envelope.data.installation);
    if (payload.uuid !== id) throw new PayloadError('installation uuid mismatch');
    if (!payload.code) {
      const record = await store.get(id);
      log.info(record ? 'installation.created without code; tokens already held' : 'installation.created without code; waiting for the redirect');
      return { status: 200, body: { ok: true } };
    }
    const flight = track(installer.complete({
      installationId: id, code: payload.code, orgSlug: payload.orgSlug,
      ...(payload.orgId !== undefined ? { orgId: payload.orgId } : {}), source: 'webhook',
    }));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<'pending'>((resolve) => { timer = setTimeout(() => resolve('pending'), ackMs); });
    try {
      const outcome = await Promise.race([flight.then(() => 'done' as const), deadline]);
      if (outcome === 'pending') {
        // Answer within Sentry's 1 s budget; the exchange finishes in the background.
        flight.catch((error: unknown) => log.warn('webhook install failed', { error }));
        return { status: 202, body: { ok: true, pending: true } };
      }
      return { status: 200, body: { ok: true } };
    } catch (error) {
      if (error instanceof InstallError) {
        log.warn('webhook install failed', { kind: error.kind, error: error.message, detail: error.detail });
        // Transient Sentry failures: 503 lets Sentry retry the delivery (published apps).
        return error.kind === 'upstream' ? { status: 503, body: { ok: false } } : { status: 200, body: { ok: false } };
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  async function handleWebhook(req: IncomingMessage, res: ServerResponse, log: Logger, requestId: string): Promise<void> {
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'method not allowed' }, { allow: 'POST' });
    let raw: Buffer;
    try {
      raw = await readBody(req, WEBHOOK_BODY_LIMIT);
    } catch (error) {
      if (error instanceof BodyTooLargeError) return sendJson(res, 413, { error: 'body too large' }, { connection: 'close' });
      throw error;
    }
    const hook = headerValue(req, 'sentry-hook-signature');
    const signatureHeader = hook !== undefined ? 'sentry-hook-signature' : 'sentry-app-signature';
    const signature = hook ?? headerValue(req, 'sentry-app-signature');
    if (signature === undefined || secrets.length === 0 || !verify(secrets, raw, signature)) {
      log.warn('webhook signature rejected', { reason: signature === undefined ? 'missing' : 'mismatch' });
      return sendJson(res, 401, { error: 'invalid signature' });
    }
    let json: unknown;
    if (raw.length > 0) {
      try {
        json = JSON.parse(raw.toString('utf8'));
      } catch {
        return sendJson(res, 400, { error: 'malformed JSON' });
      }
    }
    const resourceHeader = headerValue(req, 'sentry-hook-resource');
    let envelope: WebhookEnvelope | undefined;
    try {
      envelope = parseEnvelope(json, resourceHeader);
    } catch (error) {
      // Sentry-Hook-* requests must be envelopes; UI-component bodies are not.
      if (resourceHeader !== undefined) return sendJson(res, 400, { error: (error as Error).message });
    }
    const elog = envelope ? log.child({ installation: envelope.installationId, resource: envelope.resource, action: envelope.action }) : log;
    let reply: WebhookReply | void = undefined;
    try {
      if (envelope?.resource === 'installation') {
        reply = await handleInstallationWebhook(envelope, elog);
      } else if (deps.onWebhook) {
        reply = await deps.onWebhook({
          resource: envelope?.resource ?? resourceHeader, ...(envelope ? { envelope } : {}), json, raw,
          headers: req.headers, signatureHeader, requestId, logger: elog,
        });
      } else {
        elog.debug('webhook ignored (no handler)');
      }
    } catch (error) {
      if (error instanceof PayloadError) return sendJson(res, 400, { error: error.message });
      throw error;
    }
    sendJson(res, reply?.status ?? 200, reply?.body ?? { ok: true });
  }

  // One store scan at a time: concurrent probes share it (the scan reads and decrypts every record).
  let healthScan: Promise<Record<string, unknown>> | undefined;
  const healthBody = (): Promise<Record<string, unknown>> => {
    healthScan ??= (async () => {
      const records = await store.list();
      const extra = deps.health ? await deps.health() : {};
      return {
        ok: true,
        mode: config.mode,
        installations: records.length,
        needsReauth: records.filter((r) => r.status === 'needs-reauth').map((r) => r.installationId).sort(),
        tokens: tokens.stats(),
        ...extra,
      };
    })().finally(() => { healthScan = undefined; });
    return healthScan;
  };

  // HEALTHZ_TOKEN compared as digests: equal lengths for timingSafeEqual, whatever the client sent.
  const healthzDigest = config.healthzToken ? createHash('sha256').update(config.healthzToken).digest() : undefined;
  /** 'full' without HEALTHZ_TOKEN or with its bearer; 'summary' without credentials; 'refused' with wrong ones. */
  const healthAccess = (req: IncomingMessage): 'full' | 'summary' | 'refused' => {
    if (!healthzDigest) return 'full';
    const authorization = headerValue(req, 'authorization');
    if (authorization === undefined) return 'summary';
    const given = /^Bearer (\S+)$/i.exec(authorization)?.[1] ?? '';
    return timingSafeEqual(createHash('sha256').update(given).digest(), healthzDigest) ? 'full' : 'refused';
  };

  async function handleHealth(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const access = healthAccess(req);
    if (access === 'refused') return sendJson(res, 401, { error: 'invalid HEALTHZ_TOKEN bearer' }, { 'www-authenticate': 'Bearer', 'cache-control': 'no-store' });
    try {
      const body = await healthBody();
      // Without credentials a probe still learns what a load balancer needs: the status and `ok`.
      sendJson(res, 200, access === 'full' ? body : { ok: body.ok }, { 'cache-control': 'no-store' });
    } catch (error) {
      logger.error('health check failed', { error });
      sendJson(res, 503, { ok: false, error: 'store unavailable' });
    }
  }

  const headersTimeout = deps.timeouts?.headers ?? 10_000;
  const requestTimeout = deps.timeouts?.request ?? 30_000;
  // Node enforces headersTimeout/requestTimeout only when it sweeps its connections, every 30 s by
  // default: a silent or slow-header client then held its socket for up to 40 s, not 10. Sweep at
  // least every second (and no slower than the shortest timeout) so the documented limits hold.
  const connectionsCheckingInterval = Math.max(10, Math.min(1_000, headersTimeout || 1_000, requestTimeout || 1_000));
  const server = createHttpServer({ connectionsCheckingInterval }, (req, res) => {
    const started = performance.now();
    const requestId = requestIdOf();
    // Sentry's Request-ID is 32 hex; anything else is the client's text, so a bounded prefix is logged.
    const sentryRequestId = headerValue(req, 'request-id')?.slice(0, MAX_LOGGED_REQUEST_ID);
    const log = logger.child(sentryRequestId ? { requestId, sentryRequestId } : { requestId });
    const url = webhookTargetIsCanonical && req.url === config.webhookPath ? undefined : parseTarget(req.url);
    const path = url ? url.pathname : config.webhookPath;
    res.setHeader('x-request-id', requestId);
    res.on('finish', () => {
      // The query is never logged: it carries the grant code and state.
      log.info('request', { method: req.method, path, status: res.statusCode, ms: Math.round(performance.now() - started) });
    });
    const route = async (): Promise<void> => {
      if (path === config.webhookPath) return handleWebhook(req, res, log, requestId);
      if (url && (path === config.setupPath || path === `${config.setupPath}/start`)) return handleSetup(req, res, url, log);
      if (path === '/healthz') {
        if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: 'method not allowed' }, { allow: 'GET' });
        return handleHealth(req, res);
      }
      req.resume();
      sendJson(res, 404, { error: 'not found' });
    };
    track(route()).catch((error: unknown) => {
      if (!req.complete && (error as { code?: unknown } | null)?.code === 'ECONNRESET') {
        // The client hung up before sending its whole body: nothing failed here and no answer can reach it.
        log.info('request aborted by the client', { method: req.method, path });
        res.destroy();
        return;
      }
      log.error('request failed', { error });
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  if (config.maxConnections > 0) server.maxConnections = config.maxConnections;
  // Node names each refused connection ('drop'; Deno closes them silently): one warning per 10 s.
  let droppedSinceWarning = 0;
  let lastDropWarning = -Infinity;
  const warnDropped = () => {
    logger.warn('connections refused: MAX_CONNECTIONS reached', { maxConnections: config.maxConnections, refused: droppedSinceWarning });
    lastDropWarning = clock.now();
    droppedSinceWarning = 0;
  };
  server.on('drop', () => {
    droppedSinceWarning++;
    if (clock.now() - lastDropWarning >= 10_000) warnDropped();
  });
  server.headersTimeout = headersTimeout;
  server.requestTimeout = requestTimeout;
  server.keepAliveTimeout = deps.timeouts?.keepAlive ?? 5_000;

  const app: IntegrationServer = {
    server,
    tokens,
    installer,
    states,
    listen(port = config.port, host = config.host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const address = server.address() as AddressInfo;
          const shown = address.family === 'IPv6' || address.address.includes(':') ? `[${address.address}]` : address.address;
          resolve(`http://${shown}:${address.port}`);
        });
      });
    },
    externalInstallUrl() {
      return config.appSlug ? externalInstallUrl(config.sentryUrl, config.appSlug, states.issue()) : undefined;
    },
    async idle() {
      while (background.size) await Promise.allSettled([...background]);
      await tokens.idle();
      await installer.idle();
    },
    close() {
      closing ??= (async () => {
        const drained = new Promise<void>((resolve) => {
          if (!server.listening) return resolve();
          server.close(() => resolve());
        });
        // Idle keep-alive sockets would hold close() open; busy ones finish their request first and
        // become idle afterwards, so keep closing idle ones until everything is drained.
        const closeIdle = () => (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
        closeIdle();
        const sweeper = setInterval(closeIdle, 25);
        void drained.finally(() => clearInterval(sweeper));
        let timer: ReturnType<typeof setTimeout> | undefined;
        const cut = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            (server as { closeAllConnections?: () => void }).closeAllConnections?.();
            resolve();
          }, deps.drainMs ?? 10_000);
        });
        await Promise.race([drained, cut]);
        clearTimeout(timer);
        clearInterval(sweeper);
        await app.idle();
        await store.close();
        if (droppedSinceWarning) warnDropped(); // the refusals since the last warning, not lost at exit
        logger.info('stopped');
      })();
      return closing;
    },
  };
  return app;
}
