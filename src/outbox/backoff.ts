/** How failed jobs are retried: exponential backoff with jitter, bounded in delay and in attempts. */
export interface RetryPolicy {
  /** Delay after the first failure, and the floor for every delay (jitter never goes below it). */
  minMs: number;
  /** Ceiling for every delay. */
  maxMs: number;
  /** Growth per failed attempt (2 = doubling). */
  factor: number;
  /** 0..1: each delay is scaled by a random factor in [1 - jitter, 1 + jitter], then clamped to [minMs, maxMs]. */
  jitter: number;
  /** Failed attempts after which a job becomes a dead letter instead of being retried. */
  maxAttempts: number;
}

/** Defaults: 5 s, 10 s, 20 s … capped at 10 min, ±20 %, dead after 12 failures (≈ 50 min of trying). */
export const DEFAULT_RETRY: RetryPolicy = { minMs: 5_000, maxMs: 600_000, factor: 2, jitter: 0.2, maxAttempts: 12 };

/**
 * Fills in defaults and rejects nonsense early (a NaN delay would spin the worker).
 *
 * @example
 * retryPolicy({ minMs: 10 }) // { minMs: 10, maxMs: 600000, factor: 2, jitter: 0.2, maxAttempts: 12 }
 */
export function retryPolicy(partial: Partial<RetryPolicy> = {}): RetryPolicy {
  const p = { ...DEFAULT_RETRY, ...partial };
  const bad = (what: string): never => { throw new RangeError(`outbox retry.${what}`); };
  if (!Number.isFinite(p.minMs) || p.minMs < 0) bad(`minMs must be ≥ 0, got ${p.minMs}`);
  if (!Number.isFinite(p.maxMs) || p.maxMs < p.minMs) bad(`maxMs must be ≥ minMs, got ${p.maxMs}`);
  if (!Number.isFinite(p.factor) || p.factor < 1) bad(`factor must be ≥ 1, got ${p.factor}`);
  if (!Number.isFinite(p.jitter) || p.jitter < 0 || p.jitter > 1) bad(`jitter must be in [0, 1], got ${p.jitter}`);
  if (!Number.isInteger(p.maxAttempts) || p.maxAttempts < 1) bad(`maxAttempts must be an integer ≥ 1, got ${p.maxAttempts}`);
  return p;
}

/**
 * The delay before the next try after `failures` failed attempts (1 = first failure).
 *
 * @example
 * backoffMs(3, { ...DEFAULT_RETRY, jitter: 0 }, Math.random) // 20000
 */
export function backoffMs(failures: number, policy: RetryPolicy, random: () => number): number {
  const exp = Math.min(policy.maxMs, policy.minMs * Math.pow(policy.factor, Math.max(0, failures - 1)));
  const scaled = exp * (1 - policy.jitter + 2 * policy.jitter * random());
  return Math.round(Math.min(policy.maxMs, Math.max(policy.minMs, scaled)));
}
