/**
 * A bounded closed-loop HTTP load driver: `concurrency` workers each send one request, wait for the
 * answer, send the next, until `maxRequests` were sent or `maxMs` passed. Loopback use only (the
 * benchmark and the crash test). Latency is measured per request from write to full answer.
 *
 * @example
 * const r = await closedLoop({ url, concurrency: 8, maxRequests: 2000, maxMs: 10_000,
 *   next: (i) => signedWebhook({ ... }) });
 * console.log(r.rps, r.p50Ms, r.p99Ms);
 */
import { Pool } from 'undici';
import type { SignedDelivery } from './testing.ts';

/** What a load run measured. */
export interface LoadResult {
  sent: number;
  /** Answers by HTTP status (0 = connection error). */
  statuses: Record<number, number>;
  durationMs: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Indexes (as passed to `next`) of the requests answered 2xx. */
  acked: number[];
}

/** Options for {@link closedLoop}. */
export interface LoadOptions {
  /** Target URL (path included), e.g. `http://127.0.0.1:8080/webhook`. */
  url: string;
  concurrency: number;
  maxRequests: number;
  maxMs: number;
  /** The i-th delivery to send. */
  next(index: number): SignedDelivery;
  /** Per-request timeout; default 5 s. */
  requestTimeoutMs?: number;
  /** Called after each answer (e.g. to kill the server mid-load). */
  onAnswer?(index: number, status: number): void;
}

/** The q-quantile (0..1) of an ascending-sorted list, nearest-rank. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

/** Runs the load; never throws for failed requests (they count as status 0). */
export async function closedLoop(options: LoadOptions): Promise<LoadResult> {
  const target = new URL(options.url);
  if (target.hostname !== '127.0.0.1' && target.hostname !== 'localhost' && target.hostname !== '[::1]') {
    throw new Error(`load driver is loopback-only, got ${target.hostname}`);
  }
  const pool = new Pool(target.origin, { connections: options.concurrency, pipelining: 1 });
  const latencies: number[] = [];
  const statuses: Record<number, number> = {};
  const acked: number[] = [];
  const timeout = options.requestTimeoutMs ?? 5000;
  let index = 0;
  const start = performance.now();
  const deadline = start + options.maxMs;

  async function worker(): Promise<void> {
    while (index < options.maxRequests && performance.now() < deadline) {
      const i = index++;
      const delivery = options.next(i);
      const t0 = performance.now();
      let status = 0;
      try {
        const res = await pool.request({
          path: target.pathname + target.search,
          method: 'POST',
          headers: delivery.headers,
          body: delivery.body,
          headersTimeout: timeout,
          bodyTimeout: timeout,
        });
        await res.body.dump();
        status = res.statusCode;
      } catch {
        status = 0;
      }
      latencies.push(performance.now() - t0);
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status >= 200 && status < 300) acked.push(i);
      options.onAnswer?.(i, status);
    }
  }

  await Promise.all(Array.from({ length: options.concurrency }, () => worker()));
  const durationMs = performance.now() - start;
  await pool.destroy().catch(() => undefined);
  latencies.sort((a, b) => a - b);
  return {
    sent: latencies.length,
    statuses,
    durationMs,
    rps: latencies.length / (durationMs / 1000),
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    maxMs: latencies[latencies.length - 1] ?? 0,
    acked,
  };
}
