/**
 * The emulator's operations (what Sentry's UI and event pipeline do): install, uninstall, send
 * installation.created, emit issue and arbitrary webhooks. Shared by the TypeScript API and the
 * `/_emulator/` HTTP API.
 *
 * @example
 * const { installation, code, redirectUrl } = await ops.install({ org: 'acme' });
 */
import { sentryJson } from '../../src/sentry/json.ts';
import { InstallNotAllowedError } from './errors.ts';
import type { ResolvedOptions } from './options.ts';
import {
  envelope, installationData, issueCreatedData, issueUrls, issueWorkflowData, userActor, SENTRY_ACTOR,
} from './payloads.ts';
import { publicInstallation, type EmulatorState, type InstallationRow } from './state.ts';
import type { DeliveryRecord, EmitIssueOptions, EmulatorApp, InstallResult } from './types.ts';
import type { WebhookSender } from './webhooks.ts';

/** What the operations need. */
export interface OperationDeps {
  state: EmulatorState;
  options: ResolvedOptions;
  sender: WebhookSender;
  baseUrl: () => string;
}

/** Adds `params` to a URL, keeping the query parameters it already has. */
export function addQueryParams(url: string, params: Record<string, string>): string {
  const parsed = new URL(url);
  for (const [key, value] of Object.entries(params)) parsed.searchParams.set(key, value);
  return parsed.toString();
}

/** The emulator's operations over its state and webhook sender. */
export class Operations {
  private readonly deps: OperationDeps;

  constructor(deps: OperationDeps) {
    this.deps = deps;
  }

  app(slug?: string): EmulatorApp {
    const { apps } = this.deps.state;
    const app = slug === undefined ? apps.values().next().value : apps.get(slug);
    if (!app) throw new RangeError(`unknown app ${slug ?? '(none registered)'}`);
    return app;
  }

  row(installationId: string): InstallationRow {
    const row = this.deps.state.installations.get(installationId);
    if (!row) throw new RangeError(`unknown installation ${installationId}`);
    return row;
  }

  /**
   * Installs an app in an org: a pending (verify-install) or installed installation, a single-use
   * grant, installation.created (unless sendWebhook is false) and the browser redirect URL. A
   * `state` marks an external install (the only kind that forwards it). Re-install returns the
   * live installation with no code and no webhook. An unpublished app with an `ownerOrg` installs
   * only there (else InstallNotAllowedError, Sentry's 404).
   */
  install(options: { app?: string; org?: string; state?: string; sendWebhook?: boolean } = {}): InstallResult {
    const app = this.app(options.app);
    const org = options.org ?? app.ownerOrg ?? 'test-org';
    if (!app.published && app.ownerOrg !== undefined && org !== app.ownerOrg) throw new InstallNotAllowedError(app.slug, org, app.ownerOrg);
    const { state } = this.deps;
    const existing = state.liveInstallation(app.slug, org);
    if (existing) return { installation: publicInstallation(existing) };
    const { row, grant } = state.createInstallation(app, org);
    const result: InstallResult = { installation: publicInstallation(row), code: grant.code };
    if (app.redirectUrl) {
      const params: Record<string, string> = { installationId: row.uuid, code: grant.code, orgSlug: org };
      if (options.state !== undefined) params.state = options.state;
      result.redirectUrl = addQueryParams(app.redirectUrl, params);
    }
    if (app.webhookUrl && options.sendWebhook !== false) result.webhook = this.installationWebhook(row, 'created', true);
    return result;
  }

  private installationWebhook(row: InstallationRow, action: 'created' | 'deleted', includeCode: boolean, status?: string): Promise<DeliveryRecord> {
    const app = this.app(row.appSlug);
    const code = includeCode ? row.grantCode : undefined;
    const data = installationData({
      uuid: row.uuid, status: status ?? row.status, app: { uuid: app.uuid, slug: app.slug },
      organization: { slug: row.org.slug, id: row.org.id }, ...(code === undefined ? {} : { code }),
    });
    const { user } = this.deps.options;
    const body = sentryJson(envelope(action, row.uuid, data, userActor(user.id, user.name)));
    return this.deps.sender.send({ app, installationId: row.uuid, resource: 'installation', action, body, retry: action !== 'deleted' });
  }

