/**
 * The conformance harness core: what a case is, what it gets to work with, how a list of cases
 * becomes verdicts, and the session (emulators + the implementation under test) they run in.
 * Shared case steps live in `cases/support.ts`; reports in `report/`; the command line in `main.ts`.
 *
 * A case is a small object with a stable id, the clause it enforces and a `run(ctx)` that either
 * returns (pass) or throws a {@link CaseFailure} carrying what was seen on the wire.
 *
 * @example
 * const session = await openSession({ exec: 'node my-integration.mjs' });
 * const suite = await runCases(session, [myCase], { strict: true });
 * await session.close();
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { offsetClock, type OffsetClock } from '../src/clock.ts';
import { startSentryEmulator } from './emulator/index.ts';
import type { SentryEmulator, RecordedRequest, DeliveryRecord } from './emulator/types.ts';
import { startPushoverEmulator, type PushoverFault } from './pushover.ts';
import { execTarget, freePort, remoteTarget, tail, TargetStartError, type ContractEnv, type Target } from './target.ts';

/** Areas, one file each under conformance/cases/. */
export const AREAS = [
  'install-redirect', 'install-webhook', 'tokens', 'refresh', 'verify', 'uninstall', 'signatures',
  'delivery', 'notifications', 'persistence', 'robustness', 'images',
] as const;
/** One of {@link AREAS}. */
export type Area = (typeof AREAS)[number];

/** MUST failures fail the run; SHOULD failures are warnings unless `--strict`. */
export type Level = 'MUST' | 'SHOULD';

/** What identifies a case in the catalogue and in every report. */
export interface CaseIdentity {
  /** Stable id, e.g. `TOK-004`: never renumbered, so baselines and bug reports stay valid. */
  id: string;
  area: Area;
  title: string;
  level: Level;
  /** Reference section and the public document it rests on. */
  clause: { section: string; url: string };
  /** The normative sentence, as the docs and reports print it. */
  requirement: string;
}

/** One conformance case. */
export interface ConformanceCase extends CaseIdentity {
  /** Needs to stop and start the implementation (skipped against a remote target). */
  needsRestart?: boolean;
  /** Needs to read DATA_DIR (skipped against a remote target). */
  needsDataDir?: boolean;
  /** Needs the implementation's stdout/stderr (skipped against a remote target, whose output is not visible). */
  needsOutput?: boolean;
  /** Runs after every other case (e.g. the output leak check, which wants all traffic first). */
  last?: boolean;
  /** Does not talk to the implementation at all (e.g. image checks grading our own checker). */
  standalone?: boolean;
  /** Per-case timeout (default 20 s). */
  timeoutMs?: number;
  run(ctx: CaseContext): Promise<void>;
}

/** One HTTP exchange with the implementation, as the evidence shows it. */
export interface WireExchange {
  at: string;
  method: string;
  path: string;
  requestHeaders: Record<string, string>;
  /** Request body preview (first 2 KiB). */
  requestBody: string;
  status?: number;
  responseHeaders?: Record<string, string>;
  responseBody?: string;
  durationMs: number;
  error?: string;
}

/** What {@link TargetClient.send} resolves to. */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
  durationMs: number;
}

/** A failure with its evidence. */
export class CaseFailure extends Error {
  readonly expected?: string;
  readonly actual?: string;
  constructor(message: string, details: { expected?: string; actual?: string } = {}) {
    super(message);
    this.name = 'CaseFailure';
    this.expected = details.expected;
    this.actual = details.actual;
  }
}

/**
 * A request to the implementation that got no HTTP answer (refused, reset, closed, timed out): the
 * implementation's doing, not the harness's, so it is reported as a failure without a stack trace.
 */
export class NoAnswerError extends Error {
  constructor(method: string, path: string, cause: Error & { code?: string }) {
    super(`${method} ${path.split('?')[0]}: ${describeNoAnswer(cause)}`);
    this.name = 'NoAnswerError';
  }
}

