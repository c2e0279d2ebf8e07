/**
 * Structured logs: one JSON object per line (`time`, `level`, `msg`, then context such as
 * `installation` and `requestId`). Every record passes through {@link redact} first, so a token,
 * refresh token, grant code, secret or signature never reaches the output even when a caller
 * passes one by mistake.
 *
 * @example
 * const log = createLogger();
 * log.child({ requestId: 'r1' }).info('installed', { installation: id, token: t }); // token → "[redacted]"
 */
import type { Clock } from './clock.ts';
import { systemClock } from './clock.ts';
import { clearTimeout as clearTimer, setTimeout as setTimer } from 'node:timers';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Extra fields on a log line. */
export type LogFields = Record<string, unknown>;

/** A structured logger. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * The level names, lowest first (for validating a configured level).
 *
 * @example
 * LOG_LEVELS.includes('warn'); // true
 */
export const LOG_LEVELS = Object.keys(LEVELS) as readonly LogLevel[];

/** Field names whose values are always secrets (compared case-insensitively, ignoring `_` and `-`). */
const SECRET_KEY = /^(?:.*(?:token|secret|signature|password|authorization|apikey|cookie|privatekey|jwt)|code|grantcode|key|tokenstorekey|user|pushoveruser|state)$/;

/** 64 hex digits: the shape of Sentry tokens, refresh tokens and signatures. */
const HEX64 = /\b[0-9a-fA-F]{64}\b/g;
/** Bearer credentials inside free text (e.g. an echoed header). */
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;
/** `code=…`, `client_secret=…`, `refresh_token=…` inside URLs or text. */
const QUERY_SECRET = /\b(code|state|client_secret|refresh_token|token|access_token)=[^&\s"']+/gi;

export const REDACTED = '[redacted]';

/** Verdicts per field name: log lines reuse a small set of names, so each is classified once. */
const secretKeyCache = new Map<string, boolean>();

function isSecretKey(key: string): boolean {
  let verdict = secretKeyCache.get(key);
  if (verdict === undefined) {
    verdict = SECRET_KEY.test(key.toLowerCase().replace(/[_-]/g, ''));
    // Bounded: field names are code, but a caller could log an object keyed by user input.
    if (secretKeyCache.size < 4096) secretKeyCache.set(key, verdict);
  }
  return verdict;
}

/**
 * A string none of the three patterns can match: shorter than 64 characters (no 64-hex run), no `=`
 * (no query secret) and no whitespace (no `Bearer <credential>`). Most log values (ids, paths, methods)
 * are like this, and testing for it is much cheaper than three global replaces.
 */
const PLAIN = /^[^=\s]{0,63}$/;

/** Redacts secret-looking substrings of a string. */
export function redactString(text: string): string {
  if (PLAIN.test(text)) return text;
  return text.replace(HEX64, REDACTED).replace(BEARER, `$1 ${REDACTED}`).replace(QUERY_SECRET, `$1=${REDACTED}`);
}

/**
 * A deep copy of `value` with secrets removed: values under secret-named keys become
 * `"[redacted]"`, and 64-hex strings, bearer credentials and `code=`/`token=` query values inside
 * any string are masked. Errors become `{ name, message }` (messages redacted too).
 *
 * @example
 * redact({ refreshToken: 'abc', note: 'token ' + 'a'.repeat(64) }); // { refreshToken: '[redacted]', note: 'token [redacted]' }
 */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[deep]';
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') {
    return typeof value === 'bigint' ? value.toString() : value;
  }
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: redactString(value.message) };
    for (const [k, v] of Object.entries(value)) {
      if (k === 'stack') continue;
      out[k] = isSecretKey(k) && !isSystemErrorCode(k, v) ? REDACTED : redact(v, depth + 1);
    }
    return out;
  }
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  if (value instanceof Uint8Array) return `[${value.length} bytes]`;
  return redactFields(value as Record<string, unknown>, depth);
}

/** Node and undici error codes (`EADDRINUSE`, `ERR_…`, `UND_ERR_…`) are diagnostics, never grant codes (hex). */
const SYSTEM_ERROR_CODE = /^(?:E[A-Z0-9]+|ERR_[A-Z0-9_]+|UND_ERR_[A-Z0-9_]+)$/;

function isSystemErrorCode(key: string, value: unknown): boolean {
  return key === 'code' && typeof value === 'string' && SYSTEM_ERROR_CODE.test(value);
}

function redactFields(value: Record<string, unknown>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k in value) {
    if (!Object.prototype.hasOwnProperty.call(value, k)) continue;
    const v = value[k];
    out[k] = isSecretKey(k) && v !== undefined && v !== null && typeof v !== 'boolean' ? REDACTED : redact(v, depth + 1);
  }
  return out;
}

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  /** Receives each finished line (without newline); default writes to stdout. */
  write?: (line: string) => void;
  /** Lowest level written; default `info` (`LOG_LEVEL` is read by the serve command). */
  level?: LogLevel;
  clock?: Clock;
  /** Fields added to every line. */
  fields?: LogFields;
}

