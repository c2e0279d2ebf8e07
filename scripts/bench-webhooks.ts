/**
 * Webhook ack benchmark: a bounded closed-loop load of signed `issue.created` webhooks (loopback
 * only, bounded in count and time) against (1) a bare `node:http` server answering 200, (2) the floor —
 * the least a durable ack path can do (verify, parse, O_DSYNC group-commit write; `bench-floor.ts`) —
 * and (3) our server with the durable outbox, in the same run. Prints requests/s and p50/p99 ack latency
 * for each and the ratios. Target: ours ≥ 0.5× the bare throughput, p99 < 50 ms. floor/bare is what
 * this machine gives a durable ack with nothing else; ours/floor is what our server's features cost.
 *
 * Usage: node --import tsx scripts/bench-webhooks.ts [--requests 3000] [--concurrency 16,64,128] [--rounds 3] [--seconds 20] [--warmup 15000] [--durability fsync|none]
 *        (exit 1 when a target is missed)
 *        deno run -A scripts/bench-webhooks.ts …
 *
 * @example
 * // node --import tsx scripts/bench-webhooks.ts --concurrency 64 --rounds 5
 * // (prints bare, floor and ours req/s, p50/p99 per concurrency level, the ratios and OK/MISSED)
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { spawnBenchServer, type BenchServer, type BenchServerStats } from '../src/pipeline/bench-server.ts';
import { closedLoop, type LoadResult } from '../src/pipeline/load.ts';
import { issueData, signedWebhook, type SignedDelivery } from '../src/pipeline/testing.ts';
import { tempDir } from '../src/testing/runtime.ts';

function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  const value = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

/** One measured run: the load result plus CPU the server (child) and the driver (this process) spent. */
interface Run {
  load: LoadResult;
  /** Server CPU per request, µs. */
  serverUsPerReq: number;
  /** Driver CPU as a share of one core over the run. */
  driverCore: number;
  /**
   * Share of the run the server's main thread was busy (Node only): near 100 % the server is bound by its
   * one event loop, and only less work per request raises its throughput.
   */
  serverLoop?: number;
}

function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Medians over rounds of each figure (and the worst max). */
function summarize(runs: Run[]) {
  return {
    rps: medianOf(runs.map((r) => r.load.rps)),
    p50: medianOf(runs.map((r) => r.load.p50Ms)),
    p99: medianOf(runs.map((r) => r.load.p99Ms)),
    worstP99: Math.max(...runs.map((r) => r.load.p99Ms)),
    max: Math.max(...runs.map((r) => r.load.maxMs)),
    serverUs: medianOf(runs.map((r) => r.serverUsPerReq)),
    driverCore: medianOf(runs.map((r) => r.driverCore)),
    serverLoop: runs.every((r) => r.serverLoop !== undefined) ? medianOf(runs.map((r) => r.serverLoop!)) : undefined,
    sent: runs.reduce((n, r) => n + r.load.sent, 0),
    failed: runs.reduce((n, r) => n + r.load.sent - r.load.acked.length, 0),
    statuses: runs.map((r) => r.load.statuses),
  };
}

function line(name: string, s: ReturnType<typeof summarize>): string {
  return `${name.padEnd(5)} ${s.rps.toFixed(0).padStart(7)} req/s  p50 ${s.p50.toFixed(2)} ms  p99 ${s.p99.toFixed(2)} ms ` +
    `(worst ${s.worstP99.toFixed(1)})  max ${s.max.toFixed(1)} ms  server CPU ${s.serverUs.toFixed(0)} µs/req` +
    (s.serverLoop !== undefined ? `, loop ${(s.serverLoop * 100).toFixed(0)}% busy` : '') + `  driver ${(s.driverCore * 100).toFixed(0)}% core` +
    (s.failed ? `  (${s.failed} of ${s.sent} not 2xx: ${JSON.stringify(s.statuses)})` : '');
}

