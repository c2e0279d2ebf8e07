/**
 * `--fix`: mechanical corrections that make a file pass the server rules.
 *
 * Canvas (logo and icon): a non-square image is centred on a transparent square; a side below 256 px is
 * scaled up to 256 (bilinear), above 1024 px down to 1024 (area average), both on premultiplied alpha.
 *
 * Icon colour, written as RGBA with R=G=B=0 everywhere and alpha from the original's coverage, so
 * anti-aliased edges survive. Luminance L = (0.2126 R + 0.7152 G + 0.0722 B) / 255 (sRGB values):
 * - dark art on a light or transparent background (the usual case): alpha' = alpha × (1 − L);
 * - light art on an opaque dark background (opaque border, mean L < 0.5): alpha' = alpha × L;
 * - light art on a transparent background (the rule above would erase it: Σalpha' < 25 % of Σalpha):
 *   alpha' = alpha (the shape is already in the alpha channel);
 * - a flat image where the chosen rule leaves < 1 % of Σalpha (e.g. an all-black RGB square): alpha' = alpha.
 * Not fixed (not mechanical): a logo's opaque background, non-PNG files, undecodable files.
 */
import { PNG } from 'pngjs';
import { checkImage, LIMITS, MAX_DECODE_PIXELS, type DecodedImage } from './check.ts';
import type { ImageKind } from './findings.ts';

/** The outcome of `fixImage`. */
export type FixResult =
  | { fixed: true; png: Buffer; changes: string[] }
  | { fixed: false; reason: string };

interface Rgba8 {
  width: number;
  height: number;
  data: Uint8Array;
}

function to8bit(image: DecodedImage): Rgba8 {
  if (image.sampleBits === 8) return { width: image.width, height: image.height, data: image.data as Uint8Array };
  const data = new Uint8Array(image.data.length);
  for (let i = 0; i < data.length; i++) data[i] = image.data[i]! >> 8;
  return { width: image.width, height: image.height, data };
}

function padToSquare(img: Rgba8): Rgba8 {
  const side = Math.max(img.width, img.height);
  const data = new Uint8Array(side * side * 4);
  const dx = (side - img.width) >> 1;
  const dy = (side - img.height) >> 1;
  for (let y = 0; y < img.height; y++) {
    data.set(img.data.subarray(y * img.width * 4, (y + 1) * img.width * 4), ((y + dy) * side + dx) * 4);
  }
  return { width: side, height: side, data };
}

/** Premultiplied float copy, so transparent pixels' colours do not bleed into edges when resampling. */
function premultiply(img: Rgba8): Float64Array {
  const out = new Float64Array(img.data.length);
  for (let i = 0; i < img.data.length; i += 4) {
    const a = img.data[i + 3]! / 255;
    out[i] = img.data[i]! * a;
    out[i + 1] = img.data[i + 1]! * a;
    out[i + 2] = img.data[i + 2]! * a;
    out[i + 3] = img.data[i + 3]!;
  }
  return out;
}

function unpremultiply(src: Float64Array, side: number): Rgba8 {
  const data = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i += 4) {
    const a = src[i + 3]!;
    const k = a > 0 ? 255 / a : 0;
    data[i] = Math.min(255, Math.round(src[i]! * k));
    data[i + 1] = Math.min(255, Math.round(src[i + 1]! * k));
    data[i + 2] = Math.min(255, Math.round(src[i + 2]! * k));
    data[i + 3] = Math.min(255, Math.round(a));
  }
  return { width: side, height: side, data };
}

/** Resizes a square RGBA image to `side`×`side` (bilinear up, area average down). */
export function resizeSquare(img: Rgba8, side: number): Rgba8 {
  const src = premultiply(img);
  const n = img.width;
  const out = new Float64Array(side * side * 4);
  const scale = n / side;
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const o = (y * side + x) * 4;
      if (scale > 1) {
        const x0 = Math.floor(x * scale);
        const x1 = Math.max(x0 + 1, Math.floor((x + 1) * scale));
        const y0 = Math.floor(y * scale);
        const y1 = Math.max(y0 + 1, Math.floor((y + 1) * scale));
        const count = (x1 - x0) * (y1 - y0);
        for (let sy = y0; sy < y1; sy++) {
          for (let sx = x0; sx < x1; sx++) {
            const s = (sy * n + sx) * 4;
            for (let c = 0; c < 4; c++) out[o + c]! += src[s + c]! / count;
          }
        }
      } else {
        const fx = Math.max(0, (x + 0.5) * scale - 0.5);
        const fy = Math.max(0, (y + 0.5) * scale - 0.5);
        const x0 = Math.floor(fx);
        const y0 = Math.floor(fy);
        const x1 = Math.min(n - 1, x0 + 1);
        const y1 = Math.min(n - 1, y0 + 1);
        const tx = fx - x0;
        const ty = fy - y0;
        for (let c = 0; c < 4; c++) {
          const top = src[(y0 * n + x0) * 4 + c]! * (1 - tx) + src[(y0 * n + x1) * 4 + c]! * tx;
          const bottom = src[(y1 * n + x0) * 4 + c]! * (1 - tx) + src[(y1 * n + x1) * 4 + c]! * tx;
          out[o + c] = top * (1 - ty) + bottom * ty;
        }
      }
    }
  }
  return unpremultiply(out, side);
}

