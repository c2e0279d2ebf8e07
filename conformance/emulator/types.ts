/**
 * The Sentry emulator's public TypeScript contract. Other modules (the server's tests, the
 * conformance harness, the sandbox) program against these types; the emulator may add to them but
 * must not break them. The same operations are offered over HTTP under `/_emulator/`.
 */
import type { Clock } from '../../src/clock.ts';

/** A registered Sentry App (a public integration), as the emulator holds it. */
export interface EmulatorApp {
  slug: string;
  name: string;
  uuid: string;
  clientId: string;
  clientSecret: string;
  scopes: string[];
  /** Resources subscribed to: 'issue', 'error', 'comment', … ('installation' is implicit). */
  events: string[];
  webhookUrl?: string;
  redirectUrl?: string;
  verifyInstall: boolean;
  allowedOrigins: string[];
  published: boolean;
  /** Custom "Name: Value" headers merged (first) into every webhook. */
  webhookHeaders: string[];
  /** Feature flag `organizations:sentry-app-manual-token-refresh` (JWT-bearer grant); 403 when off. */
  jwtRefreshEnabled: boolean;
  /**
   * Whether the app's OAuth application is active (absent = true; `registerApp` always sets it).
   * When false: token grants → 401 `Application is not active` (§2.3) and API calls with its
   * tokens → 401 `UserApplication inactive or deleted` (§6).
   */
  active?: boolean;
  /**
   * The organization that created (owns) the app. Sentry lets only that organization install an
   * unpublished app (§0; other orgs get 404). Absent (the default) = owner not modelled: the
   * emulator then lets any org install, so multi-org tests need no set-up.
   */
  ownerOrg?: string;
}

export type InstallationStatus = 'pending' | 'installed';

/** An installation of an app in an organization. */
export interface EmulatorInstallation {
  uuid: string;
  appSlug: string;
  org: { slug: string; id: number };
  status: InstallationStatus;
  /** Whether the installation was deleted (uninstalled). */
  deleted: boolean;
}

/** What a `install()` call produced. */
export interface InstallResult {
  installation: EmulatorInstallation;
  /** The single-use grant code (10-minute life), or undefined if the install reused an existing one. */
  code?: string;
  /** Where Sentry's UI sends the browser: redirect_url?installationId=&code=&orgSlug=[&state=]. */
  redirectUrl?: string;
  /** The installation.created delivery (all attempts settled), when the webhook was sent now. */
  webhook?: Promise<DeliveryRecord>;
}

/** One attempt to deliver a webhook, and how it went. */
export interface DeliveryAttempt {
  requestId: string;
  timestamp: string;
  startedAt: number;
  durationMs: number;
  /** HTTP status, or 0 for a timeout / connection error (as Sentry records it). */
  status: number;
  error?: string;
  responseBody?: string;
  /** The receiver's `Sentry-Hook-Error` response header (an error id), when it sent one. */
  hookError?: string;
  /** The receiver's `Sentry-Hook-Project` response header (a project id), when it sent one. */
  hookProject?: string;
}

/** A webhook the emulator sent (or tried to), with every attempt. */
export interface DeliveryRecord {
  id: number;
  url: string;
  resource: string;
  action: string;
  installationId: string;
  /** The exact bytes sent (compact, \uXXXX-escaped JSON). */
  body: string;
  signature: string;
  headers: Record<string, string>;
  attempts: DeliveryAttempt[];
  /** True when some attempt got a 2xx (or a 3xx, which Sentry treats as delivered). */
  delivered: boolean;
}

/** A request the emulator received, as recorded for assertions. */
export interface RecordedRequest {
  id: number;
  at: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  status: number;
  responseBody: string;
  /** The fault applied to this request, if any ('drop', 'commit-then-drop', 'status', 'latency'). */
  fault?: string;
  /** A name for the endpoint that served it ('token.exchange', 'token.refresh', 'token.jwt', 'verify', 'issue', 'organization', …) or 'unknown'. */
  endpoint: string;
  /** The region cell (e.g. 'de') whose host received it; absent for the main (sentry.io) host. */
  region?: string;
}