/** What a transport error means for the implementer. */
function describeNoAnswer(error: Error & { code?: string }): string {
  if (error.code === 'ECONNREFUSED') return 'connection refused — the implementation is not listening (did it exit?)';
  if (error.code === 'ECONNRESET' || error.message === 'socket hang up') {
    return 'the connection was closed without an HTTP answer (did the request handler crash?)';
  }
  return error.message.startsWith('no answer') ? error.message : `no HTTP answer (${error.message})`;
}

/** Thrown by `ctx.skip()`. */
export class CaseSkip extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'CaseSkip';
  }
}

/** An accepted Pushover message as cases see it. */
export interface NotificationRecord {
  at: number;
  /** Every decoded parameter (token, user, title, message, url, …). */
  fields: Record<string, string>;
  /** Parameter names that arrived in the POST query string. */
  fromQuery: string[];
}

/** One POST /1/messages.json attempt, accepted or not. */
export interface PushoverAttempt {
  at: number;
  status: number;
  fields: Record<string, string>;
}

/** The Pushover emulator as the harness uses it (a view over conformance/pushover.ts). */
export interface PushoverView {
  readonly url: string;
  readonly token: string;
  readonly user: string;
  messages(): NotificationRecord[];
  attempts(): PushoverAttempt[];
  inject(fault: PushoverFault): void;
  clearFaults(): void;
}

/** Known secret values, so output can be checked for them and evidence can hide them. */
export class SecretBook {
  private readonly values = new Map<string, string>();
  /** Remembers `value` as a secret of `kind` (e.g. 'access token'). Short values are ignored. */
  add(kind: string, value: string | undefined | null): void {
    if (typeof value === 'string' && value.length >= 8) this.values.set(value, kind);
  }
  /** Every remembered secret with its kind. */
  entries(): Array<[value: string, kind: string]> {
    return [...this.values.entries()];
  }
  /** Replaces every known secret in `text` with `[kind …last4]`. */
  redact(text: string): string {
    let out = text;
    for (const [value, kind] of this.values) {
      if (out.includes(value)) out = out.split(value).join(`[${kind} …${value.slice(-4)}]`);
    }
    return out;
  }
}

/**
 * Adds every credential visible on the Sentry emulator to `secrets`: tokens and refresh tokens it issued
 * or was sent, grant codes, JWT assertions and webhook signatures — so evidence and messages show none,
 * also for a case that failed before its own steps remembered them.
 *
 * @example
 * rememberSentrySecrets(session.sentry, session.secrets); session.secrets.redact(text);
 */
export function rememberSentrySecrets(sentry: SentryEmulator, secrets: SecretBook): void {
  // SecretBook.add ignores anything that is not a string, so the JSON is not checked field by field.
  for (const r of sentry.requests()) {
    if (!r.endpoint.startsWith('token')) continue;
    const answer = parseJson(r.responseBody) as { token?: string; refreshToken?: string } | undefined;
    secrets.add('access token', answer?.token);
    secrets.add('refresh token', answer?.refreshToken);
    const sent = parseJson(r.body) as { code?: string; refresh_token?: string } | undefined;
    secrets.add('grant code', sent?.code);
    secrets.add('refresh token', sent?.refresh_token);
    secrets.add('JWT', /^bearer\s+(\S+)$/i.exec(r.headers.authorization ?? r.headers.Authorization ?? '')?.[1]);
  }
  for (const d of sentry.deliveries()) {
    secrets.add('webhook signature', d.signature);
    secrets.add('grant code', /"code":"([0-9a-f]+)"/.exec(d.body)?.[1]);
  }
}

/**
 * JSON.parse that returns undefined instead of throwing.
 * @example parseJson('{"a":1}') // { a: 1 }; parseJson('nope') // undefined
 */
export function parseJson(text: string): unknown {
  try { return JSON.parse(text); } catch { return undefined; }
}

