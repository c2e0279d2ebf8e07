/**
 * `dead-letters`: show or replay notifications the worker gave up on.
 *
 *   dead-letters [--data-dir DIR] [list | replay ID | replay --all] [--json]
 *
 * The outbox lives in `$OUTBOX_DIR`, else `<DATA_DIR>/outbox` (DATA_DIR env, default ./data; `./.env` completes the
 * environment as it does for `serve`); a missing outbox is an error (exit 1). `list` reads the journal without
 * the lock, so it works while the server runs. `replay` writes to the journal: with the server stopped it
 * takes the outbox lock and replays itself; while the server holds the lock it leaves a request in
 * `<outbox>/requests/` that the server's worker carries out (see requests.ts), and prints the server's
 * answer (exit 1 if none comes within `--wait` seconds, default 10). Payloads are never printed.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { applyEnvFile, ConfigError, readEnvFile } from '../config.ts';
import { type DeadLetter, inspectOutbox, openOutbox } from './outbox.ts';
import { OutboxLockedError } from './lock.ts';
import { type ReplayAnswer, requestReplay } from './requests.ts';

const USAGE = `usage: dead-letters [--data-dir DIR] [list | replay ID | replay --all] [--json] [--wait SECONDS]
  list            show dead letters (default); safe while the server runs
  replay ID       move one dead letter back to pending (a running server is asked to do it)
  replay --all    move every dead letter back to pending (a running server is asked to do it)
  --data-dir DIR  data directory (default: $DATA_DIR or ./data); the outbox is DIR/outbox,
                  or $OUTBOX_DIR when set and --data-dir is not given
  --wait SECONDS  how long to wait for a running server's answer (default 10)
  --json          machine-readable output`;

/** Where output goes; injectable for tests. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  env: Record<string, string | undefined>;
}

interface Parsed { dataDir: string; outboxDir?: string; json: boolean; waitMs?: number; command: 'list' | 'replay' | 'help'; target?: string }

function parse(args: string[], env: CliIo['env']): Parsed | string {
  let dataDir = env.DATA_DIR || './data';
  // OUTBOX_DIR (as the server reads it) wins unless --data-dir is given on the command line.
  let outboxDir = env.OUTBOX_DIR || undefined;
  let json = false;
  let all = false;
  let waitMs: number | undefined;
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--help' || a === '-h') return { dataDir, json, command: 'help' };
    else if (a === '--json') json = true;
    else if (a === '--all') all = true;
    else if (a === '--wait' || a.startsWith('--wait=')) {
      const v = a === '--wait' ? args[++i] : a.slice('--wait='.length);
      const seconds = Number(v);
      if (!v || !Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) return '--wait needs a number of seconds (0 < s ≤ 3600)';
      waitMs = seconds * 1000;
    }
    else if (a === '--data-dir') {
      const v = args[++i];
      if (!v) return '--data-dir needs a value';
      dataDir = v;
      outboxDir = undefined;
    } else if (a.startsWith('--data-dir=')) {
      dataDir = a.slice('--data-dir='.length);
      outboxDir = undefined;
    }
    else if (a.startsWith('-')) return `unknown option ${a}`;
    else rest.push(a);
  }
  const [command = 'list', target, extra] = rest;
  const where = outboxDir ? { dataDir, outboxDir } : { dataDir };
  if (command === 'list') return rest.length > 1 || all ? 'list takes no arguments' : { ...where, json, command };
  if (command !== 'replay') return `unknown subcommand ${command}`;
  if (extra !== undefined || (all && target !== undefined) || (!all && target === undefined)) return 'replay needs exactly one of ID or --all';
  return { ...where, json, command, target: all ? 'all' : target!, ...(waitMs !== undefined ? { waitMs } : {}) };
}

function describe(d: DeadLetter): string {
  const error = (d.lastError ?? '').replace(/\s+/g, ' ');
  return `${d.id}  ${new Date(d.deadAt).toISOString()}  attempts=${d.attempts}  group=${d.group}  key=${d.key}\n    ${error}`;
}

/** `replay` while the server holds the lock: leave a request for it and print its answer. */
async function replayThroughServer(dir: string, parsed: Parsed, io: CliIo): Promise<number> {
  let answer: ReplayAnswer;
  try {
    answer = await requestReplay(dir, parsed.target!, parsed.waitMs !== undefined ? { timeoutMs: parsed.waitMs } : {});
  } catch (err) {
    io.err(`dead-letters: ${(err as Error).message}`);
    return 1;
  }
  if ('error' in answer) {
    io.err(`dead-letters: the server refused: ${answer.error}`);
    return 1;
  }
  const n = answer.replayed;
  if (parsed.json) io.out(JSON.stringify({ replayed: n, by: 'server' }));
  else io.out(`the running server replayed ${n} dead letter${n === 1 ? '' : 's'}; ${n === 1 ? 'it runs' : 'they run'} now`);
  return 0;
}

