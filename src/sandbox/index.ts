/**
 * Sandbox mode: what `npm start` does when no Sentry credentials are set. It starts the Sentry
 * emulator (with the sandbox pages) and the Pushover emulator in this process, registers an app
 * whose webhook and redirect URLs point at our server, and hands the `serve` command a
 * configuration wired to both — so the sandbox runs exactly the production code path, against
 * emulators. Production mode gets its startup checks and summary here too.
 *
 * @example
 * const mode = await startMode(config, process.env);   // production: checks; sandbox: emulators
 * const app = createServer({ ...deps, config: mode.config, ...mode.serverDeps });
 * const url = await app.listen();
 * mode.sandbox?.connect(url);
 * console.error(startupBanner(mode.config, url, mode.sandbox));
 * // on shutdown: await mode.sandbox?.close();
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startSentryEmulator, type SentryEmulator } from '../../conformance/emulator/index.ts';
import { sandboxPages } from '../../conformance/emulator/ui/index.ts';
import { startPushoverEmulator, type PushoverEmulator } from '../../conformance/pushover.ts';
import { offsetClock, type OffsetClock } from '../clock.ts';
import { ConfigError, publicUrls, type Config } from '../config.ts';

/** The organization the sandbox opens on. */
export const SANDBOX_ORG = 'acme';
/** The sandbox app's slug (also SENTRY_APP_SLUG, so /setup sends the browser back to its page). */
export const SANDBOX_APP = 'pushover-notifier';

/** Variables that switch `serve` from the sandbox to production. */
export const PRODUCTION_VARIABLES = ['SENTRY_CLIENT_ID', 'SENTRY_CLIENT_SECRET', 'SENTRY_APP_SLUG', 'PUSHOVER_TOKEN', 'PUSHOVER_USER'] as const;

/** A running sandbox. */
export interface Sandbox {
  readonly sentry: SentryEmulator;
  readonly pushover: PushoverEmulator;
  /** Sentry's clock (the "advance 8 hours" button moves it); the server and Pushover share it. */
  readonly clock: OffsetClock;
  /** The page to open: the Integrations page of {@link SANDBOX_ORG}. */
  readonly openUrl: string;
  /** Whether the store is a temporary directory removed on close. */
  readonly temporaryStore: boolean;
  /** Points the app's webhook and redirect URLs at the server (call once it listens). */
  connect(serverUrl: string): void;
  close(): Promise<void>;
}

/** What {@link startMode} returns. */
export interface Mode {
  /** The configuration to serve with: in the sandbox, pointed at the emulators (mode stays 'sandbox'). */
  config: Config;
  /** Extra server dependencies (the sandbox shares Sentry's clock so the server sees tokens expire). */
  serverDeps: { clock?: OffsetClock };
  sandbox?: Sandbox;
}

/**
 * What production is missing to run for real. Pushover is required: a server that accepts issue
 * webhooks and notifies nobody would fail silently.
 *
 * @example
 * productionProblems(config); // ['PUSHOVER_TOKEN is required in production …']
 */
export function productionProblems(config: Config): string[] {
  const problems: string[] = [];
  for (const [name, value] of [['PUSHOVER_TOKEN', config.pushover.token], ['PUSHOVER_USER', config.pushover.user]] as const) {
    if (!value) problems.push(`${name} is required in production (issue notifications are sent to Pushover; unset SENTRY_CLIENT_SECRET for the sandbox)`);
  }
  return problems;
}

/**
 * Starts the sandbox: both emulators on loopback, an app registered with the sandbox pages, and a
 * configuration pointing at them. `env` (normally `process.env`) receives the same values
 * (SENTRY_URL, SENTRY_CLIENT_ID/SECRET, SENTRY_APP_SLUG, PUSHOVER_URL/TOKEN/USER,
 * DATA_DIR) so every component that reads the environment is wired like production. The generated
 * credentials are local test values; they are never printed.
 *
 * `config` is updated in place. The store is `DATA_DIR` when set in `env`, else a fresh temporary directory removed on close (the
 * emulators forget everything on exit, so old tokens would be useless).
 *
 * @example
 * const sandbox = await startSandbox(config, process.env);
 */
export async function startSandbox(config: Config, env: Record<string, string | undefined> = {}): Promise<Sandbox> {
  const clock = offsetClock();
  const pushover = await startPushoverEmulator({ clock });
  let sentry: SentryEmulator;
  try {
    sentry = await startSentryEmulator({
      clock,
      apps: [{
        slug: SANDBOX_APP, name: 'Pushover Notifier', verifyInstall: true, events: ['issue'],
        scopes: ['org:read', 'project:read', 'event:read'],
      }],
      pages: sandboxPages({
        pushover, org: SANDBOX_ORG,
        banner: 'Sandbox: Sentry and Pushover are emulated in this process; the integration server is the real one. Set SENTRY_CLIENT_ID, SENTRY_CLIENT_SECRET, PUSHOVER_TOKEN and PUSHOVER_USER to run for real.',
      }),
    });
  } catch (error) {
    await pushover.close();
    throw error;
  }
  const app = sentry.app;
  const dataDir = env.DATA_DIR?.trim() || await mkdtemp(join(tmpdir(), 'sik-sandbox-'));
  const temporaryStore = !env.DATA_DIR?.trim();
  // No SETUP_REDIRECT_URL: with SENTRY_APP_SLUG set, /setup sends the browser to Sentry's page for the
  // installation in whichever org installed it ({SENTRY_URL}/settings/{org}/sentry-apps/{slug}/), which
  // the emulator serves.
  const values: Record<string, string> = {
    SENTRY_URL: sentry.url, SENTRY_CLIENT_ID: app.clientId, SENTRY_CLIENT_SECRET: app.clientSecret, SENTRY_APP_SLUG: app.slug,
    PUSHOVER_URL: pushover.url, PUSHOVER_TOKEN: pushover.token, PUSHOVER_USER: pushover.user,
    DATA_DIR: dataDir,
  };
  Object.assign(env, values);
  // A production SETUP_REDIRECT_URL in the environment must not send sandbox browsers elsewhere.
  delete env.SETUP_REDIRECT_URL;
  delete config.setupRedirectUrl;
  Object.assign(config, {
    sentryUrl: sentry.url, clientId: app.clientId, clientSecret: app.clientSecret, appSlug: app.slug,
    dataDir,
    pushover: { ...config.pushover, url: pushover.url, token: pushover.token, user: pushover.user },
  } satisfies Partial<Config>);
  let closed: Promise<void> | undefined;
  return {
    sentry, pushover, clock, temporaryStore,
    openUrl: `${sentry.url}/settings/${SANDBOX_ORG}/integrations/`,
    connect(serverUrl) {
      sentry.updateApp(app.slug, { webhookUrl: `${serverUrl}${config.webhookPath}`, redirectUrl: `${serverUrl}${config.setupPath}` });
    },
    close() {
      closed ??= (async () => {
        await Promise.all([sentry.close(), pushover.close()]);
        if (temporaryStore) await rm(dataDir, { recursive: true, force: true });
      })();
      return closed;
    },
  };
}

