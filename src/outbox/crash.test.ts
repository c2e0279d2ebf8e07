import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { manualClock } from '../clock.ts';
import { tempDir, tsRunner } from '../testing/runtime.ts';
import { openOutbox } from './outbox.ts';

const CHILD = fileURLToPath(new URL('./testing/crash-child.ts', import.meta.url));
const ROUNDS = 20;

/** Small seeded PRNG so a failing run can be repeated (the seed is in every assertion message). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Runs the child until it has printed `killAfter` lines after opening (0 = right after opening), then
 * SIGKILLs it. Returns the complete lines it printed.
 */
function runAndKill(dir: string, start: number, count: number, killAfter: number): Promise<string[]> {
  const [cmd, ...args] = tsRunner(CHILD);
  const child = spawn(cmd!, [...args, dir, String(start), String(count)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let seen = -1;
  let killed = false;
  const kill = () => { if (!killed) { killed = true; child.kill('SIGKILL'); } };
  // A child that stops printing (finished, or stuck) is killed anyway.
  const fallback = setTimeout(kill, 20_000);
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    seen = out.split('\n').length - 2; // lines after 'O' that are complete
    if (out.startsWith('O\n') && seen >= killAfter) kill();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { err += chunk; });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(fallback);
      if (signal !== 'SIGKILL') return reject(new Error(`child exited by itself (${code ?? signal}): ${err.slice(0, 2000)}`));
      const lines = out.split('\n');
      lines.pop(); // an incomplete last line is no claim
      resolve(lines);
    });
  });
}

describe('outbox crash safety', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => { for (const c of cleanups) await c(); });

  it(`survives ${ROUNDS} SIGKILLs at random points: no acknowledged enqueue lost, no acked job run again`, { timeout: 240_000 }, async () => {
    const tmp = await tempDir('sik-outbox-crash-');
    cleanups.push(tmp.remove);
    const dir = join(tmp.path, 'outbox');
    const seed = Number(process.env.OUTBOX_CRASH_SEED ?? Date.now() % 1_000_000);
    const random = mulberry32(seed);
    const why = (s: string) => `${s} (seed ${seed}; rerun with OUTBOX_CRASH_SEED=${seed})`;

    const idOfIndex = new Map<number, string>(); // index → id every E line must agree on
    const acked = new Set<string>();
    let maxIndex = -1;
    let highestTried = -1;
    let enqueued = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const start = Math.max(0, maxIndex - 5); // overlap: re-enqueues must dedupe to the same id
      const count = 120;
      highestTried = Math.max(highestTried, start + count - 1);
      const killAfter = random() < 0.15 ? 0 : Math.floor(random() * 150);
      const lines = await runAndKill(dir, start, count, killAfter);
      for (const line of lines) {
        const [kind, a, b] = line.split(' ');
        if (kind === 'E') {
          const n = Number(a);
          const known = idOfIndex.get(n);
          if (known === undefined) idOfIndex.set(n, b!);
          else assert.equal(b, known, why(`k${n} enqueued as ${known} came back with id ${b} in round ${round}`));
          maxIndex = Math.max(maxIndex, n);
          enqueued++;
        } else if (kind === 'R') {
          assert.ok(!acked.has(a!), why(`job ${a} ran again in round ${round} after its ack was durable`));
        } else if (kind === 'A') {
          acked.add(a!);
        }
      }
    }
    assert.ok(idOfIndex.size >= 100 && acked.size >= 50, why(`too little happened: ${idOfIndex.size} enqueued, ${acked.size} acked`));

    // Reopen with a clock a day ahead (retries due), as the restarted server would.
    const clock = manualClock(Date.now() + 3600_000);
    const outbox = await openOutbox({ dir, clock, dedupeWindowMs: 7 * 24 * 3600_000 });
    const bytesAtReopen = outbox.stats().journalBytes;
    try {
      for (const [n, id] of idOfIndex) {
        const found = outbox.lookup(`k${n}`);
        assert.equal(found?.id, id, why(`k${n}: acknowledged enqueue ${id} is missing`));
        assert.ok(found.status === 'pending' || found.status === 'done', why(`k${n}: status ${found.status}`));
        if (acked.has(id)) assert.equal(found.status, 'done', why(`k${n}: acked but ${found.status}`));
      }
      const ranNow: string[] = [];
      outbox.run((job) => { ranNow.push(job.id); return { outcome: 'done' }; }, { concurrency: 4 });
      await outbox.idle();
      for (const id of ranNow) assert.ok(!acked.has(id), why(`acked job ${id} ran again after the final restart`));
      assert.equal(new Set(ranNow).size, ranNow.length, why('a job ran twice in the final drain'));
      // Every key ever durably enqueued is now done, exactly once by the outbox's own count.
      let doneKeys = 0;
      for (let n = 0; n <= highestTried; n++) {
        const found = outbox.lookup(`k${n}`);
        if (found) {
          assert.equal(found.status, 'done', why(`k${n} is ${found.status} after the drain`));
          doneKeys++;
        }
      }
      const s = outbox.stats();
      assert.deepEqual([s.pending, s.dead, s.done], [0, 0, doneKeys], why('counters'));
      assert.ok(doneKeys >= idOfIndex.size);
      console.log(`crash test: seed ${seed}, ${ROUNDS} kills, ${enqueued} enqueue acks (${idOfIndex.size} keys), ${acked.size} acks seen, ` +
        `${ranNow.length} jobs run after the last restart, ${doneKeys} done in total, journal ${bytesAtReopen} bytes at reopen`);
    } finally {
      await outbox.close();
    }
  });
});