/**
 * A fault to inject, scoped to one endpoint (same names as `RecordedRequest.endpoint`, or a
 * webhook target 'webhook') and a count of requests it applies to.
 */
export type Fault =
  | { endpoint: string; kind: 'latency'; ms: number; count?: number }
  | { endpoint: string; kind: 'status'; status: number; body?: string; count?: number }
  | { endpoint: string; kind: 'drop'; count?: number }
  /** Commit the operation (e.g. rotate the refresh token), then drop the connection without answering. */
  | { endpoint: string; kind: 'commit-then-drop'; count?: number };

/** Options for a payload-emitting call such as `emitIssue`. */
export interface EmitIssueOptions {
  installationId: string;
  action?: 'created' | 'resolved' | 'assigned' | 'ignored' | 'archived' | 'unresolved';
  title?: string;
  level?: 'fatal' | 'error' | 'warning' | 'info' | 'debug';
  culprit?: string;
  projectSlug?: string;
  /** Reuse an existing issue id (e.g. to send the same issue again). */
  issueId?: string;
}

/** The emulator as a running server. */
export interface SentryEmulator {
  /** Base URL, e.g. http://127.0.0.1:41234 (what an integration uses as SENTRY_URL). */
  readonly url: string;
  /** Base URL of the region cell host (option `region`), e.g. what `de.sentry.io` is to sentry.io; absent without one. */
  readonly regionUrl?: string;
  readonly clock: Clock & { advance(ms: number): void };
  /** The first registered app (most tests need only one). */
  readonly app: EmulatorApp;
  apps(): EmulatorApp[];
  /** Registers another app; returns it. */
  registerApp(options?: Partial<EmulatorApp>): EmulatorApp;
  /** Changes an app's settings (webhook URL, verifyInstall, jwtRefreshEnabled, …). */
  updateApp(slug: string, changes: Partial<EmulatorApp>): EmulatorApp;
  /**
   * Installs an app in an org (default: the app's `ownerOrg`, else 'test-org'). Rejects with
   * `InstallNotAllowedError` (status 404) for an unpublished app whose `ownerOrg` is another org.
   */
  install(options?: { app?: string; org?: string; state?: string; sendWebhook?: boolean }): Promise<InstallResult>;
  /** Sends (again) installation.created for an installation, e.g. after a manual install. */
  sendInstallationCreated(installationId: string, options?: { includeCode?: boolean }): Promise<DeliveryRecord>;
  /** Uninstalls: installation.deleted sent once (never retried), then the token loses access. */
  uninstall(installationId: string): Promise<DeliveryRecord | undefined>;
  installation(installationId: string): EmulatorInstallation | undefined;
  /** Every installation, uninstalled ones included (their `deleted` is true). */
  installations(): EmulatorInstallation[];
  /** Creates an issue in the installation's org and sends the issue webhook (only to installed installations subscribed to 'issue'). */
  emitIssue(options: EmitIssueOptions): Promise<{ issueId: string; delivery?: DeliveryRecord }>;
  /** Sends any resource/action with a given data object through the real webhook path. */
  emitWebhook(options: { installationId: string; resource: string; action: string; data: unknown; actor?: unknown }): Promise<DeliveryRecord>;
  advanceClock(ms: number): void;
  inject(fault: Fault): void;
  clearFaults(): void;
  requests(filter?: { endpoint?: string }): RecordedRequest[];
  deliveries(filter?: { resource?: string; action?: string; installationId?: string }): DeliveryRecord[];
  /** Listens for every recorded event (requests and deliveries), e.g. for a live timeline. */
  onEvent(listener: (event: { type: 'request'; request: RecordedRequest } | { type: 'delivery'; delivery: DeliveryRecord }) => void): () => void;
  close(): Promise<void>;
}
