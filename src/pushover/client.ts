/**
 * The Pushover adapter: sends one message and says what to do next. It never throws for an API or
 * network failure; `send` returns a classified result (pushover-api.md §12):
 *
 * | result      | when                                                        | caller should            |
 * |-------------|-------------------------------------------------------------|--------------------------|
 * | `ok`        | 200 with `status:1`                                         | acknowledge the job      |
 * | `permanent` | 4xx (not 429), 200 with `status≠1`, or a local check failed | dead-letter, never retry |
 * | `quota`     | 429 JSON (monthly quota), or paused until the reset          | hold jobs until `resumeAt` |
 * | `retry`     | 5xx, HTML/non-JSON body, HTML 429, network error, timeout   | retry at `retryAt`       |
 *
 * A `retry` says `maybeDelivered` when Pushover may have accepted the message although no answer says so:
 * the connection was up and the answer was lost (timeout, reset, closed mid-exchange) or a 200 came with
 * a body that cannot be read. An HTTP error answer (5xx, HTML 429) means not accepted, and so does an
 * error before any byte was sent (refused, unreachable, DNS, TLS, connect timeout).
 *
 * Transport: undici, one keep-alive connection (Pool `connections: 1`) and at most 2 requests in
 * flight (a semaphore, which also bounds an injected dispatcher), each with a timeout.
 */
import { Pool, request, type Dispatcher } from 'undici';
import { systemClock, type Clock } from '../clock.ts';
import { fitToLimits } from './format.ts';
import {
  nextQuotaReset,
  PUSHOVER_DEVICE_PATTERN,
  PUSHOVER_KEY_PATTERN,
  PUSHOVER_MAX_EXPIRE_S,
  PUSHOVER_MAX_USERS,
  PUSHOVER_MIN_RETRY_S,
} from './limits.ts';
import { priorityForLevel, type LevelPriorities, type PushoverMessage } from './types.ts';

/**
 * Error codes raised before a request byte can have left: no connection (refused, unreachable, DNS), the
 * connect timed out, or TLS failed. Any other failure may have lost the answer to an accepted message.
 */
const NOT_SENT_ERROR = /^(?:ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|EADDRNOTAVAIL|UND_ERR_CONNECT_TIMEOUT|ERR_TLS_\w+|CERT_\w+|UNABLE_TO_\w+|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_SSL_\w+)$/;

/** Wrong configuration (bad key format, bad priority, …). Its message never contains a key. */
export class PushoverConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PushoverConfigError';
  }
}

/** Options for {@link createPushoverClient}. */
export interface PushoverClientOptions {
  /** Default https://api.pushover.net (PUSHOVER_URL); the emulator's `url` in tests. */
  baseUrl?: string;
  /** App token (PUSHOVER_TOKEN): 30 × [A-Za-z0-9]. */
  token: string;
  /** User or group key, or a comma list of up to 50 (PUSHOVER_USER). */
  user: string;
  /** Default device name(s), comma-separated. */
  device?: string;
  /** Default sound; omitted means the user's own default. */
  sound?: string;
  /** Priority per Sentry level, used when a message has `level` but no `priority`. */
  priorities?: Partial<LevelPriorities>;
  /** Defaults for emergency (priority 2) messages: retry ≥ 30 s, expire 1..10800 s. Default 60 / 3600. */
  emergency?: { retry: number; expire: number };
  /** Earliest retry after a transient failure, ms. Pushover asks for ≥ 5 s; default 5000 (lower it only in tests). */
  retryMinMs?: number;
  /** Ceiling of the exponential backoff before jitter, ms. Default 300000 (5 min). */
  retryMaxMs?: number;
  /** Attempts after which a retry result is marked `exhausted`. Default 5. */
  maxAttempts?: number;
  /** Per-request deadline (connect, send, headers and body), ms. Default 15000. */
  timeoutMs?: number;
  /** `lowQuota` when remaining/limit falls below this. Default 0.1. */
  lowQuotaRatio?: number;
  clock?: Clock;
  /** Source of jitter in [0, 1). */
  random?: () => number;
  /** Replaces the client's own one-connection Pool (the caller then owns and closes it). */
  dispatcher?: Dispatcher;
  /** Warnings (low quota, fields shortened). Never carries a key. */
  onWarning?: (message: string) => void;
}

