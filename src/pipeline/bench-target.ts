/**
 * Our server as the webhook benchmark's target: the real `createServer` with a file store holding
 * one installation and the pipeline's ingest on a real, fsync'ing outbox in a temp dir. The worker is
 * not started, so the figures are those of the durable ack path alone (what Sentry's 1 s budget sees).
 *
 * @example
 * const target = await startBenchTarget();
 * // POST signed issue.created webhooks for target.installationId to target.url, signed with target.secret
 * await target.close();
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { loadConfig } from '../config.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { OutboxStats } from '../outbox/outbox.ts';
import { createSentryApi } from '../sentry/api.ts';
import { createServer } from '../server/app.ts';
import { openFileStore } from '../store/file.ts';
import { tempDir } from '../testing/runtime.ts';
import { openPipeline, type Pipeline } from './pipeline.ts';

/** A running benchmark target. */
export interface BenchTarget {
  /** The webhook URL. */
  url: string;
  secret: string;
  installationId: string;
  orgSlug: string;
  stats(): OutboxStats;
  close(): Promise<void>;
}

/** Options for {@link startBenchTarget}. */
export interface BenchTargetOptions {
  /** 'fsync' (default) or 'none' (skips fsync, for comparison runs). */
  durability?: 'fsync' | 'none';
  /** Client secret deliveries are signed with; default random. */
  secret?: string;
  /** The one installation in the store; default a random UUID. */
  installationId?: string;
  /** Default silent; the benchmark passes a real JSON-lines logger so the per-request log line is paid for. */
  logger?: Logger;
}

/** Starts the target on 127.0.0.1 (port 0). */
export async function startBenchTarget(options: BenchTargetOptions = {}): Promise<BenchTarget> {
  const dir = await tempDir('sik-bench-webhooks-');
  const secret = options.secret ?? randomBytes(32).toString('hex');
  const installationId = options.installationId ?? randomUUID();
  const logger = options.logger ?? silentLogger;
  const orgSlug = 'bench-org';
  const config = loadConfig({
    env: {
      SENTRY_URL: 'http://127.0.0.1:9', SENTRY_CLIENT_ID: randomBytes(32).toString('hex'), SENTRY_CLIENT_SECRET: secret,
      DATA_DIR: dir.path, PUSHOVER_URL: 'http://127.0.0.1:9',
      PUSHOVER_TOKEN: 'a'.repeat(30), PUSHOVER_USER: 'u'.repeat(30),
    },
  });
  const store = await openFileStore({ dir: dir.path, onWarning: () => {} });
  const now = new Date().toISOString();
  await store.put({
    installationId, orgSlug, token: randomBytes(32).toString('hex'), refreshToken: randomBytes(32).toString('hex'),
    expiresAt: new Date(Date.now() + 8 * 3600_000).toISOString(), scopes: ['event:read'], status: 'active', verified: true,
    createdAt: now, updatedAt: now,
  });
  const api = createSentryApi({ baseUrl: config.sentryUrl, clientId: config.clientId!, clientSecret: secret });
  let pipeline: Pipeline | undefined;
  const app = createServer({
    config, store, api, logger,
    onWebhook: (request) => pipeline!.hooks.onWebhook(request),
    onInstallationDeleted: (id) => pipeline!.hooks.onInstallationDeleted(id),
  });
  pipeline = await openPipeline({
    config, store, api, env: {}, tokens: () => app.tokens, logger,
    outbox: { durability: options.durability ?? 'fsync' },
  });
  const base = await app.listen(0, '127.0.0.1');
  const pl = pipeline;
  return {
    url: `${base}${config.webhookPath}`, secret, installationId, orgSlug,
    stats: () => pl.outbox.stats(),
    async close() {
      await app.close();
      await pl.close();
      await dir.remove();
    },
  };
}
