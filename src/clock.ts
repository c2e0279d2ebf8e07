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

/**
 * Real time plus an offset: the emulator's clock (tests skip hours at once). The offset only grows
 * through `advance`; `setOffset` exists for the one caller that must briefly return to real time
 * (the conformance harness, whose JWT-grant cases carry the implementation's own real-time `iat`).
 */
export interface OffsetClock extends Clock {
  /** Adds `ms` (finite, ≥ 0) to the offset. */
  advance(ms: number): void;
  /** Total milliseconds added so far. */
  offset(): number;
  /** Puts the offset at `ms` (finite, ≥ 0); `setOffset(0)` is real time again. */
  setOffset(ms: number): void;
}

/**
 * Creates a clock that follows `base` plus whatever has been added with `advance`.
 *
 * @example
 * const clock = offsetClock();
 * clock.advance(8 * 3600_000); // tokens issued now look expired
 * clock.setOffset(0);          // back to real time
 */
export function offsetClock(base: Clock = systemClock): OffsetClock {
  let added = 0;
  return {
    now: () => base.now() + added,
    advance(ms) { added += nonNegative(ms, 'clock can only move forward'); },
    offset: () => added,
    setOffset(ms) { added = nonNegative(ms, 'clock offset must be finite and ≥ 0'); },
  };
}

function nonNegative(ms: number, message: string): number {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`${message}, got ${ms}`);
  return ms;
}
