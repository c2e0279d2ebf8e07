import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { manualClock, type ManualClock } from '../clock.ts';
import { tempDir } from '../testing/runtime.ts';
import { encodeRecord, parseJournal } from './journal.ts';
import { OutboxLockedError } from './lock.ts';
import { type Job, type Outbox, type OutboxOptions, type Settled, JOURNAL_FILE, inspectOutbox, openOutbox } from './outbox.ts';

const T = { timeout: 30_000 };

/** The journal's records, without the zeros preallocated after them. */
function recordBytes(path: string): Buffer {
  const buf = readFileSync(path);
  return buf.subarray(0, parseJournal(buf).validBytes);
}

describe('outbox', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  /** A fresh outbox in a temp dir with a manual clock; reopen() closes and opens the same dir. */
  async function setup(extra: Partial<OutboxOptions> = {}) {
    const tmp = await tempDir('sik-outbox-');
    const clock = manualClock();
    const dir = join(tmp.path, 'outbox');
    const opts = (): OutboxOptions => ({ dir, clock, onWarning: (m) => warnings.push(m), ...extra });
    const warnings: string[] = [];
    const ctx = { dir, clock, warnings, outbox: await openOutbox(opts()), async reopen(more: Partial<OutboxOptions> = {}) {
      await ctx.outbox.close();
      ctx.outbox = await openOutbox({ ...opts(), ...more });
      return ctx.outbox;
    } };
    cleanups.push(async () => { await ctx.outbox.close(); await tmp.remove(); });
    return ctx as { dir: string; clock: ManualClock; warnings: string[]; outbox: Outbox; reopen(more?: Partial<OutboxOptions>): Promise<Outbox> };
  }

  /** Runs a worker that records every job it sees and answers with `decide`. */
  function work(outbox: Outbox, decide: Parameters<Outbox['run']>[0] = () => ({ outcome: 'done' }), concurrency = 1) {
    const seen: Job[] = [];
    const settled: Array<{ id: string; s: Settled }> = [];
    outbox.run((job, context) => { seen.push(job); return decide(job, context); }, { concurrency, onSettled: (job, s) => settled.push({ id: job.id, s }) });
    return { seen, settled };
  }

  it('enqueues durably, runs each job once and acknowledges it, across a reopen', T, async () => {
    const ctx = await setup();
    const a = await ctx.outbox.enqueue({ key: 'k1', group: 'g', payload: { n: 1, text: 'héllo ✓' } });
    const b = await ctx.outbox.enqueue({ key: 'k2', group: 'g', payload: { n: 2 } });
    assert.equal(a.duplicate, false);
    assert.notEqual(a.id, b.id);
    assert.deepEqual([ctx.outbox.stats().pending, ctx.outbox.stats().done, ctx.outbox.stats().appends], [2, 0, 2]);
    // On disk before any worker ran: a reopen sees both.
    let outbox = await ctx.reopen();
    assert.equal(outbox.stats().pending, 2);
    const w = work(outbox);
    await outbox.idle();
    assert.deepEqual(w.seen.map((j) => j.payload), [{ n: 1, text: 'héllo ✓' }, { n: 2 }]);
    assert.deepEqual(w.seen.map((j) => [j.key, j.group, j.attempts]), [['k1', 'g', 0], ['k2', 'g', 0]]);
    assert.deepEqual(w.settled.map((x) => x.s.outcome), ['done', 'done']);
    assert.equal(outbox.lookup('k1')?.status, 'done');
    outbox = await ctx.reopen();
    const again = work(outbox);
    await outbox.idle();
    assert.equal(again.seen.length, 0, 'an acknowledged job never runs again');
    assert.deepEqual([outbox.stats().pending, outbox.stats().done], [0, 2]);
  });

  it('respects concurrency and runs jobs enqueued while the worker is running', T, async () => {
    const ctx = await setup();
    let active = 0;
    let peak = 0;
    const gates: Array<() => void> = [];
    const w = work(ctx.outbox, async () => {
      active++;
      peak = Math.max(peak, active);
      await new Promise<void>((r) => gates.push(r));
      active--;
      return { outcome: 'done' };
    }, 2);
    await Promise.all([1, 2, 3, 4, 5].map((n) => ctx.outbox.enqueue({ key: `k${n}`, group: 'g', payload: n })));
    while (w.seen.length < 5) {
      await new Promise((r) => setImmediate(r));
      gates.shift()?.();
    }
    gates.splice(0).forEach((g) => g());
    await ctx.outbox.idle();
    assert.equal(peak, 2);
    assert.deepEqual(w.seen.map((j) => j.payload), [1, 2, 3, 4, 5]);
    assert.equal(ctx.outbox.stats().done, 5);
  });

  it('retries on the backoff schedule of the injected clock and random, then dead-letters', T, async () => {
    const ctx = await setup({ retry: { minMs: 1000, maxMs: 8000, factor: 2, jitter: 0.5, maxAttempts: 6 }, random: () => 0.5 });
    const w = work(ctx.outbox, (job) => { throw new Error(`boom ${job.attempts}`); });
    const { id } = await ctx.outbox.enqueue({ key: 'k', group: 'g', payload: null });
    const start = ctx.clock.now();
    const dues: number[] = [];
    for (let i = 0; i < 6; i++) {
      await ctx.outbox.idle();
      const last = w.settled.at(-1)?.s;
      if (last?.outcome !== 'retry') break;
      dues.push(last.due - ctx.clock.now());
      // One millisecond early: nothing runs.
      ctx.clock.advance(last.due - ctx.clock.now() - 1);
      ctx.outbox.poke();
      await ctx.outbox.idle();
      assert.equal(w.seen.length, i + 1, 'not run before its due time');
      ctx.clock.advance(1);
      ctx.outbox.poke();
    }
    await ctx.outbox.idle();
    assert.deepEqual(dues, [1000, 2000, 4000, 8000, 8000]);
    assert.deepEqual(w.seen.map((j) => j.attempts), [0, 1, 2, 3, 4, 5]);
    assert.equal(w.seen[3]?.lastError, 'boom 2');
    const dead = ctx.outbox.deadLetters();
    assert.equal(dead.length, 1);
    assert.equal(dead[0]?.id, id);
    assert.equal(dead[0]?.attempts, 6);
    assert.match(dead[0]?.lastError ?? '', /gave up after 6 attempts: boom 5/);
    assert.ok(ctx.clock.now() - start === 23_000);
    // The dead letter survives a reopen, and so does its attempt count.
    const outbox = await ctx.reopen();
    assert.deepEqual(outbox.deadLetters().map((d) => [d.id, d.attempts]), [[id, 6]]);
    assert.equal(outbox.stats().dead, 1);
  });

  it('uses the handler\'s retry time, and does not count a pause as an attempt', T, async () => {
    const ctx = await setup({ retry: { minMs: 1000, maxAttempts: 2 } });
    const resetAt = () => ctx.clock.now() + 3600_000;
    let calls = 0;
    const w = work(ctx.outbox, () => (++calls <= 3
      ? { outcome: 'retry', reason: 'quota', at: resetAt(), countAttempt: false }
      : { outcome: 'done' }));
    await ctx.outbox.enqueue({ key: 'k', group: 'g', payload: null });
    for (let i = 0; i < 3; i++) {
      await ctx.outbox.idle();
      assert.deepEqual(w.settled.at(-1)?.s, { outcome: 'retry', due: resetAt(), attempts: 0, reason: 'quota' });
      assert.equal(calls, i + 1);
      ctx.clock.advance(3600_000);
      ctx.outbox.poke();
    }
    await ctx.outbox.idle();
    assert.equal(ctx.outbox.stats().done, 1, 'three pauses did not exhaust maxAttempts = 2');
  });

  it('dead-letters on a dead outcome and replays one or all back to pending', T, async () => {
    const ctx = await setup();
    let fail = true;
    const w = work(ctx.outbox, () => (fail ? { outcome: 'dead', reason: 'HTTP 400 user invalid' } : { outcome: 'done' }));
    const ids = [];
    for (const k of ['a', 'b', 'c']) ids.push((await ctx.outbox.enqueue({ key: k, group: 'g', payload: k })).id);
    await ctx.outbox.idle();
    assert.equal(ctx.outbox.stats().dead, 3);
    assert.deepEqual(ctx.outbox.deadLetters().map((d) => [d.key, d.lastError]), [['a', 'HTTP 400 user invalid'], ['b', 'HTTP 400 user invalid'], ['c', 'HTTP 400 user invalid']]);
    await assert.rejects(ctx.outbox.replay('nope'), /no dead letter/);
    fail = false;
    assert.equal(await ctx.outbox.replay(ids[1]!), 1);
    await ctx.outbox.idle();
    assert.deepEqual(w.seen.map((j) => j.key), ['a', 'b', 'c', 'b']);
    assert.equal(w.seen[3]?.attempts, 0);
    assert.deepEqual([ctx.outbox.stats().dead, ctx.outbox.stats().done], [2, 1]);
    assert.equal(await ctx.outbox.replay('all'), 2);
    await ctx.outbox.idle();
    assert.deepEqual([ctx.outbox.stats().dead, ctx.outbox.stats().done, ctx.outbox.stats().pending], [0, 3, 0]);
    assert.equal(await ctx.outbox.replay('all'), 0);
  });

  it('dropGroup drops pending and dead jobs of that group durably, and discards a running one\'s outcome', T, async () => {
    const ctx = await setup();
    await ctx.outbox.enqueue({ key: 'x1', group: 'gone', payload: 1 });
    await ctx.outbox.enqueue({ key: 'x2', group: 'gone', payload: 2 });
    await ctx.outbox.enqueue({ key: 'y1', group: 'kept', payload: 3 });
    assert.equal(await ctx.outbox.dropGroup('gone'), 2);
    let outbox = await ctx.reopen();
    const w = work(outbox);
    await outbox.idle();
    assert.deepEqual(w.seen.map((j) => j.key), ['y1']);
    assert.equal(outbox.lookup('x1')?.status, 'dropped');
    assert.deepEqual([outbox.stats().dropped, outbox.stats().done], [2, 1]);
    await outbox.close();

    // A job of the group is running when the group is dropped: its ack is not recorded as done.
    outbox = await ctx.reopen();
    let release!: () => void;
    const running = new Promise<void>((r) => { release = r; });
    let started!: () => void;
    const isStarted = new Promise<void>((r) => { started = r; });
    const w2 = work(outbox, async () => { started(); await running; return { outcome: 'done' }; });
    await outbox.enqueue({ key: 'z1', group: 'gone2', payload: 4 });
    await isStarted;
    assert.equal(outbox.lookup('z1')?.status, 'inFlight');
    assert.equal(await outbox.dropGroup('gone2'), 1);
    release();
    await outbox.idle();
    assert.deepEqual(w2.settled.map((s) => s.s), [{ outcome: 'dropped' }]);
    assert.deepEqual([outbox.stats().dropped, outbox.stats().done], [3, 1]);
  });

  it('dedupes within the window, across a restart, and lets the key in again after the window', T, async () => {
    const ctx = await setup({ dedupeWindowMs: 60_000 });
    const first = await ctx.outbox.enqueue({ key: 'dup', group: 'g', payload: 1 });
    // Concurrent duplicates while the first is being written: same id, one job.
    const [a, b] = await Promise.all([
      ctx.outbox.enqueue({ key: 'race', group: 'g', payload: 1 }),
      ctx.outbox.enqueue({ key: 'race', group: 'g', payload: 2 }),
    ]);
    assert.deepEqual([a.duplicate, b.duplicate, a.id === b.id], [false, true, true]);
    assert.deepEqual(await ctx.outbox.enqueue({ key: 'dup', group: 'g', payload: 2 }), { id: first.id, duplicate: true });
    let outbox = await ctx.reopen();
    assert.deepEqual(await outbox.enqueue({ key: 'dup', group: 'g', payload: 3 }), { id: first.id, duplicate: true });
    const w = work(outbox);
    await outbox.idle();
    assert.equal(w.seen.length, 2);
    // Done, still within the window (measured from the enqueue): still a duplicate, also after a restart.
    ctx.clock.advance(59_000);
    outbox = await ctx.reopen();
    assert.equal((await outbox.enqueue({ key: 'dup', group: 'g', payload: 4 })).duplicate, true);
    ctx.clock.advance(1_000);
    const fresh = await outbox.enqueue({ key: 'dup', group: 'g', payload: 5 });
    assert.equal(fresh.duplicate, false);
    assert.notEqual(fresh.id, first.id);
    assert.equal(outbox.stats().pending, 1);
  });

  it('a live job dedupes even after the window has passed', T, async () => {
    const ctx = await setup({ dedupeWindowMs: 1000 });
    const { id } = await ctx.outbox.enqueue({ key: 'k', group: 'g', payload: 1 });
    ctx.clock.advance(10_000);
    assert.deepEqual(await ctx.outbox.enqueue({ key: 'k', group: 'g', payload: 1 }), { id, duplicate: true });
  });

  it('group commit: 100 concurrent enqueues share a few fsyncs; maxBatch 1 needs 100', T, async () => {
    const grouped = await setup();
    const base = grouped.outbox.stats().fsyncs;
    const results = await Promise.all(Array.from({ length: 100 }, (_, n) => grouped.outbox.enqueue({ key: `k${n}`, group: 'g', payload: n })));
    assert.equal(new Set(results.map((r) => r.id)).size, 100);
    const s = grouped.outbox.stats();
    assert.equal(s.pending, 100);
    assert.ok(s.fsyncs - base <= 5, `fsyncs: ${s.fsyncs - base}`);
    assert.ok(s.lastFlushMs >= 0);

    const single = await setup({ maxBatch: 1 });
    await Promise.all(Array.from({ length: 100 }, (_, n) => single.outbox.enqueue({ key: `k${n}`, group: 'g', payload: n })));
    assert.equal(single.outbox.stats().fsyncs, 100);

    const none = await setup({ durability: 'none' });
    await Promise.all(Array.from({ length: 100 }, (_, n) => none.outbox.enqueue({ key: `k${n}`, group: 'g', payload: n })));
    assert.equal(none.outbox.stats().fsyncs, 0);
    assert.equal((await none.reopen()).stats().pending, 100);
  });

  it('recovers from a torn last record at every byte offset, losing only that record', T, async () => {
    const ctx = await setup();
    const w = work(ctx.outbox);
    await ctx.outbox.enqueue({ key: 'acked', group: 'g', payload: 1 });
    await ctx.outbox.idle();
    await ctx.outbox.stop();
    await ctx.outbox.enqueue({ key: 'kept', group: 'g', payload: 2 });
    const path = join(ctx.dir, JOURNAL_FILE);
    const sizeBefore = recordBytes(path).length;
    await ctx.outbox.enqueue({ key: 'torn', group: 'g', payload: { big: 'é'.repeat(40) } });
    await ctx.outbox.close();
    assert.equal(w.seen.length, 1);
    const full = recordBytes(path);
    assert.ok(full.length > sizeBefore + 80);
    const zeros = Buffer.alloc(4096);
    for (let cut = sizeBefore; cut < full.length; cut++) {
      // A torn append ends the file, or (in preallocated space) is followed by zeros: try both.
      writeFileSync(path, cut % 2 ? full.subarray(0, cut) : Buffer.concat([full.subarray(0, cut), zeros]));
      const outbox = await openOutbox({ dir: ctx.dir, clock: ctx.clock, onWarning: (m) => ctx.warnings.push(m) });
      try {
        const s = outbox.stats();
        assert.deepEqual([s.pending, s.done, s.recoveredTailBytes], [1, 1, cut - sizeBefore], `cut at ${cut}`);
        assert.equal(outbox.lookup('kept')?.status, 'pending');
        assert.equal(outbox.lookup('torn'), undefined);
        assert.equal(outbox.lookup('acked')?.status, 'done');
      } finally {
        await outbox.close();
      }
      const size = statSync(path).size;
      assert.ok(size === sizeBefore || (cut === sizeBefore && size === sizeBefore + zeros.length), `the torn bytes were cut off (cut at ${cut})`);
    }
    assert.deepEqual(ctx.warnings, [], 'a torn tail is routine, not a warning');
    writeFileSync(path, full);
    ctx.outbox = await openOutbox({ dir: ctx.dir, clock: ctx.clock });
    assert.equal(ctx.outbox.stats().pending, 2);
  });

  it('a torn ack makes the job pending again (at-least-once), never lost', T, async () => {
    const ctx = await setup();
    await ctx.outbox.enqueue({ key: 'k', group: 'g', payload: 1 });
    const path = join(ctx.dir, JOURNAL_FILE);
    const before = recordBytes(path).length;
    work(ctx.outbox);
    await ctx.outbox.idle();
    await ctx.outbox.close();
    const full = recordBytes(path);
    writeFileSync(path, Buffer.concat([full.subarray(0, full.length - 1), Buffer.alloc(100)])); // the ack's newline is missing
    const outbox = await ctx.reopen();
    assert.deepEqual([outbox.stats().pending, outbox.stats().done, outbox.stats().recoveredTailBytes], [1, 0, full.length - 1 - before]);
    assert.equal(statSync(path).size, before);
  });

  it('keeps a copy of a damaged region that has intact records after it, and warns', T, async () => {
    const ctx = await setup();
    await ctx.outbox.enqueue({ key: 'a', group: 'g', payload: 1 });
    const path = join(ctx.dir, JOURNAL_FILE);
    const mid = recordBytes(path).length;
    await ctx.outbox.enqueue({ key: 'b', group: 'g', payload: 2 });
    await ctx.outbox.enqueue({ key: 'c', group: 'g', payload: 3 });
    await ctx.outbox.close();
    const recordsEnd = recordBytes(path).length;
    const buf = readFileSync(path);
    buf[mid + 20] = buf[mid + 20]! ^ 0x04;
    writeFileSync(path, buf);
    const outbox = await ctx.reopen();
    assert.equal(outbox.stats().pending, 1);
    assert.equal(ctx.warnings.length, 1);
    assert.match(ctx.warnings[0]!, /damaged at byte \d+ .* copied to/);
    const aside = readdirSync(ctx.dir).filter((f) => f.startsWith('journal.damaged-'));
    assert.equal(aside.length, 1);
    assert.equal(statSync(join(ctx.dir, aside[0]!)).size, recordsEnd - mid, 'the damaged records, not the zeros after them');
  });

  it('compaction rewrites live state only and keeps jobs, dead letters, dedupe and counters', T, async () => {
    const ctx = await setup({ compactAtBytes: 20_000, dedupeWindowMs: 3600_000 });
    const w = work(ctx.outbox, (job) => ((job.payload as number) % 10 === 0 ? { outcome: 'dead', reason: 'bad' } : { outcome: 'done' }));
    for (let n = 0; n < 300; n++) await ctx.outbox.enqueue({ key: `k${n}`, group: `g${n % 3}`, payload: n });
    await ctx.outbox.idle();
    await ctx.outbox.stop();
    assert.ok(ctx.outbox.stats().compactions >= 1, 'compacted automatically by size');
    for (let n = 300; n < 305; n++) await ctx.outbox.enqueue({ key: `k${n}`, group: 'g0', payload: n });
    await ctx.outbox.compact();
    const path = join(ctx.dir, JOURNAL_FILE);
    const size = statSync(path).size;
    assert.equal(ctx.outbox.stats().journalBytes, size);
    assert.ok(!existsSync(join(ctx.dir, 'journal.compact.tmp')));
    const outbox = await ctx.reopen();
    const s = outbox.stats();
    assert.deepEqual([s.pending, s.dead, s.done], [5, 30, 270]);
    assert.equal(w.seen.length, 300);
    assert.equal((await outbox.enqueue({ key: 'k1', group: 'g1', payload: 0 })).duplicate, true, 'dedupe index survived compaction');
    assert.equal((await outbox.enqueue({ key: 'k302', group: 'g0', payload: 0 })).duplicate, true);
    // Past the window, compaction forgets ended keys: the journal shrinks to live jobs.
    ctx.clock.advance(3600_000);
    await outbox.compact();
    assert.ok(statSync(path).size < size / 3, `${statSync(path).size} vs ${size}`);
    // meta + (job + its key) for 5 pending and 30 dead jobs; no entries for the 270 ended keys
    assert.equal(readFileSync(path, 'utf8').trim().split('\n').length, 1 + 2 * 35);
    assert.equal((await outbox.enqueue({ key: 'k1', group: 'g1', payload: 0 })).duplicate, false);
    // A crash mid-compaction leaves a partial temp file: ignored and removed at open.
    await outbox.close();
    writeFileSync(join(ctx.dir, 'journal.compact.tmp'), encodeRecord({ t: 'meta', v: 1, done: 0, dropped: 0 }).slice(0, 10));
    const after = await ctx.reopen();
    assert.ok(!existsSync(join(ctx.dir, 'journal.compact.tmp')));
    assert.deepEqual([after.stats().pending, after.stats().dead, after.stats().done], [6, 30, 270]);
    assert.equal(after.deadLetters()[0]?.lastError, 'bad');
  });

  it('skips automatic compaction while live jobs are most of the journal (an undrained backlog)', T, async () => {
    const ctx = await setup({ compactAtBytes: 4096, durability: 'none' });
    // No worker: every job stays live, so a rewrite could not shrink the journal.
    await Promise.all(Array.from({ length: 200 }, (_, n) => ctx.outbox.enqueue({ key: `k${n}`, group: 'g', payload: { n } })));
    await ctx.outbox.idle();
    assert.ok(ctx.outbox.stats().journalBytes > 4 * 4096);
    assert.equal(ctx.outbox.stats().compactions, 0);
    // Once the worker drains it, live state is small and the next flush compacts.
    work(ctx.outbox);
    await ctx.outbox.idle();
    await ctx.outbox.enqueue({ key: 'last', group: 'g', payload: 0 });
    await ctx.outbox.idle();
    assert.ok(ctx.outbox.stats().compactions >= 1);
    assert.equal(ctx.outbox.stats().journalBytes, statSync(join(ctx.dir, JOURNAL_FILE)).size);
  });

  it('keeps accepting and flushing enqueues while a large compaction is written, and keeps them', T, async () => {
    const ctx = await setup({ durability: 'none' });
    const big = 'x'.repeat(2000);
    await Promise.all(Array.from({ length: 1500 }, (_, n) => ctx.outbox.enqueue({ key: `k${n}`, group: 'g', payload: { n, big } })));
    let compacted = false;
    const compaction = ctx.outbox.compact().then(() => { compacted = true; });
    // ~3 MB of snapshot is written in 64 KiB slices; these enqueues are flushed meanwhile, not after it.
    const during = await Promise.all(Array.from({ length: 20 }, (_, n) => ctx.outbox.enqueue({ key: `d${n}`, group: 'g', payload: { n } })));
    assert.equal(compacted, false, 'enqueues were answered before the compaction finished');
    await compaction;
    assert.equal(ctx.outbox.stats().compactions, 1);
    // Records flushed during the compaction were carried over to the new journal.
    const outbox = await ctx.reopen();
    assert.equal(outbox.stats().pending, 1520);
    for (const [n, r] of during.entries()) assert.equal(outbox.lookup(`d${n}`)?.id, r.id);
    const seen = work(outbox).seen;
    await outbox.idle();
    assert.equal(seen.length, 1520);
    assert.equal(seen[0]!.key, 'k0', 'queue order kept');
    assert.equal(seen[1519]!.key, 'd19');
  });

  it('close() during a compaction leaves the journal whole and no temp file', T, async () => {
    const ctx = await setup({ durability: 'none' });
    const big = 'y'.repeat(2000);
    await Promise.all(Array.from({ length: 1000 }, (_, n) => ctx.outbox.enqueue({ key: `k${n}`, group: 'g', payload: { n, big } })));
    const compaction = ctx.outbox.compact().then(() => 'finished', (e: Error) => e.message);
    await ctx.outbox.enqueue({ key: 'during', group: 'g', payload: 0 });
    await ctx.outbox.close();
    assert.equal(await compaction, 'outbox is closed');
    assert.ok(!existsSync(join(ctx.dir, 'journal.compact.tmp')));
    const outbox = await ctx.reopen();
    assert.equal(outbox.stats().pending, 1001);
  });

  it('preallocates zeros after the records; a reopen writes on from the last record, reporting no damage', T, async () => {
    const ctx = await setup({ preallocateBytes: 256 * 1024 });
    const path = join(ctx.dir, JOURNAL_FILE);
    for (let n = 0; n < 50; n++) await ctx.outbox.enqueue({ key: `a${n}`, group: 'g', payload: { n, pad: 'p'.repeat(1000) } });
    await ctx.outbox.close(); // waits for a background extension in flight
    const first = recordBytes(path).length;
    assert.equal(first, ctx.outbox.stats().journalBytes);
    const size = statSync(path).size;
    assert.ok(size >= first + 64 * 1024 / 4 && size <= first + 256 * 1024, `${size} vs ${first}`);
    assert.ok(readFileSync(path).subarray(first).every((b) => b === 0));
    let outbox = await ctx.reopen();
    assert.equal(outbox.stats().recoveredTailBytes, 0);
    assert.equal(statSync(path).size, size, 'the zeros are kept');
    assert.deepEqual(ctx.warnings, []);
    await outbox.enqueue({ key: 'b', group: 'g', payload: 'after' });
    outbox = await ctx.reopen();
    assert.equal(recordBytes(path).length, outbox.stats().journalBytes);
    assert.equal(outbox.stats().pending, 51);
    assert.equal(outbox.lookup('b')?.status, 'pending');
    // Off: the file ends at the last record.
    const noPre = await setup({ preallocateBytes: 0 });
    await noPre.outbox.enqueue({ key: 'x', group: 'g', payload: 1 });
    assert.equal(statSync(join(noPre.dir, JOURNAL_FILE)).size, noPre.outbox.stats().journalBytes);
  });

  it('refuses a second opener while the lock is held, and takes over a stale lock', T, async () => {
    const ctx = await setup();
    await assert.rejects(openOutbox({ dir: ctx.dir }), (err: unknown) => err instanceof OutboxLockedError && /in use by process/.test(err.message));
    await ctx.outbox.close();
    writeFileSync(join(ctx.dir, 'outbox.lock'), '2147483646\n'); // no such process
    ctx.outbox = await openOutbox({ dir: ctx.dir, clock: ctx.clock });
    assert.equal(readFileSync(join(ctx.dir, 'outbox.lock'), 'utf8').trim(), String(process.pid));
    await ctx.outbox.close();
    assert.ok(!existsSync(join(ctx.dir, 'outbox.lock')));
    ctx.outbox = await openOutbox({ dir: ctx.dir, clock: ctx.clock });
  });

  it('inspectOutbox reads without the lock or changing the file', T, async () => {
    const ctx = await setup();
    work(ctx.outbox, () => ({ outcome: 'dead', reason: 'nope' }));
    await ctx.outbox.enqueue({ key: 'a', group: 'g', payload: 1 });
    await ctx.outbox.idle();
    const path = join(ctx.dir, JOURNAL_FILE);
    const before = readFileSync(path);
    const records = recordBytes(path);
    assert.ok(before.length > records.length, 'preallocated zeros follow the records');
    assert.equal(inspectOutbox(ctx.dir).damagedTailBytes, 0, 'preallocated zeros are not damage');
    // A flush in progress: its first bytes are in the preallocated space, zeros after them.
    const partial = Buffer.from(encodeRecord({ t: 'ack' }).slice(0, 5));
    const during = Buffer.concat([records, partial, before.subarray(records.length + 5)]);
    writeFileSync(path, during);
    const snap = inspectOutbox(ctx.dir);
    assert.deepEqual([snap.dead, snap.pending, snap.damagedTailBytes], [1, 0, 5]);
    assert.equal(snap.deadLetters[0]?.lastError, 'nope');
    assert.deepEqual(readFileSync(path), during, 'not changed');
    writeFileSync(path, before);
  });

  it('in production the retry fires from a real timer scheduled from the clock delta', T, async () => {
    // The one place real time is the subject: a 30 ms backoff must fire on its own (no poke).
    const ctx = await setup({ clock: undefined, retry: { minMs: 30, maxMs: 30, jitter: 0 } });
    let attempts = 0;
    const done = new Promise<number>((resolve) => {
      ctx.outbox.run(() => (++attempts < 3 ? { outcome: 'retry', reason: 'later' } : { outcome: 'done' }), {
        onSettled: (_job, s) => { if (s.outcome === 'done') resolve(Date.now()); },
      });
    });
    const started = Date.now();
    await ctx.outbox.enqueue({ key: 'k', group: 'g', payload: 1 });
    const finished = await done;
    assert.equal(attempts, 3);
    assert.ok(finished - started >= 55, `two 30 ms backoffs took ${finished - started} ms`);
  });

  it('groupCommitMaxDelayMs gathers enqueues that arrive within the delay into one flush', T, async () => {
    const ctx = await setup({ groupCommitMaxDelayMs: 200 });
    const pending = [];
    for (let n = 0; n < 20; n++) {
      pending.push(ctx.outbox.enqueue({ key: `k${n}`, group: 'g', payload: n }));
      await new Promise((r) => setImmediate(r)); // separate turns of the event loop
    }
    await Promise.all(pending);
    assert.ok(ctx.outbox.stats().fsyncs <= 2, `fsyncs: ${ctx.outbox.stats().fsyncs}`);
  });

  describe('markStarted and jobs in doubt', () => {
    /** The journal's records as parsed from disk right now. */
    const records = (dir: string) => parseJournal(readFileSync(join(dir, JOURNAL_FILE))).records as Array<{ t: string; id?: string }>;

    /** What a SIGKILL at this instant would leave: the journal's bytes, copied into a fresh outbox dir. */
    async function crashImage(dir: string): Promise<string> {
      const tmp = await tempDir('sik-outbox-crash-');
      cleanups.push(() => tmp.remove());
      const copy = join(tmp.path, 'outbox');
      mkdirSync(copy);
      copyFileSync(join(dir, JOURNAL_FILE), join(copy, JOURNAL_FILE));
      return copy;
    }

    /** Rejects once `signal` aborts (at once if it already has): a handler waiting for stop(). */
    const untilAborted = (signal: AbortSignal) => new Promise<never>((_resolve, reject) => {
      if (signal.aborted) reject(new Error('stopped'));
      signal.addEventListener('abort', () => reject(new Error('stopped')));
    });

    /** Opens `dir` (a crash image), runs one job with `decide` and closes; returns the job as the handler saw it. */
    async function runOnce(dir: string, clock: ManualClock, decide: Parameters<Outbox['run']>[0]): Promise<Job[]> {
      const outbox = await openOutbox({ dir, clock, onWarning: () => undefined });
      const seen: Job[] = [];
      outbox.run((job, c) => { seen.push(job); return decide(job, c); });
      await outbox.idle();
      await outbox.close();
      return seen;
    }

    it('writes one durable start record before the promise resolves, none for runs that never call it', T, async () => {
      const ctx = await setup();
      const { id } = await ctx.outbox.enqueue({ key: 'a', group: 'g', payload: 1 });
      await ctx.outbox.enqueue({ key: 'b', group: 'g', payload: 2 });
      const onDisk: Array<Array<{ t: string; id?: string }>> = [];
      const appendsBefore = ctx.outbox.stats().appends;
      let release!: () => void;
      const held = new Promise<void>((r) => { release = r; });
      const w = work(ctx.outbox, async (job, c) => {
        if (job.key !== 'a') { await held; return { outcome: 'done' }; }
        onDisk.push(records(ctx.dir).filter((r) => r.t === 'start'));
        await c.markStarted();
        onDisk.push(records(ctx.dir).filter((r) => r.t === 'start'));
        await c.markStarted(); // idempotent within a run
        return { outcome: 'done' };
      }, 3);
      while (onDisk.length < 2) await new Promise((r) => setImmediate(r));
      release();
      await ctx.outbox.idle();
      assert.deepEqual(w.seen.map((j) => j.key).sort(), ['a', 'b'], 'a marker does not put a running job back in the queue (concurrency 3)');
      assert.deepEqual(onDisk[0], []);
      assert.deepEqual(onDisk[1]?.map((r) => r.id), [id], 'on disk (fsync durability) when markStarted resolved');
      assert.deepEqual(records(ctx.dir).map((r) => r.t), ['enq', 'enq', 'start', 'ack', 'ack']);
      assert.equal(ctx.outbox.stats().appends - appendsBefore, 3, 'one start, two acks: nothing for the run that did not call it');
      const after = await ctx.reopen();
      assert.equal(after.stats().done, 2);
    });

    it('a run killed between markStarted and its outcome leaves the job in doubt (counted across repeats); an outcome after a new marker clears it', T, async () => {
      const ctx = await setup();
      const { id } = await ctx.outbox.enqueue({ key: 'k', group: 'g', payload: 1 });
      // Run 1: marker written, then the process "dies" (we copy the journal at that instant).
      let image1 = '';
      work(ctx.outbox, async (_job, c) => { await c.markStarted(); image1 = await crashImage(ctx.dir); return { outcome: 'done' }; });
      await ctx.outbox.idle();
      // Run 2, on the crash image: in doubt once; it marks again and dies again.
      let image2 = '';
      const run2 = await runOnce(image1, ctx.clock, async (_job, c) => { await c.markStarted(); image2 = await crashImage(image1); return { outcome: 'done' }; });
      assert.deepEqual(run2.map((j) => [j.id, j.inDoubt, j.inDoubtCount, j.attempts]), [[id, true, 1, 0]]);
      // Run 3: in doubt twice. It does NOT mark (e.g. a fetch before the effect failed): the doubt stays.
      const later = () => ctx.clock.now() + 1000;
      const run3 = await runOnce(image2, ctx.clock, () => ({ outcome: 'retry', reason: 'sentry 503', at: later() }));
      assert.deepEqual(run3.map((j) => [j.inDoubt, j.inDoubtCount]), [[true, 2]]);
      // Run 4: still in doubt twice (the retry record carried it), marks, fails: the doubt is settled.
      ctx.clock.advance(1000);
      const run4 = await runOnce(image2, ctx.clock, async (_job, c) => { await c.markStarted(); return { outcome: 'retry', reason: 'pushover 500', at: later() }; });
      assert.deepEqual(run4.map((j) => [j.inDoubt, j.inDoubtCount, j.attempts]), [[true, 2, 1]]);
      ctx.clock.advance(1000);
      const run5 = await runOnce(image2, ctx.clock, () => ({ outcome: 'done' }));
      assert.equal(run5.length, 1);
      assert.equal(run5[0]?.inDoubt, undefined);
      assert.equal(run5[0]?.inDoubtCount, undefined);
      const final = inspectOutbox(image2);
      assert.deepEqual([final.pending, final.done], [0, 1]);
    });

    it('a run stopped after markStarted is in doubt in the same process and after a reopen; a dead letter keeps the doubt until replayed', T, async () => {
      const ctx = await setup();
      await ctx.outbox.enqueue({ key: 'k', group: 'g', payload: 1 });
      let marked!: () => void;
      const isMarked = new Promise<void>((r) => { marked = r; });
      ctx.outbox.run(async (_job, c) => {
        await c.markStarted();
        marked();
        await untilAborted(c.signal);
        return { outcome: 'done' };
      });
      await isMarked;
      await ctx.outbox.stop();
      // Same process: the requeued job is in doubt (what a reopen would see).
      const seen: Job[] = [];
      ctx.outbox.run((job) => { seen.push(job); return { outcome: 'dead', reason: 'not resent: in doubt' }; });
      await ctx.outbox.idle();
      assert.deepEqual(seen.map((j) => [j.inDoubt, j.inDoubtCount, j.attempts]), [[true, 1, 0]]);
      // Dead without a marker of its own: the dead letter still says it is in doubt, across a reopen.
      const outbox = await ctx.reopen();
      const [dead] = outbox.deadLetters();
      assert.deepEqual([dead?.inDoubt, dead?.inDoubtCount, dead?.lastError], [true, 1, 'not resent: in doubt']);
      assert.equal(inspectOutbox(ctx.dir).deadLetters[0]?.inDoubt, true);
      // A replay is the operator's decision to send: no longer in doubt.
      assert.equal(await outbox.replay('all'), 1);
      const again = work(outbox);
      await outbox.idle();
      assert.deepEqual(again.seen.map((j) => [j.inDoubt, j.attempts]), [[undefined, 0]]);
    });

    it('survives compaction: a job in doubt, and a marker of a run in flight at the compaction', T, async () => {
      const ctx = await setup();
      await ctx.outbox.enqueue({ key: 'doubt', group: 'g', payload: 1 });
      await ctx.outbox.enqueue({ key: 'live', group: 'g', payload: 2 });
      // Make 'doubt' in doubt: marker, then stop.
      ctx.outbox.run(async (job, c) => {
        if (job.key !== 'doubt') return new Promise(() => undefined); // never reached: concurrency 1, stopped first
        await c.markStarted();
        await untilAborted(c.signal);
        return { outcome: 'done' };
      });
      while (!records(ctx.dir).some((r) => r.t === 'start')) await new Promise((r) => setImmediate(r));
      await ctx.outbox.stop();
      let outbox = await ctx.reopen();
      // 'doubt' is in doubt; 'live' runs, marks, and a compaction happens while it is in flight; then it dies.
      let image = '';
      outbox.run(async (job, c) => {
        if (job.key === 'doubt') return { outcome: 'retry', reason: 'later', at: ctx.clock.now() + 60_000 }; // no marker: doubt kept
        await c.markStarted();
        await outbox.compact();
        image = await crashImage(ctx.dir);
        return { outcome: 'done' };
      }, { concurrency: 1 });
      await outbox.idle();
      assert.equal(outbox.stats().compactions, 1);
      const types = records(image).map((r) => r.t);
      assert.ok(!types.includes('start') && !types.includes('enq'), `compacted: ${types.join(',')}`);
      outbox = await openOutbox({ dir: image, clock: ctx.clock });
      cleanups.push(() => outbox.close());
      ctx.clock.advance(60_000);
      const seen = work(outbox).seen;
      await outbox.idle();
      assert.deepEqual(seen.map((j) => [j.key, j.inDoubt, j.inDoubtCount]).sort(), [['doubt', true, 1], ['live', true, 1]]);
    });

    it('an outcome can put its own run in doubt (answer lost): the next run sees it, a dead letter shows it, across a reopen', T, async () => {
      const ctx = await setup();
      await ctx.outbox.enqueue({ key: 'lost', group: 'g', payload: 1 });
      await ctx.outbox.enqueue({ key: 'gone', group: 'g', payload: 2 });
      const at = ctx.clock.now() + 1000;
      const first = work(ctx.outbox, async (job, c) => {
        await c.markStarted();
        return job.key === 'lost'
          ? { outcome: 'retry', reason: 'pushover timeout', at, inDoubt: true }
          : { outcome: 'dead', reason: 'answer lost; not resent', inDoubt: true };
      });
      await ctx.outbox.idle();
      assert.deepEqual(first.seen.map((j) => [j.key, j.inDoubt]), [['lost', undefined], ['gone', undefined]]);
      const outbox = await ctx.reopen();
      assert.deepEqual(outbox.deadLetters().map((d) => [d.key, d.inDoubt, d.inDoubtCount]), [['gone', true, 1]]);
      ctx.clock.advance(1000);
      const second = work(outbox, async (_job, c) => { await c.markStarted(); return { outcome: 'done' }; });
      await outbox.idle();
      assert.deepEqual(second.seen.map((j) => [j.key, j.inDoubt, j.inDoubtCount, j.attempts]), [['lost', true, 1, 1]]);
      // Its outcome, after a marker of its own, settles the doubt.
      assert.deepEqual([outbox.stats().done, outbox.stats().pending], [1, 0]);
    });

    it('loads journals written before start records existed, with nothing in doubt', T, async () => {
      const ctx = await setup();
      await ctx.outbox.close();
      const old = [
        { t: 'enq', id: 'a', key: 'ka', group: 'g', payload: 1, at: 0 },
        { t: 'enq', id: 'b', key: 'kb', group: 'g', payload: 2, at: 0 },
        { t: 'retry', id: 'a', attempts: 1, due: 0, error: '500' },
        { t: 'meta', v: 1, done: 3, dropped: 0 },
        { t: 'job', id: 'c', key: 'kc', group: 'g', payload: 3, enqueuedAt: 0, due: 0, attempts: 2, status: 'dead', deadAt: 5, lastError: 'bad' },
        { t: 'dead', id: 'b', attempts: 1, error: '400', at: 1 },
      ];
      writeFileSync(join(ctx.dir, JOURNAL_FILE), old.map(encodeRecord).join(''));
      const outbox = await ctx.reopen();
      assert.deepEqual(outbox.deadLetters().map((d) => [d.id, d.inDoubt]), [['b', undefined], ['c', undefined]]);
      const w = work(outbox);
      await outbox.idle();
      assert.deepEqual(w.seen.map((j) => [j.id, j.attempts, j.inDoubt, 'inDoubtCount' in j]), [['a', 1, undefined, false]]);
    });

    it('rejects markStarted after the run has ended', T, async () => {
      const ctx = await setup();
      await ctx.outbox.enqueue({ key: 'k', group: 'g', payload: 1 });
      let late: (() => Promise<void>) | undefined;
      work(ctx.outbox, (_job, c) => { late = c.markStarted; return { outcome: 'done' }; });
      await ctx.outbox.idle();
      await assert.rejects(late!(), /after the run ended/);
      assert.ok(!records(ctx.dir).some((r) => r.t === 'start'));
    });
  });

  it('rejects bad input and use after close clearly', T, async () => {
    const ctx = await setup();
    await assert.rejects(ctx.outbox.enqueue({ key: '', group: 'g', payload: 1 }), /key must be/);
    await assert.rejects(ctx.outbox.enqueue({ key: 'k', group: '', payload: 1 }), /group must be/);
    await assert.rejects(ctx.outbox.enqueue({ key: 'k', group: 'g', payload: 1n }), TypeError);
    await assert.rejects(openOutbox({ dir: join(ctx.dir, 'x'), retry: { jitter: 5 } }), RangeError);
    assert.throws(() => ctx.outbox.run(() => ({ outcome: 'done' }), { concurrency: 0 }), RangeError);
    await ctx.outbox.close();
    await assert.rejects(ctx.outbox.enqueue({ key: 'k', group: 'g', payload: 1 }), /closed/);
  });
});
