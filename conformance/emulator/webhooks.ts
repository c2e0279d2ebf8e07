/**
 * The webhook sender: Sentry's exact bytes and headers, a hard timeout (status 0 on timeout or
 * connection error, as Sentry records it), redirects never followed, and retries (5xx, timeouts,
 * connection errors) only for published apps and never for installation.deleted.
 *
 * @example
 * const record = await sender.send({ app, installationId, resource: 'issue', action: 'created', body });
 */
import { Agent, request } from 'undici';
import { sign } from '../../src/sentry/signature.ts';
import type { FaultSet } from './faults.ts';
import type { ResolvedOptions } from './options.ts';
import type { Recorder } from './record.ts';
import type { DeliveryAttempt, DeliveryRecord, EmulatorApp } from './types.ts';

/** One webhook to send. */
export interface WebhookJob {
  app: EmulatorApp;
  installationId: string;
  resource: string;
  action: string;
  /** Exact bytes (already serialised with sentryJson). */
  body: string;
  /** False for installation.deleted: sent once, failures ignored. */
  retry?: boolean;
}

const MAX_RESPONSE_CHARS = 4096;

/** Parses the app's custom "Name: Value" header lines. */
export function customHeaders(lines: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines) {
    const at = line.indexOf(':');
    if (at <= 0) continue;
    out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return out;
}

/** Sends webhooks for one emulator; `close()` aborts everything in flight. */
export class WebhookSender {
  private readonly agent: Agent;
  private readonly options: ResolvedOptions;
  private readonly recorder: Recorder;
  private readonly faults: FaultSet;
  private readonly aborts = new Set<AbortController>();
  private readonly sleeps = new Set<() => void>();
  private closed = false;

  constructor(options: ResolvedOptions, recorder: Recorder, faults: FaultSet) {
    this.options = options;
    this.recorder = recorder;
    this.faults = faults;
    this.agent = new Agent({ connect: { timeout: options.webhookTimeoutMs }, keepAliveTimeout: 1000 });
  }

  /** Builds the headers of one attempt: custom headers first, Sentry's win on conflict. */
  headers(app: EmulatorApp, resource: string, signature: string, requestId: string, timestamp: string): Record<string, string> {
    const sentry: Record<string, string> = {
      'Content-Type': 'application/json',
      'Request-ID': requestId,
      'Sentry-Hook-Resource': resource,
      'Sentry-Hook-Timestamp': timestamp,
      'Sentry-Hook-Signature': signature,
    };
    const reserved = new Set(Object.keys(sentry).map((k) => k.toLowerCase()));
    const merged: Record<string, string> = {};
    for (const [name, value] of Object.entries(customHeaders(app.webhookHeaders))) {
      if (!reserved.has(name.toLowerCase())) merged[name] = value;
    }
    return { ...merged, ...sentry };
  }

  /** Sends a webhook with every attempt it is due; resolves when all attempts have settled. */
  async send(job: WebhookJob): Promise<DeliveryRecord> {
    const url = job.app.webhookUrl;
    if (!url) throw new Error(`app ${job.app.slug} has no webhook URL`);
    const signature = sign(job.app.clientSecret, job.body);
    const record = this.recorder.addDelivery({
      url, resource: job.resource, action: job.action, installationId: job.installationId,
      body: job.body, signature, headers: {}, attempts: [], delivered: false,
    });
    const retries = job.retry === false || !job.app.published ? 0 : this.options.maxRetries;
    for (let attempt = 0; attempt <= retries && !this.closed; attempt++) {
      if (attempt > 0) await this.sleep(this.options.retryDelayMs);
      if (this.closed) break;
      const outcome = await this.attempt(job, url, signature, record);
      record.attempts.push(outcome);
      if (outcome.status >= 200 && outcome.status < 400) {
        record.delivered = true;
        break;
      }
      // Sentry retries server errors and timeouts/connection errors only; 4xx is final.
      if (outcome.status !== 0 && outcome.status < 500) break;
    }
    this.recorder.settled(record);
    return record;
  }

  private async attempt(job: WebhookJob, url: string, signature: string, record: DeliveryRecord): Promise<DeliveryAttempt> {
    const requestId = this.options.randomBytes(16).toString('hex');
    const startedAt = this.options.clock.now();
    const timestamp = String(Math.floor(startedAt / 1000));
    const headers = this.headers(job.app, job.resource, signature, requestId, timestamp);
    record.headers = headers;
    const began = performance.now();
    const done = (fields: Partial<DeliveryAttempt> & { status: number }): DeliveryAttempt =>
      ({ requestId, timestamp, startedAt, durationMs: Math.round(performance.now() - began), ...fields });
    const fault = this.faults.take('webhook');
    if (fault?.kind === 'latency') await this.sleep(fault.ms);
    if (fault?.kind === 'status') return done({ status: fault.status, error: 'injected status', responseBody: fault.body ?? '' });
    if (fault?.kind === 'drop') return done({ status: 0, error: 'injected connection drop' });
    const controller = new AbortController();
    this.aborts.add(controller);
    const timer = setTimeout(() => controller.abort(), this.options.webhookTimeoutMs);
    try {
      const res = await request(url, { method: 'POST', headers, body: job.body, dispatcher: this.agent, signal: controller.signal });
      const text = await res.body.text();
      if (fault?.kind === 'commit-then-drop') return done({ status: 0, error: 'injected drop after delivery' });
      const extra: Partial<DeliveryAttempt> = {};
      const hookError = res.headers['sentry-hook-error'];
      const hookProject = res.headers['sentry-hook-project'];
      if (typeof hookError === 'string') extra.hookError = hookError;
      if (typeof hookProject === 'string') extra.hookProject = hookProject;
      return done({ status: res.statusCode, responseBody: text.slice(0, MAX_RESPONSE_CHARS), ...extra });
    } catch (error) {
      const reason = controller.signal.aborted
        ? (this.closed ? 'emulator closed' : `timeout after ${this.options.webhookTimeoutMs} ms`)
        : errorText(error);
      return done({ status: 0, error: reason });
    } finally {
      clearTimeout(timer);
      this.aborts.delete(controller);
    }
  }

  /** A real-time pause (retry delay, latency fault) that `close()` cuts short. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.sleeps.delete(finish);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.sleeps.add(finish);
    });
  }

  /** Aborts every attempt in flight, cancels pending retries and closes the connection pool. */
  async close(): Promise<void> {
    this.closed = true;
    for (const controller of this.aborts) controller.abort();
    for (const finish of [...this.sleeps]) finish();
    await this.agent.destroy();
  }
}

function errorText(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
