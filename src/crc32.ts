/**
 * IEEE CRC-32 (the zlib/PNG one), for the outbox journal's record checksums and PNG chunk checks.
 * Uses the runtime's native `zlib.crc32` where there is one (Node ≥ 22.2, Deno 2) and a slice-by-8
 * JavaScript version elsewhere (Node 20): both sit on hot paths (every webhook's journal record, every
 * chunk of a 1024² image).
 *
 * @example
 * crc32(Buffer.from('123456789')) === 0xcbf43926
 * crc32(line, jsonStart, jsonEnd) // a range, without copying
 */
import * as zlib from 'node:zlib';

/**
 * Slice-by-8 tables: table k (at offset 256·k) advances a CRC over a byte followed by k zero bytes, so the
 * main loop consumes 8 bytes per step (~4× the byte-at-a-time loop).
 */
const CRC_TABLES = (() => {
  const t = new Int32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) t[256 * k + n] = (t[256 * (k - 1) + n]! >>> 8) ^ t[t[256 * (k - 1) + n]! & 0xff]!;
  }
  return t;
})();

/**
 * CRC-32 of `bytes[start, end)` in JavaScript (what {@link crc32} falls back to; exported so tests can
 * hold it to the native one).
 *
 * @example
 * crc32Js(Buffer.from('IEND')) === 0xae426082
 */
export function crc32Js(bytes: Uint8Array, start = 0, end = bytes.length): number {
  const t = CRC_TABLES;
  let c = ~0;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    c ^= bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    c = t[1792 + (c & 0xff)]! ^ t[1536 + ((c >>> 8) & 0xff)]! ^ t[1280 + ((c >>> 16) & 0xff)]! ^ t[1024 + (c >>> 24)]! ^
      t[768 + bytes[i + 4]!]! ^ t[512 + bytes[i + 5]!]! ^ t[256 + bytes[i + 6]!]! ^ t[bytes[i + 7]!]!;
  }
  for (; i < end; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** The runtime's native CRC-32, when it has one. */
export const nativeCrc32: ((data: Uint8Array) => number) | undefined = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

/** CRC-32 of `bytes[start, end)`: native when the runtime has it, else {@link crc32Js}. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  if (nativeCrc32) return nativeCrc32(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end)) >>> 0;
  return crc32Js(bytes, start, end);
}