/**
 * The one call `serve` makes after loading its configuration: in production, the startup checks
 * (throws {@link ConfigError}, exit 2); in the sandbox, {@link startSandbox}.
 *
 * @example
 * const { config, serverDeps, sandbox } = await startMode(loaded, process.env);
 */
export async function startMode(config: Config, env: Record<string, string | undefined>): Promise<Mode> {
  if (config.mode === 'production') {
    const problems = productionProblems(config);
    if (problems.length) throw new ConfigError(problems);
    return { config, serverDeps: {} };
  }
  // Settings only production uses, without the credentials: a production setup that lost its secret
  // (a typo, an empty variable) must not quietly become a sandbox writing into its DATA_DIR.
  const productionOnly = ([
    // Not TOKEN_STORE_KEY: the README keeps it in ./.env, where it must not stop a sandbox from starting.
    ['SENTRY_APP_SLUG', config.appSlug], ['PUSHOVER_TOKEN', config.pushover.token], ['PUSHOVER_USER', config.pushover.user],
    ['PUBLIC_URL', config.publicUrl],
  ] as const).filter(([, value]) => value !== undefined).map(([name]) => name);
  if (productionOnly.length) {
    throw new ConfigError([`SENTRY_CLIENT_ID and SENTRY_CLIENT_SECRET are required: ${productionOnly.join(', ')} ${productionOnly.length === 1 ? 'is' : 'are'} set, which only production uses (unset ${productionOnly.length === 1 ? 'it' : 'them'} to run the sandbox)`]);
  }
  const sandboxConfig: Config = { ...config, pushover: { ...config.pushover } };
  const sandbox = await startSandbox(sandboxConfig, env);
  return { config: sandboxConfig, serverDeps: { clock: sandbox.clock }, sandbox };
}

/**
 * What `serve` prints once it listens (to stderr; stdout stays JSON log lines). The sandbox banner
 * gives the one URL to open; the production summary gives the URLs to paste into Sentry, where the
 * store lives and whether Pushover is configured — on PUBLIC_URL when set. No secret is ever included.
 *
 * @example
 * console.error(startupBanner(config, 'http://127.0.0.1:3000', sandbox));
 */
export function startupBanner(config: Config, serverUrl: string, sandbox?: Sandbox): string {
  const store = resolve(config.dataDir);
  const encrypted = config.tokenStoreKey ? 'encrypted' : 'not encrypted (set TOKEN_STORE_KEY to encrypt)';
  if (sandbox) {
    return [
      '',
      '  SANDBOX — no Sentry or Pushover account needed: both are emulated in this process.',
      '',
      `  Open ${sandbox.openUrl}`,
      '  then Install → create an issue → watch the Pushover phone and the wire.',
      '',
      `  integration server  ${serverUrl}  (webhook ${config.webhookPath}, redirect ${config.setupPath})`,
      `  Sentry emulator     ${sandbox.sentry.url}`,
      `  Pushover emulator   ${sandbox.pushover.url}`,
      `  token store         ${store}${sandbox.temporaryStore ? ' (temporary, removed on exit)' : ''}`,
      '',
      `  Production: set ${PRODUCTION_VARIABLES.join(', ')}`,
      '  (and TOKEN_STORE_KEY); see docs/sandbox.md. Ctrl-C stops everything.',
      '',
    ].join('\n');
  }
  const pasted = publicUrls(config, serverUrl);
  return [
    '',
    `  PRODUCTION — Sentry at ${config.sentryUrl}${config.appSlug ? `, app ${config.appSlug}` : ''}`,
    pasted.fromPublicUrl
      ? `  Paste into the app's settings in Sentry (PUBLIC_URL; listening on ${serverUrl}):`
      : '  Paste into the app\'s settings in Sentry (replace the host with your public HTTPS address, or set PUBLIC_URL):',
    `    Webhook URL   ${pasted.webhookUrl}`,
    `    Redirect URL  ${pasted.redirectUrl}`,
    `  token store     ${store} (${encrypted})`,
    `  Pushover        ${config.pushover.token && config.pushover.user ? `configured (${config.pushover.url})` : 'NOT configured'}`,
    '',
  ].join('\n');
}
