/**
 * Test helper: runs `src/cli.ts serve` as a child process (same runtime as the test, via
 * `tsRunner`) with exactly the environment given, and exposes its "ready" log line, its output and
 * its exit.
 *
 * @example
 * const child = startServe({ PORT: '0', DATA_DIR: dir });
 * const ready = await child.ready;   // { url, open, … }
 * child.stop();                      // SIGTERM
 * assert.equal(await child.exited, 0);
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tsRunner } from '../testing/runtime.ts';

const CLI = fileURLToPath(new URL('../cli.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NO_ENV_FILE = fileURLToPath(new URL('./testing.empty.env', import.meta.url));

/** A running `serve` child. */
export interface ServeChild {
  proc: ChildProcess;
  /** The parsed "ready" JSON log line; rejects if the process exits first. */
  ready: Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
  /** SIGTERM (graceful shutdown). */
  stop(): void;
}

/**
 * Starts `serve` with only PATH, HOME and `env` (no stray SENTRY_* or PUSHOVER_* from the parent)
 * and an empty env file (so a developer's ./.env cannot change the outcome).
 */
export function startServe(env: Record<string, string>): ServeChild {
  const [cmd, ...args] = tsRunner(CLI);
  const base = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NO_COLOR: '1' };
  const proc = spawn(cmd!, [...args, 'serve', '--dotenv', NO_ENV_FILE], { env: { ...base, ...env }, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    proc.stdout!.on('data', (chunk: Buffer) => {
      out += chunk;
      for (const line of out.split('\n')) {
        if (!line.includes('"msg":"ready"')) continue;
        try {
          resolve(JSON.parse(line) as Record<string, unknown>);
        } catch { /* a partial line: wait for the rest */ }
      }
    });
    void exited.then((code) => reject(new Error(`serve exited (${code}) before ready:\n${err}`)));
  });
  proc.stderr!.on('data', (chunk: Buffer) => { err += chunk; });
  ready.catch(() => {});
  // process.kill, not proc.kill: Deno's child_process reports a child it killed as exited by the
  // signal even when the child handled it and exited 0.
  const stop = (): void => { if (proc.exitCode === null && proc.pid !== undefined) process.kill(proc.pid, 'SIGTERM'); };
  return { proc, ready, exited, stdout: () => out, stderr: () => err, stop };
}
