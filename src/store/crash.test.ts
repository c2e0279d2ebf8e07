import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir, tsRunner } from '../testing/runtime.ts';
import { openFileStore } from './file.ts';
import { CRASH_IDS, seqOf } from './testing/crash-records.ts';

/**
 * SIGKILL a writer at random points. What is allowed after each kill, per installation:
 * - every installation is at exactly its last acknowledged value, except
 * - the installation of the one put in flight (sequence S+1, S = last ack) may instead be at S+1
 *   (the put completed but its acknowledgement never arrived);
 * - no record is torn, mixed, missing, unreadable, and no temp file survives a reopen.
 */
const KILLS = 20;
const WRITER = join(import.meta.dirname ?? '.', 'testing', 'crash-writer.ts');

interface Round { acks: number[]; code: number | null; signal: string | null; err: string }

function runUntilKilled(dir: string, first: number, killAfterAcks: number, extraMs: number, env: NodeJS.ProcessEnv): Promise<Round> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = tsRunner(WRITER);
    const child = spawn(cmd as string, [...args, dir, String(first)], { stdio: ['ignore', 'pipe', 'pipe'], env });
    const acks: number[] = [];
    let partial = '';
    let err = '';
    let killing = false;
    child.stdout.on('data', (chunk) => {
      const lines = (partial + String(chunk)).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) acks.push(Number(line));
      if (!killing && acks.length >= killAfterAcks) {
        killing = true;
        // A random extra delay lands the kill anywhere inside the next put (open, write, fsync, rename).
        setTimeout(() => child.kill('SIGKILL'), extraMs);
      }
    });
    child.stderr.on('data', (d) => { err += String(d); });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ acks, code, signal, err }));
  });
}

for (const encrypted of [true, false]) {
  describe(`file store crash safety (${encrypted ? 'encrypted' : 'clear'})`, { timeout: 240_000 }, () => {
    let tmp: { path: string; remove(): Promise<void> };
    before(async () => { tmp = await tempDir('sik-crash-'); });
    after(async () => { await tmp.remove(); });

    const kills = encrypted ? KILLS : 5;
    it(`reopens cleanly after ${kills} SIGKILLs with every installation at its last acknowledged value`, async () => {
      const env = { ...process.env };
      if (encrypted) env['TOKEN_STORE_KEY'] = randomBytes(32).toString('hex');
      else delete env['TOKEN_STORE_KEY'];
      const key = env['TOKEN_STORE_KEY'] ? Buffer.from(env['TOKEN_STORE_KEY'], 'hex') : undefined;
      const dir = join(tmp.path, 'data');
      const durable = new Map<string, number>();
      let next = 0;
      const log: string[] = [];
      for (let round = 0; round < kills; round++) {
        const killAfter = 1 + Math.floor(Math.random() * 25);
        const extraMs = Math.random() * 4;
        const { acks, code, signal, err } = await runUntilKilled(dir, next, killAfter, extraMs, env);
        log.push(`round ${round}: from ${next}, kill after ${killAfter} acks + ${extraMs.toFixed(2)} ms, got ${acks.length}`);
        assert.equal(signal, 'SIGKILL', `writer ended by itself (code ${code}): ${err}\n${log.join('\n')}`);
        assert.ok(acks.length >= killAfter, log.join('\n'));
        acks.forEach((seq, i) => assert.equal(seq, next + i, 'acks out of order'));
        for (const seq of acks) durable.set(CRASH_IDS[seq % CRASH_IDS.length] as string, seq);
        const inFlight = next + acks.length;

        const store = await openFileStore({ dir, key, onWarning: () => {} });
        try {
          const records = await store.list();
          let present = 0;
          for (const id of CRASH_IDS) {
            const record = await store.get(id);
            const acked = durable.get(id);
            const found = record ? seqOf(record) : undefined;
            const allowed = [acked];
            if (CRASH_IDS[inFlight % 5] === id) allowed.push(inFlight);
            assert.ok(allowed.includes(found), `${id}: found ${found}, allowed ${allowed.join(' or ')}\n${log.join('\n')}`);
            if (found !== undefined) { durable.set(id, found); present++; }
          }
          assert.equal(records.length, present, 'list disagrees with get');
          const leftovers = (await readdir(dir)).filter((n) => !n.endsWith('.json'));
          assert.deepEqual(leftovers, [], 'temp files survived a reopen');
        } finally {
          await store.close();
        }
        next = inFlight + 1;
      }
    });
  });
}
