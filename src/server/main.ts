/**
 * The `serve` command: load the configuration (exit 2 on a config error, naming each variable),
 * open the file store in DATA_DIR, listen, print a ready line, and shut down gracefully on SIGTERM
 * or SIGINT (exit 0). Resolves only after shutdown.
 *
 *   serve [--dotenv <path>]     default env file: ./.env (optional); --env-file is an alias
 *
 * @example
 * // node --import tsx src/cli.ts serve --dotenv .env.production
 * const status = await run(['--dotenv', '.env']);
 */
import { resolve } from 'node:path';
import { applyEnvFile, ConfigError, loadConfig, publicUrls, readEnvFile, type Config } from '../config.ts';
import { createLogger, type Logger } from '../log.ts';
import { createSentryApi } from '../sentry/api.ts';
import { openFileStore } from '../store/file.ts';
import { parseStoreKey } from '../store/key.ts';
import { openServePipeline, pipelineEnvProblems } from '../pipeline/serve.ts';
import type { Pipeline } from '../pipeline/pipeline.ts';
import { productionProblems, startMode, startupBanner, type Mode } from '../sandbox/index.ts';
import { createServer, type ServerDeps } from './app.ts';

const USAGE = `usage: serve [--dotenv <path>]
Runs the integration server. Configuration comes from the environment and ./.env (or the file
--dotenv names, which must exist); see docs/server.md for the variables. --env-file is an alias,
but Node.js itself also reads --env-file anywhere on its command line and exits 9 on a missing file.`;

/** The options naming the .env file: --dotenv, and --env-file (which Node.js also intercepts: nodejs/node#54232). */
const ENV_FILE_OPTIONS = ['--dotenv', '--env-file'];

/** Hooks for embedding (the notification pipeline adds its own; tests add nothing). */
export type ServeExtras = Pick<ServerDeps, 'onWebhook' | 'onInstallationDeleted' | 'health'>;

/**
 * Runs the server until SIGTERM/SIGINT. Exit status: 0 after a clean shutdown, 2 on a configuration
 * error or bad arguments, 1 when the store or the port cannot be opened.
 *
 * @example
 * process.exitCode = await run(process.argv.slice(3));
 */
