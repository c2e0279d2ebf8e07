import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { openOutbox } from './outbox/outbox.ts';
import { isZombie, pidAlive, processGroupAlive, procIsOurs } from './pid.ts';
import { tempDir, tsRunner } from './testing/runtime.ts';

/**
 * Perl forks a child that exits at once, waits for the child's end of a pipe to close (the child has
 * exited), prints the child's pid and sleeps without ever waiting for it. SIGCHLD is set to its
 * default first: a parent that inherited it ignored would let the kernel reap the child at once.
 */
const EXITED_UNREAPED_CHILD = `
  use POSIX ();
  $SIG{CHLD} = "DEFAULT";
  pipe(my $r, my $w) or die "pipe: $!";
  my $pid = fork() // die "fork: $!";
  if ($pid == 0) { close $r; POSIX::_exit(0); }
  close $w;
  1 while sysread($r, my $byte, 1);
  $| = 1;
  print "$pid\\n";
  sleep 30;
`;

/**
 * Runs `fn` with the pid of a child that has exited and that its parent has not waited for; false,
 * without running it, when there is no perl to build one with.
 */
async function withExitedChild(fn: (pid: number) => Promise<void>): Promise<boolean> {
  const parent = spawn('perl', ['-e', EXITED_UNREAPED_CHILD], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  parent.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  try {
    const lines = createInterface({ input: parent.stdout! });
    const line = await new Promise<string | undefined>((resolve, reject) => {
      lines.once('line', resolve);
      parent.once('error', (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? resolve(undefined) : reject(error)));
      parent.once('exit', (code, signal) => reject(new Error(`perl exited (${signal ?? code}) before printing a pid: ${stderr}`)));
    });
    lines.close();
    if (line === undefined) return false;
    const pid = Number(line);
    assert.ok(Number.isInteger(pid) && pid > 0, `perl printed a pid: ${line}`);
    await fn(pid);
    return true;
  } finally {
    parent.kill('SIGKILL');
  }
}

function procStat(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'latin1').slice(0, 80);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? String(error);
  }
}

describe('pidAlive', () => {
  it('knows this process and refuses pids that cannot exist', () => {
    assert.equal(pidAlive(process.pid), true);
    assert.equal(isZombie(process.pid), false);
    for (const pid of [0, -1, 1.5, Number.NaN]) assert.equal(pidAlive(pid), false, String(pid));
    for (const pgid of [0, -1, 1.5]) assert.equal(processGroupAlive(pgid), false, String(pgid));
  });

  it('a killed process its parent has not reaped (a zombie) is dead, and its outbox lock is taken over', { timeout: 20_000 }, async (t) => {
    if (process.platform !== 'linux') return t.diagnostic('zombie detection reads /proc: Linux only');
    const ran = await withExitedChild(async (pid) => {
      let reaped = false;
      try {
        process.kill(pid, 0);
      } catch (error) {
        reaped = (error as NodeJS.ErrnoException).code === 'ESRCH';
      }
      if (reaped) {
        t.diagnostic('this machine reaps children whose parent never waits: no zombie to tell apart');
        return assert.equal(pidAlive(pid), false);
      }
      if (!procIsOurs()) {
        // The sandbox case the guard exists for: /proc/<pid> here is another process, so the answer
        // must stay "alive" (a lock kept) rather than a guess from a stranger's state.
        t.diagnostic('/proc belongs to another pid namespace: zombies cannot be seen, locks wait for signal 0');
        assert.equal(isZombie(pid), false);
        return assert.equal(pidAlive(pid), true);
      }
      // The child closed its pipe just before the kernel marks it a zombie: a bounded wait for that
      // state change of the OS (not a timer of ours standing in for one).
      for (let i = 0; i < 500 && !isZombie(pid); i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(isZombie(pid), true, `the exited child is a zombie; /proc/${pid}/stat: ${procStat(pid)}`);
      assert.doesNotThrow(() => process.kill(pid, 0), 'a zombie still answers signal 0');
      assert.equal(pidAlive(pid), false);
      const dir = await tempDir('sik-zombie-lock-');
      try {
        const outboxDir = join(dir.path, 'outbox');
        await (await openOutbox({ dir: outboxDir })).close();
        writeFileSync(join(outboxDir, 'outbox.lock'), `${pid}\n`);
        const outbox = await openOutbox({ dir: outboxDir });
        await outbox.close();
      } finally {
        await dir.remove();
      }
    });
    if (!ran) t.diagnostic('no perl on this machine: the exited, unreaped child cannot be built');
  });

  it('does not trust a /proc that numbers processes in another pid namespace', { timeout: 30_000 }, async (t) => {
    if (process.platform !== 'linux') return t.diagnostic('/proc: Linux only');
    if (!procIsOurs()) {
      t.diagnostic('this process already runs under a foreign /proc');
      return assert.equal(isZombie(process.pid), false);
    }
    const probe = spawnSync('unshare', ['--pid', '--fork', 'true']);
    if (probe.error || probe.status !== 0) return t.diagnostic('unshare --pid is not allowed here: the foreign-/proc case cannot be built');
    // A new pid namespace without its own /proc mount: the runtime is pid 1 there, /proc/self is not,
    // and /proc/<n> is whatever process has number n out here.
    const dir = await tempDir('sik-pidns-');
    try {
      const script = join(dir.path, 'probe.ts');
      const pidModule = new URL('./pid.ts', import.meta.url).href;
      writeFileSync(script, `import { isZombie, procIsOurs } from ${JSON.stringify(pidModule)};\n`
        + `const stranger = Number(process.env.HOST_ZOMBIE);\n`
        + `console.log(JSON.stringify({ pid: process.pid, procIsOurs: procIsOurs(), strangerZombie: stranger > 0 && isZombie(stranger) }));\n`);
      const [command, ...args] = tsRunner(script);
      const probeWith = (hostZombie: number) => {
        const run = spawnSync('unshare', ['--pid', '--fork', command!, ...args], {
          encoding: 'utf8', timeout: 25_000, env: { ...process.env, HOST_ZOMBIE: String(hostZombie) },
        });
        assert.equal(run.status, 0, run.stderr);
        return JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { pid: number; procIsOurs: boolean; strangerZombie: boolean };
      };
      const ran = await withExitedChild(async (zombie) => {
        for (let i = 0; i < 500 && !isZombie(zombie); i++) await new Promise((r) => setTimeout(r, 10));
        assert.equal(isZombie(zombie), true, 'a zombie out here');
        const seen = probeWith(zombie);
        assert.equal(seen.pid, 1, 'the runtime is pid 1 of its new namespace');
        assert.equal(seen.procIsOurs, false);
        // In there, that number names some other process (or none): its /proc entry must not be read.
        assert.equal(seen.strangerZombie, false, 'a foreign /proc entry was read as one of ours');
      });
      if (!ran) {
        t.diagnostic('no perl: only the guard itself is checked, not a stranger\'s zombie');
        assert.equal(probeWith(0).procIsOurs, false);
      }
    } finally {
      await dir.remove();
    }
  });
});
