/**
 * IEEE CRC-32 (the zlib/PNG one) of a byte range, for the outbox journal's record checksums and PNG chunk
 * checks: the runtime's native `zlib.crc32` (Node ≥ 20.15 and 22.2, Deno 2 — every runtime this kit
 * supports), with a range so callers need not slice.
 *
 * @example
 * crc32(Buffer.from('123456789')) === 0xcbf43926
 * crc32(line, jsonStart, jsonEnd) // a range, without copying
 */
import * as zlib from 'node:zlib';

/** CRC-32 of `bytes[start, end)`. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return zlib.crc32(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end)) >>> 0;
}