/**
 * Creates a JSON-lines logger.
 *
 * @example
 * const lines: string[] = [];
 * const log = createLogger({ write: (l) => lines.push(l), level: 'debug' });
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const sink: Sink = {
    write: options.write ?? writeStdout,
    min: LEVELS[options.level ?? 'info'],
    clock: options.clock ?? systemClock,
  };
  return new JsonLogger(sink, undefined, options.fields ?? {});
}

/** Stdout lines not yet written; see {@link writeStdout}. */
let stdoutLines: string[] = [];
let stdoutBytes = 0;
let stdoutTimer: ReturnType<typeof setTimer> | undefined;
let stdoutExitHook = false;

/** How long a line may wait for company before it is written, and how much may pile up meanwhile. */
const STDOUT_FLUSH_MS = 10;
const STDOUT_FLUSH_CHARS = 64 * 1024;

function flushStdout(): void {
  if (stdoutTimer !== undefined) clearTimer(stdoutTimer);
  stdoutTimer = undefined;
  if (stdoutLines.length === 0) return;
  const text = stdoutLines.join('');
  stdoutLines = [];
  stdoutBytes = 0;
  process.stdout.write(text);
}

/**
 * The default sink: lines are gathered for up to 10 ms (or 64 K characters) and written together. Stdout
 * to a file or pipe is a synchronous write per call, and the server logs a line per request: a write per
 * event-loop turn still cost ~20 µs a webhook at 16 connections (few requests per turn), one per 10 ms is
 * noise. Whatever is pending is written synchronously when the process exits; a SIGKILL can lose at most
 * the last 10 ms of debug and info lines. Warnings and errors are rare and must survive a kill that follows
 * them (e.g. "notification resent" right before the possible duplicate): they flush at once, with
 * everything before them, so the order is kept.
 */
function writeStdout(line: string, level: LogLevel): void {
  stdoutLines.push(line + '\n');
  stdoutBytes += line.length + 1;
  if (!stdoutExitHook) {
    stdoutExitHook = true;
    process.on('exit', flushStdout);
  }
  if (stdoutBytes >= STDOUT_FLUSH_CHARS || LEVELS[level] >= LEVELS.warn) return flushStdout();
  if (stdoutTimer === undefined) {
    stdoutTimer = setTimer(flushStdout, STDOUT_FLUSH_MS);
    // Never what keeps a process alive: the exit hook writes what is left.
    stdoutTimer.unref?.();
  }
}

interface Sink {
  write(line: string, level: LogLevel): void;
  min: number;
  clock: Clock;
}

/**
 * Methods on a prototype, not closures per logger: the server makes a child logger per request, and
 * building five closures each time (under tsx each also renamed with defineProperty) is measurable.
 */
class JsonLogger implements Logger {
  private readonly sink: Sink;
  private readonly parent: JsonLogger | undefined;
  private readonly own: LogFields;
  /**
   * The context (parents' fields, then ours), merged and redacted once, when this logger first writes:
   * many children never write (the per-webhook one), so they cost one small object each. Line fields
   * override it key by key, exactly as redacting the merged object would.
   */
  private safeBase: LogFields | undefined;

  constructor(sink: Sink, parent: JsonLogger | undefined, own: LogFields) {
    this.sink = sink;
    this.parent = parent;
    this.own = own;
  }

  private context(): LogFields {
    return this.parent ? { ...this.parent.context(), ...this.own } : this.own;
  }

  debug(msg: string, fields?: LogFields): void { this.emit('debug', msg, fields); }
  info(msg: string, fields?: LogFields): void { this.emit('info', msg, fields); }
  warn(msg: string, fields?: LogFields): void { this.emit('warn', msg, fields); }
  error(msg: string, fields?: LogFields): void { this.emit('error', msg, fields); }

  child(fields: LogFields): Logger {
    return new JsonLogger(this.sink, this, fields);
  }

  private emit(level: LogLevel, msg: string, fields: LogFields | undefined): void {
    const sink = this.sink;
    if (LEVELS[level] < sink.min) return;
    this.safeBase ??= redactFields(this.context(), 0);
    const line: LogFields = { time: new Date(sink.clock.now()).toISOString(), level, msg: redactString(msg), ...this.safeBase, ...(fields ? redactFields(fields, 0) : undefined) };
    let text: string;
    try {
      text = JSON.stringify(line);
    } catch {
      text = JSON.stringify({ time: line.time, level, msg: line.msg, note: 'fields not serialisable' });
    }
    sink.write(text, level);
  }
}

const noop = (): void => {};

/** A logger that writes nothing (and does no work: no redaction, no JSON). */
export const silentLogger: Logger = {
  debug: noop, info: noop, warn: noop, error: noop,
  child: () => silentLogger,
};

/** A logger that keeps its lines in memory, for tests. */
export interface MemoryLogger extends Logger {
  readonly lines: string[];
  /** The parsed lines. */
  records(): LogFields[];
}

/**
 * A logger that keeps its lines, for tests.
 *
 * @example
 * const log = memoryLogger(); log.info('x'); log.records()[0].msg; // 'x'
 */
export function memoryLogger(options: Omit<LoggerOptions, 'write'> = {}): MemoryLogger {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', ...options, write: (line) => lines.push(line) });
  return Object.assign(logger, { lines, records: () => lines.map((l) => JSON.parse(l) as LogFields) });
}
