import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { manualClock } from '../clock.ts';
import { BUSY_RETRY_MS, createFailureLimiter } from './failure-limit.ts';

describe('failure limiter', () => {
  it('allows `limit` failures per key within the window, then says how long to wait', () => {
    const clock = manualClock();
    const limiter = createFailureLimiter({ limit: 3, windowMs: 60_000, clock });
    for (let i = 0; i < 3; i++) {
      assert.equal(limiter.retryAfterMs('a'), 0, `before failure ${i + 1}`);
      limiter.begin('a')(true);
      clock.advance(10_000);
    }
    // Failures at 0, 10 and 20 s; now 30 s: the first one leaves the window at 60 s.
    assert.equal(limiter.retryAfterMs('a'), 30_000);
    assert.equal(limiter.retryAfterMs('b'), 0, 'another key is not affected');
    clock.advance(29_999);
    assert.equal(limiter.retryAfterMs('a'), 1);
    clock.advance(1);
    assert.equal(limiter.retryAfterMs('a'), 0);
    limiter.begin('a')(true);
    assert.equal(limiter.retryAfterMs('a'), 10_000, 'the failure at 10 s is now the oldest that counts');
  });

  it('attempts still running count against the limit, so a burst cannot pass the check together', () => {
    const clock = manualClock();
    const limiter = createFailureLimiter({ limit: 2, windowMs: 60_000, clock });
    const first = limiter.begin('a');
    assert.equal(limiter.retryAfterMs('a'), 0);
    const second = limiter.begin('a');
    assert.equal(limiter.retryAfterMs('a'), BUSY_RETRY_MS, 'two running fill a limit of 2');
    first(false);
    first(true); // a second call changes nothing
    assert.equal(limiter.retryAfterMs('a'), 0, 'a success frees its place and counts nothing');
    second(true);
    const third = limiter.begin('a');
    assert.equal(limiter.retryAfterMs('a'), BUSY_RETRY_MS, 'one failure and one running');
    third(true);
    assert.equal(limiter.retryAfterMs('a'), 60_000);
  });

  it('a wall clock stepped backwards does not stretch the wait past the window', () => {
    const clock = manualClock();
    const limiter = createFailureLimiter({ limit: 1, windowMs: 60_000, clock });
    limiter.begin('a')(true);
    clock.advance(-3_600_000);
    assert.equal(limiter.retryAfterMs('a'), 60_000);
  });

  it('limit 0 is off', () => {
    const limiter = createFailureLimiter({ limit: 0, windowMs: 60_000, clock: manualClock() });
    for (let i = 0; i < 100; i++) limiter.begin('a')(true);
    limiter.begin('a');
    assert.equal(limiter.retryAfterMs('a'), 0);
  });

  it('remembers at most maxKeys keys, forgetting the least recently failed', () => {
    const clock = manualClock();
    const limiter = createFailureLimiter({ limit: 1, windowMs: 60_000, clock, maxKeys: 2 });
    for (const key of ['a', 'b', 'a', 'c']) limiter.begin(key)(true);
    assert.equal(limiter.retryAfterMs('b'), 0, 'b was the least recently failed');
    assert.ok(limiter.retryAfterMs('a') > 0);
    assert.ok(limiter.retryAfterMs('c') > 0);
  });
});
