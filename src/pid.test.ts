import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { openOutbox } from './outbox/outbox.ts';
import { isZombie, pidAlive } from './pid.ts';
import { tempDir } from './testing/runtime.ts';

/**
 * A real zombie: `sh` starts a short-lived child, prints its pid and execs into a sleeper that never
 * waits for it, so the child stays unreaped after it exits.
 */
async function withZombie(fn: (pid: number) => Promise<void>): Promise<void> {
  const parent = spawn('sh', ['-c', 'true & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const lines = createInterface({ input: parent.stdout! });
    const pid = Number(await new Promise<string>((resolve) => lines.once('line', resolve)));
    lines.close();
    // Waits for a real process to exit (a state change of the OS, not a timer of ours), bounded.
    for (let i = 0; i < 500 && !isZombie(pid); i++) await new Promise((r) => setTimeout(r, 10));
    await fn(pid);
  } finally {
    parent.kill('SIGKILL');
  }
}

describe('pidAlive', () => {
  it('knows this process and refuses pids that cannot exist', () => {
    assert.equal(pidAlive(process.pid), true);
    assert.equal(isZombie(process.pid), false);
    for (const pid of [0, -1, 1.5, Number.NaN]) assert.equal(pidAlive(pid), false, String(pid));
  });

  it('a killed process its parent has not reaped (a zombie) is dead, and its outbox lock is taken over', { timeout: 20_000 }, async (t) => {
    if (process.platform !== 'linux') return t.diagnostic('zombie detection reads /proc: Linux only');
    await withZombie(async (pid) => {
      assert.equal(isZombie(pid), true, 'the child became a zombie');
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
  });
});
