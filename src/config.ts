/**
 * Configuration: the environment (optionally completed by a `.env` file) turned into a typed,
 * validated {@link Config}. Every problem is collected and reported at once, each naming its
 * variable; values of secret variables never appear in messages.
 *
 * @example
 * const config = loadConfig({ env: process.env, envFile: '.env' });
 * console.log(config.mode); // 'production' when SENTRY_CLIENT_SECRET is set, else 'sandbox'
 */
import { readFileSync } from 'node:fs';
import { LOG_LEVELS, type LogLevel } from './log.ts';
import { parseTrustProxy, type TrustProxy } from './server/client-address.ts';
import { parseStoreKey } from './store/key.ts';

/** The validated configuration of the integration server. */
export interface Config {
  /** `production` when Sentry credentials are configured; `sandbox` otherwise (emulators in-process: docs/sandbox.md). */
  mode: 'sandbox' | 'production';
  port: number;
  host: string;
  /** Sentry base URL without a trailing slash (the emulator's URL in tests). */
  sentryUrl: string;
  clientId?: string;
  clientSecret?: string;
  /** The previous client secret during a rotation: webhooks signed with it are still accepted. */
  clientSecretPrevious?: string;
  /** The app's slug: used for the default redirect target and the external-install link. */
  appSlug?: string;
  /** PUT {"status":"installed"} after the exchange. Default true (harmless when the app does not require it). */
  verifyInstall: boolean;
  dataDir: string;
  /** Enables encryption of the token store at rest. */
  tokenStoreKey?: string;
  setupPath: string;
  webhookPath: string;
  /**
   * PUBLIC_URL: this server's public base URL as Sentry and browsers reach it (e.g.
   * `https://sentry-hooks.example.com`, or with a reverse-proxy prefix `https://example.com/sentry`);
   * absolute http(s), no credentials, query or fragment, no trailing slash. When set, the URLs
   * printed at start for Sentry's app settings are `${publicUrl}${webhookPath}` and
   * `${publicUrl}${setupPath}`.
   */
  publicUrl?: string;
  /**
   * SETUP_FAILURE_LIMIT: refused code exchanges allowed per client address in 10 minutes before /setup
   * answers 429 without calling Sentry (default 20; 0: no limit).
   */
  setupFailureLimit: number;
  /**
   * MAX_CONNECTIONS: open client connections at most (default 1000; 0: no cap). Further connections
   * are closed at once, so a flood of idle sockets cannot use up the file descriptors the token store
   * and the outbox need to write.
   */
  maxConnections: number;
  /**
   * TRUST_PROXY: the reverse proxies whose `X-Forwarded-For` names the client for per-client limits
   * (`none`, `loopback` (default), or IP addresses and CIDR ranges, comma-separated).
   */
  trustProxy: TrustProxy;
  /**
   * HEALTHZ_TOKEN: when set, /healthz shows its details (installations, needs-reauth ids, outbox and
   * Pushover figures) only to `Authorization: Bearer <token>`; other probes get `{"ok":true}` and the
   * same status code. Unset: the details are public.
   */
  healthzToken?: string;
  /** Where /setup sends the browser; default `${sentryUrl}/settings/${orgSlug}/sentry-apps/${appSlug}/`. */
  setupRedirectUrl?: string;
  /** Use the JWT-bearer grant to recover from a lost refresh response. Default true. */
  jwtRefresh: boolean;
  /** Refresh this long before `expiresAt` (default 5 minutes). */
  tokenRefreshSkewMs: number;
  /** LOG_LEVEL: the lowest level logged (default `info`); `serve` builds its logger with it. */
  logLevel: LogLevel;
  pushover: {
    url: string;
    token?: string;
    user?: string;
    /** Minimum delay before retrying after a 5xx or no reply (Pushover asks for ≥ 5 s). */
    retryMinMs: number;
  };
}

