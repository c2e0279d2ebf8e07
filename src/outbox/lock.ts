import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pidAlive } from '../pid.ts';

/**
 * Thrown when another live process holds the outbox.
 *
 * @example
 * try { await openOutbox({ dir }); } catch (e) { if (e instanceof OutboxLockedError) console.error(e.message); }
 */
export class OutboxLockedError extends Error {
  readonly pid: number;
  constructor(dir: string, pid: number) {
    super(`the outbox in ${dir} is in use by process ${pid} (is the server running?). ` +
      `Stop that process first; two writers would corrupt the journal.`);
    this.name = 'OutboxLockedError';
    this.pid = pid;
  }
}

/** Directories this process has open, so a second open in the same process fails like one from another process. */
const heldHere = new Set<string>();

/**
 * Takes `<dir>/outbox.lock` (a file holding our pid), removing a stale one left by a dead process.
 * Returns the release function.
 *
 * Why a pid file and not flock: neither Node nor Deno's Node layer exposes flock. A lock whose pid is our
 * own pid but which this process did not take is stale too (pid reuse after a container restart).
 *
 * @example
 * const release = acquireLock(dir); try { ... } finally { release(); }
 */
export function acquireLock(dir: string): () => void {
  const path = join(dir, 'outbox.lock');
  if (heldHere.has(dir)) throw new OutboxLockedError(dir, process.pid);
  for (let tries = 0; ; tries++) {
    // Written aside then hard-linked into place: link is atomic and fails if the lock exists, so a lock
    // file is never seen half-written (empty pid) by a competing opener.
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${process.pid}\n`, { mode: 0o600 });
    try {
      linkSync(tmp, path);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || tries >= 3) throw err;
      const pid = Number.parseInt(readLockPid(path) ?? '', 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) throw new OutboxLockedError(dir, pid);
      try { unlinkSync(path); } catch { /* another opener removed it first; retry */ }
    } finally {
      try { unlinkSync(tmp); } catch { /* ignore */ }
    }
  }
  heldHere.add(dir);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    heldHere.delete(dir);
    try { unlinkSync(path); } catch { /* already gone */ }
  };
}

function readLockPid(path: string): string | undefined {
  try { return readFileSync(path, 'utf8').trim(); } catch { return undefined; }
}
