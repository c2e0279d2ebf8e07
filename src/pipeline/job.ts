/**
 * From a verified webhook delivery to a notification job: the dedupe key and the small, durable
 * payload the worker needs. Pure functions, no I/O.
 *
 * @example
 * const parsed = jobFromWebhook('issue', JSON.parse(raw.toString('utf8')), Date.now());
 * if (parsed.ok) await outbox.enqueue({ key: parsed.job.key, group: parsed.job.installationId, payload: parsed.job });
 */

/** What the webhook told us about the issue (or alert); every field optional, the worker fills gaps from the API. */
export interface IssueSnapshot {
  id?: string;
  shortId?: string;
  title?: string;
  level?: string;
  culprit?: string;
  /** Event count, a string in Sentry's payloads. */
  count?: string;
  firstSeen?: string;
  /** The issue's web URL (issue.created has it; other issue actions do not). */
  webUrl?: string;
  projectSlug?: string;
  projectName?: string;
}

/** One notification to send, as stored in the outbox. Version-tagged so old journals stay readable. */
export interface NotificationJob {
  v: 1;
  /** Dedupe key: installation + resource + action + subject id (+ event id). Also sent as Pushover `tags`. */
  key: string;
  installationId: string;
  resource: string;
  action: string;
  /** Sentry issue (group) id, when the delivery concerns an issue. */
  issueId?: string;
  eventId?: string;
  /** Organization slug taken from the payload's API URL, a fallback when the installation record lacks it. */
  orgSlug?: string;
  snapshot: IssueSnapshot;
  /** For alerts: the rule or alert description, shown in the message. */
  detail?: string;
  /** When our server accepted the delivery (ms since epoch). */
  receivedAt: number;
}

/** The outcome of {@link jobFromWebhook}. */
export type ParsedDelivery =
  | { ok: true; job: NotificationJob }
  | { ok: false; reason: string };

type Obj = Record<string, unknown>;

function obj(value: unknown): Obj | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : undefined;
}

