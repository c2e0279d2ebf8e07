/**
 * The one call the `serve` command makes to plug the notification pipeline into the server.
 * Without PUSHOVER_TOKEN and PUSHOVER_USER the server runs without notifications (logged once);
 * a bad pipeline variable is a {@link ConfigError} (exit 2, like any other configuration error).
 *
 * @example
 * const pipeline = await openServePipeline({ config, env: process.env, store, api, logger, tokens: () => app.tokens });
 * const app = createServer({ config, store, api, logger, ...pipeline?.hooks });
 * await app.listen(); pipeline?.start();
 * // on SIGTERM: await pipeline?.stop(); await app.close(); await pipeline?.close();
 */
import { ConfigError } from '../config.ts';
import { PushoverConfigError } from '../pushover/client.ts';
import { NotifyEventsError } from './events.ts';
import { openPipeline, PipelineEnvError, type Pipeline, type PipelineOptions } from './pipeline.ts';

/**
 * Opens the pipeline for `serve`, or returns undefined when Pushover is not configured.
 * Throws {@link ConfigError} for bad NOTIFY_* / PUSHOVER_* / OUTBOX_* values; other errors (outbox
 * locked by another process, unreadable directory) propagate.
 */
export async function openServePipeline(options: PipelineOptions): Promise<Pipeline | undefined> {
  const { config } = options;
  const env = options.env ?? {};
  if (!(env.PUSHOVER_TOKEN ?? config.pushover.token) || !(env.PUSHOVER_USER ?? config.pushover.user)) {
    options.logger?.warn('notifications disabled: set PUSHOVER_TOKEN and PUSHOVER_USER to send Sentry issues to Pushover');
    return undefined;
  }
  try {
    return await openPipeline(options);
  } catch (error) {
    if (error instanceof NotifyEventsError || error instanceof PushoverConfigError || error instanceof PipelineEnvError) {
      throw new ConfigError([error.message]);
    }
    throw error;
  }
}
