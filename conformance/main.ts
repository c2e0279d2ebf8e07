/**
 * The `conformance` command: grades an implementation case by case.
 *
 *   conformance                                  our own server (under Node; --runtime deno for Deno)
 *   conformance --exec "<shell command>"         start any implementation with the contract environment
 *   conformance --target http://HOST:PORT --sentry-port N --pushover-port M
 *                                                an implementation already running (prints its environment)
 *
 * Exit status: 0 when no MUST case failed (--strict: no SHOULD either) and no baseline entry
 * unexpectedly passed; 1 otherwise; 2 for usage errors or an implementation that never came up.
 */
import { constants } from 'node:fs';
import { access, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allCases } from './cases/index.ts';
import {
  DEFAULT_SETTINGS, REMOTE_DEFAULTS, openSession, parseBaseline, runCases, selectCases, type Session,
  type SessionOptions, type SuiteResult,
} from './harness.ts';
import { caseLine, failureDetails, lineMarker, summary } from './report/console.ts';
import { jsonReport } from './report/json.ts';
import { junitReport } from './report/junit.ts';
import { PUSHOVER_EMULATOR_TOKEN, PUSHOVER_EMULATOR_USER } from './pushover.ts';
import { stopAllTargets } from './target.ts';
import { isDeno } from '../src/testing/runtime.ts';

declare const Deno: { execPath(): string } | undefined;

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const USAGE = `usage: conformance [target] [options]
target (one of; default: our own server under --runtime):
  --exec "<command>"           start the implementation with the contract environment (sh -c)
  --target http://HOST:PORT    an implementation already running; needs --sentry-port and --pushover-port
  --runtime node|deno          which runtime runs our own server (default: node; npm run conformance:deno → deno)
options:
  --sentry-port N --pushover-port M   fixed emulator ports (required with --target)
  --client-id ID --client-secret S    app credentials (--target default: fixed conformance values)
  --setup-path /setup  --webhook-path /webhook
  --strict                     SHOULD failures fail the run (default: warnings)
  --only TOK,SIG  --skip PER   by case id, id prefix or area (comma-separated, repeatable)
  --expected-failures FILE     baseline: listed failures are "expected"; a listed case that passes fails the run
  --report json FILE | --report junit FILE   (repeatable)
  --retry-min-ms N             PUSHOVER_RETRY_MIN_MS handed to the implementation (default 200)
  --wait-ms N                  how long cases wait for asynchronous outcomes (default 10000)
  --print-env                  print the environment for --target mode and exit
  --list                       list the cases and exit
  --verbose                    echo the implementation's output and full evidence`;

/** Parsed command line. */
export interface ConformanceArgs {
  exec?: string;
  target?: string;
  runtime: 'node' | 'deno';
  sentryPort?: number;
  pushoverPort?: number;
  clientId?: string;
  clientSecret?: string;
  setupPath?: string;
  webhookPath?: string;
  strict: boolean;
  only: string[];
  skip: string[];
  expectedFailures?: string;
  reports: Array<{ kind: 'json' | 'junit'; file: string }>;
  retryMinMs?: number;
  waitMs?: number;
  printEnv: boolean;
  list: boolean;
  verbose: boolean;
  help: boolean;
}

