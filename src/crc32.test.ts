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

  it('the JavaScript version agrees with the native one (where there is one) on every length and range', () => {
    const data = randomBytes(4099);
    for (let length = 0; length <= 40; length++) {
      for (const start of [0, 1, 7]) {
        const slice = data.subarray(start, start + length);
        const expected = nativeCrc32 ? nativeCrc32(slice) >>> 0 : crc32Js(slice);
        assert.equal(crc32Js(data, start, start + length), expected, `length ${length} at ${start}`);
        assert.equal(crc32(data, start, start + length), expected, `length ${length} at ${start}`);
      }
    }
    assert.equal(crc32Js(data), crc32(data));
  });

  it('covers a range without reading outside it', () => {
    const line = Buffer.from('xx123456789yy');
    assert.equal(crc32(line, 2, 11), 0xcbf43926);
    assert.equal(crc32Js(line, 2, 11), 0xcbf43926);
  });
});