/** Every configuration problem found, each naming its variable. The serve command exits 2 on it. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Variables whose values are secrets: never echoed in messages or summaries. */
export const SECRET_VARIABLES: ReadonlySet<string> = new Set([
  'SENTRY_CLIENT_SECRET', 'SENTRY_CLIENT_SECRET_PREVIOUS', 'TOKEN_STORE_KEY', 'PUSHOVER_TOKEN', 'PUSHOVER_USER', 'HEALTHZ_TOKEN',
]);

/**
 * Parses `.env` text: `KEY=value`, optional `export `, `#` comments, single quotes (literal) and
 * double quotes (`\n`, `\t`, `\"`, `\\` escapes). Malformed lines are reported by line number only
 * (the line may hold a secret).
 *
 * @example
 * parseDotEnv('PORT=8080\nexport HOST="0.0.0.0" # all interfaces'); // { PORT: '8080', HOST: '0.0.0.0' }
 */
export function parseDotEnv(text: string, source = '.env'): Record<string, string> {
  const out: Record<string, string> = {};
  const problems: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((line, index) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(trimmed);
    if (!match) {
      problems.push(`${source} line ${index + 1}: expected KEY=value`);
      return;
    }
    const key = match[1]!;
    const rest = match[2]!;
    const value = parseDotEnvValue(rest);
    if (value === undefined) {
      problems.push(`${source} line ${index + 1} (${key}): unterminated quote`);
      return;
    }
    out[key] = value;
  });
  if (problems.length) throw new ConfigError(problems);
  return out;
}

function parseDotEnvValue(rest: string): string | undefined {
  const quote = rest[0];
  if (quote === "'" || quote === '"') {
    const end = rest.indexOf(quote, 1);
    let close = end;
    if (quote === '"') {
      // Find the first unescaped closing quote.
      close = -1;
      for (let i = 1; i < rest.length; i++) {
        if (rest[i] === '\\') { i++; continue; }
        if (rest[i] === '"') { close = i; break; }
      }
    }
    if (close < 0) return undefined;
    const after = rest.slice(close + 1).trim();
    if (after !== '' && !after.startsWith('#')) return undefined;
    const inner = rest.slice(1, close);
    if (quote === "'") return inner;
    return inner.replace(/\\([nrt"\\])/g, (_m, c: string) => ({ n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\' })[c]!);
  }
  // Unquoted: an inline comment starts at " #".
  const hash = rest.search(/\s#/);
  return (hash >= 0 ? rest.slice(0, hash) : rest).trim();
}

/** Options for {@link loadConfig}. */
export interface LoadConfigOptions {
  /** The environment; default `process.env`. Its values win over the `.env` file. */
  env?: Record<string, string | undefined>;
  /** A `.env` file to read; a missing file is fine unless `envFileRequired`. */
  envFile?: string;
  envFileRequired?: boolean;
}

/** The spellings of an on/off variable (any case), shared by every switch of the kit. */
export const BOOL_TRUE: ReadonlySet<string> = new Set(['1', 'true', 'yes', 'on']);
export const BOOL_FALSE: ReadonlySet<string> = new Set(['0', 'false', 'no', 'off']);
const PATH_RE = /^\/[A-Za-z0-9._~\-/]*$/;

/** LOG_LEVEL checked (any case); a problem names the variable and the accepted values. */
function logLevel(value: string | undefined, problems: string[]): LogLevel {
  if (value === undefined) return 'info';
  const level = LOG_LEVELS.find((l) => l === value.toLowerCase());
  if (!level) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(value)}`);
  return level ?? 'info';
}

/**
 * PUBLIC_URL checked: an absolute http(s) URL without credentials, query or fragment (paths are
 * appended to it), trailing slashes trimmed. A problem is pushed naming the variable.
 */
function publicBaseUrl(value: string | undefined, problems: string[]): string | undefined {
  if (value === undefined) return undefined;
  const bad = (why: string) => {
    problems.push(`PUBLIC_URL must be an absolute http(s) URL such as https://sentry-hooks.example.com (${why}), got ${JSON.stringify(value)}`);
    return undefined;
  };
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    return bad('not an absolute URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return bad(`scheme ${parsed.protocol} is not http(s)`);
  // Credentials are not echoed back: the value is replaced in the message.
  if (parsed.username || parsed.password) {
    problems.push('PUBLIC_URL must not contain credentials (value not shown)');
    return undefined;
  }
  if (value.includes('?') || value.includes('#')) return bad('no query or fragment: the webhook and setup paths are appended to it');
  return `${parsed.origin}${parsed.pathname}`.replace(/\/+$/, '');
}

/**
 * Reads a `.env` file ({@link parseDotEnv}). A missing file is `{}` unless `required`; an unreadable
 * or malformed one is a {@link ConfigError} (bad lines by number only: they may hold secrets).
 *
 * @example
 * const fromFile = readEnvFile('.env', false); // { PORT: '8080', … } or {} when there is no .env
 */
export function readEnvFile(path: string, required: boolean): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !required) return {};
    throw new ConfigError([`cannot read env file ${path}: ${code ?? 'error'}`]);
  }
  return parseDotEnv(text, path);
}

