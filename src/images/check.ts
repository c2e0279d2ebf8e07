/**
 * The image checks: what Sentry's avatar endpoint enforces (PNG, decodable, square, 256–1024 px,
 * ≤ 5,000,000 bytes, icon RGBA with R=G=B=0) plus the docs' review rule for logos (transparent background
 * unless the artwork fills the canvas). The file is decoded once with pngjs; each rule then reads the pixel
 * buffer in one tight loop.
 */
import { createRequire } from 'node:module';
import zlib from 'node:zlib';
import type { ImageFinding, ImageKind } from './findings.ts';
import { colorTypeName, formatName, formatNameWithArticle, readPngStructure, sniffFormat, type PngHeader, type PngStructure } from './png.ts';

/** Sentry's limits (`SENTRY_MAX_AVATAR_SIZE`, AvatarField MIN/MAX_DIMENSION). */
export const LIMITS = { maxBytes: 5_000_000, minSide: 256, maxSide: 1024 } as const;

/**
 * The most pixels decoded (4096², 16× what Sentry accepts): a 1.5 MB file can claim 20000×20000 px and
 * inflate to gigabytes, so larger images are judged by their header alone (they already fail
 * dimensions-too-large: more than 1024² pixels means a side over 1024).
 */
export const MAX_DECODE_PIXELS = 4096 * 4096;
/** Inflated bytes tolerated beyond what the header implies (decoders ignore the excess; a bomb is refused). */
export const MAX_EXCESS_INFLATED_BYTES = 1 << 20;

/** A decoded image: RGBA samples, 8-bit or (for 16-bit files) 16-bit. */
export interface DecodedImage {
  width: number;
  height: number;
  /** RGBA, 4 samples per pixel, row-major. */
  data: Uint8Array | Uint16Array;
  /** 8 for Uint8 samples, 16 for Uint16 samples. */
  sampleBits: 8 | 16;
}

/** Everything one check found, plus what was learnt about the file. */
export interface ImageReport {
  kind: ImageKind;
  ok: boolean;
  errors: ImageFinding[];
  warnings: ImageFinding[];
  bytes: number;
  format: string;
  header?: PngHeader;
  /** The decoded pixels (absent when the file could not be decoded). */
  decoded?: DecodedImage;
}

interface PngjsMeta {
  width: number;
  height: number;
  depth: number;
  interlace: boolean;
  bpp: number;
  colorType: number;
  palette?: number[][];
  transColor?: number[];
}
type PngjsBitmap = Buffer | Uint16Array;

// pngjs's unfilter, bitmap and normalise stages. Its synchronous inflate is not used: on Node 20 it swallows
// zlib errors and returns an uninitialised buffer (garbage or a truncated deflate stream "decodes"), so the
// IDAT stream is inflated with node:zlib, which reports every error, and handed to the rest of pngjs.
const requirePngjs = createRequire(import.meta.url);
const filterSync = requirePngjs('pngjs/lib/filter-parse-sync.js') as { process(data: Buffer, meta: PngjsMeta): Buffer };
const bitmapper = requirePngjs('pngjs/lib/bitmapper.js') as { dataToBitMap(data: Buffer, meta: PngjsMeta): PngjsBitmap };
const normalise = requirePngjs('pngjs/lib/format-normaliser.js') as (data: PngjsBitmap, meta: PngjsMeta, skipRescale: boolean) => PngjsBitmap;

const SAMPLES_PER_PIXEL: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]] as const;

/** Bytes of filtered scanlines the header implies (all Adam7 passes when interlaced). */
export function expectedInflatedSize(h: PngHeader): number {
  const bits = SAMPLES_PER_PIXEL[h.colorType]! * h.bitDepth;
  const size = (w: number, rows: number): number => (w > 0 && rows > 0 ? rows * (1 + Math.ceil((w * bits) / 8)) : 0);
  if (!h.interlace) return size(h.width, h.height);
  return ADAM7.reduce((sum, [x0, y0, dx, dy]) => sum + size(Math.ceil((h.width - x0) / dx), Math.ceil((h.height - y0) / dy)), 0);
}

/** Why {@link inflateImageData} would not (or could not) inflate. */
export type InflateFailure = 'too-many-pixels' | 'bomb' | 'corrupt';

/**
 * Inflates a PNG's concatenated IDAT within the decompression-bomb limits: nothing above
 * {@link MAX_DECODE_PIXELS}, and never more than {@link MAX_EXCESS_INFLATED_BYTES} past the `expected`
 * bytes the header implies (more output is refused before it is produced). The preflight's decoder and the
 * emulator's avatar endpoint share it, so both refuse the same files.
 *
 * @example
 * const r = inflateImageData(idat, header);
 * if ('failure' in r) return r.failure; // 'too-many-pixels' | 'bomb' | 'corrupt'
 */
