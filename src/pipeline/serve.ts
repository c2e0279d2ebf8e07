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
import { PushoverConfigError, pushoverOptionsFromEnv } from '../pushover/client.ts';
import { NotifyEventsError, parseNotifyEvents } from './events.ts';
import { inDoubtPolicyFromEnv, onOff, openPipeline, PipelineEnvError, positiveInt, type Pipeline, type PipelineOptions } from './pipeline.ts';

/** A stand-in key of the valid shape: the keys themselves are checked by loadConfig (and are absent in the sandbox until it starts). */
const SHAPED_KEY = 'k'.repeat(30);

/**
 * Every problem with the pipeline's variables (NOTIFY_*, PUSHOVER_DEVICE/SOUND/PRIORITIES/EMERGENCY_*),
 * each naming its variable, without opening anything: `serve` reports them with the configuration's
 * own problems in one go, before it touches DATA_DIR.
 *
 * @example
 * pipelineEnvProblems({ NOTIFY_CONCURRENCY: 'abc' }); // ['NOTIFY_CONCURRENCY must be a positive integer']
 */
export function pipelineEnvProblems(env: Record<string, string | undefined>): string[] {
  const checks: Array<() => unknown> = [
    () => parseNotifyEvents(env.NOTIFY_EVENTS),
    () => positiveInt(env, 'NOTIFY_CONCURRENCY', 2),
    () => onOff(env, 'NOTIFY_HTML', false),
    () => inDoubtPolicyFromEnv(env),
    () => pushoverOptionsFromEnv({ ...env, PUSHOVER_TOKEN: SHAPED_KEY, PUSHOVER_USER: SHAPED_KEY }),
  ];
  const problems: string[] = [];
  for (const check of checks) {
    try {
      check();
    } catch (error) {
      if (error instanceof NotifyEventsError || error instanceof PushoverConfigError || error instanceof PipelineEnvError) problems.push(error.message);
      else throw error;
    }
  }
  return problems;
}

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