  /** Sends installation.created (again); `data.installation.code` only while the grant is unexchanged. */
  sendInstallationCreated(installationId: string, options: { includeCode?: boolean } = {}): Promise<DeliveryRecord> {
    const row = this.row(installationId);
    return this.installationWebhook(row, 'created', options.includeCode !== false);
  }

  /** Uninstalls: installation.deleted once (never retried, failures ignored), then access goes. */
  async uninstall(installationId: string): Promise<DeliveryRecord | undefined> {
    const row = this.row(installationId);
    if (row.deleted) return undefined;
    const app = this.app(row.appSlug);
    const status = this.deps.options.deletedStatus === 'pending_deletion' ? 'pending_deletion' : row.status;
    row.deleted = true;
    row.deletedAt = this.deps.state.now();
    for (const code of [...this.deps.state.grants.keys()]) {
      if (this.deps.state.grants.get(code)?.installationUuid === row.uuid) this.deps.state.grants.delete(code);
    }
    const pending = app.webhookUrl ? this.installationWebhook(row, 'deleted', true, status) : undefined;
    delete row.grantCode;
    return pending;
  }

  /** Whether an installation gets issue/error/comment webhooks for `resource`. */
  subscribed(row: InstallationRow, resource: string): boolean {
    const app = this.app(row.appSlug);
    if (row.deleted || !app.webhookUrl || !app.events.includes(resource)) return false;
    return row.status === 'installed' || this.deps.options.pendingGetsIssueWebhooks;
  }

  /** Creates (or updates) an issue and sends issue.<action> when the installation is subscribed. */
  async emitIssue(options: EmitIssueOptions): Promise<{ issueId: string; delivery?: DeliveryRecord }> {
    const row = this.row(options.installationId);
    const action = options.action ?? 'created';
    const issue = this.deps.state.createIssue(row.org.slug, {
      ...(options.issueId === undefined ? {} : { id: options.issueId }),
      ...(options.title === undefined ? {} : { title: options.title }),
      ...(options.level === undefined ? {} : { level: options.level }),
      ...(options.culprit === undefined ? {} : { culprit: options.culprit }),
      ...(options.projectSlug === undefined ? {} : { projectSlug: options.projectSlug }),
    });
    let extra: Record<string, unknown> = {};
    if (action === 'resolved') {
      issue.status = 'resolved';
      issue.substatus = null;
      extra = { resolution_type: 'resolved' };
    } else if (action === 'ignored' || action === 'archived') {
      issue.status = 'ignored';
      issue.substatus = 'archived_forever';
    } else if (action === 'unresolved') {
      issue.status = 'unresolved';
      issue.substatus = 'ongoing';
    } else if (action === 'assigned') {
      const { user } = this.deps.options;
      issue.assignedTo = { type: 'user', id: String(user.id), name: user.name };
      extra = { assignee: { type: 'user', name: user.name, id: user.id } };
    }
    if (!this.subscribed(row, 'issue')) return { issueId: issue.id };
    const data = action === 'created'
      ? issueCreatedData(issue, issueUrls(this.deps.baseUrl(), row.org.slug, issue.id, issue.project.id))
      : issueWorkflowData(issue, extra);
    const actor = action === 'created' ? SENTRY_ACTOR : userActor(this.deps.options.user.id, this.deps.options.user.name);
    const body = sentryJson(envelope(action, row.uuid, data, actor));
    const delivery = await this.deps.sender.send({ app: this.app(row.appSlug), installationId: row.uuid, resource: 'issue', action, body });
    return { issueId: issue.id, delivery };
  }

  /** Sends any resource/action with `data` through the real webhook path (no subscription check). */
  emitWebhook(options: { installationId: string; resource: string; action: string; data: unknown; actor?: unknown }): Promise<DeliveryRecord> {
    const row = this.row(options.installationId);
    const body = sentryJson(envelope(options.action, row.uuid, options.data, options.actor ?? SENTRY_ACTOR));
    return this.deps.sender.send({
      app: this.app(row.appSlug), installationId: row.uuid, resource: options.resource, action: options.action, body,
      retry: !(options.resource === 'installation' && options.action === 'deleted'),
    });
  }
}
