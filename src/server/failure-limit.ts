/**
 * A sliding-window count of failures per key. /setup uses it per client address for failed code
 * exchanges: every /setup with a well-formed code costs a call to Sentry's token endpoint made with
 * the client secret, so without a bound anyone could make this server hammer Sentry (and risk the
 * app's rate limits) with made-up codes. A real install fails its exchange rarely (a reload after
 * success is answered from the store, not by Sentry), so the bound only touches guessing.
 *
 * Attempts still running count too: otherwise requests sent together would all pass the check before
 * the first failure is counted.
 *
 * @example
 * const limiter = createFailureLimiter({ limit: 20, windowMs: 600_000, clock });
 * if (limiter.retryAfterMs(address) > 0) return tooMany();
 * const settle = limiter.begin(address);
 * try { await exchange(); settle(false); } catch (error) { settle(isRefusedCode(error)); throw error; }
 */
import type { Clock } from '../clock.ts';

/** Milliseconds a key waits while only its running attempts fill its limit (they settle within seconds). */
export const BUSY_RETRY_MS = 1_000;

/** Failures per key within a window. */
export interface FailureLimiter {
  /**
   * Milliseconds until `key` may try again: 0 while its failures in the window plus its running
   * attempts are fewer than `limit`; never more than the window.
   */
  retryAfterMs(key: string): number;
  /** Starts an attempt of `key`; call the returned function once, with whether it failed. */
  begin(key: string): (failed: boolean) => void;
}

/** Options of {@link createFailureLimiter}. */
export interface FailureLimiterOptions {
  /** Failures allowed per key within the window; 0 turns the limiter off. */
  limit: number;
  windowMs: number;
  clock: Clock;
  /** Keys remembered at most (the oldest is forgotten first), so many addresses cannot grow memory. */
  maxKeys?: number;
}

/**
 * Creates a limiter.
 *
 * @example
 * createFailureLimiter({ limit: 0, windowMs: 1, clock }).retryAfterMs('x'); // 0: off
 */
export function createFailureLimiter(options: FailureLimiterOptions): FailureLimiter {
  const { limit, windowMs, clock } = options;
  const maxKeys = options.maxKeys ?? 10_000;
  // Per key, the times of its last `limit` failures, oldest first; and its attempts still running.
  const failures = new Map<string, number[]>();
  const running = new Map<string, number>();
  const recent = (key: string, now: number): number[] => {
    const times = (failures.get(key) ?? []).filter((at) => now - at < windowMs);
    if (times.length) failures.set(key, times);
    else failures.delete(key);
    return times;
  };
  return {
    retryAfterMs(key) {
      if (limit <= 0) return 0;
      const now = clock.now();
      const times = recent(key, now);
      // Clamped: a wall clock stepped backwards must not stretch the wait past the window.
      if (times.length >= limit) return Math.min(windowMs, Math.max(1, times[times.length - limit]! + windowMs - now));
      return times.length + (running.get(key) ?? 0) >= limit ? BUSY_RETRY_MS : 0;
    },
    begin(key) {
      if (limit <= 0) return () => {};
      running.set(key, (running.get(key) ?? 0) + 1);
      let settled = false;
      return (failed) => {
        if (settled) return;
        settled = true;
        const left = running.get(key)! - 1;
        if (left > 0) running.set(key, left);
        else running.delete(key);
        if (!failed) return;
        const now = clock.now();
        const times = recent(key, now);
        times.push(now);
        // Re-inserted last: the Map's order is then least recently failed first, which is what goes.
        failures.delete(key);
        failures.set(key, times.slice(-limit));
        while (failures.size > maxKeys) failures.delete(failures.keys().next().value!);
      };
    },
  };
}
