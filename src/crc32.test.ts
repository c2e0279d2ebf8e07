import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { crc32 } from './crc32.ts';

describe('crc32', () => {
  it('gives the standard check values', () => {
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
    assert.equal(crc32(Buffer.alloc(0)), 0);
    assert.equal(crc32(Buffer.from('IEND')), 0xae426082);
  });

  /** The textbook bit-at-a-time CRC-32, as an independent reference. */
  const bitwise = (bytes: Uint8Array): number => {
    let c = ~0;
    for (const b of bytes) {
      c ^= b;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    }
    return ~c >>> 0;
  };

  it('agrees with the bit-at-a-time reference on every length and range', () => {
    const data = randomBytes(4099);
    for (let length = 0; length <= 40; length++) {
      for (const start of [0, 1, 7]) {
        const slice = data.subarray(start, start + length);
        assert.equal(crc32(data, start, start + length), bitwise(slice), `length ${length} at ${start}`);
      }
    }
    assert.equal(crc32(data), bitwise(data));
  });

  it('covers a range without reading outside it', () => {
    const line = Buffer.from('xx123456789yy');
    assert.equal(crc32(line, 2, 11), 0xcbf43926);
  });
});
