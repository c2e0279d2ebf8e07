/**
 * A small, deterministic PNG encoder for fixtures and tests: every colour type and bit depth, palette and
 * tRNS, Adam7 interlacing (pngjs writes none of palette, sub-8-bit or interlaced). Compression is our own
 * fixed-Huffman deflate, because zlib's output differs between runtimes (Node vs Deno) and fixtures must
 * be byte-identical wherever they are generated.
 */
import { crc32 } from '../crc32.ts';

/** What to encode. `sample(x, y)` returns the pixel's samples at `bitDepth` (palette: [index]). */
export interface RawImage {
  width: number;
  height: number;
  colorType: 0 | 2 | 3 | 4 | 6;
  bitDepth: 1 | 2 | 4 | 8 | 16;
  interlace?: boolean;
  /** PLTE entries for colour type 3. */
  palette?: Array<[number, number, number]>;
  /** tRNS chunk contents (palette alphas, or a colour key). */
  transparency?: Uint8Array;
  sample(x: number, y: number): readonly number[];
}

const CHANNELS = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as const;

// Adam7 passes: [xStart, yStart, xStep, yStep]
const ADAM7: ReadonlyArray<readonly [number, number, number, number]> = [
  [0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2],
];

class BitWriter {
  bytes: number[] = [];
  private acc = 0;
  private n = 0;
  write(value: number, bits: number): void {
    this.acc |= value << this.n;
    this.n += bits;
    while (this.n >= 8) {
      this.bytes.push(this.acc & 0xff);
      this.acc >>>= 8;
      this.n -= 8;
    }
  }
  /** Huffman codes go most-significant bit first. */
  writeCode(code: number, bits: number): void {
    let rev = 0;
    for (let i = 0; i < bits; i++) rev |= ((code >> i) & 1) << (bits - 1 - i);
    this.write(rev, bits);
  }
  flush(): number[] {
    if (this.n > 0) this.bytes.push(this.acc & 0xff);
    this.acc = 0;
    this.n = 0;
    return this.bytes;
  }
}

const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];

function writeLiteralOrLength(w: BitWriter, symbol: number): void {
  if (symbol < 144) w.writeCode(0x30 + symbol, 8);
  else if (symbol < 256) w.writeCode(0x190 + symbol - 144, 9);
  else if (symbol < 280) w.writeCode(symbol - 256, 7);
  else w.writeCode(0xc0 + symbol - 280, 8);
}

function findIndex(bases: number[], value: number): number {
  let i = bases.length - 1;
  while (bases[i]! > value) i--;
  return i;
}

/**
 * zlib-wrapped deflate with fixed Huffman codes and greedy LZ77 (hash of 3 bytes, 32 KiB window).
 * Deterministic by construction. @example inflateSync(deflateDeterministic(data)) // equals data
 */
