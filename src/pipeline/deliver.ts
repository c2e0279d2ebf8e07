/**
 * What the worker does with one job, as a pure decision over two ports: fetch the issue (token +
 * Sentry API), then send the Pushover message. Each failure class maps to one outcome:
 *
 * | failure                                             | outcome |
 * |-----------------------------------------------------|---------|
 * | Sentry 5xx, network error, timeout, 429, token refresh failing transiently | retry (backoff; `notBefore` when the answer says when) |
 * | installation unknown / uninstalled / `needs-reauth` | dead letter |
 * | issue gone (404) or access refused (403) on the fetch | send from the webhook's snapshot if it has a title, else dead |
 * | Pushover 5xx, network, timeout, HTML 429            | retry (≥ the client's minimum delay) |
 * | Pushover quota 429                                  | retry at `X-Limit-App-Reset` (not counted as a failure of the job) |
 * | Pushover 4xx / `status≠1`                           | dead letter, never retried |
 * | in doubt (an earlier send was cut short before its outcome was recorded) | `resend` (default): send again; `dead-letter`: dead letter, nothing sent |
 * | Pushover answer lost after the request went out (timeout, reset)      | in doubt too: `resend`: retry, the next run is a logged resend; `dead-letter`: dead letter |
 *
 * Before every send `ports.markStarted` durably records that the send is starting (after the issue fetch,
 * which is idempotent and may be repeated freely): a crash after it leaves the job in doubt for its next run.
 *
 * @example
 * const outcome = await deliver(job, { fetchIssue, send, format });
 * if (outcome.kind === 'retry') outbox.retry(id, outcome.error, outcome.notBefore);
 */
import type { SentryIssueLike } from '../pushover/format.ts';
import type { PushoverMessage } from '../pushover/types.ts';
import type { NotificationJob } from './job.ts';

/** The result of fetching an issue for a job, classified by the adapter. */
export type FetchResult =
  | { ok: true; issue: SentryIssueLike }
  /** retry: transient (5xx, network, 429, refresh hiccup). dead: can never work (uninstalled, needs re-auth). missing: the issue is gone or not visible. */
  | { ok: false; class: 'retry' | 'dead' | 'missing'; error: string; notBefore?: number };

/** The result of one Pushover send, classified by the adapter. */
export type SendResult =
  | { ok: true; request?: string }
  /** `maybeDelivered`: the request may have reached Pushover and only its answer was lost (timeout, reset). */
  | { ok: false; class: 'retry' | 'quota' | 'permanent'; error: string; notBefore?: number; maybeDelivered?: boolean };

/** What to do with the job. */
export type Outcome =
  | { kind: 'done'; request?: string }
  /**
   * `pause`: the failure is not the job's fault (quota): do not count it towards the attempt limit if the
   * outbox can tell. `inDoubt`: this run's message may have been delivered (its answer was lost).
   */
  | { kind: 'retry'; error: string; notBefore?: number; pause?: boolean; inDoubt?: boolean }
  | { kind: 'dead'; error: string; inDoubt?: boolean };

/**
 * What to do with a job in doubt: an earlier run started its Pushover request and ended without a recorded
 * outcome (the process died or was stopped), so the message may or may not have been delivered. Pushover
 * has no idempotency key, so no choice is exact: `resend` (default) is at-least-once (a possible duplicate
 * message), `dead-letter` is at-most-once (a possibly missing message, left for an operator to replay).
 */
export type InDoubtPolicy = 'resend' | 'dead-letter';

/** The NOTIFY_IN_DOUBT values, default first. */
export const IN_DOUBT_POLICIES: readonly InDoubtPolicy[] = ['resend', 'dead-letter'];

/** The dead-letter reason of a send whose answer was lost under `dead-letter` (it starts with "in doubt"). */
export const ANSWER_LOST_REASON = 'in doubt: the Pushover request was sent but its answer was lost, so the notification may have been delivered; not resent (NOTIFY_IN_DOUBT=dead-letter), replay it to send it again';

/** The dead-letter reason of a job not resent because it was in doubt (it starts with "in doubt"). */
export const IN_DOUBT_REASON = 'in doubt: an earlier send was interrupted before its result was recorded, so the notification may already have been delivered; not resent (NOTIFY_IN_DOUBT=dead-letter), replay it to send it again';

