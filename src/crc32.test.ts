import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { crc32, crc32Js, nativeCrc32 } from './crc32.ts';

describe('crc32', () => {
  it('gives the standard check values, natively and in JavaScript', () => {
    for (const f of [crc32, crc32Js]) {
      assert.equal(f(Buffer.from('123456789')), 0xcbf43926);
      assert.equal(f(Buffer.alloc(0)), 0);
      assert.equal(f(Buffer.from('IEND')), 0xae426082);
    }
  });

  /** The textbook bit-at-a-time CRC-32: the reference where the runtime has no native one (Node 20). */
  const bitwise = (bytes: Uint8Array): number => {
    let c = ~0;
    for (const b of bytes) {
      c ^= b;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    }
    return ~c >>> 0;
  };

  it('the slice-by-8 version agrees with the native one (or, without one, the bit-at-a-time one) on every length and range', () => {
    const data = randomBytes(4099);
    for (let length = 0; length <= 40; length++) {
      for (const start of [0, 1, 7]) {
        const slice = data.subarray(start, start + length);
        const expected = nativeCrc32 ? nativeCrc32(slice) >>> 0 : bitwise(slice);
        assert.equal(crc32Js(data, start, start + length), expected, `length ${length} at ${start}`);
        assert.equal(crc32(data, start, start + length), expected, `length ${length} at ${start}`);
      }
    }
    assert.equal(crc32Js(data), bitwise(data));
  });

  it('covers a range without reading outside it', () => {
    const line = Buffer.from('xx123456789yy');
    assert.equal(crc32(line, 2, 11), 0xcbf43926);
    assert.equal(crc32Js(line, 2, 11), 0xcbf43926);
  });
});