export function inflateImageData(idat: Buffer, h: PngHeader):
  | { inflated: Buffer; expected: number }
  | { failure: InflateFailure; expected: number; detail?: string } {
  const expected = expectedInflatedSize(h);
  if (h.width * h.height > MAX_DECODE_PIXELS) return { failure: 'too-many-pixels', expected };
  try {
    return { inflated: zlib.inflateSync(idat, { maxOutputLength: expected + MAX_EXCESS_INFLATED_BYTES }), expected };
  } catch (error) {
    const bomb = (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
    return { failure: bomb ? 'bomb' : 'corrupt', expected, detail: (error as Error).message };
  }
}

/**
 * Decodes with pngjs's pipeline (inflate via node:zlib, see above). 16-bit files keep 16-bit samples so the
 * icon rule can use Sentry's (PIL's) 8-bit view. Throws with a readable message on bad data.
 */
export function decodePng(structure: PngStructure & { header: PngHeader }): DecodedImage {
  const h = structure.header;
  const result = inflateImageData(Buffer.concat(structure.idat), h);
  const { expected } = result;
  if (!('inflated' in result)) {
    if (result.failure === 'too-many-pixels') {
      throw new Error(`${h.width}×${h.height} px is more than ${MAX_DECODE_PIXELS.toLocaleString('en-US')} pixels, too many to decode safely`);
    }
    if (result.failure === 'bomb') {
      throw new Error(`the compressed image data inflates to far more than the ${expected.toLocaleString('en-US')} bytes a ${h.width}×${h.height} image needs (a decompression bomb?)`);
    }
    throw new Error(`the compressed image data is corrupt (${result.detail})`);
  }
  const { inflated } = result;
  if (inflated.length < expected) throw new Error(`the image data is incomplete (${inflated.length} of ${expected} bytes)`);
  const meta: PngjsMeta = { width: h.width, height: h.height, depth: h.bitDepth, interlace: h.interlace, bpp: SAMPLES_PER_PIXEL[h.colorType]!, colorType: h.colorType };
  if (h.colorType === 3) {
    const plte = structure.palette;
    if (!plte) throw new Error('a palette image without a PLTE chunk');
    meta.palette = [];
    for (let i = 0; i + 2 < plte.length; i += 3) meta.palette.push([plte[i]!, plte[i + 1]!, plte[i + 2]!, structure.transparency?.[i / 3] ?? 255]);
  } else if (structure.transparency && (h.colorType === 0 || h.colorType === 2)) {
    const t = structure.transparency;
    const view = new DataView(t.buffer, t.byteOffset, t.byteLength);
    meta.transColor = h.colorType === 0 ? [view.getUint16(0)] : [view.getUint16(0), view.getUint16(2), view.getUint16(4)];
  }
  const sixteen = h.bitDepth === 16;
  const data = normalise(bitmapper.dataToBitMap(filterSync.process(inflated.subarray(0, expected), meta), meta), meta, sixteen);
  return { width: h.width, height: h.height, data, sampleBits: sixteen ? 16 : 8 };
}

function dimensionFindings(header: PngHeader): ImageFinding[] {
  const { width, height } = header;
  const out: ImageFinding[] = [];
  if (width !== height) {
    out.push({ code: 'not-square', message: `the image is ${width}×${height} px; Sentry requires a square image (width = height)` });
  }
  const small = Math.min(width, height);
  const large = Math.max(width, height);
  if (small < LIMITS.minSide) {
    out.push({ code: 'dimensions-too-small', message: `the image is ${width}×${height} px; the minimum is ${LIMITS.minSide}×${LIMITS.minSide}` });
  }
  if (large > LIMITS.maxSide) {
    out.push({ code: 'dimensions-too-large', message: `the image is ${width}×${height} px; the maximum is ${LIMITS.maxSide}×${LIMITS.maxSide}` });
  }
  return out;
}

/** How many offending pixels to list by coordinate. */
const SAMPLE_COUNT = 5;
/** A pixel whose largest channel is at most this (8-bit) counts as near-black. */
export const NEAR_BLACK_MAX = 24;

function describePixels(list: Array<[number, number, number, number, number, number]>): string {
  return list.map(([x, y, r, g, b, a]) => `(${x},${y}) rgba(${r},${g},${b},${a})`).join(', ');
}

/**
 * Icon pixels: every pixel R=G=B=0 at any alpha, read as Sentry's server (PIL) reads them — 16-bit samples
 * by their high byte. One loop; bookkeeping only on offending pixels.
 */
export function iconPixelFindings(image: DecodedImage): ImageFinding[] {
  const { data, width } = image;
  const shift = image.sampleBits === 16 ? 8 : 0;
  let visible = 0;
  let transparent = 0;
  let nearBlack = 0;
  const visibleSamples: Array<[number, number, number, number, number, number]> = [];
  const transparentSamples: typeof visibleSamples = [];
  const n = data.length;
  for (let i = 0; i < n; i += 4) {
    if (((data[i]! | data[i + 1]! | data[i + 2]!) >> shift) === 0) continue;
    const r = data[i]! >> shift;
    const g = data[i + 1]! >> shift;
    const b = data[i + 2]! >> shift;
    const a = data[i + 3]! >> shift;
    const p = i >> 2;
    if (a === 0) {
      transparent++;
      if (transparentSamples.length < SAMPLE_COUNT) transparentSamples.push([p % width, (p / width) | 0, r, g, b, a]);
    } else {
      visible++;
      if (r <= NEAR_BLACK_MAX && g <= NEAR_BLACK_MAX && b <= NEAR_BLACK_MAX) nearBlack++;
      if (visibleSamples.length < SAMPLE_COUNT) visibleSamples.push([p % width, (p / width) | 0, r, g, b, a]);
    }
  }
  const out: ImageFinding[] = [];
  if (visible > 0) {
    const cropper = nearBlack === visible
      ? `all of them are near-black (every channel ≤ ${NEAR_BLACK_MAX}) — the signature of Sentry's web cropper re-encoding the icon; upload an exact RGBA PNG through the API, or run with --fix`
      : nearBlack > 0
        ? `${nearBlack} of them are near-black (every channel ≤ ${NEAR_BLACK_MAX}); the rest are clearly coloured`
        : 'none of them is near-black: the artwork itself is coloured';
    out.push({
      code: 'icon-not-black',
      message: `${visible} visible pixel${visible === 1 ? ' is' : 's are'} not black (R=G=B=0 required; Sentry rejects the icon): ${cropper}; first: ${describePixels(visibleSamples)}`,
    });
  }
  if (transparent > 0) {
    out.push({
      code: 'icon-transparent-not-black',
      message: `${transparent} fully transparent pixel${transparent === 1 ? ' has' : 's have'} a non-zero colour; they are invisible, but Sentry's server checks R=G=B=0 regardless of alpha and rejects the icon; first: ${describePixels(transparentSamples)}`,
    });
  }
  return out;
}

/** Border opacity/uniformity thresholds of the logo heuristic (fractions of the 1-px border). */
export const LOGO_HEURISTIC = { transparentBorder: 0.95, opaqueBorder: 0.99, uniformBorder: 0.95, variedBorder: 0.6 } as const;

/**
 * Logo background heuristic, from the alpha channel and the 1-px border:
 * border ≥ 95 % transparent → transparent background (pass); border ≥ 99 % opaque and ≥ 95 % one colour →
 * an opaque background (error); border opaque and < 60 % one colour → artwork reaches the edges (pass);
 * anything else → a warning saying why it cannot tell.
 */
export function logoBackgroundFindings(image: DecodedImage, header: PngHeader, hasTransparencyChunk: boolean): ImageFinding[] {
  const { data, width, height } = image;
  const shift = image.sampleBits === 16 ? 8 : 0;
  const counts = new Uint32Array(1 << 15);
  let border = 0;
  let transparent = 0;
  let opaque = 0;
  let modeKey = 0;
  const visit = (p: number): void => {
    const i = p * 4;
    const a = data[i + 3]! >> shift;
    border++;
    if (a <= 8) transparent++;
    else if (a >= 247) {
      opaque++;
      const key = ((data[i]! >> shift >> 3) << 10) | ((data[i + 1]! >> shift >> 3) << 5) | (data[i + 2]! >> shift >> 3);
      const c = ++counts[key]!;
      if (c > counts[modeKey]!) modeKey = key;
    }
  };
  for (let x = 0; x < width; x++) {
    visit(x);
    if (height > 1) visit((height - 1) * width + x);
  }
  for (let y = 1; y < height - 1; y++) {
    visit(y * width);
    if (width > 1) visit(y * width + width - 1);
  }
  const pct = (n: number): string => `${Math.round((n / border) * 100)}%`;
  const noAlpha = (header.colorType === 0 || header.colorType === 2 || header.colorType === 3) && !hasTransparencyChunk;
  if (transparent >= border * LOGO_HEURISTIC.transparentBorder) return [];
  const uniform = counts[modeKey]!;
  if (opaque >= border * LOGO_HEURISTIC.opaqueBorder) {
    const colour = `rgb(${(modeKey >> 10) << 3},${((modeKey >> 5) & 31) << 3},${(modeKey & 31) << 3})`;
    if (uniform >= border * LOGO_HEURISTIC.uniformBorder) {
      return [{
        code: 'logo-opaque-background',
        message: `background should be transparent: ${pct(uniform)} of the border is one opaque colour (about ${colour})${noAlpha ? ` and the PNG has no alpha channel (${colorTypeName(header.colorType)})` : ''}; Sentry's docs require a transparent background unless the logo takes up the entire space`,
      }];
    }
    if (uniform < border * LOGO_HEURISTIC.variedBorder) return [];
    return [{
      code: 'logo-background-uncertain',
      message: `the border is opaque and ${pct(uniform)} of it is one colour (about ${colour}): either a background that should be transparent or artwork that reaches the edges — check by eye`,
    }];
  }
  return [{
    code: 'logo-background-uncertain',
    message: `${pct(transparent)} of the border is transparent and ${pct(opaque)} opaque (the rest semi-transparent): cannot tell whether the background is transparent — check that no opaque background frame remains`,
  }];
}

/**
 * Checks one image as a Sentry logo or icon. Never throws: every problem becomes a finding.
 * @example const report = checkImage(readFileSync('icon.png'), 'icon'); if (!report.ok) console.log(report.errors);
 */
export function checkImage(bytes: Uint8Array, kind: ImageKind): ImageReport {
  const errors: ImageFinding[] = [];
  const warnings: ImageFinding[] = [];
  const format = sniffFormat(bytes);
  const report: ImageReport = { kind, ok: false, errors, warnings, bytes: bytes.length, format: formatName(format) };
  if (bytes.length > LIMITS.maxBytes) {
    errors.push({ code: 'file-too-large', message: `the file is ${bytes.length.toLocaleString('en-US')} bytes; Sentry's limit is 5,000,000 bytes (413 Image too large)` });
  }
  if (format !== 'png') {
    const what = format === 'empty' ? 'the file is empty' : format === 'unknown' ? 'the file is not an image Sentry accepts (unrecognised signature)' : `the file is ${formatNameWithArticle(format)} image, not a PNG`;
    const damaged = format === 'unknown' && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
    if (damaged) errors.push({ code: 'png-bad-signature', message: 'the PNG signature is damaged (often a text-mode transfer that rewrote line endings)' });
    else errors.push({ code: 'not-png', message: `${what}; Sentry accepts PNG only for integration logos and icons` });
    return report;
  }
  const structure = readPngStructure(bytes);
  errors.push(...structure.errors);
  const header = structure.header;
  report.header = header;
  if (!header) return report;
  errors.push(...dimensionFindings(header));
  if (structure.trailingBytes > 0) {
    warnings.push({ code: 'png-trailing-data', message: `${structure.trailingBytes} bytes follow the IEND chunk; decoders (and Sentry) ignore them, but the file was probably damaged or concatenated` });
  }
  if (kind === 'icon' && header.colorType !== 6) {
    errors.push({ code: 'icon-not-rgba', message: `the icon is stored as ${colorTypeName(header.colorType)} (colour type ${header.colorType}); Sentry's server requires RGBA (colour type 6) even if the image looks right` });
  }
  if (structure.errors.length > 0) return finish(report);
  if (header.width * header.height > MAX_DECODE_PIXELS) {
    // dimensions-too-large is already reported; say why nothing else was checked.
    const large = errors.find((e) => e.code === 'dimensions-too-large');
    if (large) large.message += `; the pixels were not checked (more than ${MAX_DECODE_PIXELS.toLocaleString('en-US')} pixels are not decoded, to bound memory)`;
    return finish(report);
  }
  try {
    report.decoded = decodePng({ ...structure, header });
  } catch (error) {
    errors.push({ code: 'png-decode-failed', message: `the image data cannot be decoded: ${(error as Error).message}` });
    return finish(report);
  }
  if (kind === 'icon') errors.push(...iconPixelFindings(report.decoded));
  else {
    for (const f of logoBackgroundFindings(report.decoded, header, structure.hasTransparencyChunk)) {
      (f.code === 'logo-opaque-background' ? errors : warnings).push(f);
    }
  }
  return finish(report);
}

function finish(report: ImageReport): ImageReport {
  report.ok = report.errors.length === 0;
  return report;
}