/** The HTTP client to the implementation; every exchange is recorded as evidence. */
export class TargetClient {
  /** The implementation's base URL (no trailing slash). */
  readonly base: string;
  /** Every exchange so far, oldest first (the evidence). */
  readonly exchanges: WireExchange[] = [];
  constructor(base: string) {
    this.base = base;
  }

  /**
   * Sends one request (never follows redirects, no keep-alive). A body larger than what the server
   * reads may be cut short by the server: an answer that arrives first is still returned.
   */
  send(method: string, path: string, options: { headers?: Record<string, string>; body?: Buffer | string; timeoutMs?: number } = {}): Promise<Answer> {
    const body = typeof options.body === 'string' ? Buffer.from(options.body) : options.body;
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (body && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-length')) {
      headers['content-length'] = String(body.length);
    }
    const exchange: WireExchange = {
      at: new Date().toISOString(), method, path, requestHeaders: headers,
      requestBody: body ? preview(body) : '', durationMs: 0,
    };
    this.exchanges.push(exchange);
    const started = performance.now();
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (error?: Error, answer?: Answer) => {
        if (settled) return;
        settled = true;
        exchange.durationMs = Math.round(performance.now() - started);
        if (error) {
          exchange.error = error.message;
          reject(new NoAnswerError(method, path, error));
        } else if (answer) {
          answer.durationMs = exchange.durationMs;
          resolve(answer);
        }
      };
      const req = request(this.base + path, { method, headers, agent: false }, (res) => {
        exchange.status = res.statusCode ?? 0;
        exchange.responseHeaders = flatHeaders(res.headers);
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          exchange.responseBody = text.slice(0, 2048);
          finish(undefined, { status: res.statusCode ?? 0, headers: exchange.responseHeaders ?? {}, body: text, durationMs: 0 });
        });
        res.on('error', (e) => finish(e));
      });
      const timeoutMs = options.timeoutMs ?? 10_000;
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (e) => {
        // The server may answer (413) and close while we are still uploading: keep that answer.
        if (exchange.status === undefined) finish(e);
      });
      if (body) {
        // Write in chunks so an early answer stops the upload.
        const chunk = 64 * 1024;
        let offset = 0;
        const pump = () => {
          while (offset < body.length) {
            if (req.destroyed || exchange.status !== undefined) return;
            const part = body.subarray(offset, offset + chunk);
            offset += part.length;
            if (!req.write(part)) { req.once('drain', pump); return; }
          }
          req.end();
        };
        pump();
      } else {
        req.end();
      }
    });
  }
}

function preview(body: Buffer): string {
  const text = body.subarray(0, 2048).toString('utf8');
  return body.length > 2048 ? `${text}… (${body.length} bytes)` : text;
}

function flatHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/** Settings every case can read. */
export interface HarnessSettings {
  setupPath: string;
  webhookPath: string;
  /** PUSHOVER_RETRY_MIN_MS handed to the implementation. */
  pushoverRetryMinMs: number;
  /** How long to wait for asynchronous outcomes (notifications, exchanges). */
  waitMs: number;
}

/** Everything a running suite shares between cases. */
export interface SessionParts {
  /**
   * The emulator's clock: real time plus an offset that cases grow (8 h to expire a token), put
   * back to real time for a while by {@link CaseContext.atRealTime}.
   */
  clock: OffsetClock;
  sentry: SentryEmulator;
  pushover: PushoverView;
  target: Target;
  settings: HarnessSettings;
  secrets: SecretBook;
}