/** A classified answer. See the table at the top of this module. */
export type SendResult =
  | { kind: 'ok'; status: number; request: string; receipt?: string }
  | {
      kind: 'permanent';
      /** token/user: the credential or recipient is invalid; input: other 4xx JSON; status: 200 with status≠1; http: non-JSON 4xx/3xx (wrong base URL?); local: refused before sending. */
      reason: 'token' | 'user' | 'input' | 'status' | 'http' | 'local';
      status?: number;
      errors: string[];
      fields: Record<string, string>;
      request?: string;
      detail: string;
    }
  | {
      kind: 'quota';
      /** Epoch ms when sending may resume (X-Limit-App-Reset, else the next 1st of the month, Chicago). */
      resumeAt: number;
      /** False when the client was already paused and sent nothing. */
      sent: boolean;
      detail: string;
    }
  | {
      kind: 'retry';
      /** Epoch ms, at least `retryMinMs` after this attempt ended. */
      retryAt: number;
      attempt: number;
      /** True once `attempt ≥ maxAttempts`: the caller should give up (as transient). */
      exhausted: boolean;
      cause: 'server' | 'html' | 'throttled' | 'bad-json' | 'network' | 'timeout';
      status?: number;
      detail: string;
      /** Pushover may have accepted the message (the answer was lost or unreadable); see the module table. */
      maybeDelivered: boolean;
    };

/** What the client knows about the monthly quota (from `X-Limit-App-*`). */
export interface QuotaStatus {
  limit?: number;
  remaining?: number;
  /** Unix seconds of the next reset. */
  reset?: number;
  /** remaining/limit below `lowQuotaRatio`. */
  lowQuota: boolean;
  /** Epoch ms until which sends are short-circuited after a quota 429. */
  pausedUntil?: number;
}

/** The adapter. */
export interface PushoverClient {
  /**
   * Sends one message. `attempt` (1-based) drives the backoff; default: consecutive transient
   * failures of this client + 1. Never throws for API or network failures.
   */
  send(message: PushoverMessage, options?: { attempt?: number }): Promise<SendResult>;
  quota(): QuotaStatus;
  /** Requests in flight now (never above 2). */
  inFlight(): number;
  /** Closes the client's own connection pool (not an injected dispatcher). */
  close(): Promise<void>;
}

const MAX_IN_FLIGHT = 2;

function checkEmergency(retry: number, expire: number): string | undefined {
  if (!Number.isInteger(retry) || retry < PUSHOVER_MIN_RETRY_S) return `emergency retry (PUSHOVER_EMERGENCY_RETRY) must be an integer ≥ ${PUSHOVER_MIN_RETRY_S} seconds`;
  if (!Number.isInteger(expire) || expire < 1 || expire > PUSHOVER_MAX_EXPIRE_S) return `emergency expire (PUSHOVER_EMERGENCY_EXPIRE) must be an integer from 1 to ${PUSHOVER_MAX_EXPIRE_S} seconds`;
  return undefined;
}
const isPriority = (p: number) => Number.isInteger(p) && p >= -2 && p <= 2;

/**
 * Checks the configuration; throws {@link PushoverConfigError} naming the problem (never the key).
 *
 * @example
 * validatePushoverOptions({ token: 'short', user: '…' }); // throws "Pushover app token must be 30 characters of [A-Za-z0-9] (got 5 characters)"
 */
export function validatePushoverOptions(options: PushoverClientOptions): void {
  const token = options.token ?? '';
  if (!PUSHOVER_KEY_PATTERN.test(token)) {
    throw new PushoverConfigError(`Pushover app token (PUSHOVER_TOKEN) must be 30 characters of [A-Za-z0-9] (got ${token.length} characters)`);
  }
  const users = (options.user ?? '').split(',');
  if (users.length > PUSHOVER_MAX_USERS) throw new PushoverConfigError(`Pushover user list (PUSHOVER_USER) has ${users.length} keys; at most ${PUSHOVER_MAX_USERS}`);
  users.forEach((u, i) => {
    if (!PUSHOVER_KEY_PATTERN.test(u)) {
      const which = users.length > 1 ? ` #${i + 1}` : '';
      throw new PushoverConfigError(`Pushover user key${which} (PUSHOVER_USER) must be 30 characters of [A-Za-z0-9] (got ${u.length} characters)`);
    }
  });
  if (options.device !== undefined && !options.device.split(',').every((d) => PUSHOVER_DEVICE_PATTERN.test(d))) {
    throw new PushoverConfigError('Pushover device names (PUSHOVER_DEVICE) must be 1–25 characters of [A-Za-z0-9_-], comma-separated');
  }
  for (const [level, p] of Object.entries(options.priorities ?? {})) {
    if (!isPriority(p)) throw new PushoverConfigError(`Pushover priority for ${level} (PUSHOVER_PRIORITIES) must be -2, -1, 0, 1 or 2`);
  }
  if (options.emergency) {
    const problem = checkEmergency(options.emergency.retry, options.emergency.expire);
    if (problem) throw new PushoverConfigError(`Pushover ${problem}`);
  }
  let url: URL;
  try {
    url = new URL(options.baseUrl ?? 'https://api.pushover.net');
  } catch {
    throw new PushoverConfigError('Pushover base URL is not a valid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new PushoverConfigError('Pushover base URL must be http(s)');
}

/**
 * Exponential backoff with jitter: `min(max, min·2^(attempt−1))` plus up to half of that again,
 * never less than `min`.
 *
 * @example
 * backoffDelay(1, 5000, 300000, () => 0); // 5000
 * backoffDelay(3, 5000, 300000, () => 0); // 20000
 */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.max(0, attempt - 1));
  return Math.max(minMs, Math.round(base + random() * base * 0.5));
}

