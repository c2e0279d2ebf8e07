/**
 * Byte-level PNG reading that does not trust a decoder: what a file is by its signature, and a walk over
 * the chunk structure (lengths, CRCs, IHDR, IEND, trailing bytes). pngjs is lenient about some of these
 * (it ignores bytes after IEND, for instance), so the structure is checked here before decoding.
 */
import { crc32 } from '../crc32.ts';
import type { ImageFinding } from './findings.ts';

/** What a file's first bytes say it is. */
export type SniffedFormat =
  | 'png' | 'jpeg' | 'gif' | 'webp' | 'bmp' | 'tiff' | 'ico' | 'avif' | 'heic' | 'svg' | 'pdf' | 'empty' | 'unknown';

/** PNG's 8-byte signature. */
export const PNG_SIGNATURE: Readonly<Uint8Array> = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

const FORMAT_NAMES: Record<SniffedFormat, string> = {
  png: 'PNG', jpeg: 'JPEG', gif: 'GIF', webp: 'WebP', bmp: 'BMP', tiff: 'TIFF', ico: 'ICO (Windows icon)',
  avif: 'AVIF', heic: 'HEIC', svg: 'SVG', pdf: 'PDF', empty: 'empty file', unknown: 'unrecognised data',
};

/** A human name for a sniffed format ("JPEG", "WebP", …). @example formatName('webp') // 'WebP' */
export function formatName(format: SniffedFormat): string {
  return FORMAT_NAMES[format];
}

/** Formats whose name is read with a leading vowel sound ("an SVG", "an ICO", "an AVIF"). */
const AN_FORMATS: ReadonlySet<SniffedFormat> = new Set(['svg', 'ico', 'avif']);

/** The format's name with its article. @example formatNameWithArticle('svg') // 'an SVG' */
export function formatNameWithArticle(format: SniffedFormat): string {
  return `${AN_FORMATS.has(format) ? 'an' : 'a'} ${FORMAT_NAMES[format]}`;
}

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...bytes.subarray(start, end));
}

/**
 * Names the format of some bytes by their magic number (never by the file name).
 * @example sniffFormat(readFileSync('logo.png')) // 'jpeg' for a JPEG renamed to .png
 */
export function sniffFormat(bytes: Uint8Array): SniffedFormat {
  if (bytes.length === 0) return 'empty';
  if (PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  const head = ascii(bytes, 0, 12);
  if (head.startsWith('GIF87a') || head.startsWith('GIF89a')) return 'gif';
  if (head.startsWith('RIFF') && head.slice(8, 12) === 'WEBP') return 'webp';
  if (head.startsWith('BM')) return 'bmp';
  if (head.startsWith('II*\0') || head.startsWith('MM\0*')) return 'tiff';
  if (bytes[0] === 0 && bytes[1] === 0 && bytes[2] === 1 && bytes[3] === 0) return 'ico';
  if (head.slice(4, 8) === 'ftyp') {
    const brand = head.slice(8, 12);
    if (brand === 'avif' || brand === 'avis') return 'avif';
    if (brand.startsWith('hei') || brand === 'mif1' || brand === 'heix') return 'heic';
  }
  if (head.startsWith('%PDF')) return 'pdf';
  // Text formats may start with a UTF-8 byte-order mark (editors on Windows write one).
  const textStart = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const text = ascii(bytes, textStart, Math.min(bytes.length, 256)).trimStart();
  if (text.startsWith('<svg') || (text.startsWith('<?xml') && /<svg/i.test(ascii(bytes, textStart, Math.min(bytes.length, 4096))))) return 'svg';
  return 'unknown';
}

/** The PNG header (IHDR) fields, read from the bytes (pngjs normalises colour away on decode). */
export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  /** 0 greyscale, 2 RGB, 3 palette, 4 greyscale+alpha, 6 RGBA. */
  colorType: number;
  interlace: boolean;
}

/** The result of walking a PNG's chunks. */
export interface PngStructure {
  header?: PngHeader;
  /** Structural errors (truncation, CRC, header); empty when the structure is sound. */
  errors: ImageFinding[];
  /** Bytes after IEND (harmless to most decoders, including Sentry's). */
  trailingBytes: number;
  /** A tRNS chunk is present (palette or colour-key transparency). */
  hasTransparencyChunk: boolean;
  /** The IDAT payloads in order (views into the input, not copies). */
  idat: Uint8Array[];
  /** PLTE and tRNS payloads, when present. */
  palette?: Uint8Array;
  transparency?: Uint8Array;
}

const COLOR_TYPE_DEPTHS: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16],
};

