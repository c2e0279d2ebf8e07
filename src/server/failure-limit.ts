/**
 * A sliding-window count of failures per key. /setup uses it per client address for failed code
 * exchanges: every /setup with a well-formed code costs a call to Sentry's token endpoint made with
 * the client secret, so without a bound anyone could make this server hammer Sentry (and risk the
 * app's rate limits) with made-up codes. A real install fails its exchange rarely (a reload after
 * success is answered from the store, not by Sentry), so the bound only touches guessing.
 *
 * @example
 * const limiter = createFailureLimiter({ limit: 20, windowMs: 600_000, clock });
 * if (limiter.retryAfterMs(address) > 0) return tooMany();
 * // … on a refused code:
 * limiter.fail(address);
 */
import type { Clock } from '../clock.ts';

/** Failures per key within a window. */
export interface FailureLimiter {
  /** Milliseconds until `key` may try again: 0 while it has failed fewer than `limit` times in the window. */
  retryAfterMs(key: string): number;
  /** Records one failure of `key`. */
  fail(key: string): void;
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
  // Per key, the times of its last `limit` failures, oldest first.
  const failures = new Map<string, number[]>();
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
      return times.length < limit ? 0 : times[times.length - limit]! + windowMs - now;
    },
    fail(key) {
      if (limit <= 0) return;
      const now = clock.now();
      const times = recent(key, now);
      times.push(now);
      // Re-inserted last: the Map's order is then least recently failed first, which is what goes.
      failures.delete(key);
      failures.set(key, times.slice(-limit));
      while (failures.size > maxKeys) failures.delete(failures.keys().next().value!);
    },
  };
}
