/**
 * Replay requests for a running server. Only the process holding the outbox lock may write the journal,
 * so `dead-letters replay` cannot replay while the server runs; instead it drops a request file into
 * `<outbox>/requests/` and the server, which polls that directory, carries it out and writes the answer
 * next to it. The directory is 0700 inside the 0700 outbox: file permissions are the authentication, and
 * nothing listens on the network.
 *
 * Files, all written to a temp name and renamed (a reader never sees half a file):
 * - `<id>.request.json` `{ "replay": "all" | "<dead letter id>" }` — written by the CLI;
 * - `<id>.taken` — the request after the server claimed it by renaming it (so it runs once);
 * - `<id>.answer.json` `{ "replayed": n }` or `{ "error": "…" }` — written by the server, removed by the CLI.
 *
 * @example
 * // server (the pipeline starts this with the worker):
 * const watcher = watchReplayRequests(outbox, outboxDir);
 * // CLI, when the outbox is locked by the server:
 * const answer = await requestReplay(outboxDir, 'all', { timeoutMs: 10_000 }); // { replayed: 3 }
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Outbox } from './outbox.ts';

/** The requests directory inside an outbox directory. */
export const REQUESTS_DIR = 'requests';
const REQUEST = '.request.json';
const TAKEN = '.taken';
const ANSWER = '.answer.json';
/** Requests the server will not act on (a dead letter id is a UUID; leave room for other id shapes). */
const TARGET = /^(?:all|[A-Za-z0-9._-]{1,100})$/;

/** What the server answered. */
export type ReplayAnswer = { replayed: number } | { error: string };

function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.${randomUUID()}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, path);
}

function requestsDir(outboxDir: string): string {
  const dir = join(outboxDir, REQUESTS_DIR);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** Options for {@link watchReplayRequests}. */
export interface WatchOptions {
  /** How often the directory is read; default 1000 ms. */
  intervalMs?: number;
  /** Told about each request carried out or refused (for the server log). Never gets payloads. */
  onRequest?(event: { target: string; answer: ReplayAnswer }): void;
}

/** A running watcher. */
export interface ReplayWatcher {
  /** Carries out every waiting request now; resolves with how many were handled. */
  check(): Promise<number>;
  /** Stops polling (a check in progress finishes). */
  stop(): Promise<void>;
}

/**
 * Serves replay requests for `outbox` (which this process has open, holding its lock) from
 * `<outboxDir>/requests/`, polling every `intervalMs`. The poll timer never keeps the process alive.
 */
export function watchReplayRequests(outbox: Pick<Outbox, 'replay'>, outboxDir: string, options: WatchOptions = {}): ReplayWatcher {
  const dir = requestsDir(outboxDir);
  let running: Promise<number> | undefined;
  let stopped = false;

  async function handle(id: string): Promise<boolean> {
    const taken = join(dir, id + TAKEN);
    try {
      renameSync(join(dir, id + REQUEST), taken);
    } catch {
      return false; // gone meanwhile (the CLI gave up and removed it)
    }
    let answer: ReplayAnswer;
    let target = '?';
    try {
      const request = JSON.parse(readFileSync(taken, 'utf8')) as { replay?: unknown };
      if (typeof request.replay !== 'string' || !TARGET.test(request.replay)) throw new Error('a request must be {"replay": "all" or a dead letter id}');
      target = request.replay;
      answer = { replayed: await outbox.replay(target) };
    } catch (err) {
      answer = { error: err instanceof Error ? err.message : String(err) };
    }
    writeAtomically(join(dir, id + ANSWER), JSON.stringify(answer));
    rmSync(taken, { force: true });
    options.onRequest?.({ target, answer });
    return true;
  }

  async function handleAll(): Promise<number> {
    let handled = 0;
    for (const name of readdirSync(dir)) {
      if (name.endsWith(REQUEST) && await handle(name.slice(0, -REQUEST.length))) handled++;
    }
    return handled;
  }

  function check(): Promise<number> {
    if (running) return running;
    // Cleared in a later tick, never synchronously inside the assignment (an empty directory settles at once).
    const pass = handleAll().finally(() => { if (running === pass) running = undefined; });
    running = pass;
    return pass;
  }

  const timer = setInterval(() => {
    if (!stopped) check().catch(() => { /* the next poll tries again */ });
  }, options.intervalMs ?? 1000);
  (timer as { unref?: () => void }).unref?.();
  return {
    check,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}

/** Thrown by {@link requestReplay} when no answer came in time. */
export class ReplayRequestTimeoutError extends Error {
  /** True when the server had claimed the request (it may still be carried out). */
  readonly claimed: boolean;
  constructor(claimed: boolean, timeoutMs: number) {
    super(claimed
      ? `the server took the replay request but did not answer within ${timeoutMs} ms; check its log before retrying`
      : `the server did not pick up the replay request within ${timeoutMs} ms (is it running a version without live replay?); nothing was replayed`);
    this.name = 'ReplayRequestTimeoutError';
    this.claimed = claimed;
  }
}

/** Options for {@link requestReplay}. */
export interface RequestReplayOptions {
  /** Default 10 000 ms: a few polls of the server's watcher. */
  timeoutMs?: number;
  /** How often to look for the answer; default 50 ms. */
  pollMs?: number;
}

/**
 * Asks the server holding the outbox lock to replay `target` ('all' or a dead letter id) and waits for
 * its answer. On timeout an unclaimed request is withdrawn, so nothing happens later by surprise.
 */
export async function requestReplay(outboxDir: string, target: string, options: RequestReplayOptions = {}): Promise<ReplayAnswer> {
  if (!TARGET.test(target)) throw new Error(`not a dead letter id: ${JSON.stringify(target.slice(0, 100))}`);
  const dir = requestsDir(outboxDir);
  const id = randomUUID();
  const request = join(dir, id + REQUEST);
  const answerPath = join(dir, id + ANSWER);
  writeAtomically(request, JSON.stringify({ replay: target }));
  const timeoutMs = options.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  /** The server's answer (read and removed), or undefined while there is none. */
  const takeAnswer = (): ReplayAnswer | undefined => {
    let text: string;
    try {
      text = readFileSync(answerPath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    rmSync(answerPath, { force: true });
    return JSON.parse(text) as ReplayAnswer;
  };
  for (;;) {
    const answer = takeAnswer();
    if (answer) return answer;
    if (Date.now() >= deadline) {
      try {
        rmSync(request);
      } catch {
        // Already renamed to .taken: the server has it. It may have answered since the last look.
        const late = takeAnswer();
        if (late) return late;
        throw new ReplayRequestTimeoutError(true, timeoutMs);
      }
      throw new ReplayRequestTimeoutError(false, timeoutMs);
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 50));
  }
}
