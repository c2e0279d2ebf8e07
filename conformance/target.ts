/**
 * Reaching the implementation under test. Two modes:
 *
 * - **exec**: the harness starts a shell command with the contract environment (PORT, SENTRY_URL, …,
 *   DATA_DIR in a fresh temp dir), waits until `http://127.0.0.1:$PORT/` answers any HTTP response,
 *   captures stdout/stderr (checked later for leaked secrets) and can restart it (SIGTERM, then
 *   SIGKILL after 5 s, then the same command with the same environment).
 * - **remote**: an implementation already running at a URL; restarts are impossible (cases that need
 *   one are skipped) and DATA_DIR is unknown (file cases are skipped).
 *
 * @example
 * const target = execTarget({ command: 'node my-integration.mjs', env });
 * await target.start(); // throws TargetStartError with the last output if it never answers
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { processGroupAlive } from '../src/pid.ts';

/** The environment handed to an implementation (the whole contract). */
export interface ContractEnv {
  PORT: string;
  SENTRY_URL: string;
  SENTRY_CLIENT_ID: string;
  SENTRY_CLIENT_SECRET: string;
  PUSHOVER_URL: string;
  PUSHOVER_TOKEN: string;
  PUSHOVER_USER: string;
  DATA_DIR: string;
  VERIFY_INSTALL: string;
  PUSHOVER_RETRY_MIN_MS: string;
  [extra: string]: string;
}

/** The implementation under test, however it is reached. */
export interface Target {
  readonly mode: 'exec' | 'remote';
  /** Base URL without trailing slash, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  /** DATA_DIR when the harness chose it (exec mode). */
  readonly dataDir?: string;
  readonly canRestart: boolean;
  start(): Promise<void>;
  /** Stops and starts again with the same environment. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  /** Everything the process printed so far (stdout and stderr interleaved); '' in remote mode. */
  output(): string;
  /**
   * Why the process is no longer running (e.g. `process exited (code 1)`) when it stopped on its own;
   * undefined while it runs, after a deliberate stop, and always in remote mode (unknowable there).
   */
  exited(): string | undefined;
}

/** Thrown when the implementation does not come up; the message carries its last output. */
export class TargetStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetStartError';
  }
}

/** Implementation process groups started by {@link execTarget} and not stopped yet: leader → its exit. */
const live = new Map<ChildProcess, Promise<void>>();
/** Set once the run is interrupted: no implementation starts after that. */
let interrupted = false;

/**
 * Stops every implementation process group started by {@link execTarget} (see {@link stopGroup}) and
 * refuses to start new ones. They are detached (own process group), so a Ctrl-C in the terminal
 * reaches the harness but not them: the harness calls this when it is interrupted. Waiting matters: a
 * harness that exited at once left each one to die as an orphan, a zombie until some init reaped it.
 *
 * @example
 * process.once('SIGINT', () => { void stopAllTargets().finally(() => process.exit(130)); });
 */
export async function stopAllTargets(killAfterMs = 5_000): Promise<void> {
  interrupted = true;
  await Promise.all([...live].map(([proc, exited]) => stopGroup(proc, exited, killAfterMs)));
}


/** Resolves when `promise` settles or after `ms`, whichever is first, leaving no timer behind. */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); })]);
  clearTimeout(timer);
}

/**
 * SIGTERM to the process group, then SIGKILL to it once `killAfterMs` has passed with any of it still
 * there; resolves when the leader has exited. The group can outlive its leader: `sh -c 'npm start'`
 * dies on SIGTERM while the server under it may ignore it, and would hold the port as an orphan.
 */
