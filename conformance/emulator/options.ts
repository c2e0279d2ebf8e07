/**
 * The emulator's options, with the documented (or most likely) defaults. Every behaviour the
 * reference marks UNCONFIRMED is a named option here so a test can pin either variant.
 */
import { randomBytes } from 'node:crypto';
import { offsetClock, type OffsetClock } from '../../src/clock.ts';
import type { ServerResponse } from 'node:http';
import type { RequestContext } from './reply.ts';
import type { EmulatorApp, SentryEmulator } from './types.ts';

/**
 * Serves extra paths (the sandbox pages in `ui/`) ahead of the Sentry routes; returns true when it
 * answered. Its requests are not recorded (they are the browser's, not the integration's).
 */
export type PageHandler = (ctx: RequestContext, res: ServerResponse, emulator: SentryEmulator) => boolean | Promise<boolean>;

/** A status and `detail` text the emulator answers with. */
export interface DetailReply {
  status: number;
  detail: string;
}

/** Options for `startSentryEmulator`. */
export interface EmulatorOptions {
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Port (default 0: any free port). */
  port?: number;
  /** The emulator's clock (default: real time plus an offset that `advanceClock` grows). */
  clock?: OffsetClock;
  /** Apps to register at start (default: one app with the defaults of {@link defaultApp}). */
  apps?: Partial<EmulatorApp>[];
  /** Source of random bytes for ids, codes and tokens (inject for reproducible runs). */
  randomBytes?: (size: number) => Buffer;
  /** Webhook timeout in ms (Sentry: `sentry-apps.webhook.timeout.sec` = 1.0 s). */
  webhookTimeoutMs?: number;
  /** Delay between webhook retries in ms (Sentry: ~5 min; short here so tests stay fast). */
  retryDelayMs?: number;
  /** Retries after the first attempt for published apps (Sentry: 3). */
  maxRetries?: number;
  /** The user shown as `actor` for installs and uninstalls. */
  user?: { id: number; name: string };
  /**
   * UNCONFIRMED: after uninstall, how long (emulator-clock ms) the old token keeps working before
   * the scheduled deletion revokes its org access. Default 0 (immediately).
   */
  revokeAfterMs?: number;
  /**
   * UNCONFIRMED: what a revoked token (installation uninstalled) gets from the API. Default 403
   * "You do not have permission to perform this action." (the token row survives the deletion;
   * only org access goes). Alternatives seen in the wild: 401 Invalid token, 404.
   */
  revokedToken?: DetailReply;
  /**
   * UNCONFIRMED (inferred from code): whether a pending (unverified) installation receives
   * issue/error/comment webhooks. Default false.
   */
  pendingGetsIssueWebhooks?: boolean;
  /**
   * UNCONFIRMED: whether tokens of a pending installation may call org-scoped endpoints (issue,
   * organization). Default true (`is_installed_on` ignores status; getsentry/sentry#78989).
   */
  pendingTokensWork?: boolean;
  /** UNCONFIRMED: DRF permission-denied text used for 403s. */
  forbiddenDetail?: string;
  /** UNCONFIRMED: the JWT grant's "no Authorization header" text (the reference quotes it partially). */
  jwtMissingHeaderDetail?: string;
  /**
   * UNCONFIRMED: `status` of installation.deleted. 'current' (default) keeps the status at
   * uninstall time (older code); 'pending_deletion' mimics newer code.
   */
  deletedStatus?: 'current' | 'pending_deletion';
  /** Grant code format: older `uuid4().hex` (32 hex, default) or newer `token_hex(32)` (64 hex). */
  grantCodeFormat?: 'hex32' | 'hex64';
  /** Token refresh limit per app (refresh_token + JWT grants): Sentry 10 per 60 s, fixed window. */
  refreshRateLimit?: { limit: number; windowSec: number };
  /** Per-token API limit (UNCONFIRMED numbers: Sentry does not document them). Fixed window. */
  apiRateLimit?: { limit: number; windowSec: number; concurrentLimit: number };
  /** `links.regionUrl` of every organization outside `region` (default: the emulator's own URL). */
  regionUrl?: string;
  /**
   * A second listener acting as a region cell (as `de.sentry.io` is to `sentry.io`, §6 Regions).
   * Orgs in `orgs` live there: their `links.regionUrl` is its URL, and the legacy
   * `/api/0/issues/{id}/` on the main host answers 404 for their tokens (the gateway cannot route
   * it). The region host serves only org-scoped paths (`/api/0/organizations/{org}/…`) and only
   * for its own orgs; everything else there is recorded as 'unknown' and answered 404.
   * The main host keeps serving org-scoped paths for every org (sentry.io proxies them).
   * UNCONFIRMED (reference silent): an org-scoped call on the region host for an org of another
   * region answers 404 `The requested resource does not exist` (`foreignOrg` overrides it).
   */
  region?: {
    /** Cell name, recorded on its requests (default 'de'). */
    name?: string;
    /** Org slugs placed in this region. */
    orgs: string[];
    /** Interface and port of the second listener (default: the main host's interface, port 0). */
    host?: string;
    port?: number;
    /** What the region host answers for an org that lives elsewhere (default 404 not found). */
    foreignOrg?: DetailReply;
  };
  /**
   * UNCONFIRMED (a 2022 report, getsentry/sentry#33938): what an app token gets from a user-level
   * endpoint such as `GET /api/0/projects/`. Default 401 `Token not found` (with WWW-Authenticate).
   */
  userLevelEndpoint?: DetailReply;
  /** Serve the legacy `/api/0/issues/{id}/` path (default true); false mimics an EU org behind sentry.io (404). */
  legacyIssuePath?: boolean;
  /** Extra pages (e.g. `sandboxPages()` from `ui/index.ts`); default none. */
  pages?: PageHandler;
}

