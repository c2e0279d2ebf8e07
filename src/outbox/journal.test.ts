import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeRecord, parseJournal } from './journal.ts';

describe('outbox journal framing', () => {
  it('round-trips records, including non-ASCII and embedded newlines', () => {
    const recs = [{ t: 'enq', payload: 'line1\nline2 — ✓ 🚀' }, { t: 'ack', id: 'x' }];
    const text = recs.map(encodeRecord).join('');
    assert.equal(text.split('\n').length, 3);
    const parsed = parseJournal(Buffer.from(text));
    assert.deepEqual(parsed.records, recs);
    assert.equal(parsed.validBytes, Buffer.byteLength(text));
    assert.equal(parsed.tailBytes, 0);
  });

  it('stops at a torn or garbled record and says whether intact records follow', () => {
    const a = encodeRecord({ n: 1 });
    const b = encodeRecord({ n: 2 });
    const c = encodeRecord({ n: 3 });
    const good = Buffer.byteLength(a);
    for (let cut = 0; cut < Buffer.byteLength(b); cut++) {
      const parsed = parseJournal(Buffer.from(a + b.slice(0, cut)));
      assert.deepEqual(parsed.records, [{ n: 1 }], `cut at ${cut}`);
      assert.equal(parsed.validBytes, good);
      assert.equal(parsed.intactAfterDamage, false);
    }
    const flipped = Buffer.from(a + b + c);
    const at = good + Buffer.byteLength(b) - 3;
    flipped[at] = flipped[at]! ^ 0x01; // inside b's JSON: checksum mismatch
    const parsed = parseJournal(flipped);
    assert.deepEqual(parsed.records, [{ n: 1 }]);
    assert.equal(parsed.intactAfterDamage, true);
  });

  it('treats a tail of zeros (preallocated space) as the end, and measures damage without them', () => {
    const a = encodeRecord({ n: 1 });
    const clean = parseJournal(Buffer.concat([Buffer.from(a), Buffer.alloc(1000)]));
    assert.deepEqual([clean.records, clean.validBytes, clean.zeroTail, clean.damagedBytes], [[{ n: 1 }], a.length, true, 0]);
    const torn = parseJournal(Buffer.concat([Buffer.from(a + encodeRecord({ n: 2 }).slice(0, 7)), Buffer.alloc(1000)]));
    assert.deepEqual([torn.records.length, torn.validBytes, torn.zeroTail, torn.damagedBytes, torn.intactAfterDamage], [1, a.length, false, 7, false]);
    assert.equal(parseJournal(Buffer.from(a)).zeroTail, false);
  });
});
