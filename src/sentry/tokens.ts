/**
 * Keeps every installation's access token good. Sentry's refresh tokens are single-use and a refresh
 * deletes the old pair (getsentry/sentry#94190), so the rules are strict:
 *
 * - refresh proactively when less than `skewMs` (default 5 min) is left;
 * - one refresh per installation at a time: single-flight in this process, `store.withLock` across
 *   processes, and the record is re-read inside the lock (another process may already have refreshed);
 * - the rotated pair is persisted (durably, `store.put`) **before** the new token is handed out;
 * - a lost refresh answer (Sentry committed, the answer never arrived) or a refresh token Sentry no
 *   longer knows is recovered with the JWT-bearer grant when enabled (fresh `jti` per attempt,
 *   getsentry/sentry#121422); otherwise the installation is marked `needs-reauth`, logged once, and
 *   never refreshed again (no loop on a dead refresh token) until a new grant code arrives;
 * - 429 on refresh backs off exponentially (Sentry sends no `Retry-After`); the refresh token is
 *   still valid then because the rate limiter runs before the refresher.
 *
 * @example
 * const tokens = createTokenManager({ store, api, clock, logger });
 * const issue = await tokens.withToken(id, (token) => api.getIssue(token, org, issueId));
 */
import type { Clock } from '../clock.ts';
import { systemClock } from '../clock.ts';
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import type { InstallationRecord, InstallationStore } from '../store/types.ts';
import { SentryApiError, type SentryApi, type TokenGrant } from './api.ts';

/** The installation is unknown (never installed, or uninstalled): nothing may be sent for it. */
export class UnknownInstallationError extends Error {
  readonly installationId: string;
  constructor(installationId: string) {
    super(`unknown installation ${installationId}`);
    this.name = 'UnknownInstallationError';
    this.installationId = installationId;
  }
}

/** The refresh chain is broken; the organization must reinstall (or a new grant code must arrive). */
export class NeedsReauthError extends Error {
  readonly installationId: string;
  constructor(installationId: string) {
    super(`installation ${installationId} needs re-authorization (reinstall the integration)`);
    this.name = 'NeedsReauthError';
    this.installationId = installationId;
  }
}

/** Options for {@link createTokenManager}. */
export interface TokenManagerOptions {
  store: InstallationStore;
  api: SentryApi;
  clock?: Clock;
  logger?: Logger;
  /** Refresh when less than this is left (default 5 minutes). */
  skewMs?: number;
  /** Recover with the JWT-bearer grant (default true). */
  jwtRefresh?: boolean;
  /** JWT attempts, each with a fresh `jti` (default 3). */
  jwtAttempts?: number;
  /** 429 back-off: first delay, cap and number of retries (default 2 s, 30 s, 4). */
  backoff?: { initialMs?: number; maxMs?: number; retries?: number };
  /** How to wait between attempts (inject in tests; default a real timer). */
  sleep?: (ms: number) => Promise<void>;
}

/** Counters for /healthz and tests. */
export interface TokenStats {
  refreshes: number;
  jwtRecoveries: number;
  rateLimited: number;
  markedNeedsReauth: number;
}

/** The token manager. */
export interface TokenManager {
  /** A token good for at least `skewMs`; refreshes first when needed. */
  validToken(installationId: string): Promise<string>;
  /**
   * Runs `call` with a valid token; on 401 `Token expired` / `Invalid token` refreshes once and
   * retries once.
   */
  withToken<T>(installationId: string, call: (token: string, record: InstallationRecord) => Promise<T>): Promise<T>;
  /** Tells the manager about a record just written by the install flow. */
  remember(record: InstallationRecord): void;
  /**
   * Forgets an installation (uninstall): drops the cached record and makes any in-flight refresh
   * discard its result without writing it.
   */
  forget(installationId: string): void;
  /** A number that changes whenever `forget` is called for the id (lets other flows detect an uninstall). */
  generation(installationId: string): number;
  /** Marks an installation `needs-reauth` (logged once). */
  markNeedsReauth(installationId: string, reason: string): Promise<void>;
  stats(): TokenStats;
  /** Resolves when no refresh is in flight. */
  idle(): Promise<void>;
}

