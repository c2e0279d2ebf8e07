/**
 * Process liveness for the file locks of the store and the outbox, which name their holder by pid.
 *
 * @example
 * pidAlive(process.pid); // true
 */
import { readFileSync } from 'node:fs';

/**
 * Whether a process with this pid runs on this machine (signal 0 probes without sending anything) and
 * has not merely exited unreaped: the test that tells a stale lock from a held one.
 *
 * @example
 * pidAlive(process.pid); // true
 */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/**
 * Whether `pid` has exited but not been reaped yet (Linux: state `Z` in /proc/<pid>/stat). A zombie
 * still answers signal 0, so a server killed with SIGKILL whose parent has not waited for it yet (a
 * shell, a container without an init) would otherwise hold its locks until it is reaped. Elsewhere,
 * or when /proc cannot be read, false.
 */
export function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // "pid (comm) S …": comm may hold spaces and parentheses, so the state follows the last ')'.
    return stat.charAt(stat.lastIndexOf(')') + 2) === 'Z';
  } catch {
    return false;
  }
}