/** Human names of PNG colour types. @example colorTypeName(4) // 'greyscale+alpha' */
export function colorTypeName(colorType: number): string {
  return ({ 0: 'greyscale', 2: 'RGB', 3: 'palette', 4: 'greyscale+alpha', 6: 'RGBA' } as Record<number, string>)[colorType]
    ?? `unknown colour type ${colorType}`;
}

// CRC-32 lives in one shared module; re-exported for the fixture generator and tests that import it from png.ts.
export { crc32 } from '../crc32.ts';

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

function checkHeader(data: Uint8Array): { header?: PngHeader; problem?: string } {
  if (data.length !== 13) return { problem: `IHDR is ${data.length} bytes long, not 13` };
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const header: PngHeader = {
    width: view.getUint32(0), height: view.getUint32(4), bitDepth: data[8]!, colorType: data[9]!, interlace: data[12] === 1,
  };
  if (header.width === 0 || header.height === 0 || header.width > 0x7fffffff || header.height > 0x7fffffff) {
    return { problem: `invalid dimensions ${header.width}×${header.height}` };
  }
  const depths = COLOR_TYPE_DEPTHS[header.colorType];
  if (!depths) return { problem: `invalid colour type ${header.colorType}` };
  if (!depths.includes(header.bitDepth)) {
    return { problem: `bit depth ${header.bitDepth} is not allowed for colour type ${header.colorType} (${colorTypeName(header.colorType)})` };
  }
  if (data[10] !== 0 || data[11] !== 0) return { problem: 'unknown compression or filter method' };
  if (data[12]! > 1) return { problem: `unknown interlace method ${data[12]}` };
  return { header };
}

/**
 * Walks the chunk list: every chunk complete and its CRC right, IHDR first and valid, at least one IDAT,
 * an IEND, and how many bytes follow IEND. Never throws.
 * @example const s = readPngStructure(bytes); if (s.errors.length === 0) console.log(s.header?.colorType);
 */
export function readPngStructure(bytes: Uint8Array): PngStructure {
  const result: PngStructure = { errors: [], trailingBytes: 0, hasTransparencyChunk: false, idat: [] };
  const fail = (code: string, message: string): PngStructure => {
    result.errors.push({ code, message });
    return result;
  };
  if (!PNG_SIGNATURE.every((b, i) => bytes[i] === b)) {
    return fail('png-bad-signature', 'the PNG signature is damaged (often a text-mode transfer that rewrote line endings)');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 8;
  let sawIdat = false;
  for (let index = 0; ; index++) {
    if (offset === bytes.length) {
      return fail('png-truncated', `the file is truncated: it ends after ${bytes.length} bytes without an IEND chunk`);
    }
    if (offset + 8 > bytes.length) {
      return fail('png-truncated', `the file is truncated: it ends inside a chunk header at byte ${offset}`);
    }
    const length = view.getUint32(offset);
    const type = ascii(bytes, offset + 4, offset + 8);
    if (!/^[A-Za-z]{4}$/.test(type)) {
      return fail('png-corrupt', `corrupt chunk structure at byte ${offset}: chunk type is not four letters`);
    }
    if (length > 0x7fffffff) return fail('png-corrupt', `chunk ${type} at byte ${offset} claims an impossible length ${length}`);
    const end = offset + 12 + length;
    if (end > bytes.length) {
      return fail('png-truncated',
        `the file is truncated: it ends inside chunk ${type} at byte ${offset} (${end - bytes.length} more bytes expected)`);
    }
    const stored = view.getUint32(offset + 8 + length);
    const computed = crc32(bytes, offset + 4, offset + 8 + length);
    if (stored !== computed) {
      return fail('png-bad-crc', `chunk ${type} at byte ${offset} has a bad CRC (stored ${hex(stored)}, computed ${hex(computed)}): the file is corrupt`);
    }
    const data = bytes.subarray(offset + 8, offset + 8 + length);
    if (index === 0) {
      if (type !== 'IHDR') return fail('png-bad-header', `the first chunk is ${type}, not IHDR`);
      const { header, problem } = checkHeader(data);
      if (problem || !header) return fail('png-bad-header', `invalid PNG header: ${problem}`);
      result.header = header;
    } else if (type === 'IHDR') {
      return fail('png-corrupt', 'a second IHDR chunk appears');
    }
    if (type === 'IDAT') {
      sawIdat = true;
      result.idat.push(data);
    }
    if (type === 'PLTE') result.palette = data;
    if (type === 'tRNS') {
      result.hasTransparencyChunk = true;
      result.transparency = data;
    }
    offset = end;
    if (type === 'IEND') break;
  }
  if (!sawIdat) return fail('png-corrupt', 'the file has no image data (no IDAT chunk)');
  result.trailingBytes = bytes.length - offset;
  return result;
}