/** Options with every default filled in. */
export type ResolvedOptions = Required<Omit<EmulatorOptions, 'apps' | 'regionUrl' | 'pages' | 'region'>> & Pick<EmulatorOptions, 'apps' | 'regionUrl' | 'pages' | 'region'>;

/** DRF's permission-denied text (used for 403s). */
export const FORBIDDEN = 'You do not have permission to perform this action.';

/** Fills in defaults. @example resolveOptions({ maxRetries: 0 }).webhookTimeoutMs // 1000 */
export function resolveOptions(options: EmulatorOptions = {}): ResolvedOptions {
  const forbiddenDetail = options.forbiddenDetail ?? FORBIDDEN;
  return {
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    clock: options.clock ?? offsetClock(),
    apps: options.apps,
    randomBytes: options.randomBytes ?? ((size) => randomBytes(size)),
    webhookTimeoutMs: options.webhookTimeoutMs ?? 1000,
    retryDelayMs: options.retryDelayMs ?? 50,
    maxRetries: options.maxRetries ?? 3,
    user: options.user ?? { id: 1, name: 'Emulator User' },
    revokeAfterMs: options.revokeAfterMs ?? 0,
    revokedToken: options.revokedToken ?? { status: 403, detail: forbiddenDetail },
    pendingGetsIssueWebhooks: options.pendingGetsIssueWebhooks ?? false,
    pendingTokensWork: options.pendingTokensWork ?? true,
    forbiddenDetail,
    jwtMissingHeaderDetail: options.jwtMissingHeaderDetail ?? 'Authorization header is in invalid form',
    deletedStatus: options.deletedStatus ?? 'current',
    grantCodeFormat: options.grantCodeFormat ?? 'hex32',
    refreshRateLimit: options.refreshRateLimit ?? { limit: 10, windowSec: 60 },
    apiRateLimit: options.apiRateLimit ?? { limit: 40, windowSec: 1, concurrentLimit: 25 },
    regionUrl: options.regionUrl,
    region: options.region,
    legacyIssuePath: options.legacyIssuePath ?? true,
    userLevelEndpoint: options.userLevelEndpoint ?? { status: 401, detail: 'Token not found' },
    pages: options.pages,
  };
}
