/**
 * Whether a process with this pid runs on this machine (signal 0 probes without sending anything).
 * Used by the file locks of the store and the outbox to tell a stale lock from a held one.
 *
 * @example
 * pidAlive(process.pid); // true
 */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
