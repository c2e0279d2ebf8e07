/**
 * Webhook payload builders. They return plain objects whose key insertion order is Sentry's, so
 * `sentryJson(envelope(...))` gives the exact bytes Sentry sends (see sentry-platform.md §4.4–§4.5).
 *
 * @example
 * const body = sentryJson(envelope('created', installUuid, installationData({...}), userActor(1, 'Ann')));
 */

/** Who caused a webhook. */
export type Actor =
  | { type: 'user'; id: number; name: string }
  | { type: 'application'; id: string; name: string };

/** The actor Sentry uses when nobody in particular acted. */
export const SENTRY_ACTOR: Actor = { type: 'application', id: 'sentry', name: 'Sentry' };

/** A user actor. */
export function userActor(id: number, name: string): Actor {
  return { type: 'user', id, name };
}

/** The envelope: key order `action, installation, data, actor` (AppPlatformEventBody). */
export function envelope(action: string, installationUuid: string, data: unknown, actor: unknown = SENTRY_ACTOR): Record<string, unknown> {
  return { action, installation: { uuid: installationUuid }, data, actor };
}

/** Sentry's timestamp style in payloads: microseconds and `Z` (e.g. 2019-08-19T20:58:37.391000Z). */
export function sentryTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000Z');
}

/** Input of {@link installationData}. */
export interface InstallationInput {
  uuid: string;
  status: string;
  app: { uuid: string; slug: string };
  organization: { slug: string; id: number };
  /** Present only while the grant is unexchanged. */
  code?: string;
}

/** `data` of installation.created / installation.deleted. */
export function installationData(input: InstallationInput): Record<string, unknown> {
  const installation: Record<string, unknown> = {
    app: { uuid: input.app.uuid, slug: input.app.slug },
    organization: { slug: input.organization.slug, id: input.organization.id },
    uuid: input.uuid,
    status: input.status,
  };
  if (input.code !== undefined) installation.code = input.code;
  return { installation };
}

/** What the issue serializer needs. */
export interface IssueInput {
  id: string;
  shortId: string;
  title: string;
  culprit: string;
  level: string;
  status: string;
  substatus: string | null;
  firstSeen: number;
  lastSeen: number;
  count: number;
  userCount: number;
  metadata: Record<string, unknown>;
  assignedTo: unknown;
  project: { id: string; name: string; slug: string; platform: string };
}

/** `serialize(group)` as the issue API and issue webhooks show it. */
export function serializeIssue(issue: IssueInput): Record<string, unknown> {
  return {
    annotations: [],
    assignedTo: issue.assignedTo,
    count: String(issue.count),
    culprit: issue.culprit,
    firstSeen: sentryTime(issue.firstSeen),
    hasSeen: false,
    id: issue.id,
    isBookmarked: false,
    isPublic: false,
    isSubscribed: false,
    lastSeen: sentryTime(issue.lastSeen),
    level: issue.level,
    logger: null,
    metadata: issue.metadata,
    numComments: 0,
    permalink: null,
    platform: issue.project.platform,
    project: { id: issue.project.id, name: issue.project.name, platform: '', slug: issue.project.slug },
    shareId: null,
    shortId: issue.shortId,
    status: issue.status,
    statusDetails: {},
    subscriptionDetails: null,
    substatus: issue.substatus,
    title: issue.title,
    type: 'error',
    userCount: issue.userCount,
  };
}

/** The URLs issue.created carries first. Exact shapes UNCONFIRMED; here they point at `baseUrl`. */
export function issueUrls(baseUrl: string, orgSlug: string, issueId: string, projectId: string): Record<string, string> {
  return {
    url: `${baseUrl}/api/0/organizations/${orgSlug}/issues/${issueId}/`,
    web_url: `${baseUrl}/organizations/${orgSlug}/issues/${issueId}/`,
    project_url: `${baseUrl}/organizations/${orgSlug}/issues/?project=${projectId}`,
  };
}

/** `data` of issue.created: `url, web_url, project_url` first, then the serialized issue. */
export function issueCreatedData(issue: IssueInput, urls: Record<string, string>): Record<string, unknown> {
  return { issue: { ...urls, ...serializeIssue(issue) } };
}

/**
 * `data` of issue.resolved/assigned/ignored/archived/unresolved. `workflow_notification` starts
 * from the extra data (`resolution_type`, `assignee`) and then adds `issue`, so the extras come first.
 */
export function issueWorkflowData(issue: IssueInput, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...extra, issue: serializeIssue(issue) };
}

/** `data` of comment.created/updated/deleted. */
export function commentData(input: { commentId: number; issueId: number; projectSlug: string; timestamp: string; comment: string }): Record<string, unknown> {
  return {
    comment_id: input.commentId,
    issue_id: input.issueId,
    project_slug: input.projectSlug,
    timestamp: input.timestamp,
    comment: input.comment,
  };
}

/** Input of the event-based payloads (error.created, event_alert.triggered). */
export interface EventInput {
  baseUrl: string;
  orgSlug: string;
  projectSlug: string;
  projectId: number;
  eventId: string;
  issueId: string;
  title: string;
  message?: string;
  level?: string;
  platform?: string;
  timestamp: number;
}

function eventDict(input: EventInput): Record<string, unknown> {
  return {
    event_id: input.eventId,
    project: input.projectId,
    release: null,
    dist: null,
    platform: input.platform ?? 'javascript',
    message: input.message ?? '',
    datetime: new Date(input.timestamp).toISOString().replace('Z', '+00:00'),
    tags: [['level', input.level ?? 'error']],
    level: input.level ?? 'error',
    title: input.title,
    timestamp: input.timestamp / 1000,
    url: `${input.baseUrl}/api/0/projects/${input.orgSlug}/${input.projectSlug}/events/${input.eventId}/`,
    web_url: `${input.baseUrl}/organizations/${input.orgSlug}/issues/${input.issueId}/events/${input.eventId}/`,
    issue_url: `${input.baseUrl}/api/0/organizations/${input.orgSlug}/issues/${input.issueId}/`,
    issue_id: input.issueId,
  };
}

/** `data` of error.created: `{"error": event.as_dict() + url, web_url, issue_url, issue_id}`. */
export function errorData(input: EventInput): Record<string, unknown> {
  return { error: eventDict(input) };
}

/** `data` of event_alert.triggered: the event plus `triggered_rule`. */
export function eventAlertData(input: EventInput & { triggeredRule: string }): Record<string, unknown> {
  return { event: eventDict(input), triggered_rule: input.triggeredRule };
}

/** `data` of metric_alert.{critical,warning,resolved}. */
export function metricAlertData(input: { baseUrl: string; orgSlug: string; alertId: string; title: string; status: number; descriptionText: string }): Record<string, unknown> {
  return {
    metric_alert: {
      id: input.alertId,
      identifier: Number(input.alertId),
      organization_id: '1',
      projects: ['front-end'],
      status: input.status,
      title: input.title,
      alert_rule: { id: input.alertId, name: input.title, aggregate: 'count()', query: '', time_window: 1 },
    },
    description_text: input.descriptionText,
    description_title: input.title,
    web_url: `${input.baseUrl}/organizations/${input.orgSlug}/alerts/rules/details/${input.alertId}/`,
  };
}