/** Parses arguments (`--report` takes two values, so node:util.parseArgs does not fit). */
export function parseConformanceArgs(argv: string[]): ConformanceArgs {
  const out: ConformanceArgs = { runtime: isDeno ? 'deno' : 'node', strict: false, only: [], skip: [], reports: [], printEnv: false, list: false, verbose: false, help: false };
  const args = [...argv];
  const take = (name: string): string => {
    const v = args.shift();
    if (v === undefined) throw new UsageError(`${name} needs a value`);
    return v;
  };
  // Digits only: Number('') and Number(' ') are 0, so `--sentry-port ''` (an unset shell variable) silently
  // meant port 0, and '0x10' or '1e3' a number nobody typed.
  const num = (name: string, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = take(name);
    const v = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!(v <= max)) throw new UsageError(`${name} needs ${max === 65535 ? 'a port 0 to 65535' : 'a non-negative integer'}, got ${JSON.stringify(raw)}`);
    return v;
  };
  while (args.length) {
    const raw = args.shift() as string;
    const [flag, inline] = raw.includes('=') && raw.startsWith('--') ? [raw.slice(0, raw.indexOf('=')), raw.slice(raw.indexOf('=') + 1)] : [raw, undefined];
    if (inline !== undefined && flag !== '--report') args.unshift(inline);
    switch (flag) {
      case '--exec': out.exec = take(flag); break;
      case '--target': out.target = take(flag); break;
      case '--runtime': {
        const r = take(flag);
        if (r !== 'node' && r !== 'deno') throw new UsageError('--runtime is node or deno');
        out.runtime = r;
        break;
      }
      case '--sentry-port': out.sentryPort = num(flag, 65535); break;
      case '--pushover-port': out.pushoverPort = num(flag, 65535); break;
      case '--client-id': out.clientId = take(flag); break;
      case '--client-secret': out.clientSecret = take(flag); break;
      case '--setup-path': out.setupPath = take(flag); break;
      case '--webhook-path': out.webhookPath = take(flag); break;
      case '--strict': out.strict = true; break;
      case '--only': out.only.push(...take(flag).split(',').filter(Boolean)); break;
      case '--skip': out.skip.push(...take(flag).split(',').filter(Boolean)); break;
      case '--expected-failures': out.expectedFailures = take(flag); break;
      case '--report': {
        // --report json FILE, or --report json=FILE
        const spec = inline ?? take(flag);
        const [kind, file] = spec.includes('=') ? spec.split(/=(.*)/s) : [spec, take(flag)];
        if (kind !== 'json' && kind !== 'junit') throw new UsageError('--report is json or junit');
        if (!file) throw new UsageError('--report needs a file');
        out.reports.push({ kind, file });
        break;
      }
      case '--retry-min-ms': out.retryMinMs = num(flag); break;
      case '--wait-ms': out.waitMs = num(flag); break;
      case '--print-env': out.printEnv = true; break;
      case '--list': out.list = true; break;
      case '--verbose': case '-v': out.verbose = true; break;
      case '--help': case '-h': out.help = true; break;
      default: throw new UsageError(`unknown option ${raw}`);
    }
  }
  if (out.exec && out.target) throw new UsageError('give --exec or --target, not both');
  if (out.target && (out.sentryPort === undefined || out.pushoverPort === undefined)) {
    throw new UsageError('--target needs --sentry-port and --pushover-port (the ports the implementation was started with)');
  }
  return out;
}

class UsageError extends Error {}

/** The shell command that starts our own server under `runtime`. */
export function ownServerCommand(runtime: 'node' | 'deno'): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  if (runtime === 'deno') {
    const deno = isDeno && Deno ? Deno.execPath() : join(ROOT, 'node_modules', '.bin', 'deno');
    return `exec ${q(deno)} run -A src/cli.ts serve`;
  }
  const node = isDeno ? 'node' : process.execPath;
  return `exec ${q(node)} --enable-source-maps --import tsx src/cli.ts serve`;
}

/** The environment block printed for --target mode. */
export function remoteEnvText(args: ConformanceArgs): string {
  const port = args.target ? new URL(args.target).port || '80' : '<PORT>';
  return [
    `PORT=${port}`,
    `SENTRY_URL=http://127.0.0.1:${args.sentryPort ?? '<sentry-port>'}`,
    `SENTRY_CLIENT_ID=${args.clientId ?? REMOTE_DEFAULTS.clientId}`,
    // A fixed, public test credential of the emulated app (not a real secret): printing it is the point.
    `SENTRY_CLIENT_SECRET=${args.clientSecret ?? REMOTE_DEFAULTS.clientSecret}`,
    `PUSHOVER_URL=http://127.0.0.1:${args.pushoverPort ?? '<pushover-port>'}`,
    `PUSHOVER_TOKEN=${PUSHOVER_EMULATOR_TOKEN}`,
    `PUSHOVER_USER=${PUSHOVER_EMULATOR_USER}`,
    'DATA_DIR=<a fresh empty directory>',
    'VERIFY_INSTALL=true',
    `PUSHOVER_RETRY_MIN_MS=${args.retryMinMs ?? DEFAULT_SETTINGS.pushoverRetryMinMs}`,
  ].join('\n');
}