/** A string field; Sentry sends ids as strings but tolerate numbers. */
function str(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/**
 * The dedupe key of a delivery. Never the `Request-ID` (new on every retry): content only.
 * Parts are joined with `:`, which none of them contain (UUIDs, resource names, numeric ids, hex event ids);
 * any other `:` is percent-encoded so distinct inputs never collide.
 *
 * @example
 * dedupeKey({ installationId: 'a8e5…', resource: 'issue', action: 'created', subjectId: '1170820242' });
 * // 'a8e5…:issue:created:1170820242'
 */
export function dedupeKey(parts: {
  installationId: string;
  resource: string;
  action: string;
  subjectId: string;
  eventId?: string;
}): string {
  const list = [parts.installationId, parts.resource, parts.action, parts.subjectId];
  if (parts.eventId) list.push(parts.eventId);
  // The usual case (no part holds `%` or `:`) needs no escaping pass.
  if (!list.some((p) => p.includes(':') || p.includes('%'))) return list.join(':');
  return list.map((p) => p.replace(/[%:]/g, (c) => (c === '%' ? '%25' : '%3A'))).join(':');
}

/** The organization slug inside an org-scoped API URL (`/api/0/organizations/{org}/issues/{id}/`). */
export function orgSlugFromUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  const m = /\/api\/0\/organizations\/([^/?#]+)\//.exec(url);
  return m?.[1] ? decodeURIComponent(m[1]) : undefined;
}

function issueSnapshot(issue: Obj): IssueSnapshot {
  const project = obj(issue['project']);
  return {
    id: str(issue['id']),
    shortId: str(issue['shortId']),
    title: str(issue['title']),
    level: str(issue['level']),
    culprit: str(issue['culprit']),
    count: str(issue['count']),
    firstSeen: str(issue['firstSeen']),
    webUrl: str(issue['web_url']) ?? str(issue['permalink']),
    projectSlug: str(project?.['slug']),
    projectName: str(project?.['name']),
  };
}

/** Same for `error.created` / `event_alert.triggered`, whose data is an event (`event.as_dict()` + urls). */
function eventSnapshot(event: Obj): IssueSnapshot {
  const metadata = obj(event['metadata']);
  return {
    id: str(event['issue_id']),
    title: str(event['title']) ?? str(metadata?.['title']),
    level: str(event['level']),
    culprit: str(event['culprit']),
    webUrl: str(event['web_url']),
    projectSlug: str(event['project_slug']) ?? str(obj(event['project'])?.['slug']),
  };
}

/** A copy without the undefined fields (a fresh object: `delete` would leave a slow dictionary-mode one). */
function clean<T extends object>(value: T): T {
  const out = {} as T;
  for (const k in value) if (value[k] !== undefined) out[k] = value[k];
  return out;
}

/**
 * Turns a verified delivery (its `Sentry-Hook-Resource` and parsed body) into a job, or says why
 * it cannot (missing installation or subject id). Unknown fields are ignored.
 */
export function jobFromWebhook(resource: string, body: unknown, receivedAt: number): ParsedDelivery {
  const root = obj(body);
  if (!root) return { ok: false, reason: 'body is not a JSON object' };
  const action = str(root['action']);
  const installationId = str(obj(root['installation'])?.['uuid']);
  const data = obj(root['data']);
  if (!action) return { ok: false, reason: 'missing action' };
  if (!installationId) return { ok: false, reason: 'missing installation.uuid' };
  if (!data) return { ok: false, reason: 'missing data' };

  let subjectId: string | undefined;
  let eventId: string | undefined;
  let snapshot: IssueSnapshot;
  let orgSlug: string | undefined;
  let detail: string | undefined;
  if (resource === 'issue') {
    const issue = obj(data['issue']);
    if (!issue) return { ok: false, reason: 'missing data.issue' };
    snapshot = issueSnapshot(issue);
    subjectId = snapshot.id;
    orgSlug = orgSlugFromUrl(str(issue['url']));
  } else if (resource === 'error' || resource === 'event_alert') {
    const event = obj(data[resource === 'error' ? 'error' : 'event']);
    if (!event) return { ok: false, reason: `missing data.${resource === 'error' ? 'error' : 'event'}` };
    snapshot = eventSnapshot(event);
    subjectId = snapshot.id;
    eventId = str(event['event_id']) ?? str(event['id']);
    orgSlug = orgSlugFromUrl(str(event['issue_url'])) ?? orgSlugFromUrl(str(event['url']));
    detail = str(data['triggered_rule']);
  } else if (resource === 'metric_alert') {
    const alert = obj(data['metric_alert']);
    if (!alert) return { ok: false, reason: 'missing data.metric_alert' };
    subjectId = str(alert['id']);
    snapshot = {
      title: str(data['description_title']) ?? str(alert['title']),
      webUrl: str(data['web_url']),
      level: action === 'critical' ? 'error' : action === 'warning' ? 'warning' : 'info',
    };
    detail = str(data['description_text']);
  } else {
    return { ok: false, reason: `resource ${resource} is not notifiable` };
  }
  if (!subjectId) return { ok: false, reason: `missing ${resource} id` };

  const job: NotificationJob = {
    v: 1,
    key: dedupeKey({ installationId, resource, action, subjectId, eventId }),
    installationId,
    resource,
    action,
    issueId: resource === 'metric_alert' ? undefined : subjectId,
    eventId,
    orgSlug,
    snapshot: clean(snapshot),
    detail,
    receivedAt,
  };
  return { ok: true, job: clean(job) };
}

/** Reads a job back from the outbox payload, refusing anything that is not a v1 job. */
export function asJob(payload: unknown): NotificationJob | undefined {
  const p = obj(payload);
  if (!p || p['v'] !== 1 || typeof p['key'] !== 'string' || typeof p['installationId'] !== 'string') return undefined;
  if (typeof p['resource'] !== 'string' || typeof p['action'] !== 'string' || !obj(p['snapshot'])) return undefined;
  return p as unknown as NotificationJob;
}