function luminance(d: Uint8Array, i: number): number {
  return (0.2126 * d[i]! + 0.7152 * d[i + 1]! + 0.0722 * d[i + 2]!) / 255;
}

/** Turns any RGBA image into a black-ink icon (see the module comment for the rule). */
export function blackenIcon(img: Rgba8): { image: Rgba8; rule: string } {
  const { data, width, height } = img;
  let borderOpaque = true;
  let borderLum = 0;
  let borderCount = 0;
  for (let x = 0; x < width; x++) {
    for (const y of [0, height - 1]) {
      const i = (y * width + x) * 4;
      if (data[i + 3]! < 247) borderOpaque = false;
      borderLum += luminance(data, i);
      borderCount++;
    }
  }
  const lightArt = borderOpaque && borderLum / borderCount < 0.5;
  const out = new Uint8Array(data.length);
  let before = 0;
  let after = 0;
  let hasTransparency = false;
  for (let i = 0; i < data.length; i += 4) {
    const a = data[i + 3]!;
    if (a < 255) hasTransparency = true;
    const l = luminance(data, i);
    const alpha = Math.round(a * (lightArt ? l : 1 - l));
    out[i + 3] = alpha;
    before += a;
    after += alpha;
  }
  const keepAlpha = (why: string): { image: Rgba8; rule: string } => {
    for (let i = 3; i < data.length; i += 4) out[i] = data[i]!;
    return { image: { width, height, data: out }, rule: `alpha kept from the original (${why}), colour set to black` };
  };
  if (!lightArt && hasTransparency && after < before * 0.25) return keepAlpha('light artwork on a transparent background');
  // A flat image (e.g. an all-black RGB square) has no luminance contrast: either rule would erase every
  // visible pixel and write a blank icon that "passes". Keep what was visible instead.
  if (before > 0 && after < before * 0.01) return keepAlpha('one flat colour: the luminance rules would erase it');
  return {
    image: { width, height, data: out },
    rule: lightArt
      ? 'alpha = alpha × luminance (light artwork on a dark opaque background), colour set to black'
      : 'alpha = alpha × (1 − luminance) (dark artwork), colour set to black',
  };
}

/**
 * Produces a corrected PNG when the problems are mechanical; the result passes `checkImage` for the same
 * kind (except a logo whose background is opaque, which is reported but left alone).
 * @example const r = fixImage(bytes, 'icon'); if (r.fixed) writeFileSync('icon.fixed.png', r.png);
 */
export function fixImage(bytes: Uint8Array, kind: ImageKind): FixResult {
  const report = checkImage(bytes, kind);
  const h = report.header;
  if (!report.decoded && h && report.errors.every((e) => !e.code.startsWith('png-')) && h.width * h.height > MAX_DECODE_PIXELS) {
    return { fixed: false, reason: `cannot fix: ${h.width}×${h.height} px is too large to decode safely (more than ${MAX_DECODE_PIXELS.toLocaleString('en-US')} pixels); scale it down to at most ${LIMITS.maxSide}×${LIMITS.maxSide} in an image editor` };
  }
  if (!report.decoded) {
    const first = report.errors[0];
    return { fixed: false, reason: `cannot fix: ${first ? first.message : 'the file could not be decoded'}` };
  }
  const changes: string[] = [];
  let img = to8bit(report.decoded);
  if (img.width !== img.height) {
    changes.push(`padded ${img.width}×${img.height} onto a transparent ${Math.max(img.width, img.height)}×${Math.max(img.width, img.height)} square`);
    img = padToSquare(img);
  }
  if (img.width < LIMITS.minSide || img.width > LIMITS.maxSide) {
    const side = img.width < LIMITS.minSide ? LIMITS.minSide : LIMITS.maxSide;
    changes.push(`scaled ${img.width}×${img.width} to ${side}×${side}`);
    img = resizeSquare(img, side);
  }
  if (kind === 'icon') {
    const { image, rule } = blackenIcon(img);
    img = image;
    changes.push(`rewrote as RGBA: ${rule}`);
  } else if (report.errors.some((e) => e.code === 'logo-opaque-background')) {
    changes.push('left the opaque background alone (removing a background is not mechanical: edit the artwork)');
  }
  const png = new PNG({ width: img.width, height: img.height });
  png.data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  const out = PNG.sync.write(png, { colorType: 6, inputColorType: 6, bitDepth: 8 });
  if (changes.length === 0) changes.push('re-encoded as 8-bit RGBA');
  return { fixed: true, png: out, changes };
}
