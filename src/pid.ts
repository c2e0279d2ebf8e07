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
  return answersSignalZero(pid) && !isZombie(pid);
}

/**
 * Whether any process of the process group `pgid` still exists (zombies included): how the
 * conformance harness knows an implementation's whole group is gone, its leader's exit not being enough.
 *
 * @example
 * processGroupAlive(child.pid); // true while any process of the child's group remains
 */
export function processGroupAlive(pgid: number): boolean {
  return Number.isInteger(pgid) && pgid > 0 && answersSignalZero(-pgid);
}

/** Signal 0 probes without sending anything; EPERM means it exists but belongs to another user. */
function answersSignalZero(target: number): boolean {
  try {
    process.kill(target, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether `pid` has exited but not been reaped yet (Linux: state `Z` in /proc/<pid>/stat). A zombie
 * still answers signal 0, so a server killed with SIGKILL whose parent has not waited for it yet (a
 * shell, a container without an init) would otherwise hold its locks until it is reaped. Elsewhere,
 * when /proc cannot be read, or when /proc belongs to another pid namespace (see {@link procIsOurs}),
 * false: a lock is then held until signal 0 fails, never taken from a live holder.
 */
export function isZombie(pid: number): boolean {
  if (!procIsOurs()) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // "pid (comm) S …": comm may hold spaces and parentheses, so the state follows the last ')'.
    return stat.charAt(stat.lastIndexOf(')') + 2) === 'Z';
  } catch {
    return false;
  }
}

let procMatchesPidNamespace: boolean | undefined;

/**
 * Whether the /proc mounted here numbers processes as this process sees them. A sandbox or container
 * can mount the host's /proc (or another namespace's) over a process in its own pid namespace; then
 * /proc/<pid> describes some other process, and reading a stranger's zombie state there could take a
 * lock from a live holder. Checked once: /proc/self/stat must start with our own pid.
 */
export function procIsOurs(): boolean {
  if (procMatchesPidNamespace === undefined) {
    try {
      procMatchesPidNamespace = Number.parseInt(readFileSync('/proc/self/stat', 'latin1'), 10) === process.pid;
    } catch {
      procMatchesPidNamespace = false;
    }
  }
  return procMatchesPidNamespace;
}