/** What a case's `run` receives. */
export interface CaseContext extends SessionParts {
  /** The HTTP client to the implementation (recorded). */
  http: TargetClient;
  /** Adds a line to the case's notes (shown with failures). */
  note(line: string): void;
  /** Fails the case. */
  fail(message: string, details?: { expected?: string; actual?: string }): never;
  /** Skips the case (e.g. the target mode cannot do it). */
  skip(reason: string): never;
  /** Polls `probe` every 25 ms until it returns something other than undefined/false. */
  waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs?: number): Promise<T>;
  /** A real pause, only for "nothing else happens" checks. */
  settle(ms: number): Promise<void>;
  /** Restarts the implementation (exec mode). */
  restart(): Promise<void>;
  /**
   * Runs `fn` with the emulator's clock at real time, then puts the offset back (time never goes
   * backwards for later cases). For cases whose tokens carry the implementation's own time (JWT).
   */
  atRealTime<T>(fn: () => Promise<T>): Promise<T>;
  /** Sentry emulator requests recorded since the case began. */
  sentryRequests(filter?: { endpoint?: string }): RecordedRequest[];
  /** Sentry emulator deliveries since the case began. */
  deliveries(): DeliveryRecord[];
  /** Pushover messages accepted since the case began. */
  notifications(): NotificationRecord[];
  /** Pushover message attempts since the case began. */
  pushoverAttempts(): PushoverAttempt[];
}

/**
 * A case's verdict: `warn` is a SHOULD failure outside strict mode, `expected` a failure listed in
 * the baseline, `unexpected-pass` a listed case that passed (which fails the run).
 */
export type Verdict = 'pass' | 'fail' | 'warn' | 'skip' | 'expected' | 'unexpected-pass';

/** The outcome of one case. */
export interface CaseResult extends CaseIdentity {
  verdict: Verdict;
  /** Did the case itself pass (before profiles and baselines)? */
  passed: boolean;
  durationMs: number;
  message?: string;
  expected?: string;
  actual?: string;
  evidence?: Evidence;
}

/** What was seen on the wire during a failed case (secrets redacted). */
export interface Evidence {
  notes: string[];
  target: WireExchange[];
  sentry: Array<Pick<RecordedRequest, 'method' | 'path' | 'status' | 'endpoint' | 'body' | 'responseBody'> & { authorization?: string }>;
  deliveries: Array<{ resource: string; action: string; attempts: Array<{ status: number; durationMs: number; error?: string }> }>;
  pushover: Array<{ status: number; fields: Record<string, string> }>;
}

/** How results turn into verdicts. */
export interface Profile {
  strict?: boolean;
  /** Case ids expected to fail (a baseline). */
  expectedFailures?: ReadonlySet<string>;
}

/** The whole run. */
export interface SuiteResult {
  results: CaseResult[];
  strict: boolean;
  durationMs: number;
  /** 0 when no MUST (strict: no SHOULD) failed and no baseline entry unexpectedly passed. */
  exitCode: number;
  counts: Record<Verdict, number>;
}

/** Selects cases by `--only` / `--skip` lists of ids or areas or id prefixes (e.g. `TOK`). */
export function selectCases(cases: readonly ConformanceCase[], only?: string[], skip?: string[]): ConformanceCase[] {
  const matches = (c: ConformanceCase, key: string) => {
    const k = key.trim().toUpperCase();
    return c.id.toUpperCase() === k || c.area.toUpperCase() === k || c.id.toUpperCase().startsWith(`${k}-`);
  };
  return cases.filter((c) => (!only?.length || only.some((k) => matches(c, k))) && !(skip ?? []).some((k) => matches(c, k)));
}

