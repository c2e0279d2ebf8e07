import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backoffMs, retryPolicy } from './backoff.ts';

describe('outbox retry backoff', () => {
  const policy = retryPolicy({ minMs: 1000, maxMs: 8000, factor: 2, jitter: 0.5, maxAttempts: 5 });

  it('grows exponentially and stays within [minMs, maxMs] for any jitter draw', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 9].map((n) => backoffMs(n, { ...policy, jitter: 0 }, () => 0.5)), [1000, 2000, 4000, 8000, 8000, 8000]);
    for (const r of [0, 0.25, 0.5, 0.75, 0.999999]) {
      for (let n = 1; n <= 8; n++) {
        const d = backoffMs(n, policy, () => r);
        assert.ok(d >= 1000 && d <= 8000, `attempt ${n} r=${r} → ${d}`);
      }
    }
    // jitter spreads a mid-range delay both ways: 2000 × [0.5, 1.5]
    assert.equal(backoffMs(2, policy, () => 0), 1000);
    assert.equal(backoffMs(2, policy, () => 0.75), 2500);
  });

  it('rejects nonsense', () => {
    assert.throws(() => retryPolicy({ minMs: -1 }), RangeError);
    assert.throws(() => retryPolicy({ minMs: 10, maxMs: 5 }), RangeError);
    assert.throws(() => retryPolicy({ jitter: 2 }), RangeError);
    assert.throws(() => retryPolicy({ factor: Number.NaN }), RangeError);
    assert.throws(() => retryPolicy({ maxAttempts: 0 }), RangeError);
  });
});