/** Runs the benchmark and prints the report; returns the process exit status. */
export async function main(args: string[]): Promise<number> {
  const requests = flag(args, 'requests', 3000);
  const seconds = flag(args, 'seconds', 20);
  const rounds = flag(args, 'rounds', 3);
  const ci = args.indexOf('--concurrency');
  const levels = (ci >= 0 ? String(args[ci + 1]) : '16,64,128').split(',').map(Number);
  if (levels.some((c) => !Number.isInteger(c) || c < 1 || c > 256)) throw new Error('--concurrency must be a comma list of integers 1..256');
  // Ours keeps getting cheaper for its first ~15 000 requests (server CPU per request at 64 connections,
  // rounds of 4000: 179, 140, 102, 100, 86, 81, 82, 82 µs — JIT tiers and V8 growing its young generation),
  // bare for far fewer: both are warmed with the same count before the first level, so the rounds
  // compare steady states (later levels are warm already).
  const warmup = flag(args, 'warmup', 15_000);
  const di = args.indexOf('--durability');
  const durability = di >= 0 ? args[di + 1] : 'fsync';
  if (durability !== 'fsync' && durability !== 'none') throw new Error('--durability must be fsync or none');
  const secret = randomBytes(32).toString('hex');
  const installationId = randomUUID();
  const dir = await tempDir('sik-bench-webhooks-logs-');
  const servers: BenchServer[] = [];
  let seq = 0;
  // Deliveries are built and signed before the clock starts, so the driver only sends bytes.
  const deliveries = (count: number): SignedDelivery[] => Array.from({ length: count }, () => {
    const id = String(1_000_000 + seq++); // every delivery a new issue: nothing is deduped away
    return signedWebhook({
      secret, installationId, resource: 'issue', action: 'created',
      data: { issue: issueData({ id, org: 'bench-org' }) },
    });
  });
  const run = async (server: BenchServer, count: number, concurrency: number): Promise<Run> => {
    const batch = deliveries(count);
    const before: BenchServerStats = await server.stats();
    const cpu0 = process.cpuUsage();
    const load = await closedLoop({ url: server.url, concurrency, maxRequests: count, maxMs: seconds * 1000, next: (i) => batch[i]! });
    const cpu = process.cpuUsage(cpu0);
    const after = await server.stats();
    return {
      load,
      serverUsPerReq: ((after.cpuMs - before.cpuMs) * 1000) / Math.max(1, load.sent),
      driverCore: (cpu.user + cpu.system) / 1000 / load.durationMs,
      ...(after.loopBusyMs !== undefined && before.loopBusyMs !== undefined
        ? { serverLoop: (after.loopBusyMs - before.loopBusyMs) / load.durationMs } : {}),
    };
  };
  let allOk = true;
  try {
    const [bare, floor, ours] = await Promise.all([
      spawnBenchServer('bare'),
      spawnBenchServer('floor', { durability, secret }),
      spawnBenchServer('ours', { durability, secret, installationId, logFile: join(dir.path, 'ours.log') }),
    ]);
    servers.push(bare, floor, ours);
    console.log(`bench-webhooks: ${requests} signed issue.created webhooks per run, ${rounds} rounds rotating bare/floor/ours, medians; ` +
      `each server in its own child process, driver in this one; loopback; outbox durability ${durability}, worker off, ours logging at info to a file`);
    for (const [level, concurrency] of levels.entries()) {
      // Warm both (JIT, heap, journal file) before measuring; a shorter top-up at later levels.
      const count = level === 0 ? warmup : Math.min(warmup, requests);
      const targets = [bare, floor, ours];
      for (const target of targets) await run(target, count, concurrency);
      const runs = new Map<BenchServer, Run[]>(targets.map((target) => [target, []]));
      for (let round = 0; round < rounds; round++) {
        // Rotate the order too, so no target always runs right after the same other one.
        for (let k = 0; k < targets.length; k++) {
          const target = targets[(round + k) % targets.length]!;
          runs.get(target)!.push(await run(target, requests, concurrency));
        }
      }
      const b = summarize(runs.get(bare)!);
      const f = summarize(runs.get(floor)!);
      const o = summarize(runs.get(ours)!);
      const ratio = o.rps / b.rps;
      const ok = ratio >= 0.5 && o.p99 < 50 && o.failed === 0;
      allOk &&= ok;
      console.log(`concurrency ${concurrency}`);
      console.log(`  ${line('bare', b)}`);
      console.log(`  ${line('floor', f)}`);
      console.log(`  ${line('ours', o)}`);
      console.log(`  ratio (ours/bare) ${ratio.toFixed(2)} (target ≥ 0.50); ours p99 ${o.p99.toFixed(1)} ms (target < 50 ms) → ${ok ? 'OK' : 'MISSED'}`);
      console.log(`  floor/bare ${(f.rps / b.rps).toFixed(2)} (a durable ack and nothing else, on this machine), ours/floor ${(o.rps / f.rps).toFixed(2)} (what our server's features cost)`);
      // Driver-independent: when the driver saturates its core (bare usually does), bare's req/s is a floor
      // and the ratio above flatters ours; server CPU per request compares the two servers directly.
      console.log(`  server CPU per request ours/bare ${(o.serverUs / b.serverUs).toFixed(1)}×` +
        (b.driverCore > 0.9 ? ` (bare is driver-bound: driver at ${(b.driverCore * 100).toFixed(0)}% of a core, so its req/s is a floor)` : ''));
    }
    const stats = (await ours.stats()).outbox;
    if (stats) console.log(`outbox: ${stats.appends} appends in ${stats.fsyncs} fsyncs (group commit ${(stats.appends / Math.max(1, stats.fsyncs)).toFixed(1)} per fsync)`);
    return allOk ? 0 : 1;
  } finally {
    await Promise.all(servers.map((s) => s.close()));
    await dir.remove();
  }
}

const isMain = import.meta.url === `file://${process.argv[1]}` || (import.meta as { main?: boolean }).main === true;
if (isMain) process.exitCode = await main(process.argv.slice(2));