export async function run(args: string[], extras: ServeExtras = {}): Promise<number> {
  let envFile = '.env';
  let envFileRequired = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      return 0;
    }
    const option = ENV_FILE_OPTIONS.find((o) => arg === o || arg.startsWith(`${o}=`));
    if (option) {
      const value = arg === option ? args[++i] : arg.slice(option.length + 1);
      if (!value) {
        console.error(`serve: ${option} needs the path of a .env file\n${USAGE}`);
        return 2;
      }
      envFile = value;
      envFileRequired = true;
    } else {
      console.error(`serve: unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
      return 2;
    }
  }

  let config: Config;
  try {
    // The .env file completes process.env (the environment wins) before anything reads it: the
    // pipeline's NOTIFY_*/PUSHOVER_*/OUTBOX_DIR, LOG_LEVEL and the sandbox's DATA_DIR included.
    applyEnvFile(process.env, readEnvFile(envFile, envFileRequired));
    // Every bad variable in one report, before anything is created: the server's and the pipeline's.
    const problems = pipelineEnvProblems(process.env);
    try {
      config = loadConfig({ env: process.env });
    } catch (error) {
      if (error instanceof ConfigError) throw new ConfigError([...error.problems, ...problems]);
      throw error;
    }
    if (config.mode === 'production') problems.push(...productionProblems(config));
    if (problems.length) throw new ConfigError(problems);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`serve: ${error.message}`);
      return 2;
    }
    throw error;
  }
  // Sandbox (no credentials): Sentry + Pushover emulators in-process, config pointed at them.
  // Production: startup checks (Pushover keys). See src/sandbox/index.ts.
  let mode: Mode;
  try {
    mode = await startMode(config, process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`serve: ${error.message}`);
      return 2;
    }
    throw error;
  }
  config = mode.config;
  const logger: Logger = createLogger({ level: config.logLevel });

  let store;
  try {
    store = await openFileStore({
      dir: config.dataDir,
      ...(config.tokenStoreKey ? { key: parseStoreKey(config.tokenStoreKey) } : {}),
      onWarning: (message) => logger.warn('store', { detail: message }),
    });
  } catch (error) {
    logger.error('cannot open the token store', { dataDir: resolve(config.dataDir), error });
    await mode.sandbox?.close();
    return 1;
  }
  // Started anyway, every install would fail with 500 and every webhook wait for a key that never
  // comes: a new key made at each start (a `$(…randomBytes…)` in a shell line) would lose them all.
  if (store.keyUnusable) {
    logger.error(config.tokenStoreKey
      ? 'TOKEN_STORE_KEY decrypts none of the installation records: it is not the key they were written with. Start with that key, or move the directory aside to start afresh'
      : 'the installation records are encrypted and TOKEN_STORE_KEY is not set: start with the key they were written with, or move the directory aside to start afresh', { dataDir: resolve(config.dataDir) });
    await store.close();
    await mode.sandbox?.close();
    return 1;
  }
  const api = createSentryApi({ baseUrl: config.sentryUrl, clientId: config.clientId!, clientSecret: config.clientSecret! });
  // Issue webhooks → outbox → Sentry API → Pushover (docs/pipeline.md); undefined without Pushover keys.
  let pipeline: Pipeline | undefined;
  try {
    pipeline = await openServePipeline({ config, env: process.env, store, api, logger, tokens: () => app.tokens,
      regionFor: (id) => app.installer.regionFor(id) });
  } catch (error) {
    await store.close();
    await mode.sandbox?.close();
    if (error instanceof ConfigError) {
      console.error(`serve: ${error.message}`);
      return 2;
    }
    logger.error('cannot open the notification outbox', { error });
    return 1;
  }
  const app = createServer({ config, store, api, logger, ...mode.serverDeps, ...pipeline?.hooks, ...extras });
  let url: string;
  try {
    url = await app.listen();
  } catch (error) {
    logger.error('cannot listen', { host: config.host, port: config.port, error });
    await pipeline?.close();
    await store.close();
    await mode.sandbox?.close();
    return 1;
  }
  pipeline?.start();
  mode.sandbox?.connect(url);

  const stopped = new Promise<void>((done) => {
    let stopping = false;
    const stop = (signal: string) => {
      // Listeners stay registered: on Deno, removing one lets a late signal take the default action
      // (exit by signal instead of status 0); a repeated signal must not kill in-flight work either.
      if (stopping) return;
      stopping = true;
      logger.info('shutting down', { signal });
      // Worker first (its jobs need the store), then the server (in-flight webhooks still enqueue), then the outbox.
      Promise.resolve(pipeline?.stop()).then(() => app.close()).then(() => pipeline?.close()).then(() => mode.sandbox?.close()).then(done, (error: unknown) => {
        logger.error('shutdown failed', { error });
        done();
      });
    };
    const onTerm = () => stop('SIGTERM');
    const onInt = () => stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });

  // What to paste into the app's settings in Sentry: on PUBLIC_URL when set (production behind a
  // proxy), else on the listening address. The sandbox's emulator calls the listening address itself.
  const pasted = publicUrls(config, url); // the sandbox refuses PUBLIC_URL (startMode), so it is production's
  logger.info('ready', {
    url,
    mode: config.mode,
    webhookUrl: pasted.webhookUrl,
    redirectUrl: pasted.redirectUrl,
    ...(pasted.fromPublicUrl ? { publicUrl: pasted.base } : {}),
    dataDir: resolve(config.dataDir),
    encrypted: Boolean(config.tokenStoreKey),
    verifyInstall: config.verifyInstall,
    ...(mode.sandbox ? { open: mode.sandbox.openUrl } : {}),
  });
  console.error(startupBanner(config, url, mode.sandbox));
  await stopped;
  return 0;
}