/**
 * The command with injectable output (what `run` calls with the console and process.env).
 *
 * @example
 * await deadLettersCommand(['list', '--json'], { out: console.log, err: console.error, env: process.env });
 */
export async function deadLettersCommand(args: string[], io: CliIo): Promise<number> {
  const parsed = parse(args, io.env);
  if (typeof parsed === 'string') {
    io.err(`dead-letters: ${parsed}\n${USAGE}`);
    return 2;
  }
  if (parsed.command === 'help') {
    io.out(USAGE);
    return 0;
  }
  const dir = parsed.outboxDir ? resolve(parsed.outboxDir) : join(resolve(parsed.dataDir), 'outbox');
  if (!existsSync(dir)) {
    // A mistyped --data-dir must not read as "no dead letters": the server creates its outbox at start.
    io.err(`dead-letters: no outbox in ${dir} (check --data-dir, DATA_DIR or OUTBOX_DIR; the server creates it when it starts)`);
    return 1;
  }
  if (parsed.command === 'list') {
    const dead = inspectOutbox(dir).deadLetters;
    if (parsed.json) io.out(JSON.stringify(dead.map(({ payload: _p, ...d }) => d), null, 2));
    else if (dead.length === 0) io.out(`no dead letters in ${dir}`);
    else {
      io.out(`${dead.length} dead letter${dead.length === 1 ? '' : 's'} in ${dir}:`);
      for (const d of dead) io.out(describe(d));
    }
    return 0;
  }
  let outbox;
  try {
    outbox = await openOutbox({ dir, onWarning: (m) => io.err(m) });
  } catch (err) {
    if (err instanceof OutboxLockedError) return replayThroughServer(dir, parsed, io);
    throw err;
  }
  try {
    const n = await outbox.replay(parsed.target!);
    if (parsed.json) io.out(JSON.stringify({ replayed: n }));
    else io.out(`replayed ${n} dead letter${n === 1 ? '' : 's'}; ${n === 1 ? 'it runs' : 'they run'} when the server next starts`);
    return 0;
  } catch (err) {
    io.err(`dead-letters: ${(err as Error).message}`);
    return 1;
  } finally {
    await outbox.close();
  }
}

/**
 * Entry point for `sentry-integration-kit dead-letters`.
 *
 * @example
 * process.exitCode = await run(['replay', '--all', '--data-dir', '/var/lib/sik']);
 */
export async function run(args: string[]): Promise<number> {
  let env: CliIo['env'];
  try {
    env = commandEnv(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`dead-letters: ${error.message}`);
    return 2;
  }
  return deadLettersCommand(args, { out: (l) => console.log(l), err: (l) => console.error(l), env });
}

/**
 * The environment the command reads DATA_DIR / OUTBOX_DIR from: `env` completed by the `.env` file as
 * `serve` completes it (the environment wins), so both find the same outbox. Throws ConfigError for an
 * unreadable or malformed file; a missing one is fine.
 *
 * @example
 * commandEnv(process.env) // { ...process.env, DATA_DIR: '/var/lib/sik' } when only .env sets DATA_DIR
 */
export function commandEnv(env: CliIo['env'], envFile = '.env'): CliIo['env'] {
  const completed = { ...env };
  applyEnvFile(completed, readEnvFile(envFile, false));
  return completed;
}