/** A counting semaphore: at most `size` holders. */
function semaphore(size: number) {
  let held = 0;
  const waiting: Array<() => void> = [];
  return {
    held: () => held,
    async acquire(): Promise<void> {
      if (held < size) {
        held++;
        return;
      }
      await new Promise<void>((resolve) => waiting.push(resolve));
    },
    release() {
      const next = waiting.shift();
      if (next) next(); // the slot passes straight to the next waiter
      else held--;
    },
  };
}

/** Form body for a message; only defined, non-empty values; booleans as `1`. */
function formBody(token: string, user: string, m: PushoverMessage): string {
  const p = new URLSearchParams({ token, user, message: m.message });
  const put = (k: string, v: string | number | undefined) => {
    if (v !== undefined && v !== '') p.set(k, String(v));
  };
  put('title', m.title);
  put('url', m.url);
  put('url_title', m.url_title);
  put('priority', m.priority);
  if (m.html) p.set('html', '1');
  else if (m.monospace) p.set('monospace', '1');
  put('sound', m.sound);
  put('device', m.device);
  put('timestamp', m.timestamp);
  put('ttl', m.ttl);
  put('retry', m.retry);
  put('expire', m.expire);
  put('callback', m.callback);
  put('tags', m.tags);
  return p.toString();
}

function headerInt(headers: Record<string, string | string[] | undefined>, name: string): number | undefined {
  const raw = headers[name];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value);
}

/**
 * Creates the adapter after validating its configuration (throws {@link PushoverConfigError}).
 *
 * @example
 * const pushover = createPushoverClient({ baseUrl: process.env.PUSHOVER_URL, token, user, retryMinMs: 5000 });
 * const result = await pushover.send(formatIssueNotification(issue, { tags: dedupeKey }));
 * if (result.kind === 'retry') schedule(result.retryAt);
 */