/**
 * Completes `env` with the variables of a `.env` file that `env` does not set (the environment
 * wins, as in {@link loadConfig}); returns the names it added. `serve` applies it to `process.env`
 * so every component that reads the environment (the notification pipeline's NOTIFY_* and
 * PUSHOVER_* variables, LOG_LEVEL, the sandbox's DATA_DIR) sees `.env` values too.
 *
 * @example
 * applyEnvFile(process.env, readEnvFile('.env', false));
 */
export function applyEnvFile(env: Record<string, string | undefined>, fileEnv: Record<string, string>): string[] {
  const added: string[] = [];
  for (const [name, value] of Object.entries(fileEnv)) {
    if (env[name] !== undefined) continue;
    env[name] = value;
    added.push(name);
  }
  return added;
}

/**
 * Reads and validates the configuration. Throws {@link ConfigError} listing every problem.
 *
 * @example
 * const config = loadConfig({ env: { SENTRY_CLIENT_ID: 'id', SENTRY_CLIENT_SECRET: 's' } });
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const processEnv = options.env ?? process.env;
  const fileEnv = options.envFile ? readEnvFile(options.envFile, options.envFileRequired ?? false) : {};
  const raw = (name: string): string | undefined => {
    const value = processEnv[name] ?? fileEnv[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  const problems: string[] = [];

  const int = (name: string, fallback: number, min: number, max: number): number => {
    const value = raw(name);
    if (value === undefined) return fallback;
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
      return fallback;
    }
    return Number(value);
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const value = raw(name)?.toLowerCase();
    if (value === undefined) return fallback;
    if (BOOL_TRUE.has(value)) return true;
    if (BOOL_FALSE.has(value)) return false;
    problems.push(`${name} must be true or false, got ${JSON.stringify(value)}`);
    return fallback;
  };
  // `base`: API paths are appended to it (SENTRY_URL, PUSHOVER_URL), so a query or fragment would swallow them.
  const url = (name: string, fallback?: string, base = false): string | undefined => {
    const value = raw(name) ?? fallback;
    if (value === undefined) return undefined;
    try {
      const parsed = new URL(value);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('scheme');
      if (parsed.username || parsed.password) throw new Error('credentials');
      if (base && (value.includes('?') || value.includes('#'))) {
        problems.push(`${name} must be a base URL without query or fragment (API paths are appended to it)`);
        return fallback;
      }
      return value.replace(/\/+$/, '');
    } catch {
      problems.push(`${name} must be an http(s) URL without credentials`);
      return fallback;
    }
  };
  const path = (name: string, fallback: string): string => {
    const value = raw(name) ?? fallback;
    if (!PATH_RE.test(value) || value.includes('//') || value.includes('/../') || value.endsWith('/..')) {
      problems.push(`${name} must be a path starting with "/", got ${JSON.stringify(value)}`);
      return fallback;
    }
    return value.length > 1 ? value.replace(/\/+$/, '') : value;
  };
  const secret = (name: string, pattern?: RegExp, what?: string): string | undefined => {
    const value = raw(name);
    if (value !== undefined && pattern && !pattern.test(value)) {
      problems.push(`${name} is malformed (expected ${what}; value not shown)`);
      return undefined;
    }
    return value;
  };

  const port = int('PORT', 3000, 0, 65535);
  const host = raw('HOST') ?? '127.0.0.1';
  if (!/^[A-Za-z0-9.:\-[\]]+$/.test(host)) problems.push(`HOST must be a host name or IP address, got ${JSON.stringify(host)}`);
  const sentryUrl = url('SENTRY_URL', 'https://sentry.io', true)!;
  const clientId = raw('SENTRY_CLIENT_ID');
  const clientSecret = secret('SENTRY_CLIENT_SECRET');
  const clientSecretPrevious = secret('SENTRY_CLIENT_SECRET_PREVIOUS');
  const mode: Config['mode'] = clientSecret ? 'production' : 'sandbox';
  if (clientSecret && !clientId) problems.push('SENTRY_CLIENT_ID is required when SENTRY_CLIENT_SECRET is set');
  if (clientId && !clientSecret) problems.push('SENTRY_CLIENT_SECRET is required when SENTRY_CLIENT_ID is set');
  if (clientSecretPrevious && !clientSecret) problems.push('SENTRY_CLIENT_SECRET_PREVIOUS needs SENTRY_CLIENT_SECRET');
  const appSlug = raw('SENTRY_APP_SLUG');
  if (appSlug !== undefined && !/^[a-z0-9][a-z0-9_-]{0,99}$/.test(appSlug)) {
    problems.push(`SENTRY_APP_SLUG must be a lowercase slug, got ${JSON.stringify(appSlug)}`);
  }
  const tokenStoreKey = secret('TOKEN_STORE_KEY');
  if (tokenStoreKey !== undefined) {
    try {
      parseStoreKey(tokenStoreKey);
    } catch {
      problems.push('TOKEN_STORE_KEY is malformed (expected 32 bytes as 64 hex digits or base64; value not shown)');
    }
  }
  const healthzToken = secret('HEALTHZ_TOKEN', /^[\x21-\x7e]{16,512}$/, '16 to 512 printable ASCII characters, no spaces');
  let trustProxy: TrustProxy = { loopback: true, addresses: new Set(), ranges: [] };
  try {
    trustProxy = parseTrustProxy(raw('TRUST_PROXY') ?? 'loopback');
  } catch (error) {
    problems.push(`TRUST_PROXY: ${(error as Error).message}`);
  }
  const publicUrl = publicBaseUrl(raw('PUBLIC_URL'), problems);
  const setupPath = path('SETUP_PATH', '/setup');
  const webhookPath = path('WEBHOOK_PATH', '/webhook');
  if (setupPath === webhookPath) problems.push('SETUP_PATH and WEBHOOK_PATH must differ');
  if (setupPath === '/healthz' || webhookPath === '/healthz') problems.push('SETUP_PATH and WEBHOOK_PATH must not be /healthz');

  const config: Config = {
    mode,
    port,
    host,
    sentryUrl,
    verifyInstall: bool('VERIFY_INSTALL', true),
    dataDir: raw('DATA_DIR') ?? './data',
    setupPath,
    webhookPath,
    jwtRefresh: bool('JWT_REFRESH', true),
    setupFailureLimit: int('SETUP_FAILURE_LIMIT', 20, 0, 1_000_000),
    maxConnections: int('MAX_CONNECTIONS', 1000, 0, 1_000_000),
    trustProxy,
    tokenRefreshSkewMs: int('TOKEN_REFRESH_SKEW_MS', 5 * 60_000, 0, 4 * 3600_000),
    logLevel: logLevel(raw('LOG_LEVEL'), problems),
    pushover: {
      url: url('PUSHOVER_URL', 'https://api.pushover.net', true)!,
      retryMinMs: int('PUSHOVER_RETRY_MIN_MS', 5000, 0, 3600_000),
    },
  };
  const optional: Array<[keyof Config, string | undefined]> = [
    ['clientId', clientId], ['clientSecret', clientSecret], ['clientSecretPrevious', clientSecretPrevious],
    ['appSlug', appSlug], ['tokenStoreKey', tokenStoreKey], ['setupRedirectUrl', url('SETUP_REDIRECT_URL')], ['publicUrl', publicUrl],
    ['healthzToken', healthzToken],
  ];
  for (const [key, value] of optional) if (value !== undefined) (config as unknown as Record<string, unknown>)[key] = value;
  const pushoverToken = secret('PUSHOVER_TOKEN', /^[A-Za-z0-9]{30}$/, '30 letters and digits');
  const pushoverUser = secret('PUSHOVER_USER', /^[A-Za-z0-9]{30}$/, '30 letters and digits');
  if (pushoverToken) config.pushover.token = pushoverToken;
  if (pushoverUser) config.pushover.user = pushoverUser;
  if (problems.length) throw new ConfigError(problems);
  return config;
}

/**
 * A printable summary of a configuration: secrets are replaced by whether they are set.
 *
 * @example
 * console.log(JSON.stringify(describeConfig(config))); // {"clientSecret":"set",…}
 */
