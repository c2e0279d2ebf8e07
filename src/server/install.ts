/**
 * Completing an installation: exchange the grant code, persist the tokens, verify the install. The
 * redirect (/setup) and the `installation.created` webhook carry the **same single-use code** and
 * arrive in either order, so completion is single-flight per installation (in process) and runs
 * under the store's lock (across processes): whoever comes second finds the record and exchanges
 * nothing. A 401 `Could not find grant for given code` while a record exists is the expected loser's
 * answer and changes nothing. After the exchange (and verify, when on) the organization's region
 * (`links.regionUrl`) is discovered and stored; a failed discovery never fails the install.
 *
 * @example
 * const installer = createInstaller({ config, store, api, tokens, clock, logger });
 * const result = await installer.complete({ installationId, code, orgSlug, source: 'setup' });
 */
import type { Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { SentryApiError, type SentryApi } from '../sentry/api.ts';
import { isForeignRegion } from '../sentry/region.ts';
import type { TokenManager } from '../sentry/tokens.ts';
import type { InstallationRecord, InstallationStore } from '../store/types.ts';

/** Why an install could not be completed. `grant`: the code is unusable (→ 400); `upstream`: Sentry failed (→ 502). */
export class InstallError extends Error {
  readonly kind: 'grant' | 'upstream' | 'gone';
  readonly detail: string | undefined;
  constructor(kind: 'grant' | 'upstream' | 'gone', message: string, detail?: string) {
    super(message);
    this.name = 'InstallError';
    this.kind = kind;
    this.detail = detail;
  }
}

/** What to complete. */
export interface InstallRequest {
  installationId: string;
  code: string;
  orgSlug: string;
  orgId?: number | string;
  state?: string;
  source: 'setup' | 'webhook';
}

/** The outcome. */
export interface InstallResult {
  /** `exchanged`: this call exchanged the code; `existing`: a token was already held. */
  outcome: 'exchanged' | 'existing';
  record: InstallationRecord;
  /** From the verify answer, when verify ran. */
  appSlug?: string;
}

/** The installer. */
export interface Installer {
  complete(request: InstallRequest): Promise<InstallResult>;
  /**
   * Lazy region discovery for an installation whose install-time discovery failed: the region URL
   * to fetch org data from, or undefined (use SENTRY_URL). Single-flight per installation and tried
   * at most once per {@link REGION_RETRY_MS} (a token without `org:read` would otherwise cost one
   * extra call per issue). Never throws.
   *
   * @example
   * const base = record.regionUrl ?? await installer.regionFor(record.installationId);
   */
  regionFor(installationId: string): Promise<string | undefined>;
  /** Resolves when no completion is in flight. */
  idle(): Promise<void>;
}

/** Minimum time between two lazy region discoveries for one installation (10 minutes). */
export const REGION_RETRY_MS = 10 * 60_000;

const GRANT_DETAILS = ['Could not find grant for given code', 'Grant has already expired', 'Forbidden grant'];

/** Dependencies of {@link createInstaller}. */
export interface InstallerDeps {
  /** `sentryUrl` only tells whether a discovered region is another host (logged; expected for EU orgs). */
  config: Pick<Config, 'verifyInstall' | 'sentryUrl'>;
  store: InstallationStore;
  api: SentryApi;
  tokens: TokenManager;
  clock: Clock;
  logger: Logger;
}

/**
 * Creates the installer.
 *
 * @example
 * createInstaller(deps).complete({ installationId, code, orgSlug, source: 'webhook' });
 */
export function createInstaller(deps: InstallerDeps): Installer {
  const { store, api, tokens, clock, logger } = deps;
  const inflight = new Map<string, Promise<InstallResult>>();
  const iso = () => new Date(clock.now()).toISOString();

  async function exchangeLocked(request: InstallRequest, gen: number): Promise<InstallResult> {
    const id = request.installationId;
    const existing = await store.get(id);
    if (existing && existing.status === 'active') {
      logger.info('installation already has tokens; code not exchanged', { installation: id, source: request.source });
      return { outcome: 'existing', record: existing };
    }
    let grant;
    try {
      grant = await api.exchange(id, request.code, request.state);
    } catch (error) {
      if (!(error instanceof SentryApiError)) throw error;
      if (error.kind === 'auth' && GRANT_DETAILS.includes(error.detail ?? '')) {
        const now = await store.get(id);
        if (now && now.status === 'active') return { outcome: 'existing', record: now };
        throw new InstallError('grant', 'the installation code is unknown, used or expired', error.detail);
      }
      if (error.kind === 'not-found') throw new InstallError('grant', 'Sentry does not know this installation', error.detail);
      throw new InstallError('upstream', `Sentry refused the code exchange (${error.status || error.kind})`, error.detail);
    }
    if (tokens.generation(id) !== gen) throw new InstallError('gone', 'the installation was removed during the exchange');
    const record: InstallationRecord = {
      installationId: id,
      orgSlug: request.orgSlug,
      ...(request.orgId !== undefined ? { orgId: request.orgId } : existing?.orgId !== undefined ? { orgId: existing.orgId } : {}),
      token: grant.token,
      refreshToken: grant.refreshToken,
      expiresAt: grant.expiresAt,
      scopes: grant.scopes,
      status: 'active',
      verified: !deps.config.verifyInstall,
      createdAt: existing?.createdAt ?? iso(),
      updatedAt: iso(),
    };
    await store.put(record); // persisted before the token is used (verify) or the browser is told "done"
    tokens.remember(record);
    logger.info('installation code exchanged', { installation: id, source: request.source, org: request.orgSlug });
    return { outcome: 'exchanged', record };
  }

  async function verify(result: InstallResult, gen: number): Promise<InstallResult> {
    const id = result.record.installationId;
    let answer;
    try {
      answer = await tokens.withToken(id, (token) => api.verifyInstallation(id, token));
    } catch (error) {
      if (error instanceof SentryApiError) {
        throw new InstallError('upstream', `Sentry refused the installation verification (${error.status || error.kind})`, error.detail);
      }
      throw error;
    }
    return store.withLock(id, async () => {
      const current = await store.get(id);
      if (!current || tokens.generation(id) !== gen) throw new InstallError('gone', 'the installation was removed during verification');
      const next: InstallationRecord = { ...current, verified: true, updatedAt: iso() };
      // The verify answer's organization is Sentry's own word; the query's orgSlug is only the browser's.
      if (answer.orgSlug) next.orgSlug = answer.orgSlug;
      if (answer.orgId !== undefined) next.orgId = answer.orgId;
      await store.put(next);
      tokens.remember(next);
      logger.info('installation verified', { installation: id });
      return { ...result, record: next, ...(answer.appSlug ? { appSlug: answer.appSlug } : {}) };
    });
  }

  /**
   * Region discovery: reads `links.regionUrl` with the installation's token and stores it. Never
   * fails the install: any problem is logged and the record keeps using SENTRY_URL (which proxies
   * org-scoped paths) until a later discovery succeeds.
   */
  async function discover(record: InstallationRecord, gen: number): Promise<InstallationRecord> {
    const id = record.installationId;
    const log = logger.child({ installation: id });
    let org;
    try {
      org = await tokens.withToken(id, (token, current) => api.getOrganization(token, current.orgSlug || record.orgSlug));
    } catch (error) {
      log.warn('region discovery failed; issues will be fetched from SENTRY_URL', error instanceof SentryApiError
        ? { kind: error.kind, status: error.status, detail: error.detail }
        : { error });
      return record;
    }
    if (org.regionUrlRefused) {
      log.warn('region URL refused (only http(s) URLs are accepted); issues will be fetched from SENTRY_URL', {
        regionUrl: org.regionUrlRefused.value, reason: org.regionUrlRefused.reason,
      });
      return record;
    }
    const regionUrl = org.regionUrl;
    if (!regionUrl) {
      log.info('organization has no regionUrl; issues will be fetched from SENTRY_URL');
      return record;
    }
    return store.withLock(id, async () => {
      const current = await store.get(id);
      // Uninstalled meanwhile: write nothing back (a purge must stay a purge).
      if (!current || tokens.generation(id) !== gen) return record;
      if (current.regionUrl === regionUrl) return current;
      const next: InstallationRecord = { ...current, regionUrl, updatedAt: iso() };
      await store.put(next);
      tokens.remember(next);
      log.info('region discovered', { regionUrl, foreign: isForeignRegion(regionUrl, deps.config.sentryUrl) });
      return next;
    });
  }

  async function run(request: InstallRequest): Promise<InstallResult> {
    const gen = tokens.generation(request.installationId);
    let result = await store.withLock(request.installationId, () => exchangeLocked(request, gen));
    if (deps.config.verifyInstall && !result.record.verified) result = await verify(result, gen);
    // Also when the other path (redirect/webhook) completed the install but its discovery failed.
    if (result.record.regionUrl === undefined && result.record.status === 'active') {
      result = { ...result, record: await discover(result.record, gen) };
    }
    return result;
  }

  const regionFlights = new Map<string, Promise<string | undefined>>();
  const regionTried = new Map<string, number>();

  async function lazyRegion(id: string): Promise<string | undefined> {
    const record = await store.get(id).catch(() => undefined);
    if (!record || record.status !== 'active') return undefined;
    if (record.regionUrl !== undefined) return record.regionUrl;
    const last = regionTried.get(id);
    if (last !== undefined && clock.now() - last < REGION_RETRY_MS) return undefined;
    regionTried.set(id, clock.now());
    const next = await discover(record, tokens.generation(id));
    if (next.regionUrl !== undefined) regionTried.delete(id);
    return next.regionUrl;
  }

  return {
    regionFor(installationId) {
      const running = regionFlights.get(installationId);
      if (running) return running;
      const flight = lazyRegion(installationId).catch(() => undefined).finally(() => regionFlights.delete(installationId));
      regionFlights.set(installationId, flight);
      return flight;
    },
    complete(request) {
      const running = inflight.get(request.installationId);
      if (running) {
        // Same code from the other path: share the first attempt's outcome instead of exchanging again.
        return running.then((r) => ({ ...r, outcome: 'existing' as const }));
      }
      const flight = run(request).finally(() => {
        if (inflight.get(request.installationId) === flight) inflight.delete(request.installationId);
      });
      inflight.set(request.installationId, flight);
      return flight;
    },
    async idle() {
      await Promise.allSettled([...inflight.values(), ...regionFlights.values()]);
    },
  };
}