export function createPushoverClient(options: PushoverClientOptions): PushoverClient {
  validatePushoverOptions(options);
  const token = options.token;
  const user = options.user;
  const base = new URL(options.baseUrl ?? 'https://api.pushover.net');
  const path = `${base.pathname.replace(/\/+$/, '')}/1/messages.json`;
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const retryMinMs = options.retryMinMs ?? 5000;
  const retryMaxMs = Math.max(retryMinMs, options.retryMaxMs ?? 300_000);
  const maxAttempts = options.maxAttempts ?? 5;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const lowRatio = options.lowQuotaRatio ?? 0.1;
  const emergency = options.emergency ?? { retry: 60, expire: 3600 };
  const warn = options.onWarning ?? (() => {});
  const ownPool = options.dispatcher ? undefined : new Pool(base.origin, { connections: 1, pipelining: 1, keepAliveTimeout: 30_000 });
  const dispatcher: Dispatcher = options.dispatcher ?? ownPool!;
  const slots = semaphore(MAX_IN_FLIGHT);

  const quota: { limit?: number; remaining?: number; reset?: number; pausedUntil?: number } = {};
  let consecutiveFailures = 0;
  let wasLow = false;
  const isLow = () => quota.limit !== undefined && quota.remaining !== undefined && quota.limit > 0 && quota.remaining / quota.limit < lowRatio;

  const local = (detail: string): SendResult => ({ kind: 'permanent', reason: 'local', errors: [detail], fields: {}, detail });

  /** Applies defaults and checks; returns the message to send or why it cannot be sent. */
  const prepare = (input: PushoverMessage): PushoverMessage | string => {
    const { message, changed } = fitToLimits(input);
    if (changed.length > 0) warn(`Pushover message shortened to fit limits: ${changed.join(', ')}`);
    const out: PushoverMessage = { ...message, sound: message.sound ?? options.sound, device: message.device ?? options.device };
    delete out.level;
    out.priority = input.priority ?? (input.level !== undefined ? priorityForLevel(input.level, options.priorities) : undefined);
    if (out.priority !== undefined && !isPriority(out.priority)) return 'priority must be -2, -1, 0, 1 or 2';
    if (out.priority === 2) {
      out.retry = input.retry ?? emergency.retry;
      out.expire = input.expire ?? emergency.expire;
      const problem = checkEmergency(out.retry, out.expire);
      if (problem) return problem;
      delete out.ttl; // ignored by Pushover with priority 2
    } else {
      delete out.retry;
      delete out.expire;
      delete out.callback;
      if (out.ttl !== undefined && !(Number.isInteger(out.ttl) && out.ttl > 0)) return 'ttl must be a positive integer';
    }
    if (out.timestamp !== undefined) out.timestamp = Math.floor(out.timestamp);
    if (out.html && out.monospace) delete out.monospace; // mutually exclusive: HTML wins
    return out;
  };

  const retry = (cause: Extract<SendResult, { kind: 'retry' }>['cause'], detail: string, attemptOpt: number | undefined, status?: number, maybeDelivered = false): SendResult => {
    consecutiveFailures++;
    const attempt = attemptOpt ?? consecutiveFailures;
    const result: SendResult = {
      kind: 'retry', cause, detail, attempt, exhausted: attempt >= maxAttempts, maybeDelivered,
      retryAt: clock.now() + backoffDelay(attempt, retryMinMs, retryMaxMs, random),
    };
    if (status !== undefined) result.status = status;
    return result;
  };

  const readQuotaHeaders = (headers: Record<string, string | string[] | undefined>) => {
    const limit = headerInt(headers, 'x-limit-app-limit');
    const remaining = headerInt(headers, 'x-limit-app-remaining');
    const reset = headerInt(headers, 'x-limit-app-reset');
    if (limit !== undefined) quota.limit = limit;
    if (remaining !== undefined) quota.remaining = remaining;
    if (reset !== undefined) quota.reset = reset;
    const low = isLow();
    if (low && !wasLow) warn(`Pushover quota low: ${quota.remaining} of ${quota.limit} messages left this month`);
    wasLow = low;
  };

  const classify = (status: number, headers: Record<string, string | string[] | undefined>, text: string, attempt: number | undefined): SendResult => {
    const contentType = String(headers['content-type'] ?? '');
    let body: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
    } catch {
      body = undefined;
    }
    const isHtml = /html/i.test(contentType) || /^\s*</.test(text);
    if (!body) {
      if (status === 429) return retry('throttled', 'Pushover answered 429 without JSON (too many connections)', attempt, status);
      if (status >= 500 || status === 200) {
        // A 200 whose body cannot be read may well be an accepted message.
        return retry(isHtml ? 'html' : status === 200 ? 'bad-json' : 'server', `Pushover answered ${status} with a non-JSON body`, attempt, status, status === 200);
      }
      return { kind: 'permanent', reason: 'http', status, errors: [], fields: {}, detail: `Pushover answered ${status} with a non-JSON body (is the base URL right?)` };
    }
    const errors = Array.isArray(body.errors) ? body.errors.map(String) : [];
    const fields: Record<string, string> = {};
    for (const [k, v] of Object.entries(body)) {
      if (!['status', 'request', 'errors', 'receipt'].includes(k) && typeof v === 'string') fields[k] = v;
    }
    const request = typeof body.request === 'string' ? body.request : undefined;
    if (status === 200 && body.status === 1) {
      consecutiveFailures = 0;
      const ok: SendResult = { kind: 'ok', status, request: request ?? '' };
      if (typeof body.receipt === 'string') ok.receipt = body.receipt;
      return ok;
    }
    if (status === 429) {
      const resumeAt = quota.reset !== undefined && headers['x-limit-app-reset'] !== undefined ? quota.reset * 1000 : nextQuotaReset(clock.now());
      quota.pausedUntil = resumeAt;
      quota.remaining = 0;
      return { kind: 'quota', resumeAt, sent: true, detail: errors[0] ?? 'Pushover monthly quota exhausted' };
    }
    if (status >= 500) return retry('server', `Pushover answered ${status}${errors[0] ? `: ${errors[0]}` : ''}`, attempt, status);
    const reason = fields.token === 'invalid' ? 'token' : fields.user === 'invalid' ? 'user' : status === 200 ? 'status' : 'input';
    const what = reason === 'token' ? 'Pushover rejected the app token (PUSHOVER_TOKEN is invalid)'
      : reason === 'user' ? 'Pushover rejected the user key (PUSHOVER_USER is not a valid user or group)'
      : reason === 'status' ? 'Pushover answered 200 with status ≠ 1'
      : `Pushover rejected the message (${status})`;
    const result: SendResult = { kind: 'permanent', reason, status, errors, fields, detail: errors.length ? `${what}: ${errors.join('; ')}` : what };
    if (request) result.request = request;
    return result;
  };

  return {
    async send(input, sendOptions = {}) {
      if (quota.pausedUntil !== undefined) {
        if (clock.now() < quota.pausedUntil) {
          return { kind: 'quota', resumeAt: quota.pausedUntil, sent: false, detail: 'Pushover monthly quota exhausted; paused until the reset' };
        }
        delete quota.pausedUntil;
      }
      const prepared = prepare(input);
      if (typeof prepared === 'string') return local(prepared);
      const body = formBody(token, user, prepared);
      await slots.acquire();
      // One deadline for the whole exchange (undici's own header/body timers are coarse below 1 s).
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), timeoutMs);
      try {
        const res = await request(new URL(path, base.origin), {
          method: 'POST',
          dispatcher,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body,
          signal: abort.signal,
        });
        const text = await res.body.text();
        readQuotaHeaders(res.headers);
        return classify(res.statusCode, res.headers, text, sendOptions.attempt);
      } catch (err) {
        // Only the error's code/name: undici errors can carry request details, never echo them.
        const code = String((err as { code?: unknown }).code ?? (err as Error).name ?? 'error');
        const timeout = abort.signal.aborted || /TIMEOUT|Timeout/.test(code);
        const maybeDelivered = !NOT_SENT_ERROR.test(code);
        return retry(timeout ? 'timeout' : 'network', `Pushover request failed (${code})`, sendOptions.attempt, undefined, maybeDelivered);
      } finally {
        clearTimeout(timer);
        slots.release();
      }
    },
    quota: () => ({ ...quota, lowQuota: isLow() }),
    inFlight: () => slots.held(),
    async close() {
      await ownPool?.close();
    },
  };
}

