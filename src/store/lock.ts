import { randomBytes } from 'node:crypto';
import { open, readFile, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { Clock } from '../clock.ts';
import { pidAlive } from '../pid.ts';

/** What a lock file holds: enough to tell whether its owner is gone. */
export interface LockOwner {
  pid: number;
  host: string;
  /** `clock.now()` when the lock was taken. */
  at: number;
  /** Random per acquisition: a lock is only ever removed by whoever proved it is this one. */
  nonce: string;
}

/** Options for `acquireFileLock`. */
export interface FileLockOptions {
  clock: Clock;
  /** A lock older than this (by `clock`) is taken over even if its owner still runs. */
  staleMs: number;
  /** Real-time sleep between attempts; grows from `minPollMs` to `maxPollMs`. */
  minPollMs?: number;
  maxPollMs?: number;
  /** Test hook: called with each lock judged stale before it is removed. */
  onStale?: (path: string, owner: LockOwner | undefined) => void;
}

const HOST = hostname();

/**
 * Takes the exclusive-create lock file `path` (works across processes and on Node and Deno: only
 * `open(..., 'wx')`). A lock whose pid is dead on this host, or older than `staleMs`, is removed —
 * under a second `.break` lock so two waiters cannot both remove a fresh lock. Returns a release
 * function that removes the lock only if it is still ours.
 *
 * @example
 * const release = await acquireFileLock(`${dir}/${id}.lock`, { clock, staleMs: 30_000 });
 * try { ... } finally { await release(); }
 */
export async function acquireFileLock(path: string, options: FileLockOptions): Promise<() => Promise<void>> {
  const min = options.minPollMs ?? 2;
  const max = options.maxPollMs ?? 50;
  let delay = min;
  for (;;) {
    const owner: LockOwner = { pid: process.pid, host: HOST, at: options.clock.now(), nonce: randomBytes(12).toString('hex') };
    if (await tryCreate(path, JSON.stringify(owner))) {
      return async () => {
        const current = await readOwner(path);
        if (current?.nonce === owner.nonce) await unlink(path).catch(ignoreMissing);
      };
    }
    const held = await readOwner(path);
    if (await isStale(path, held, options)) {
      options.onStale?.(path, held);
      await breakLock(path, held, options);
      continue;
    }
    await sleep(delay + Math.random() * delay);
    delay = Math.min(max, delay * 1.5);
  }
}

async function tryCreate(path: string, content: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
  return true;
}

/** The lock's owner, `undefined` if the file vanished or is still being written (empty/partial). */
export async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    const value = JSON.parse(await readFile(path, 'utf8')) as Partial<LockOwner>;
    if (typeof value.pid === 'number' && typeof value.at === 'number' && typeof value.nonce === 'string') {
      return { pid: value.pid, host: String(value.host ?? ''), at: value.at, nonce: value.nonce };
    }
  } catch {
    // Missing or half-written: judged by its mtime below.
  }
  return undefined;
}

async function isStale(path: string, owner: LockOwner | undefined, options: FileLockOptions): Promise<boolean> {
  const now = options.clock.now();
  if (owner) {
    if (owner.host === HOST && !pidAlive(owner.pid)) return true;
    return now - owner.at > options.staleMs;
  }
  // Unreadable content: either a writer between create and write (fresh mtime) or a crash right
  // there (old mtime). Missing: the next create attempt settles it.
  try {
    return now - (await stat(path)).mtimeMs > options.staleMs;
  } catch {
    return false;
  }
}

async function breakLock(path: string, seen: LockOwner | undefined, options: FileLockOptions): Promise<void> {
  const guard = `${path}.break`;
  if (!(await tryCreate(guard, String(process.pid)))) {
    // Someone else is breaking it; a guard left by a crash is removed once it is itself stale.
    try {
      if (options.clock.now() - (await stat(guard)).mtimeMs > options.staleMs) await unlink(guard).catch(ignoreMissing);
    } catch {
      // Gone already.
    }
    await sleep(options.minPollMs ?? 2);
    return;
  }
  try {
    const now = await readOwner(path);
    // Remove only the very lock judged stale: a fresh lock taken meanwhile has another nonce.
    if (now?.nonce === seen?.nonce && (seen || !now)) await unlink(path).catch(ignoreMissing);
  } finally {
    await unlink(guard).catch(ignoreMissing);
  }
}

function ignoreMissing(error: unknown): void {
  if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