/** Parses a baseline file: one case id per line, `#` comments (a JSON array also works). */
export function parseBaseline(text: string): Set<string> {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) return new Set((JSON.parse(trimmed) as string[]).map((s) => s.trim()));
  return new Set(
    text.split('\n').map((line) => line.replace(/#.*/, '').trim()).filter(Boolean).map((line) => line.split(/\s+/)[0] as string),
  );
}

/** Maps a raw outcome to a verdict. */
export function verdictFor(c: Pick<ConformanceCase, 'id' | 'level'>, outcome: 'pass' | 'fail' | 'skip', profile: Profile): Verdict {
  const listed = profile.expectedFailures?.has(c.id) ?? false;
  if (outcome === 'skip') return 'skip';
  if (outcome === 'pass') return listed ? 'unexpected-pass' : 'pass';
  if (listed) return 'expected';
  return c.level === 'MUST' || profile.strict ? 'fail' : 'warn';
}

/** How many results have each verdict (every verdict present, zero when none). */
export function countVerdicts(results: readonly Pick<CaseResult, 'verdict'>[]): Record<Verdict, number> {
  const counts: Record<Verdict, number> = { pass: 0, fail: 0, warn: 0, skip: 0, expected: 0, 'unexpected-pass': 0 };
  for (const r of results) counts[r.verdict]++;
  return counts;
}

/** The order cases run in: as given, except that `last` cases (e.g. the output leak check) go at the end. */
export function inRunOrder(cases: readonly ConformanceCase[]): ConformanceCase[] {
  return [...cases.filter((c) => !c.last), ...cases.filter((c) => c.last)];
}

/** Exit status for a list of results: 1 when any verdict is `fail` or `unexpected-pass`. */
export function exitCodeFor(results: readonly CaseResult[]): number {
  return results.some((r) => r.verdict === 'fail' || r.verdict === 'unexpected-pass') ? 1 : 0;
}

/** Runs cases one at a time (they share the implementation), `last` cases at the end. */
export async function runCases(
  session: SessionParts,
  cases: readonly ConformanceCase[],
  profile: Profile = {},
  onResult?: (result: CaseResult) => void,
): Promise<SuiteResult> {
  const started = performance.now();
  const results: CaseResult[] = [];
  for (const c of inRunOrder(cases)) {
    const result = await runCase(session, c, profile);
    results.push(result);
    onResult?.(result);
  }
  return {
    results, strict: !!profile.strict, durationMs: Math.round(performance.now() - started),
    exitCode: exitCodeFor(results), counts: countVerdicts(results),
  };
}

const NO_RESTART = 'needs a restart: not possible against --target';

/** Runs one case in a fresh context and turns its outcome into a result. */
export async function runCase(session: SessionParts, c: ConformanceCase, profile: Profile = {}): Promise<CaseResult> {
  const base: CaseIdentity = { id: c.id, area: c.area, title: c.title, level: c.level, clause: c.clause, requirement: c.requirement };
  const started = performance.now();
  const finish = (outcome: 'pass' | 'fail' | 'skip', extra: Partial<CaseResult> = {}): CaseResult => ({
    ...base, verdict: verdictFor(c, outcome, profile), passed: outcome === 'pass',
    durationMs: Math.round(performance.now() - started), ...extra,
  });
  if (c.needsRestart && !session.target.canRestart) return finish('skip', { message: NO_RESTART });
  if (c.needsDataDir && !session.target.dataDir) return finish('skip', { message: 'needs DATA_DIR: not known against --target' });
  if (c.needsOutput && session.target.mode !== 'exec') return finish('skip', { message: 'the output of a remote target is not visible' });

  const crashed = session.target.exited();
  if (crashed && session.target.canRestart) {
    // It died after the previous case finished (e.g. in background work): start it again so this case is graded on its own.
    await session.target.start();
  }
  const outputBefore = session.target.output().length;
  const ctx = makeContext(session);
  if (crashed) ctx.context.note(`the implementation had stopped after the previous case (${crashed}) and was started again`);
  session.sentry.clearFaults();
  session.pushover.clearFaults();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    // A longer --wait-ms (a slow implementation) stretches the case's own limit in proportion, or the
    // case would time out while still inside a wait it was told to make.
    const timeoutMs = Math.round((c.timeoutMs ?? 20_000) * Math.max(1, session.settings.waitMs / DEFAULT_SETTINGS.waitMs));
    await Promise.race([
      c.run(ctx.context),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new CaseFailure(`case did not finish within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    const crash = exitedDuring(session, outputBefore);
    if (crash) throw crash;
    return finish('pass');
  } catch (caught) {
    let error = caught;
    if (error instanceof CaseSkip) return finish('skip', { message: error.message });
    // The case may have failed before remembering the credentials it caused: find them all now.
    rememberSentrySecrets(session.sentry, session.secrets);
    // A refused or cut connection may be a process that is dying: give its exit a moment to be seen.
    if (error instanceof NoAnswerError) await exitSettled(session.target);
    error = exitedDuring(session, outputBefore) ?? error;
    const failure = error instanceof CaseFailure ? error : undefined;
    const message = failure ? failure.message
      : error instanceof NoAnswerError ? `no answer from the implementation: ${error.message}`
      : `harness or case error: ${(error as Error)?.stack ?? String(error)}`;
    return finish('fail', {
      message: session.secrets.redact(message),
      expected: failure?.expected && session.secrets.redact(failure.expected),
      actual: failure?.actual && session.secrets.redact(failure.actual),
      evidence: ctx.evidence(),
    });
  } finally {
    clearTimeout(timer);
    session.sentry.clearFaults();
    session.pushover.clearFaults();
    // Reported above as this case's failure: bring it back so the next case is graded on its own.
    if (session.target.exited() && session.target.canRestart) await session.target.start();
  }
}

/**
 * The CaseFailure for an implementation that stopped on its own during a case (a crash is a failure
 * whatever else the case saw), with its output since the case began; undefined while it runs. The
 * result's redaction (in runCase) hides the secrets in that output.
 */
function exitedDuring(session: SessionParts, outputBefore: number): CaseFailure | undefined {
  const why = session.target.exited();
  if (!why) return undefined;
  const printed = tail(session.target.output().slice(outputBefore), 20);
  return new CaseFailure(`the implementation stopped during this case: ${why}; it is started again for the next case`, {
    expected: 'a process that keeps serving', actual: `its last output:\n${printed}`,
  });
}

/** Waits up to 1 s for an exec target that may be exiting to be seen as exited. */
async function exitSettled(target: Target): Promise<void> {
  if (target.mode !== 'exec') return;
  const deadline = performance.now() + 1000;
  while (!target.exited() && performance.now() < deadline) await sleep(25);
}

function makeContext(session: SessionParts): { context: CaseContext; evidence(): Evidence } {
  const { sentry, pushover, secrets } = session;
  const http = new TargetClient(session.target.url);
  const notes: string[] = [];
  const firstRequest = lastId(sentry.requests()) + 1;
  const firstDelivery = lastId(sentry.deliveries()) + 1;
  const firstMessage = pushover.messages().length;
  const firstAttempt = pushover.attempts().length;

  const context: CaseContext = {
    ...session,
    http,
    note: (line) => { notes.push(line); },
    fail(message, details) { throw new CaseFailure(message, details); },
    skip(reason) { throw new CaseSkip(reason); },
    async waitFor(what, probe, timeoutMs = session.settings.waitMs) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const value = await probe();
        if (value !== undefined && value !== false) return value as never;
        // A process that is gone will not do it: say so now rather than after the whole wait.
        const gone = session.target.exited();
        if (gone) throw new CaseFailure(`gave up waiting for ${what}: the implementation stopped (${gone})`);
        if (performance.now() > deadline) throw new CaseFailure(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await sleep(25);
      }
    },
    settle: (ms) => sleep(ms),
    async restart() {
      if (!session.target.canRestart) throw new CaseSkip(NO_RESTART);
      notes.push('restarted the implementation');
      await session.target.restart();
    },
    async atRealTime(fn) {
      const saved = session.clock.offset();
      session.clock.setOffset(0);
      try { return await fn(); } finally { session.clock.setOffset(Math.max(saved, session.clock.offset())); }
    },
    sentryRequests: (filter) => sentry.requests(filter).filter((r) => r.id >= firstRequest),
    deliveries: () => sentry.deliveries().filter((d) => d.id >= firstDelivery),
    notifications: () => pushover.messages().slice(firstMessage),
    pushoverAttempts: () => pushover.attempts().slice(firstAttempt),
  };

  const evidence = (): Evidence => {
    const r = (s: string) => secrets.redact(s);
    const sentryReqs = context.sentryRequests().slice(-40);
    const deliveries = context.deliveries().slice(-20);
    const attempts = context.pushoverAttempts().slice(-20);
    return {
      notes: notes.map(r),
      target: http.exchanges.slice(-30).map((e) => JSON.parse(r(JSON.stringify(e))) as WireExchange),
      sentry: sentryReqs.map((q) => ({
        method: q.method, path: r(q.path), status: q.status, endpoint: q.endpoint,
        body: r(q.body.slice(0, 1024)), responseBody: r(q.responseBody.slice(0, 1024)),
        ...(q.headers.authorization ? { authorization: r(q.headers.authorization) } : {}),
      })),
      deliveries: deliveries.map((d) => ({
        resource: d.resource, action: d.action,
        attempts: d.attempts.map((a) => ({ status: a.status, durationMs: a.durationMs, ...(a.error ? { error: a.error } : {}) })),
      })),
      pushover: attempts.map((a) => ({ status: a.status, fields: JSON.parse(r(JSON.stringify(a.fields))) as Record<string, string> })),
    };
  };
  return { context, evidence };
}

function lastId(items: Array<{ id: number }>): number {
  return items.length ? (items[items.length - 1] as { id: number }).id : 0;
}

/** Resolves after `ms` milliseconds (real time: polling and "nothing else happens" pauses only). */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------
// Sessions: the emulators plus the implementation under test, wired together.

/** How to reach the implementation and how to configure the emulators. */
export interface SessionOptions {
  /** Shell command to start the implementation (exec mode). */
  exec?: string;
  /** Base URL of an implementation that is already running (remote mode). */
  targetUrl?: string;
  /** Fixed emulator ports (remote mode: the implementation was started pointing at them). */
  sentryPort?: number;
  pushoverPort?: number;
  setupPath?: string;
  webhookPath?: string;
  /** Client credentials of the emulated app (random in exec mode, fixed defaults in remote mode). */
  clientId?: string;
  clientSecret?: string;
  /** PUSHOVER_RETRY_MIN_MS handed to the implementation (default 200). */
  pushoverRetryMinMs?: number;
  /** How long cases wait for asynchronous outcomes (default 10 s). */
  waitMs?: number;
  /** Working directory for the exec command. */
  cwd?: string;
  /** Extra environment for the exec command (beyond the contract). */
  extraEnv?: Record<string, string>;
  onOutput?: (chunk: string) => void;
}

/** A running session. */
export interface Session extends SessionParts {
  /** The environment the implementation runs with (remote mode: must be started with). */
  env: ContractEnv;
  close(): Promise<void>;
}

/** Settings when {@link SessionOptions} leaves them out. */
export const DEFAULT_SETTINGS: Readonly<HarnessSettings> = {
  setupPath: '/setup',
  webhookPath: '/webhook',
  pushoverRetryMinMs: 200,
  waitMs: 10_000,
};

/** Fixed credentials for remote mode, so an implementation can be started before the harness. */
export const REMOTE_DEFAULTS = {
  clientId: 'sik-conformance-client-id',
  clientSecret: 'c0nf0rmance5ecret0000000000000000000000000000000000000000000000',
} as const;

/**
 * Starts the Pushover and Sentry emulators, registers the app (webhook → the implementation's
 * webhook path, redirect → its setup path, Verify Install on, JWT grant enabled) and starts or
 * reaches the implementation.
 *
 * VERIFY_INSTALL: the implementation always runs with VERIFY_INSTALL=true against an app that has
 * Verify Install on — one process serves every case, and the verify cases (VER-*) check the PUT.
 *
 * @example
 * const session = await openSession({ exec: 'node my-integration.mjs' });
 * const suite = await runCases(session, allCases);
 * await session.close();
 */
export async function openSession(options: SessionOptions): Promise<Session> {
  if (!options.exec === !options.targetUrl) throw new Error('give exactly one of exec or targetUrl');

  const settings: HarnessSettings = {
    setupPath: options.setupPath ?? DEFAULT_SETTINGS.setupPath,
    webhookPath: options.webhookPath ?? DEFAULT_SETTINGS.webhookPath,
    pushoverRetryMinMs: options.pushoverRetryMinMs ?? DEFAULT_SETTINGS.pushoverRetryMinMs,
    waitMs: options.waitMs ?? DEFAULT_SETTINGS.waitMs,
  };
  const remote = !!options.targetUrl;
  const port = remote ? Number(new URL(options.targetUrl as string).port || 80) : await freePort();
  const targetBase = remote ? (options.targetUrl as string).replace(/\/+$/, '') : `http://127.0.0.1:${port}`;
  const clientId = options.clientId ?? (remote ? REMOTE_DEFAULTS.clientId : `sik-${randomBytes(8).toString('hex')}`);
  const clientSecret = options.clientSecret ?? (remote ? REMOTE_DEFAULTS.clientSecret : randomBytes(32).toString('hex'));

  // Known before anything starts, so the implementation's output is masked from its first line on
  // (--verbose echoes it live; a failed start quotes its last lines).
  const secrets = new SecretBook();
  secrets.add('client secret', clientSecret);
  const closers: Array<() => Promise<void>> = [];
  // Once: an interrupt may close the session while the run's own `finally` closes it too.
  let closing: Promise<void> | undefined;
  const close = () => closing ??= (async () => { for (const c of [...closers].reverse()) await c().catch(() => {}); })();
  try {
    const po = await startPushoverEmulator({ port: options.pushoverPort ?? 0 });
    closers.push(() => po.close());
    secrets.add('Pushover token', po.token);
    secrets.add('Pushover user key', po.user);
    const clock = offsetClock();
    const sentry = await startSentryEmulator({
      port: options.sentryPort ?? 0, clock,
      apps: [{
        slug: 'conformance-app', name: 'Conformance App', clientId, clientSecret,
        webhookUrl: `${targetBase}${settings.webhookPath}`, redirectUrl: `${targetBase}${settings.setupPath}`,
        verifyInstall: true, jwtRefreshEnabled: true, events: ['issue', 'error', 'comment'], published: false,
      }],
    });
    closers.push(() => sentry.close());
    const dataDir = remote ? '(the implementation\'s own)' : await mkdtemp(join(tmpdir(), 'sik-conformance-'));
    if (!remote) closers.unshift(() => rm(dataDir, { recursive: true, force: true }));
    const env: ContractEnv = {
      PORT: String(port), SENTRY_URL: sentry.url, SENTRY_CLIENT_ID: clientId, SENTRY_CLIENT_SECRET: clientSecret,
      PUSHOVER_URL: po.url, PUSHOVER_TOKEN: po.token, PUSHOVER_USER: po.user, DATA_DIR: dataDir,
      VERIFY_INSTALL: 'true', PUSHOVER_RETRY_MIN_MS: String(settings.pushoverRetryMinMs),
      ...(options.extraEnv ?? {}),
    };
    const target = remote
      ? remoteTarget(targetBase)
      : execTarget({
        command: options.exec as string, env, cwd: options.cwd,
        ...(options.onOutput ? { onOutput: (chunk: string) => options.onOutput!(secrets.redact(chunk)) } : {}),
      });
    closers.push(() => target.stop());
    await target.start();
    const pushover: PushoverView = {
      url: po.url, token: po.token, user: po.user,
      messages: () => po.messages().map((m) => ({ at: m.at, fields: m.params, fromQuery: m.fromQuery })),
      attempts: () => po.requests({ endpoint: 'messages' }).map((r) => ({ at: r.at, status: r.status, fields: r.params ?? {} })),
      inject: (fault) => po.inject(fault),
      clearFaults: () => po.clearFaults(),
    };
    return { clock, sentry, pushover, target, settings, secrets, env, close };
  } catch (error) {
    await close();
    // A failed start quotes the implementation's last output, which may print what it was given.
    if (error instanceof TargetStartError) throw new TargetStartError(secrets.redact(error.message));
    throw error;
  }
}