/** Runs the suite as the command line says and returns the exit status. */
export async function run(argv: string[]): Promise<number> {
  let args: ConformanceArgs;
  try {
    args = parseConformanceArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`conformance: ${error.message}\n${USAGE}`);
    return 2;
  }
  if (args.help) { console.log(USAGE); return 0; }
  // A mistyped selector would silently grade more (--skip) or fewer (--only) cases than meant.
  const unmatched = [...args.only, ...args.skip].filter((key) => !selectCases(allCases, [key]).length);
  if (unmatched.length) {
    console.error(`conformance: no case matches ${unmatched.join(', ')} (give a case id like SIG-003, an id prefix like SIG, or an area; --list shows them)`);
    return 2;
  }
  const cases = selectCases(allCases, args.only, args.skip);
  if (args.list) {
    for (const c of cases) console.log(`${c.id.padEnd(8)} ${c.level.padEnd(6)} ${c.area.padEnd(16)} ${c.title}`);
    return 0;
  }
  if (args.printEnv) { console.log(remoteEnvText(args)); return 0; }
  if (!cases.length) { console.error('conformance: no case matches --only/--skip'); return 2; }

  // Problems with the files the run needs are usage errors, found before a run that can take minutes.
  let expectedFailures: Set<string> | undefined;
  if (args.expectedFailures) {
    try {
      expectedFailures = parseBaseline(await readFile(args.expectedFailures, 'utf8'));
    } catch (error) {
      console.error(`conformance: cannot read --expected-failures ${args.expectedFailures}: ${(error as Error).message}`);
      return 2;
    }
    const unknown = [...expectedFailures].filter((id) => !allCases.some((c) => c.id === id));
    if (unknown.length) console.error(`conformance: warning: --expected-failures lists unknown case ids: ${unknown.join(', ')}`);
  }
  for (const r of args.reports) {
    try {
      await access(dirname(resolve(r.file)), constants.W_OK);
    } catch {
      console.error(`conformance: cannot write the ${r.kind} report to ${r.file}: its directory does not exist or is not writable`);
      return 2;
    }
  }

  const exec = args.target ? undefined : (args.exec ?? ownServerCommand(args.runtime));
  const label = args.target ? `target ${args.target}` : args.exec ? `exec: ${args.exec}` : `our server under ${args.runtime}`;
  if (args.target) {
    console.log(`The implementation at ${args.target} must have been started with:\n${remoteEnvText(args)}\n(cases that restart it, read DATA_DIR or read its output are skipped in this mode)\n`);
  }
  const options: SessionOptions = {
    exec, targetUrl: args.target, sentryPort: args.sentryPort, pushoverPort: args.pushoverPort,
    clientId: args.clientId, clientSecret: args.clientSecret, setupPath: args.setupPath, webhookPath: args.webhookPath,
    pushoverRetryMinMs: args.retryMinMs, waitMs: args.waitMs, cwd: ROOT,
    onOutput: args.verbose ? ((mark) => (chunk: string) => process.stderr.write(mark(chunk)))(lineMarker('  | ')) : undefined,
  };
  let suite: SuiteResult;
  // Ctrl-C reaches the harness but not the implementation (its own process group): stop it and wait
  // for it to exit, remove DATA_DIR and close the emulators, then exit 130 (SIGINT) or 143 (SIGTERM).
  let session: Session | undefined;
  let opening: Promise<Session> | undefined;
  let interruptedBy: 'SIGINT' | 'SIGTERM' | undefined;
  const interrupted = (name: 'SIGINT' | 'SIGTERM') => {
    interruptedBy = name;
    console.error(`conformance: interrupted (${name}); stopping the implementation`);
    void (async () => {
      await stopAllTargets();
      // A session still opening fails once its implementation is gone, and cleans up after itself;
      // one that opened meanwhile is closed here.
      const open = session ?? await opening?.catch(() => undefined);
      await open?.close();
    })().finally(() => process.exit(name === 'SIGINT' ? 130 : 143));
  };
  const onSigint = () => interrupted('SIGINT');
  const onSigterm = () => interrupted('SIGTERM');
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigterm);
  try {
    console.log(`conformance: grading ${label} — ${cases.length} cases${args.strict ? ', strict' : ''}`);
    opening = openSession(options);
    session = await opening;
    // Interrupted meanwhile: the handler closes the session and exits; no case runs against it.
    if (interruptedBy) return 2;
    try {
      suite = await runCases(session, cases, { strict: args.strict, expectedFailures }, (r) => {
        if (interruptedBy) return; // cases failing because the implementation was stopped are not results
        console.log(caseLine(r));
        if (r.verdict === 'fail' || r.verdict === 'warn' || (args.verbose && r.verdict === 'expected')) console.log(failureDetails(r, args.verbose));
      });
    } finally {
      await session.close();
    }
  } catch (error) {
    // Interrupted: the failure is the stop we caused; the handler above sets the exit status.
    if (!interruptedBy) console.error(`conformance: ${(error as Error).message}`);
    return 2;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
  }
  if (interruptedBy) return 2; // nor is a summary or a report of them
  console.log(summary(suite));
  for (const r of args.reports) {
    const text = r.kind === 'json' ? jsonReport(suite, { target: label }) : junitReport(suite);
    try {
      await writeFile(r.file, text);
      console.log(`wrote ${r.kind} report to ${r.file}`);
    } catch (error) {
      console.error(`conformance: could not write the ${r.kind} report to ${r.file}: ${(error as Error).message}`);
      return 2;
    }
  }
  return suite.exitCode;
}
