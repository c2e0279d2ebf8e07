/**
 * The notification pipeline wired together: the ingest handler the server calls for issue-type
 * webhooks, the durable outbox, the worker (valid token → GET the issue → format → Pushover) and
 * the server hooks (`onWebhook`, `onInstallationDeleted`, `health`). The server builds the token
 * manager, so the pipeline takes it lazily.
 *
 * @example
 * const pipeline = await openPipeline({ config, env: process.env, store, api, logger, tokens: () => app.tokens });
 * const app = createServer({ config, store, api, logger, ...pipeline.hooks });
 * await app.listen(); pipeline.start();
 * // shutdown: await pipeline.stop(); await app.close(); await pipeline.close();
 */
import { join } from 'node:path';
import type { Clock } from '../clock.ts';
import { systemClock } from '../clock.ts';
import { BOOL_FALSE, BOOL_TRUE, type Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import { type ReplayWatcher, watchReplayRequests } from '../outbox/requests.ts';
import { openOutbox, type Job, type Outbox, type Outcome as OutboxOutcome, type OutboxOptions, type RunContext } from '../outbox/outbox.ts';
import { createPushoverClient, pushoverOptionsFromEnv, type PushoverClient, type PushoverClientOptions } from '../pushover/client.ts';
import { formatIssueNotification, type SentryIssueLike } from '../pushover/format.ts';
import { SentryApiError, type SentryApi } from '../sentry/api.ts';
import { NeedsReauthError, UnknownInstallationError, type TokenManager } from '../sentry/tokens.ts';
import type { WebhookHandler, WebhookReply } from '../server/app.ts';
import { InvalidInstallationIdError } from '../store/ids.ts';
import type { InstallationRecord, InstallationStore } from '../store/types.ts';
import { deliver, IN_DOUBT_POLICIES, type DeliverPorts, type FetchResult, type InDoubtPolicy, type SendResult } from './deliver.ts';
import { parseNotifyEvents } from './events.ts';
import { createIngest, type Ingest } from './ingest.ts';
import { asJob, type NotificationJob } from './job.ts';

/** Options for {@link openPipeline}. */
export interface PipelineOptions {
  config: Config;
  /**
   * Environment for the pipeline's own variables: NOTIFY_EVENTS, OUTBOX_DIR, NOTIFY_CONCURRENCY,
   * NOTIFY_HTML, NOTIFY_IN_DOUBT, and the PUSHOVER_* variables read by `pushoverOptionsFromEnv`.
   */
  env?: Record<string, string | undefined>;
  store: InstallationStore;
  api: SentryApi;
  /** The server's token manager (built by `createServer`, hence lazy). */
  tokens: () => TokenManager;
  /**
   * The installation's region base URL: the stored one, or a fresh discovery when the one at install
   * time failed (the server's `installer.regionFor`, at most once per 10 minutes per installation).
   */
  regionFor?: (installationId: string) => Promise<string | undefined>;
  clock?: Clock;
  logger?: Logger;
  /** Overrides for the outbox (tests: `durability`, `retry`, `random`). */
  outbox?: Partial<OutboxOptions>;
  /** How often the running worker looks for `dead-letters replay` requests; default 1000 ms. */
  replayPollMs?: number;
  /** Overrides for the Pushover client (tests: `random`, `timeoutMs`). */
  pushover?: Partial<PushoverClientOptions>;
}

/** What /healthz shows about the pipeline. */
export interface PipelineHealth {
  deadLetters: number;
  outbox: { pending: number; inFlight: number; done: number; dropped: number; oldestPendingAt?: number };
  pushover: { limit?: number; remaining?: number; reset?: number; lowQuota: boolean; pausedUntil?: number };
  /**
   * Jobs found in doubt since start (an earlier send cut short before its result was recorded), by what
   * NOTIFY_IN_DOUBT did with them: sent again, or dead-lettered without sending.
   */
  inDoubt: { resent: number; deadLettered: number };
}

/** The wired pipeline. */
export interface Pipeline {
  readonly outbox: Outbox;
  readonly pushover: PushoverClient;
  readonly ingest: Ingest;
  /** Spread into `createServer`'s dependencies. */
  readonly hooks: {
    onWebhook: WebhookHandler;
    onInstallationDeleted: (installationId: string) => Promise<void>;
    health: () => { pipeline: PipelineHealth };
  };
  health(): PipelineHealth;
  /** Starts the worker (once the server listens). */
  start(): void;
  /** Stops the worker; running jobs are abandoned and run again later (not counted as attempts). */
  stop(): Promise<void>;
  /** Stops the worker, closes the outbox and the Pushover client. */
  close(): Promise<void>;
}

/** The issue fields the formatter uses, from the API's answer (unknown shapes tolerated). */
export function issueFromApi(answer: Record<string, unknown>): SentryIssueLike {
  const s = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);
  const project = answer['project'] && typeof answer['project'] === 'object' ? answer['project'] as Record<string, unknown> : undefined;
  const out: SentryIssueLike = {};
  const set = <K extends keyof SentryIssueLike>(k: K, v: SentryIssueLike[K] | undefined) => { if (v !== undefined) out[k] = v; };
  set('title', s(answer['title']));
  set('shortId', s(answer['shortId']));
  set('culprit', s(answer['culprit']));
  set('level', s(answer['level']));
  set('count', s(answer['count']));
  set('firstSeen', s(answer['firstSeen']));
  set('permalink', s(answer['permalink']));
  if (project) set('project', { slug: s(project['slug']), name: s(project['name']) });
  return out;
}

