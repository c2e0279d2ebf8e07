import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { manualClock, offsetClock } from './clock.ts';

describe('manualClock', () => {
  it('moves only on advance and set', () => {
    const clock = manualClock(1_000);
    assert.equal(clock.now(), 1_000);
    clock.advance(500);
    assert.equal(clock.now(), 1_500);
    clock.set(42);
    assert.equal(clock.now(), 42);
  });
});

describe('offsetClock', () => {
  it('follows its base plus what was advanced', () => {
    const base = manualClock(10_000);
    const clock = offsetClock(base);
    clock.advance(8 * 3600_000);
    base.advance(1);
    assert.equal(clock.offset(), 8 * 3600_000);
    assert.equal(clock.now(), 10_001 + 8 * 3600_000);
  });

  it('refuses to move backwards or by a non-finite amount', () => {
    const clock = offsetClock(manualClock(0));
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => clock.advance(bad), RangeError);
      assert.throws(() => clock.setOffset(bad), RangeError);
    }
    assert.equal(clock.offset(), 0);
  });

  it('setOffset puts the offset anywhere ≥ 0, and 0 is real time again', () => {
    const base = manualClock(5_000);
    const clock = offsetClock(base);
    clock.advance(3_000);
    clock.setOffset(0);
    assert.equal(clock.now(), 5_000);
    clock.setOffset(7_000);
    assert.equal(clock.offset(), 7_000);
    assert.equal(clock.now(), 12_000);
  });
});
