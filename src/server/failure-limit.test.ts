import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { manualClock } from '../clock.ts';
import { createFailureLimiter } from './failure-limit.ts';

describe('failure limiter', () => {
  it('allows `limit` failures per key within the window, then says how long to wait', () => {
    const clock = manualClock();
    const limiter = createFailureLimiter({ limit: 3, windowMs: 60_000, clock });
    for (let i = 0; i < 3; i++) {
      assert.equal(limiter.retryAfterMs('a'), 0, `before failure ${i + 1}`);
      limiter.fail('a');
      clock.advance(10_000);
    }
    // Failures at 0, 10 and 20 s; now 30 s: the first one leaves the window at 60 s.
    assert.equal(limiter.retryAfterMs('a'), 30_000);
    assert.equal(limiter.retryAfterMs('b'), 0, 'another key is not affected');
    clock.advance(29_999);
    assert.equal(limiter.retryAfterMs('a'), 1);
    clock.advance(1);
    assert.equal(limiter.retryAfterMs('a'), 0);
    limiter.fail('a');
    assert.equal(limiter.retryAfterMs('a'), 10_000, 'the failure at 10 s is now the oldest that counts');
  });

  it('limit 0 is off', () => {
    const limiter = createFailureLimiter({ limit: 0, windowMs: 60_000, clock: manualClock() });
    for (let i = 0; i < 100; i++) limiter.fail('a');
    assert.equal(limiter.retryAfterMs('a'), 0);
  });

  it('remembers at most maxKeys keys, forgetting the least recently failed', () => {
    const clock = manualClock();
    const limiter = createFailureLimiter({ limit: 1, windowMs: 60_000, clock, maxKeys: 2 });
    limiter.fail('a');
    limiter.fail('b');
    limiter.fail('a');
    limiter.fail('c');
    assert.equal(limiter.retryAfterMs('b'), 0, 'b was the least recently failed');
    assert.ok(limiter.retryAfterMs('a') > 0);
    assert.ok(limiter.retryAfterMs('c') > 0);
  });
});