/** Classifies a failure of the token manager or the issue fetch. */
export function classifyFetchError(error: unknown): FetchResult {
  if (error instanceof UnknownInstallationError) return { ok: false, class: 'dead', error: 'installation unknown (uninstalled?)' };
  if (error instanceof NeedsReauthError) return { ok: false, class: 'dead', error: 'installation needs re-authorization' };
  if (error instanceof SentryApiError) {
    const what = `${error.operation} ${error.status || error.kind}${error.detail ? ` ${error.detail}` : ''}`;
    switch (error.kind) {
      case 'server': case 'network': case 'rate-limited':
        return { ok: false, class: 'retry', error: what };
      case 'not-found':
        return { ok: false, class: 'missing', error: what };
      // 401 after the manager's refresh-and-retry, 403 (access gone), other 4xx: retrying cannot help.
      default:
        return { ok: false, class: 'dead', error: what };
    }
  }
  return { ok: false, class: 'retry', error: (error as Error)?.message ?? String(error) };
}

function toOutboxOutcome(outcome: Awaited<ReturnType<typeof deliver>>): OutboxOutcome {
  if (outcome.kind === 'done') return { outcome: 'done' };
  const doubt = outcome.inDoubt ? { inDoubt: true } : {};
  if (outcome.kind === 'dead') return { outcome: 'dead', reason: outcome.error, ...doubt };
  return {
    outcome: 'retry', reason: outcome.error,
    ...(outcome.notBefore !== undefined ? { at: outcome.notBefore } : {}),
    ...(outcome.pause ? { countAttempt: false } : {}),
    ...doubt,
  };
}

/** A pipeline variable (NOTIFY_CONCURRENCY, …) has an unusable value; the message names it. */
export class PipelineEnvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PipelineEnvError';
  }
}

/** An on/off variable: unset or blank → `fallback`; true/false, 1/0, yes/no, on/off; anything else is an error. */
export function onOff(env: Record<string, string | undefined>, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw) return fallback;
  if (BOOL_TRUE.has(raw)) return true;
  if (BOOL_FALSE.has(raw)) return false;
  throw new PipelineEnvError(`${name} must be on or off (true/false, 1/0, yes/no), got ${JSON.stringify(env[name])}`);
}

/** A positive-integer variable: unset or blank → `fallback`; anything else that is not one is an error naming it. */
export function positiveInt(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new PipelineEnvError(`${name} must be a positive integer`);
  return n;
}

/**
 * NOTIFY_IN_DOUBT: what to do with a job whose earlier send may have been delivered (see
 * {@link InDoubtPolicy}). Blank or unset → `resend`.
 *
 * @example
 * inDoubtPolicyFromEnv({ NOTIFY_IN_DOUBT: 'dead-letter' }) // 'dead-letter'
 */
export function inDoubtPolicyFromEnv(env: Record<string, string | undefined>): InDoubtPolicy {
  const raw = env.NOTIFY_IN_DOUBT?.trim().toLowerCase();
  if (!raw) return 'resend';
  const policy = IN_DOUBT_POLICIES.find((p) => p === raw);
  if (!policy) throw new PipelineEnvError(`NOTIFY_IN_DOUBT must be one of ${IN_DOUBT_POLICIES.join(', ')}`);
  return policy;
}

