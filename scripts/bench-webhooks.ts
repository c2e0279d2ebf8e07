/**
 * Webhook ack benchmark: a bounded closed-loop load of signed `issue.created` webhooks (loopback
 * only, bounded in count and time) against (1) a bare `node:http` server answering 200 and (2) our
 * server with the durable outbox, in the same run. Prints requests/s and p50/p99 ack latency for both
 * and their ratio. Target: ours ≥ 0.5× the bare throughput, p99 < 50 ms.
 *
 * Usage: node --import tsx scripts/bench-webhooks.ts [--requests 3000] [--concurrency 16,64] [--rounds 3] [--seconds 20] [--durability fsync|none]
 *        (exit 1 when a target is missed)
 *        deno run -A scripts/bench-webhooks.ts …
 *
 * @example
 * // node --import tsx scripts/bench-webhooks.ts --concurrency 64 --rounds 5
 * // (prints bare and ours req/s, p50/p99 per concurrency level, their ratio and OK/MISSED)
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closedLoop, type LoadResult } from '../src/pipeline/load.ts';
import { startBenchTarget } from '../src/pipeline/bench-target.ts';
import { issueData, signedWebhook } from '../src/pipeline/testing.ts';

/** A bare node:http server that drains the body and answers 200: the baseline. */
export async function startBareServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 11 });
      res.end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhook`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}

function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  const value = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

function line(name: string, r: LoadResult): string {
  const failed = r.sent - r.acked.length;
  return `${name.padEnd(5)} ${String(r.sent).padStart(6)} req  ${r.rps.toFixed(0).padStart(7)} req/s  ` +
    `p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  max ${r.maxMs.toFixed(1)} ms` +
    (failed ? `  (${failed} not 2xx: ${JSON.stringify(r.statuses)})` : '');
}

/** The run with the median throughput. */
function median(results: LoadResult[]): LoadResult {
  return [...results].sort((a, b) => a.rps - b.rps)[Math.floor(results.length / 2)]!;
}

/** Runs the benchmark and prints the report; returns the process exit status. */
export async function main(args: string[]): Promise<number> {
  const requests = flag(args, 'requests', 3000);
  const seconds = flag(args, 'seconds', 20);
  const rounds = flag(args, 'rounds', 3);
  const ci = args.indexOf('--concurrency');
  const levels = (ci >= 0 ? String(args[ci + 1]) : '16,64').split(',').map(Number);
  if (levels.some((c) => !Number.isInteger(c) || c < 1 || c > 256)) throw new Error('--concurrency must be a comma list of integers 1..256');
  const warmup = Math.min(300, Math.ceil(requests / 10));
  const di = args.indexOf('--durability');
  const durability = di >= 0 ? args[di + 1] : 'fsync';
  if (durability !== 'fsync' && durability !== 'none') throw new Error('--durability must be fsync or none');
  const target = await startBenchTarget({ durability });
  const bare = await startBareServer();
  let seq = 0;
  const next = () => {
    const id = String(1_000_000 + seq++); // every delivery a new issue: nothing is deduped away
    return signedWebhook({
      secret: target.secret, installationId: target.installationId, resource: 'issue', action: 'created',
      data: { issue: issueData({ id, org: target.orgSlug }) },
    });
  };
  const run = (url: string, count: number, concurrency: number) =>
    closedLoop({ url, concurrency, maxRequests: count, maxMs: seconds * 1000, next });
  let allOk = true;
  try {
    console.log(`bench-webhooks: ${requests} signed issue.created webhooks per run, median of ${rounds} alternating rounds, loopback, outbox durability ${durability}, worker off`);
    for (const concurrency of levels) {
      // Warm both (JIT, connections, journal file) before measuring, then measure back to back.
      await run(bare.url, warmup, concurrency);
      await run(target.url, warmup, concurrency);
      // Rounds alternate bare/ours so both see the same machine noise; the median round is reported.
      const bares: LoadResult[] = [];
      const ours: LoadResult[] = [];
      for (let round = 0; round < rounds; round++) {
        bares.push(await run(bare.url, requests, concurrency));
        ours.push(await run(target.url, requests, concurrency));
      }
      const bareResult = median(bares);
      const oursResult = median(ours);
      const ratio = oursResult.rps / bareResult.rps;
      const ok = ratio >= 0.5 && oursResult.p99Ms < 50 && oursResult.acked.length === oursResult.sent;
      allOk &&= ok;
      console.log(`concurrency ${concurrency}`);
      console.log(`  ${line('bare', bareResult)}`);
      console.log(`  ${line('ours', oursResult)}`);
      console.log(`  ratio (ours/bare) ${ratio.toFixed(2)} (target ≥ 0.50); ours p99 ${oursResult.p99Ms.toFixed(1)} ms (target < 50 ms) → ${ok ? 'OK' : 'MISSED'}`);
    }
    const stats = target.stats();
    console.log(`outbox: ${stats.appends} appends in ${stats.fsyncs} fsyncs (group commit ${(stats.appends / Math.max(1, stats.fsyncs)).toFixed(1)} per fsync)`);
    return allOk ? 0 : 1;
  } finally {
    await bare.close();
    await target.close();
  }
}

const isMain = import.meta.url === `file://${process.argv[1]}` || (import.meta as { main?: boolean }).main === true;
if (isMain) process.exitCode = await main(process.argv.slice(2));