export function describeConfig(config: Config): Record<string, unknown> {
  return {
    mode: config.mode,
    port: config.port,
    host: config.host,
    sentryUrl: config.sentryUrl,
    clientId: config.clientId,
    clientSecret: config.clientSecret ? 'set' : 'unset',
    clientSecretPrevious: config.clientSecretPrevious ? 'set' : 'unset',
    appSlug: config.appSlug,
    verifyInstall: config.verifyInstall,
    dataDir: config.dataDir,
    tokenStoreKey: config.tokenStoreKey ? 'set' : 'unset',
    setupPath: config.setupPath,
    webhookPath: config.webhookPath,
    setupRedirectUrl: config.setupRedirectUrl,
    publicUrl: config.publicUrl,
    jwtRefresh: config.jwtRefresh,
    setupFailureLimit: config.setupFailureLimit,
    maxConnections: config.maxConnections,
    trustProxy: [...(config.trustProxy.loopback ? ['loopback'] : []), ...config.trustProxy.addresses, ...config.trustProxy.ranges].join(',') || 'none',
    healthzToken: config.healthzToken ? 'set' : 'unset',
    tokenRefreshSkewMs: config.tokenRefreshSkewMs,
    logLevel: config.logLevel,
    pushover: {
      url: config.pushover.url,
      token: config.pushover.token ? 'set' : 'unset',
      user: config.pushover.user ? 'set' : 'unset',
      retryMinMs: config.pushover.retryMinMs,
    },
  };
}

/**
 * The two URLs to paste into the app's settings in Sentry: on PUBLIC_URL when set, else on the
 * address the server listens on (`serverUrl`), which is only right when Sentry can reach it directly.
 *
 * @example
 * publicUrls({ publicUrl: 'https://hooks.example.com', webhookPath: '/webhook', setupPath: '/setup' }, 'http://127.0.0.1:3000');
 * // { base: 'https://hooks.example.com', webhookUrl: 'https://hooks.example.com/webhook', redirectUrl: 'https://hooks.example.com/setup', fromPublicUrl: true }
 */
export function publicUrls(config: Pick<Config, 'publicUrl' | 'webhookPath' | 'setupPath'>, serverUrl: string): {
  base: string; webhookUrl: string; redirectUrl: string; fromPublicUrl: boolean;
} {
  const base = config.publicUrl ?? serverUrl.replace(/\/+$/, '');
  return { base, webhookUrl: `${base}${config.webhookPath}`, redirectUrl: `${base}${config.setupPath}`, fromPublicUrl: config.publicUrl !== undefined };
}
