/**
 * The emulator's data: apps, organizations, installations, grants, tokens, issues and the
 * fixed-window counters. Pure bookkeeping, no I/O, so the HTTP handlers stay thin.
 */
import type { EmulatorApp, EmulatorInstallation } from './types.ts';
import type { ResolvedOptions } from './options.ts';
import type { IssueInput } from './payloads.ts';

/** A single-use grant code (10-minute life). */
export interface Grant {
  code: string;
  installationUuid: string;
  appSlug: string;
  expiresAt: number;
}

/** An access/refresh token pair (Sentry's ApiToken row). */
export interface Token {
  id: string;
  token: string;
  refreshToken: string;
  installationUuid: string;
  appSlug: string;
  scopes: string[];
  expiresAt: number;
  dateCreated: number;
}

/** An installation with the emulator's private bookkeeping. */
export interface InstallationRow extends EmulatorInstallation {
  grantCode?: string;
  /** Emulator-clock time of the uninstall. */
  deletedAt?: number;
  createdAt: number;
}

/** An issue the emulator serves from the issue API (the serializer's input plus its org). */
export interface IssueRow extends IssueInput {
  orgSlug: string;
  status: 'unresolved' | 'resolved' | 'ignored';
}

/** Token lifetime: 8 hours (`TOKEN_LIFE_IN_HOURS`). */
export const TOKEN_LIFE_MS = 8 * 3600_000;
/** Grant lifetime: 10 minutes (`ApiGrant.DEFAULT_EXPIRATION`). */
export const GRANT_LIFE_MS = 10 * 60_000;

const DEFAULT_SCOPES = ['event:read', 'org:read', 'project:read'];

/** All state of one emulator. */
export class EmulatorState {
  readonly apps = new Map<string, EmulatorApp>();
  readonly orgs = new Map<string, number>();
  readonly installations = new Map<string, InstallationRow>();
  readonly grants = new Map<string, Grant>();
  readonly tokens = new Map<string, Token>();
  readonly refreshTokens = new Map<string, Token>();
  readonly usedJtis = new Set<string>();
  readonly issues = new Map<string, IssueRow>();
  private readonly windows = new Map<string, { window: number; count: number }>();
  private nextTokenId = 1;
  private nextIssueId = 1170820242;
  private readonly options: ResolvedOptions;

  constructor(options: ResolvedOptions) {
    this.options = options;
  }

  now(): number {
    return this.options.clock.now();
  }

  /** `size` random bytes as lowercase hex. */
  hex(size: number): string {
    return this.options.randomBytes(size).toString('hex').slice(0, size * 2);
  }

  /** A random version-4 UUID (36 chars). */
  uuid(): string {
    const b = Buffer.from(this.options.randomBytes(16));
    b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
    b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
    const h = b.toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
  }

  /** Registers an app, filling in generated credentials and the documented defaults. */
  addApp(partial: Partial<EmulatorApp> = {}): EmulatorApp {
    const slug = partial.slug ?? (this.apps.size === 0 ? 'emulator-app' : `emulator-app-${this.apps.size + 1}`);
    if (this.apps.has(slug)) throw new Error(`app ${slug} already exists`);
    const app: EmulatorApp = {
      slug,
      name: partial.name ?? slug,
      uuid: partial.uuid ?? this.uuid(),
      clientId: partial.clientId ?? this.hex(32),
      clientSecret: partial.clientSecret ?? this.hex(32),
      scopes: partial.scopes ?? [...DEFAULT_SCOPES],
      events: partial.events ?? ['issue', 'error', 'comment'],
      webhookUrl: partial.webhookUrl,
      redirectUrl: partial.redirectUrl,
      verifyInstall: partial.verifyInstall ?? true,
      allowedOrigins: partial.allowedOrigins ?? [],
      published: partial.published ?? false,
      webhookHeaders: partial.webhookHeaders ?? [],
      jwtRefreshEnabled: partial.jwtRefreshEnabled ?? true,
      active: partial.active ?? true,
      ...(partial.ownerOrg === undefined ? {} : { ownerOrg: partial.ownerOrg }),
    };
    this.apps.set(slug, app);
    return app;
  }

  appByClientId(clientId: unknown): EmulatorApp | undefined {
    if (typeof clientId !== 'string') return undefined;
    for (const app of this.apps.values()) if (app.clientId === clientId) return app;
    return undefined;
  }

  orgId(slug: string): number {
    let id = this.orgs.get(slug);
    if (id === undefined) {
      id = this.orgs.size + 1;
      this.orgs.set(slug, id);
    }
    return id;
  }

  /** The region cell an org lives in (option `region`), or undefined for the main host's. */
  regionOf(orgSlug: string): string | undefined {
    const { region } = this.options;
    return region?.orgs.includes(orgSlug) ? region.name ?? 'de' : undefined;
  }

