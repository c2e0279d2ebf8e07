/**
 * Time as a parameter. Every module that reads the time takes a `Clock`, so tests (and the
 * emulator's "advance 8 hours" button) control it exactly and never sleep.
 *
 * @example
 * const clock = manualClock(Date.parse('2026-01-01T00:00:00Z'));
 * clock.advance(8 * 3600_000);
 */
export interface Clock {
  /** Milliseconds since the Unix epoch, like `Date.now()`. */
  now(): number;
}

/** The real wall clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to. */
export interface ManualClock extends Clock {
  advance(ms: number): void;
  set(ms: number): void;
}

/** Creates a clock that starts at `startMs` and moves only on `advance`/`set`. */
export function manualClock(startMs = Date.parse('2026-01-01T00:00:00.000Z')): ManualClock {
  let current = startMs;
  return {
    now: () => current,
    advance(ms) { current += ms; },
    set(ms) { current = ms; },
  };
}

/** Real time plus an offset that can only grow: the emulator's clock (tests skip hours at once). */
export interface OffsetClock extends Clock {
  advance(ms: number): void;
  /** Total milliseconds added so far. */
  offset(): number;
}

/** Creates a clock that follows `base` plus whatever has been added with `advance`. */
export function offsetClock(base: Clock = systemClock): OffsetClock {
  let added = 0;
  return {
    now: () => base.now() + added,
    advance(ms) {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`clock can only move forward, got ${ms}`);
      added += ms;
    },
    offset: () => added,
  };
}
