/**
 * The webhook side of the pipeline: a verified delivery (the server checked the signature over the
 * raw bytes) is parsed, deduped and written durably to the outbox, and only then answered 2xx. It
 * never calls the Sentry API or Pushover, so the answer time is the outbox's group-commit latency.
 *
 * @example
 * const ingest = createIngest({ outbox, events: parseNotifyEvents(env.NOTIFY_EVENTS) });
 * const { status, body } = await ingest.handle('issue', JSON.parse(raw.toString('utf8')));
 */
import type { Clock } from '../clock.ts';
import { systemClock } from '../clock.ts';
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import type { NotifyEvents } from './events.ts';
import { jobFromWebhook } from './job.ts';

/** The part of the outbox ingest needs: a durable enqueue that dedupes on `key`. */
export interface EnqueuePort {
  /** Resolves once the entry is durable (or recognised as a duplicate of a live/recent one). */
  enqueue(entry: { key: string; group: string; payload: unknown }): Promise<{ duplicate?: boolean } | unknown>;
}

/** The answer to give Sentry. */
export interface IngestAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** Options for {@link createIngest}. */
export interface IngestOptions {
  outbox: EnqueuePort;
  events: NotifyEvents;
  clock?: Clock;
  log?: Logger;
  /**
   * Whether the installation is known (installed, not deleted). When it says no, the delivery is
   * acknowledged and nothing is queued: a webhook for an uninstalled installation must not notify.
   * Omit to queue every delivery (the worker then dead-letters jobs of unknown installations).
   */
  isInstalled?(installationId: string): Promise<boolean>;
}

/** The resources ingest can take (what the server's router should hand to it). */
export const INGEST_RESOURCES: readonly string[] = ['issue', 'error', 'event_alert', 'metric_alert'];

/** The ingest handler. */
export interface Ingest {
  readonly resources: readonly string[];
  /** Handles one verified delivery; never throws (an outbox failure becomes 503 so Sentry retries). */
  handle(resource: string, body: unknown): Promise<IngestAnswer>;
}

function actionOf(body: unknown): string {
  const action = (body as { action?: unknown } | null)?.action;
  return typeof action === 'string' ? action : '';
}

/** Creates the ingest handler. */
export function createIngest(options: IngestOptions): Ingest {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? silentLogger;
  return {
    resources: INGEST_RESOURCES,
    async handle(resource, body) {
      const action = actionOf(body);
      // Unsubscribed actions (e.g. issue.resolved under the default NOTIFY_EVENTS) are fine: 2xx, nothing queued.
      if (!options.events.matches(resource, action)) {
        return { status: 200, body: { ok: true, ignored: `${resource}.${action || '?'} not in NOTIFY_EVENTS` } };
      }
      const parsed = jobFromWebhook(resource, body, clock.now());
      if (!parsed.ok) {
        log.warn('webhook not queued: malformed payload', { resource, action, reason: parsed.reason });
        return { status: 400, body: { error: 'invalid_payload', detail: parsed.reason } };
      }
      const { job } = parsed;
      try {
        if (options.isInstalled && !(await options.isInstalled(job.installationId))) {
          log.info('webhook for an unknown installation ignored', { installation: job.installationId, resource, action });
          return { status: 200, body: { ok: true, ignored: 'unknown installation' } };
        }
        const result = await options.outbox.enqueue({ key: job.key, group: job.installationId, payload: job });
        const duplicate = (result as { duplicate?: unknown } | undefined)?.duplicate === true;
        if (duplicate) log.info('duplicate delivery acknowledged', { installation: job.installationId, dedupeKey: job.key });
        return { status: 200, body: { ok: true, queued: !duplicate, duplicate } };
      } catch (error) {
        // Not durable → not acknowledged: Sentry retries 5xx, and the retry dedupes on content.
        log.error('could not queue notification', { installation: job.installationId, dedupeKey: job.key, error });
        return { status: 503, body: { error: 'unavailable', detail: 'could not persist the delivery; retry' } };
      }
    },
  };
}