export function deflateDeterministic(data: Uint8Array): Uint8Array {
  const w = new BitWriter();
  w.write(1, 1); // BFINAL
  w.write(1, 2); // BTYPE = fixed Huffman
  const head = new Int32Array(1 << 15).fill(-1);
  const prev = new Int32Array(data.length);
  const hash = (i: number): number => ((data[i]! << 10) ^ (data[i + 1]! << 5) ^ data[i + 2]!) & 0x7fff;
  const insert = (i: number): void => {
    if (i + 2 >= data.length) return;
    const h = hash(i);
    prev[i] = head[h]!;
    head[h] = i;
  };
  let i = 0;
  while (i < data.length) {
    let bestLen = 0;
    let bestDist = 0;
    if (i + 2 < data.length) {
      let candidate = head[hash(i)]!;
      for (let tries = 0; candidate >= 0 && i - candidate <= 32768 && tries < 32; tries++) {
        let len = 0;
        const max = Math.min(258, data.length - i);
        while (len < max && data[candidate + len] === data[i + len]) len++;
        if (len > bestLen) {
          bestLen = len;
          bestDist = i - candidate;
          if (len === max) break;
        }
        candidate = prev[candidate]!;
      }
    }
    if (bestLen >= 3) {
      const li = findIndex(LENGTH_BASE, bestLen);
      writeLiteralOrLength(w, 257 + li);
      w.write(bestLen - LENGTH_BASE[li]!, LENGTH_EXTRA[li]!);
      const di = findIndex(DIST_BASE, bestDist);
      w.writeCode(di, 5);
      w.write(bestDist - DIST_BASE[di]!, DIST_EXTRA[di]!);
      for (let k = 0; k < bestLen; k++) insert(i + k);
      i += bestLen;
    } else {
      writeLiteralOrLength(w, data[i]!);
      insert(i);
      i++;
    }
  }
  writeLiteralOrLength(w, 256);
  const body = w.flush();
  let a = 1;
  let b = 0;
  for (let k = 0; k < data.length; k++) {
    a = (a + data[k]!) % 65521;
    b = (b + a) % 65521;
  }
  const adler = ((b << 16) | a) >>> 0;
  return Uint8Array.from([0x78, 0x01, ...body, adler >>> 24, (adler >>> 16) & 0xff, (adler >>> 8) & 0xff, adler & 0xff]);
}

function packRows(image: RawImage, xs: number[], ys: number[]): number[] {
  const channels = CHANNELS[image.colorType];
  const out: number[] = [];
  for (const y of ys) {
    out.push(0); // filter type None
    let acc = 0;
    let bits = 0;
    for (const x of xs) {
      const samples = image.sample(x, y);
      for (let c = 0; c < channels; c++) {
        const v = samples[c] ?? 0;
        if (image.bitDepth === 16) out.push((v >> 8) & 0xff, v & 0xff);
        else if (image.bitDepth === 8) out.push(v & 0xff);
        else {
          acc = (acc << image.bitDepth) | (v & ((1 << image.bitDepth) - 1));
          bits += image.bitDepth;
          if (bits === 8) {
            out.push(acc);
            acc = 0;
            bits = 0;
          }
        }
      }
    }
    if (bits > 0) out.push((acc << (8 - bits)) & 0xff);
  }
  return out;
}

function range(start: number, end: number, step: number): number[] {
  const r: number[] = [];
  for (let v = start; v < end; v += step) r.push(v);
  return r;
}

/** One PNG chunk with its length and CRC. @example chunk('IEND', new Uint8Array()) */
export function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * Encodes a raw image as a PNG, byte-for-byte the same on every runtime.
 * @example encodePng({ width: 256, height: 256, colorType: 6, bitDepth: 8, sample: () => [0, 0, 0, 255] })
 */
export function encodePng(image: RawImage): Buffer {
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, image.width);
  view.setUint32(4, image.height);
  ihdr.set([image.bitDepth, image.colorType, 0, 0, image.interlace ? 1 : 0], 8);
  let raw: number[] = [];
  if (image.interlace) {
    for (const [x0, y0, dx, dy] of ADAM7) {
      const xs = range(x0, image.width, dx);
      const ys = range(y0, image.height, dy);
      if (xs.length > 0 && ys.length > 0) raw = raw.concat(packRows(image, xs, ys));
    }
  } else {
    raw = packRows(image, range(0, image.width, 1), range(0, image.height, 1));
  }
  const parts: Uint8Array[] = [PNG_SIGNATURE_BYTES, chunk('IHDR', ihdr)];
  if (image.palette) parts.push(chunk('PLTE', Uint8Array.from(image.palette.flat())));
  if (image.transparency) parts.push(chunk('tRNS', image.transparency));
  parts.push(chunk('IDAT', deflateDeterministic(Uint8Array.from(raw))), chunk('IEND', new Uint8Array()));
  return Buffer.concat(parts);
}

const PNG_SIGNATURE_BYTES = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