/**
 * Client options from the environment: PUSHOVER_URL (default https://api.pushover.net),
 * PUSHOVER_TOKEN, PUSHOVER_USER, optional PUSHOVER_DEVICE, PUSHOVER_SOUND, PUSHOVER_PRIORITIES
 * (`fatal=2,error=1,warning=0,info=-1`), PUSHOVER_EMERGENCY_RETRY / PUSHOVER_EMERGENCY_EXPIRE (seconds).
 * Throws {@link PushoverConfigError} for a missing or malformed value (never echoing a key).
 *
 * @example
 * const pushover = createPushoverClient(pushoverOptionsFromEnv(process.env));
 */
export function pushoverOptionsFromEnv(env: Record<string, string | undefined>): PushoverClientOptions {
  const need = (name: string) => {
    const v = env[name]?.trim();
    if (!v) throw new PushoverConfigError(`${name} is not set`);
    return v;
  };
  const options: PushoverClientOptions = {
    baseUrl: env.PUSHOVER_URL?.trim() || 'https://api.pushover.net',
    token: need('PUSHOVER_TOKEN'),
    user: need('PUSHOVER_USER'),
  };
  if (env.PUSHOVER_DEVICE?.trim()) options.device = env.PUSHOVER_DEVICE.trim();
  if (env.PUSHOVER_SOUND?.trim()) options.sound = env.PUSHOVER_SOUND.trim();
  if (env.PUSHOVER_PRIORITIES?.trim()) {
    const priorities: Partial<LevelPriorities> = {};
    for (const pair of env.PUSHOVER_PRIORITIES.split(',')) {
      const [level, value] = pair.split('=').map((s) => s.trim());
      if (!level || !['fatal', 'error', 'warning', 'info', 'debug'].includes(level) || !value || !/^-?\d$/.test(value)) {
        throw new PushoverConfigError('PUSHOVER_PRIORITIES must look like fatal=2,error=1,warning=0,info=-1');
      }
      priorities[level as keyof LevelPriorities] = Number(value);
    }
    options.priorities = priorities;
  }
  if (env.PUSHOVER_EMERGENCY_RETRY || env.PUSHOVER_EMERGENCY_EXPIRE) {
    options.emergency = { retry: Number(env.PUSHOVER_EMERGENCY_RETRY ?? 60), expire: Number(env.PUSHOVER_EMERGENCY_EXPIRE ?? 3600) };
  }
  validatePushoverOptions(options);
  return options;
}