  /** The live (not uninstalled) installation of an app in an org. */
  liveInstallation(appSlug: string, orgSlug: string): InstallationRow | undefined {
    for (const row of this.installations.values()) {
      if (row.appSlug === appSlug && row.org.slug === orgSlug && !row.deleted) return row;
    }
    return undefined;
  }

  /** Creates an installation (pending iff the app verifies installs) and its grant. */
  createInstallation(app: EmulatorApp, orgSlug: string): { row: InstallationRow; grant: Grant } {
    const row: InstallationRow = {
      uuid: this.uuid(),
      appSlug: app.slug,
      org: { slug: orgSlug, id: this.orgId(orgSlug) },
      status: app.verifyInstall ? 'pending' : 'installed',
      deleted: false,
      createdAt: this.now(),
    };
    const grant: Grant = {
      code: this.hex(this.options.grantCodeFormat === 'hex64' ? 32 : 16),
      installationUuid: row.uuid,
      appSlug: app.slug,
      expiresAt: this.now() + GRANT_LIFE_MS,
    };
    row.grantCode = grant.code;
    this.installations.set(row.uuid, row);
    this.grants.set(grant.code, grant);
    return { row, grant };
  }

  /** Deletes a grant (on exchange: single use). */
  dropGrant(grant: Grant): void {
    this.grants.delete(grant.code);
    const row = this.installations.get(grant.installationUuid);
    if (row?.grantCode === grant.code) delete row.grantCode;
  }

  /** Mints a token pair for an installation (8-hour life). */
  mintToken(row: InstallationRow, app: EmulatorApp): Token {
    const now = this.now();
    const token: Token = {
      id: String(this.nextTokenId++),
      token: this.hex(32),
      refreshToken: this.hex(32),
      installationUuid: row.uuid,
      appSlug: app.slug,
      scopes: [...app.scopes],
      expiresAt: now + TOKEN_LIFE_MS,
      dateCreated: now,
    };
    this.tokens.set(token.token, token);
    this.refreshTokens.set(token.refreshToken, token);
    return token;
  }

  /** Deletes a token row: its access token and refresh token die together. */
  dropToken(token: Token): void {
    this.tokens.delete(token.token);
    this.refreshTokens.delete(token.refreshToken);
  }

  /** Every token row of an installation. */
  tokensOf(installationUuid: string): Token[] {
    return [...this.tokens.values()].filter((t) => t.installationUuid === installationUuid);
  }

  /**
   * Counts a hit in a fixed window (as Sentry's Redis rate limiter does) and says whether the key
   * is over its limit; also returns what the X-Sentry-Rate-Limit-* headers need.
   */
  hit(key: string, limit: number, windowSec: number): { limited: boolean; remaining: number; reset: number } {
    const windowMs = windowSec * 1000;
    const window = Math.floor(this.now() / windowMs);
    const entry = this.windows.get(key);
    const current = entry && entry.window === window ? entry : { window, count: 0 };
    current.count += 1;
    this.windows.set(key, current);
    return {
      limited: current.count > limit,
      remaining: Math.max(0, limit - current.count),
      reset: Math.floor(((window + 1) * windowMs) / 1000),
    };
  }

  /** Creates an issue in an org (or returns the existing one with `id`). */
  createIssue(orgSlug: string, input: { id?: string; title?: string; level?: string; culprit?: string; projectSlug?: string }): IssueRow {
    const existing = input.id === undefined ? undefined : this.issues.get(input.id);
    if (existing) return existing;
    const id = input.id ?? String(this.nextIssueId++);
    const slug = input.projectSlug ?? 'front-end';
    const now = this.now();
    const issue: IssueRow = {
      id,
      shortId: `${slug.toUpperCase()}-${this.issues.size + 1}`,
      orgSlug,
      project: { id: '1', name: slug, slug, platform: 'javascript' },
      title: input.title ?? 'ReferenceError: blooopy is not defined',
      culprit: input.culprit ?? '?(runner)',
      level: input.level ?? 'error',
      status: 'unresolved',
      substatus: 'new',
      firstSeen: now,
      lastSeen: now,
      count: 1,
      userCount: 1,
      metadata: { filename: '/runner', type: 'ReferenceError', value: 'blooopy is not defined' },
      assignedTo: null,
    };
    this.issues.set(id, issue);
    return issue;
  }
}

/** A copy of the public part of an installation row (callers can't mutate the emulator's state). */
export function publicInstallation(row: InstallationRow): EmulatorInstallation {
  return { uuid: row.uuid, appSlug: row.appSlug, org: { ...row.org }, status: row.status, deleted: row.deleted };
}