const REJECTED_DETAILS = new Set(['Token expired', 'Invalid token']);

/** True for the 401s that mean "this access token is no longer accepted". */
export function isTokenRejected(error: unknown): boolean {
  return error instanceof SentryApiError && error.kind === 'auth' && error.operation !== 'exchange'
    && error.operation !== 'refresh' && error.operation !== 'jwt' && REJECTED_DETAILS.has(error.detail ?? '');
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Creates a token manager over a store and an API client.
 *
 * @example
 * const tokens = createTokenManager({ store, api, skewMs: 300_000, jwtRefresh: true });
 * const token = await tokens.validToken(installationId);
 */
export function createTokenManager(options: TokenManagerOptions): TokenManager {
  const { store, api } = options;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const skewMs = options.skewMs ?? 5 * 60_000;
  const jwtEnabled = options.jwtRefresh ?? true;
  const jwtAttempts = options.jwtAttempts ?? 3;
  const backoffInitial = options.backoff?.initialMs ?? 2000;
  const backoffMax = options.backoff?.maxMs ?? 30_000;
  const backoffRetries = options.backoff?.retries ?? 4;
  const sleep = options.sleep ?? realSleep;

  const cache = new Map<string, InstallationRecord>();
  const inflight = new Map<string, Promise<InstallationRecord>>();
  const generations = new Map<string, number>();
  const stats: TokenStats = { refreshes: 0, jwtRecoveries: 0, rateLimited: 0, markedNeedsReauth: 0 };

  const generation = (id: string) => generations.get(id) ?? 0;
  const due = (record: InstallationRecord) => Date.parse(record.expiresAt) - clock.now() <= skewMs;

  async function load(id: string): Promise<InstallationRecord> {
    const record = cache.get(id) ?? (await store.get(id));
    if (!record) throw new UnknownInstallationError(id);
    if (record.status === 'needs-reauth') throw new NeedsReauthError(id);
    return record;
  }

  /** Retries a grant on 429 with exponential back-off; other errors pass through. */
  async function withBackoff(id: string, grant: () => Promise<TokenGrant>): Promise<TokenGrant> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await grant();
      } catch (error) {
        if (!(error instanceof SentryApiError) || error.kind !== 'rate-limited' || attempt >= backoffRetries) throw error;
        stats.rateLimited++;
        const delay = Math.min(backoffMax, backoffInitial * 2 ** attempt);
        logger.warn('token refresh rate limited; backing off', { installation: id, delayMs: delay, attempt: attempt + 1 });
        await sleep(delay);
      }
    }
  }

  async function jwtRecover(id: string): Promise<TokenGrant | undefined> {
    let last: unknown;
    for (let attempt = 1; attempt <= jwtAttempts; attempt++) {
      try {
        // Each call signs a new JWT (new jti): a JWT is single-use and #121422 needs a fresh one.
        const grant = await withBackoff(id, () => api.jwtRefresh(id));
        stats.jwtRecoveries++;
        logger.info('recovered tokens with the JWT grant', { installation: id, attempt });
        return grant;
      } catch (error) {
        last = error;
        // 403: the feature flag is off; 404: the installation is gone. Retrying cannot help.
        if (error instanceof SentryApiError && (error.kind === 'forbidden' || error.kind === 'not-found' || error.kind === 'rate-limited')) break;
      }
    }
    // Not "JWT-bearer recovery": the log redaction takes any "bearer <word>" for a credential.
    logger.warn('JWT grant recovery failed', { installation: id, error: last });
    return undefined;
  }

  async function markNeedsReauth(id: string, reason: string): Promise<void> {
    const record = await store.get(id);
    if (!record || record.status === 'needs-reauth') return;
    const next: InstallationRecord = { ...record, status: 'needs-reauth', updatedAt: new Date(clock.now()).toISOString() };
    await store.put(next);
    cache.delete(id);
    stats.markedNeedsReauth++;
    // Logged once: the status is persisted, and later calls stop at `load` without logging.
    logger.error('installation needs re-authorization: reinstall the integration in Sentry', { installation: id, reason });
  }

  async function refreshLocked(id: string, staleToken: string | undefined, gen: number): Promise<InstallationRecord> {
    const gone = () => generation(id) !== gen;
    if (gone()) throw new UnknownInstallationError(id);
    const record = await store.get(id);
    if (!record || gone()) throw new UnknownInstallationError(id);
    if (record.status === 'needs-reauth') throw new NeedsReauthError(id);
    // Another process (or an earlier flight) may have refreshed while we waited for the lock.
    if (staleToken !== undefined ? record.token !== staleToken && !due(record) : !due(record)) {
      cache.set(id, record);
      return record;
    }
    let grant: TokenGrant | undefined;
    try {
      grant = await withBackoff(id, () => api.refresh(id, record.refreshToken));
      stats.refreshes++;
    } catch (error) {
      if (!(error instanceof SentryApiError)) throw error;
      if (gone()) throw new UnknownInstallationError(id);
      if (error.kind === 'rate-limited') throw error; // refresh token still valid; try again later
      if (error.kind === 'network' && !error.maybeCommitted) throw error; // nothing reached Sentry
      if (error.kind === 'server' && !jwtEnabled) throw error; // most likely rolled back; keep the token
      const reason = error.kind === 'network' ? 'refresh answer lost' : `refresh rejected: ${error.status} ${error.detail ?? ''}`.trim();
      logger.warn('token refresh failed', { installation: id, reason, jwt: jwtEnabled });
      if (error.kind === 'not-found') {
        await markNeedsReauth(id, 'installation not found at Sentry');
        throw new NeedsReauthError(id);
      }
      grant = jwtEnabled ? await jwtRecover(id) : undefined;
      if (!grant) {
        if (gone()) throw new UnknownInstallationError(id);
        await markNeedsReauth(id, reason);
        throw new NeedsReauthError(id);
      }
    }
    if (gone()) throw new UnknownInstallationError(id); // uninstalled meanwhile: write nothing
    const next: InstallationRecord = {
      ...record,
      token: grant.token,
      refreshToken: grant.refreshToken,
      expiresAt: grant.expiresAt,
      scopes: grant.scopes.length ? grant.scopes : record.scopes,
      status: 'active',
      updatedAt: new Date(clock.now()).toISOString(),
    };
    await store.put(next); // durable before anyone uses the new token
    if (gone()) throw new UnknownInstallationError(id);
    cache.set(id, next);
    logger.info('token refreshed', { installation: id, expiresAt: next.expiresAt });
    return next;
  }

  function refresh(id: string, staleToken?: string): Promise<InstallationRecord> {
    const running = inflight.get(id);
    if (running) return running;
    const gen = generation(id);
    const flight = store.withLock(id, () => refreshLocked(id, staleToken, gen)).finally(() => {
      if (inflight.get(id) === flight) inflight.delete(id);
    });
    inflight.set(id, flight);
    return flight;
  }

  async function validRecord(id: string): Promise<InstallationRecord> {
    const record = await load(id);
    if (!due(record)) return record;
    return refresh(id);
  }

  return {
    async validToken(id) {
      return (await validRecord(id)).token;
    },
    async withToken(id, call) {
      const record = await validRecord(id);
      try {
        return await call(record.token, record);
      } catch (error) {
        if (!isTokenRejected(error)) throw error;
        logger.info('token rejected by Sentry; refreshing once', { installation: id, detail: (error as SentryApiError).detail });
        cache.delete(id);
        const fresh = await refresh(id, record.token);
        return call(fresh.token, fresh);
      }
    },
    remember(record) {
      cache.set(record.installationId, record);
    },
    forget(id) {
      cache.delete(id);
      inflight.delete(id);
      generations.set(id, generation(id) + 1);
    },
    generation,
    markNeedsReauth,
    stats: () => ({ ...stats }),
    async idle() {
      await Promise.allSettled([...inflight.values()]);
    },
  };
}
