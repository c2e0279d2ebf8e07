/**
 * Outbox enqueue throughput and latency, three ways in the same run:
 *   group   durable, group commit (the default: one write + fsync per batch of concurrent enqueues)
 *   single  durable, one fsync per job (maxBatch 1): the baseline group commit must beat
 *   nofsync no fsync at all: the ceiling (survives a process crash, not power loss)
 *
 * Closed loop: C producers each enqueue, await durability, enqueue again, until N jobs or S seconds per mode.
 * The modes run interleaved for R rounds and the median round is reported (the disk is shared and noisy).
 *
 * Usage: node --import tsx scripts/bench-outbox.ts [--jobs N] [--concurrency C] [--seconds S] [--rounds R] [--dir DIR]
 * --dir picks the disk (default: the system temp dir); fsync cost is a property of the disk, so say which.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type OutboxOptions, openOutbox } from '../src/outbox/outbox.ts';

const args = process.argv.slice(2);
function option(name: string, fallback: number): number {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number`);
  return v;
}
const jobs = option('--jobs', 4000);
const concurrency = option('--concurrency', 64);
const seconds = option('--seconds', 3);
const rounds = option('--rounds', 3);
const base = args.includes('--dir') ? args[args.indexOf('--dir') + 1]! : tmpdir();

interface Result { mode: string; jobs: number; perSec: number; p50: number; p99: number; fsyncs: number }

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

async function measure(mode: string, options: Partial<OutboxOptions>): Promise<Result> {
  const root = mkdtempSync(join(base, 'sik-bench-outbox-'));
  const outbox = await openOutbox({ dir: join(root, 'outbox'), ...options });
  const payload = { installationId: '7d8e1c1a-0b7a-4b55-9a4e-3f1f5e2b9c10', action: 'created', issueId: '0', title: 'TypeError: x is undefined'.repeat(4) };
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const fsyncsBefore = outbox.stats().fsyncs;
  async function producer(): Promise<void> {
    while (next < jobs && performance.now() < deadline) {
      const n = next++;
      const t0 = performance.now();
      await outbox.enqueue({ key: `${mode}:${n}`, group: `g${n % 50}`, payload: { ...payload, issueId: String(n) } });
      latencies.push(performance.now() - t0);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, producer));
  const elapsed = (performance.now() - started) / 1000;
  const fsyncs = outbox.stats().fsyncs - fsyncsBefore;
  await outbox.close();
  rmSync(root, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  return { mode, jobs: latencies.length, perSec: latencies.length / elapsed, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), fsyncs };
}

console.log(`outbox enqueue benchmark: ${jobs} jobs or ${seconds} s per mode, ${concurrency} concurrent producers, ` +
  `median of ${rounds} interleaved rounds, dir ${base}`);
await measure('warmup', { durability: 'none' });
const modes: Array<[string, Partial<OutboxOptions>]> = [['group', {}], ['single', { maxBatch: 1 }], ['nofsync', { durability: 'none' }]];
const runs = new Map<string, Result[]>(modes.map(([m]) => [m, []]));
for (let r = 0; r < rounds; r++) for (const [mode, options] of modes) runs.get(mode)!.push(await measure(mode, options));
const median = (mode: string): Result => {
  const sorted = [...runs.get(mode)!].sort((a, b) => a.perSec - b.perSec);
  return sorted[Math.floor(sorted.length / 2)]!;
};
const [group, single, nofsync] = modes.map(([m]) => median(m)) as [Result, Result, Result];
for (const r of [group, single, nofsync]) {
  console.log(`${r.mode.padEnd(8)} ${r.jobs.toString().padStart(6)} jobs  ${r.perSec.toFixed(0).padStart(7)} jobs/s  ` +
    `p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  fsyncs ${r.fsyncs}${r.fsyncs > 0 ? ` (${(r.jobs / r.fsyncs).toFixed(1)} jobs/fsync)` : ''}  ` +
    `[rounds: ${runs.get(r.mode)!.map((x) => x.perSec.toFixed(0)).join(', ')} jobs/s]`);
}
console.log(`ratio group / single (one fsync per job): ${(group.perSec / single.perSec).toFixed(2)}x`);
console.log(`ratio group / nofsync (ceiling):          ${(group.perSec / nofsync.perSec).toFixed(2)}x`);