/** The ports {@link deliver} needs. */
export interface DeliverPorts {
  /** Fetches the issue for a job (a valid token, then the org-scoped issue endpoint). */
  fetchIssue(job: NotificationJob): Promise<FetchResult>;
  /** Formats the notification; the dedupe key goes into `tags`. */
  format(issue: SentryIssueLike, job: NotificationJob): PushoverMessage;
  send(message: PushoverMessage, job: NotificationJob): Promise<SendResult>;
  /**
   * Durably records that a send is about to start (the outbox's `markStarted`); resolves once it is on
   * disk. A rejection means the journal cannot record it: the send is not made (the job is retried).
   */
  markStarted?(): Promise<void>;
  /**
   * Called for a job in doubt under the `resend` policy, after `markStarted` and right before the send
   * (the pipeline logs and counts it there, so the line exists before the possible duplicate does).
   */
  resending?(job: NotificationJob): Promise<void> | void;
}

/** How {@link deliver} treats a job whose earlier send may have happened. */
export interface DeliverOptions {
  /** The outbox says an earlier run of this job was interrupted after `markStarted` (see `Job.inDoubt`). */
  inDoubt?: boolean;
  /** Default `resend`. */
  onInDoubt?: InDoubtPolicy;
}

const ACTION_LABEL: Record<string, string> = {
  resolved: 'Resolved', assigned: 'Assigned', ignored: 'Ignored', archived: 'Ignored', unresolved: 'Unresolved',
  critical: 'Critical', warning: 'Warning', open: 'Open',
};

/** The webhook's snapshot as an issue the formatter takes. */
export function snapshotIssue(job: NotificationJob): SentryIssueLike {
  const s = job.snapshot;
  const project = s.projectSlug || s.projectName ? { slug: s.projectSlug, name: s.projectName } : undefined;
  return {
    title: s.title, shortId: s.shortId, culprit: s.culprit ?? job.detail, level: s.level,
    count: s.count, firstSeen: s.firstSeen, web_url: s.webUrl, project,
  };
}

/**
 * Merges the API's issue over the webhook snapshot (the API is fresher; the snapshot fills gaps) and
 * labels non-`created` actions in the title so "Resolved: …" is not mistaken for a new issue.
 */
export function issueForJob(job: NotificationJob, fetched?: SentryIssueLike): SentryIssueLike {
  const base = snapshotIssue(job);
  const merged: SentryIssueLike = { ...base };
  if (fetched) {
    for (const [k, v] of Object.entries(fetched) as [keyof SentryIssueLike, unknown][]) {
      if (v !== undefined && v !== null && v !== '') (merged as Record<string, unknown>)[k] = v;
    }
    // The webhook's web_url is authoritative for issue.created; the API has permalink (often null).
    if (!fetched.permalink && base.web_url) merged.web_url = base.web_url;
  }
  const label = ACTION_LABEL[job.action];
  if (label && merged.title) merged.title = `${label}: ${merged.title}`;
  else if (label) merged.title = label;
  if (job.resource === 'event_alert' && job.detail) merged.culprit = merged.culprit ?? job.detail;
  return merged;
}

/**
 * Runs one job to an outcome. Never throws: an unexpected error is a retry. A job in doubt under
 * `dead-letter` is dead-lettered with {@link IN_DOUBT_REASON} before anything is fetched or sent.
 */
export async function deliver(job: NotificationJob, ports: DeliverPorts, options: DeliverOptions = {}): Promise<Outcome> {
  if (options.inDoubt && options.onInDoubt === 'dead-letter') return { kind: 'dead', error: IN_DOUBT_REASON };
  try {
    let fetched: SentryIssueLike | undefined;
    if (job.issueId) {
      const result = await ports.fetchIssue(job);
      if (result.ok) fetched = result.issue;
      else if (result.class === 'retry') return { kind: 'retry', error: `sentry: ${result.error}`, notBefore: result.notBefore };
      else if (result.class === 'dead') return { kind: 'dead', error: `sentry: ${result.error}` };
      else if (!job.snapshot.title) return { kind: 'dead', error: `sentry: ${result.error}; webhook has no title to fall back on` };
    }
    const message = ports.format(issueForJob(job, fetched), job);
    await ports.markStarted?.();
    if (options.inDoubt) await ports.resending?.(job);
    const sent = await ports.send(message, job);
    if (sent.ok) return { kind: 'done', request: sent.request };
    // A lost answer is the crash window again, without the crash: the same policy decides.
    const doubt = sent.maybeDelivered ? { inDoubt: true } : {};
    if (sent.maybeDelivered && options.onInDoubt === 'dead-letter') return { kind: 'dead', error: `${ANSWER_LOST_REASON} (pushover: ${sent.error})`, inDoubt: true };
    if (sent.class === 'permanent') return { kind: 'dead', error: `pushover: ${sent.error}`, ...doubt };
    return { kind: 'retry', error: `pushover: ${sent.error}`, notBefore: sent.notBefore, pause: sent.class === 'quota', ...doubt };
  } catch (error) {
    return { kind: 'retry', error: `unexpected: ${(error as Error)?.message ?? String(error)}` };
  }
}