async function stopGroup(proc: ChildProcess, exited: Promise<void>, killAfterMs: number): Promise<void> {
  const deadline = Date.now() + killAfterMs;
  let leaderDone = false;
  void exited.then(() => { leaderDone = true; });
  await Promise.resolve(); // an exit already seen is noted before the first look
  const running = () => !leaderDone || processGroupAlive(proc.pid ?? 0);
  if (running()) {
    signal(proc, 'SIGTERM');
    await within(exited, killAfterMs);
    // No event tells when the rest of a group is gone: look every 20 ms until the deadline.
    while (running() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    if (running()) signal(proc, 'SIGKILL');
  }
  await exited;
  live.delete(proc);
}

/** Keeps at most this much output (the leak check reads all of it). */
const OUTPUT_CAP = 8 * 1024 * 1024;

/** Options for {@link execTarget}. */
export interface ExecOptions {
  /** A shell command line (run with `sh -c`). */
  command: string;
  env: ContractEnv;
  cwd?: string;
  /** How long to wait for the first HTTP answer (default 15 s). */
  readyTimeoutMs?: number;
  /** Grace period between SIGTERM and SIGKILL (default 5 s). */
  killAfterMs?: number;
  /** Called with every chunk of output (e.g. `--verbose`). */
  onOutput?: (chunk: string) => void;
}

/**
 * Runs the implementation as a child process group (`sh -c <command>`, detached so the whole group
 * can be signalled: a shell wrapper must not keep the real server alive after a restart).
 */
export function execTarget(options: ExecOptions): Target {
  const readyTimeoutMs = options.readyTimeoutMs ?? 15_000;
  const killAfterMs = options.killAfterMs ?? 5_000;
  const url = `http://127.0.0.1:${options.env.PORT}`;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';
  let exitNote = '';
  let stopping = false;
  let started: ChildProcess | undefined;

  const record = (chunk: Buffer | string) => {
    const text = chunk.toString();
    if (output.length < OUTPUT_CAP) output += text;
    options.onOutput?.(text);
  };

  async function start(): Promise<void> {
    if (interrupted) throw new TargetStartError('the run was interrupted');
    exitNote = '';
    stopping = false;
    const proc = spawn('sh', ['-c', options.command], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child = proc;
    started = proc;
    proc.stdout?.on('data', record);
    proc.stderr?.on('data', record);
    exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        exitNote = `process exited (${signal ?? `code ${code}`})`;
        if (child === proc) child = undefined;
        resolve();
      });
      proc.once('error', (error) => {
        exitNote = `could not start: ${error.message}`;
        if (child === proc) child = undefined;
        resolve();
      });
    });
    live.set(proc, exited);
    const gone = exited.then(() => 'exited' as const);
    try {
      const outcome = await Promise.race([waitForHttp(url, readyTimeoutMs, `listen on 127.0.0.1:$PORT (PORT=${options.env.PORT})`), gone]);
      if (outcome === 'exited') throw new TargetStartError(`${exitNote} before answering HTTP on ${url}`);
    } catch (error) {
      await stop();
      const reason = error instanceof Error ? error.message : String(error);
      throw new TargetStartError(`${reason}\n--- last output of \`${options.command}\` ---\n${tail(output, 30)}`);
    }
  }

  async function stop(): Promise<void> {
    stopping = true;
    // The last one started, even when its leader has exited on its own: the rest of its group may not have.
    if (started) await stopGroup(started, exited, killAfterMs);
  }

  return {
    mode: 'exec',
    url,
    dataDir: options.env.DATA_DIR,
    canRestart: true,
    start,
    async restart() { await stop(); await start(); },
    stop,
    output: () => output,
    exited: () => (child || stopping || !exitNote ? undefined : exitNote),
  };
}

function signal(proc: ChildProcess, name: NodeJS.Signals): void {
  // Signal the process group (negative pid) so `sh -c` wrappers and their children all stop.
  try {
    if (proc.pid !== undefined) process.kill(-proc.pid, name);
  } catch {
    try { proc.kill(name); } catch { /* already gone */ }
  }
}

/** An implementation that is already running; the harness cannot restart it or see its files. */
export function remoteTarget(url: string, readyTimeoutMs = 15_000): Target {
  const base = url.replace(/\/+$/, '');
  return {
    mode: 'remote',
    url: base,
    canRestart: false,
    async start() {
      try {
        await waitForHttp(base, readyTimeoutMs);
      } catch (error) {
        throw new TargetStartError(`${(error as Error).message} (is the implementation running?)`);
      }
    },
    async restart() { throw new Error('cannot restart a remote target'); },
    async stop() {},
    output: () => '',
    exited: () => undefined,
  };
}

/**
 * Resolves once `url` answers any HTTP response; rejects after `timeoutMs` with what the last attempt
 * saw (nothing listening, a connection accepted but never answered, a connection closed), so a target
 * on the wrong port or stuck before its first answer is told apart from a slow one. `hint` (e.g. which
 * port it must listen on) is added when nothing was listening.
 *
 * @example
 * await waitForHttp('http://127.0.0.1:8080', 15_000, 'listen on 127.0.0.1:$PORT (PORT=8080)');
 */
export async function waitForHttp(url: string, timeoutMs: number, hint?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const failure = await answers(url);
    if (failure === undefined) return;
    if (Date.now() > deadline) {
      const why = failure === REFUSED
        ? `nothing accepted connections on ${new URL(url).host} (connection refused)${hint ? `: the implementation must ${hint}` : ''}`
        : failure;
      throw new Error(`no HTTP answer from ${url} within ${timeoutMs} ms: ${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const REFUSED = 'refused';
const PROBE_TIMEOUT_MS = 2_000;

/** undefined when `url` answered; otherwise what went wrong (REFUSED when nothing listens). */
function answers(url: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    let timedOut = false;
    const req = request(url, { method: 'GET', agent: false, timeout: PROBE_TIMEOUT_MS }, (res) => {
      res.resume();
      resolve(undefined);
    });
    req.on('timeout', () => { timedOut = true; req.destroy(); });
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (timedOut) resolve(`a connection was accepted but no HTTP answer came within ${PROBE_TIMEOUT_MS} ms (is the server stuck before answering?)`);
      else if (error.code === 'ECONNREFUSED') resolve(REFUSED);
      else resolve(`the connection failed without an HTTP answer (${error.code ?? error.message})`);
    });
    req.end();
  });
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** The last `lines` lines of `text`. */
export function tail(text: string, lines: number): string {
  const all = text.trimEnd().split('\n');
  return all.slice(-lines).join('\n') || '(no output)';
}