/** The warning logged (with the job's `dedupeKey`) right before an in-doubt job is sent again. */
export const RESENT_MSG = 'notification resent after an interrupted send';

/**
 * Opens the outbox and the Pushover client and builds the hooks. Throws on a bad NOTIFY_EVENTS or
 * PUSHOVER_* value (never echoing a key), or when the outbox is locked by another process.
 */
export async function openPipeline(options: PipelineOptions): Promise<Pipeline> {
  const { config, store, api } = options;
  const env = options.env ?? {};
  const clock = options.clock ?? systemClock;
  const log = options.logger ?? silentLogger;
  const events = parseNotifyEvents(env.NOTIFY_EVENTS);
  const concurrency = positiveInt(env, 'NOTIFY_CONCURRENCY', 2);
  const html = onOff(env, 'NOTIFY_HTML', false);
  const onInDoubt = inDoubtPolicyFromEnv(env);
  const inDoubt = { resent: 0, deadLettered: 0 };
  const pushoverOptions: PushoverClientOptions = {
    ...pushoverOptionsFromEnv({
      ...env,
      PUSHOVER_URL: env.PUSHOVER_URL ?? config.pushover.url,
      PUSHOVER_TOKEN: env.PUSHOVER_TOKEN ?? config.pushover.token,
      PUSHOVER_USER: env.PUSHOVER_USER ?? config.pushover.user,
    }),
    retryMinMs: config.pushover.retryMinMs,
    clock,
    onWarning: (message) => log.warn(message, { component: 'pushover' }),
    ...options.pushover,
  };
  const pushover = createPushoverClient(pushoverOptions);
  let outbox: Outbox;
  const outboxDir = options.outbox?.dir ?? (env.OUTBOX_DIR?.trim() || join(config.dataDir, 'outbox'));
  try {
    outbox = await openOutbox({
      dir: outboxDir,
      clock,
      // Sentry-side failures back off from the same floor as Pushover's (≥ 5 s in production).
      retry: { minMs: config.pushover.retryMinMs },
      onWarning: (message) => log.warn(message, { component: 'outbox' }),
      ...options.outbox,
    });
  } catch (error) {
    await pushover.close();
    throw error;
  }

  // Installations known to exist: checked once, forgotten on uninstall (a file read per webhook otherwise).
  const known = new Set<string>();
  const ingest = createIngest({
    outbox, events, clock, log,
    async isInstalled(id) {
      if (known.has(id)) return true;
      let record: InstallationRecord | undefined;
      try {
        record = await store.get(id);
      } catch (error) {
        if (error instanceof InvalidInstallationIdError) return false; // not an installation id at all
        // Cannot tell (unreadable or undecryptable record, I/O error): queue rather than drop. The worker
        // retries by class and dead-letters it if the record stays unreadable; `dead-letters replay` sends
        // it once the store is mended. Answering "unknown installation" would lose it for good.
        log.error('installation record unreadable: webhook queued anyway', { installation: id, error });
        return true;
      }
      if (record) known.add(id);
      return record !== undefined;
    },
  });

  function ports(job: Job, markStarted: () => Promise<void>, jlog: Logger): DeliverPorts {
    const attempts = job.attempts;
    return {
      markStarted,
      async resending() {
        inDoubt.resent++;
        // A warning reaches stdout at once (see log.ts): it is out before the possible duplicate, even if a kill follows.
        jlog.warn(RESENT_MSG, { interruptedSends: job.inDoubtCount ?? 1 });
      },
      async fetchIssue(job: NotificationJob) {
        try {
          const answer = await options.tokens().withToken(job.installationId, async (token, record) => {
            // Only a record whose discovery failed at install asks again (regionFor never throws).
            const region = record.regionUrl ?? await options.regionFor?.(job.installationId);
            return api.getIssue(token, record.orgSlug || job.orgSlug || '', job.issueId ?? '', region ? { baseUrl: region } : {});
          });
          return { ok: true, issue: issueFromApi(answer) };
        } catch (error) {
          return classifyFetchError(error);
        }
      },
      format: (issue, job) => formatIssueNotification(issue, {
        tags: job.key, html, ...(pushoverOptions.priorities ? { priorities: pushoverOptions.priorities } : {}),
      }),
      async send(message): Promise<SendResult> {
        const r = await pushover.send(message, { attempt: attempts + 1 });
        switch (r.kind) {
          case 'ok': return { ok: true, request: r.request };
          case 'permanent': return { ok: false, class: 'permanent', error: `${r.reason}: ${r.detail}` };
          case 'quota': return { ok: false, class: 'quota', error: r.detail, notBefore: r.resumeAt };
          default: {
            const lost = r.maybeDelivered ? { maybeDelivered: true } : {};
            return r.exhausted
              ? { ok: false, class: 'permanent', error: `gave up after ${r.attempt} transient failures: ${r.detail}`, ...lost }
              : { ok: false, class: 'retry', error: r.detail, notBefore: r.retryAt, ...lost };
          }
        }
      },
    };
  }

  async function handle(job: Job, context: RunContext): Promise<OutboxOutcome> {
    const payload = asJob(job.payload);
    if (!payload) return { outcome: 'dead', reason: 'unreadable job payload' };
    // `dedupeKey`, not `key`: the logger redacts any field named `key`.
    const jlog = log.child({ installation: payload.installationId, dedupeKey: payload.key, attempt: job.attempts + 1 });
    const outcome = await deliver(payload, ports(job, context.markStarted, jlog), { inDoubt: job.inDoubt === true, onInDoubt });
    if (outcome.kind === 'dead' && (job.inDoubt || outcome.inDoubt) && onInDoubt === 'dead-letter') inDoubt.deadLettered++;
    if (outcome.kind === 'done') jlog.info('notification sent', { resource: payload.resource, action: payload.action });
    else if (outcome.kind === 'dead') jlog.warn('notification dead-lettered', { error: outcome.error });
    else jlog.info('notification will be retried', { error: outcome.error, at: outcome.notBefore });
    return toOutboxOutcome(outcome);
  }

  const health = (): PipelineHealth => {
    const s = outbox.stats();
    const q = pushover.quota();
    return {
      deadLetters: s.dead,
      outbox: { pending: s.pending, inFlight: s.inFlight, done: s.done, dropped: s.dropped, ...(s.oldestPendingAt !== undefined ? { oldestPendingAt: s.oldestPendingAt } : {}) },
      pushover: {
        ...(q.limit !== undefined ? { limit: q.limit } : {}),
        ...(q.remaining !== undefined ? { remaining: q.remaining } : {}),
        ...(q.reset !== undefined ? { reset: q.reset } : {}),
        lowQuota: q.lowQuota,
        ...(q.pausedUntil !== undefined ? { pausedUntil: q.pausedUntil } : {}),
      },
      inDoubt: { ...inDoubt },
    };
  };

  let running = false;
  let replays: ReplayWatcher | undefined;
  let closed: Promise<void> | undefined;
  return {
    outbox, pushover, ingest,
    hooks: {
      async onWebhook(request): Promise<WebhookReply> {
        const resource = request.resource ?? '';
        if (!ingest.resources.includes(resource)) return { status: 200, body: { ok: true, ignored: `resource ${resource || '?'}` } };
        return ingest.handle(resource, request.json);
      },
      async onInstallationDeleted(installationId) {
        known.delete(installationId);
        const dropped = await outbox.dropGroup(installationId);
        log.info('pending notifications dropped', { installation: installationId, dropped });
      },
      health: () => ({ pipeline: health() }),
    },
    health,
    start() {
      if (running || closed) return;
      running = true;
      outbox.run(handle, { concurrency });
      // `dead-letters replay` while we hold the outbox lock: it leaves a request, we carry it out.
      replays = watchReplayRequests(outbox, outboxDir, {
        intervalMs: options.replayPollMs,
        onRequest: ({ target, answer }) => {
          if ('error' in answer) log.warn('dead-letter replay refused', { target, error: answer.error });
          else log.info('dead letters replayed on request', { target, replayed: answer.replayed });
        },
      });
    },
    async stop() {
      if (!running) return;
      running = false;
      await replays?.stop();
      replays = undefined;
      await outbox.stop();
    },
    close() {
      closed ??= (async () => {
        running = false;
        await replays?.stop();
        replays = undefined;
        await outbox.close();
        await pushover.close();
      })();
      return closed;
    },
  };
}
