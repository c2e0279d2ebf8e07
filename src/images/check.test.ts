import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { oversizedPng, pngWithIdat } from '../../scripts/gen-image-fixtures.ts';
import { checkImage } from './check.ts';
import { encodePng } from './encode.ts';
import { IMAGE_CODES, serverWouldAccept } from './findings.ts';
import { fixImage } from './fix.ts';
import { crc32 as sharedCrc32 } from '../crc32.ts';
import { crc32, readPngStructure, sniffFormat } from './png.ts';

const DIR = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../../fixtures/images');
type Side = { ok: boolean; errors: string[]; warnings: string[]; server: number; fixable?: boolean };
const manifest = JSON.parse(readFileSync(join(DIR, 'index.json'), 'utf8')) as { files: Array<{ file: string; logo: Side; icon: Side }> };
const read = (file: string): Buffer => readFileSync(join(DIR, file));
const codes = (list: Array<{ code: string }>): string[] => list.map((f) => f.code);

describe('checkImage against the fixture manifest', () => {
  for (const entry of manifest.files) {
    for (const kind of ['logo', 'icon'] as const) {
      it(`${entry.file} as ${kind}: ${entry[kind].ok ? 'passes' : entry[kind].errors.join(', ')}`, () => {
        const report = checkImage(read(entry.file), kind);
        assert.deepEqual(codes(report.errors), entry[kind].errors);
        assert.deepEqual(codes(report.warnings), entry[kind].warnings);
        assert.equal(report.ok, entry[kind].ok);
        for (const f of [...report.errors, ...report.warnings]) {
          assert.ok(IMAGE_CODES[f.code], `unknown code ${f.code}`);
          assert.ok(f.message.length > 20, 'a sentence, not just a code');
        }
      });
    }
  }

  it('covers every code at least once (the >5 MB case aside)', () => {
    const seen = new Set(manifest.files.flatMap((f) => [...f.logo.errors, ...f.logo.warnings, ...f.icon.errors, ...f.icon.warnings]));
    const missing = Object.keys(IMAGE_CODES).filter((c) => !seen.has(c) && c !== 'file-too-large');
    assert.deepEqual(missing, []);
  });
});

describe('messages say what matters', () => {
  it('names what a mis-named file really is', () => {
    assert.match(checkImage(read('jpeg-named.png'), 'logo').errors[0]!.message, /JPEG image, not a PNG/);
    assert.match(checkImage(read('gif-named.png'), 'logo').errors[0]!.message, /GIF image/);
    assert.match(checkImage(read('webp-named.png'), 'icon').errors[0]!.message, /WebP image/);
    assert.match(checkImage(read('empty.png'), 'icon').errors[0]!.message, /empty/);
  });

  it('reports the cropper signature: count, first coordinates with colours, near-black', () => {
    const [finding] = checkImage(read('icon-cropper-near-black.png'), 'icon').errors;
    assert.match(finding!.message, /^\d+ visible pixels are not black/);
    assert.match(finding!.message, /all of them are near-black/);
    assert.match(finding!.message, /cropper/);
    assert.match(finding!.message, /\(\d+,\d+\) rgba\(\d+,\d+,\d+,\d+\)/);
  });

  it('a clearly coloured icon is not called near-black; a single off pixel is located exactly', () => {
    assert.match(checkImage(read('icon-coloured.png'), 'icon').errors[0]!.message, /none of them is near-black/);
    const one = checkImage(read('icon-one-red-pixel.png'), 'icon').errors[0]!.message;
    assert.match(one, /^1 visible pixel is not black/);
    assert.match(one, /\(128,128\) rgba\(1,0,0,255\)/);
  });

  it('says explicitly that invisible non-black pixels fail too', () => {
    const f = checkImage(read('icon-transparent-white.png'), 'icon').errors[0]!;
    assert.match(f.message, /fully transparent pixels have a non-zero colour/);
    assert.match(f.message, /rgba\(255,255,255,0\)/);
  });

  it('reads 16-bit samples as Sentry does (high byte): 0x00FF counts as 0', () => {
    assert.equal(checkImage(read('icon-16bit.png'), 'icon').ok, true);
    const bad = encodePng({ width: 256, height: 256, colorType: 6, bitDepth: 16, sample: (x) => [x === 3 ? 0x0100 : 0, 0, 0, 65535] });
    assert.match(checkImage(bad, 'icon').errors[0]!.message, /^256 visible pixels.*\(3,0\) rgba\(1,0,0,255\)/);
  });

  it('flags a file over 5,000,000 bytes and keeps checking the rest', () => {
    const report = checkImage(oversizedPng(), 'icon');
    assert.deepEqual(codes(report.errors), ['file-too-large']);
    assert.match(report.errors[0]!.message, /5,000,000/);
  });

  it('accepts 256 and 1024 px exactly', () => {
    assert.equal(checkImage(read('icon-good.png'), 'icon').header?.width, 256);
    assert.equal(checkImage(read('logo-1024.png'), 'logo').ok, true);
  });
});

describe('never crashes on damaged input', () => {
  it('every truncation and single-byte corruption of a PNG yields findings, not exceptions', () => {
    const good = read('icon-good.png');
    for (let cut = 0; cut < good.length; cut += 97) {
      const report = checkImage(good.subarray(0, cut), 'icon');
      assert.equal(report.ok, false, `cut at ${cut}`);
    }
    for (let at = 0; at < good.length; at += 61) {
      const bad = Buffer.from(good);
      bad[at] = bad[at]! ^ 0xa5;
      const report = checkImage(bad, 'icon');
      assert.equal(report.ok, false, `corruption at ${at}`);
      assert.ok(report.errors.length > 0);
    }
  });

  it('structure walk reports trailing bytes; png.ts uses the one shared CRC-32', () => {
    assert.equal(readPngStructure(read('trailing-bytes.png')).trailingBytes, 28);
    // One CRC-32 implementation in the kit: png.ts re-exports the shared module instead of keeping its own.
    assert.equal(crc32, sharedCrc32);
    assert.equal(sniffFormat(Buffer.from('<?xml version="1.0"?><svg></svg>')), 'svg');
  });

  it('an SVG saved with a UTF-8 byte-order mark is still named an SVG ("an", not "a")', () => {
    assert.equal(sniffFormat(Buffer.from('\uFEFF<svg xmlns="http://www.w3.org/2000/svg"></svg>')), 'svg');
    assert.equal(sniffFormat(Buffer.from('\uFEFF<?xml version="1.0"?>\n<svg></svg>')), 'svg');
    const svg = checkImage(Buffer.from('\uFEFF<svg></svg>'), 'logo');
    assert.match(svg.errors[0]!.message, /^the file is an SVG image, not a PNG/);
    assert.match(checkImage(Uint8Array.of(0, 0, 1, 0, 1, 0), 'logo').errors[0]!.message, /is an ICO \(Windows icon\) image/);
    assert.match(checkImage(Uint8Array.of(0xff, 0xd8, 0xff, 0xe0), 'logo').errors[0]!.message, /is a JPEG image/);
  });
});

describe('decompression bombs are refused without inflating them', () => {
  it('a header claiming more than MAX_DECODE_PIXELS is judged by the header alone', () => {
    // 5000×5000 RGBA would inflate to 100 MB; a real bomb (20000²) took 6 GB and 19 s before the cap.
    const report = checkImage(pngWithIdat(5000, 5000, new Uint8Array(16)), 'logo');
    assert.deepEqual(codes(report.errors), ['dimensions-too-large']);
    assert.match(report.errors[0]!.message, /pixels were not checked/);
    assert.equal(report.decoded, undefined);
    const fix = fixImage(pngWithIdat(5000, 5000, new Uint8Array(16)), 'logo');
    assert.equal(fix.fixed, false);
    assert.match(fix.fixed ? '' : fix.reason, /5000×5000 px is too large to decode safely/);
  });

  it('IDAT that inflates far beyond what the header needs fails instead of passing', () => {
    // 256×256 RGBA needs 263,424 bytes; 64 MiB of zeros deflates to ~64 kB (a 2 MB file reached 4 GB).
    const report = checkImage(pngWithIdat(256, 256, new Uint8Array(64 << 20)), 'icon');
    assert.deepEqual(codes(report.errors), ['png-decode-failed']);
    assert.match(report.errors[0]!.message, /decompression bomb/);
  });

  it('a little excess after the image data is still tolerated, as decoders do', () => {
    const report = checkImage(pngWithIdat(256, 256, new Uint8Array(256 * (1 + 256 * 4) + 1000)), 'icon');
    assert.equal(report.ok, true, JSON.stringify(report.errors));
  });
});

describe('fixImage', () => {
  for (const entry of manifest.files) {
    for (const kind of ['logo', 'icon'] as const) {
      if (!entry[kind].fixable) continue;
      it(`${entry.file} as ${kind}: the fixed file passes`, () => {
        const result = fixImage(read(entry.file), kind);
        assert.ok(result.fixed, result.fixed ? '' : result.reason);
        const after = checkImage(result.png, kind);
        assert.deepEqual(after.errors, []);
        assert.equal(after.header?.colorType, 6);
      });
    }
  }

  it('keeps anti-aliasing: the fixed near-black icon has intermediate alphas where the original had them', () => {
    const original = checkImage(read('icon-cropper-near-black.png'), 'icon').decoded!;
    const result = fixImage(read('icon-cropper-near-black.png'), 'icon');
    assert.ok(result.fixed);
    const fixed = checkImage(result.png, 'icon').decoded!;
    let partial = 0;
    for (let i = 3; i < fixed.data.length; i += 4) {
      assert.equal(fixed.data[i - 1], 0);
      if (fixed.data[i]! > 0 && fixed.data[i]! < 255 && original.data[i]! > 0 && original.data[i]! < 255) partial++;
      assert.ok(Math.abs(fixed.data[i]! - original.data[i]!) <= 12, 'alpha follows the original coverage');
    }
    assert.ok(partial > 100, `edge pixels keep partial alpha (${partial})`);
  });

  it('light art on a transparent background keeps its shape (alpha kept)', () => {
    const white = encodePng({ width: 256, height: 256, colorType: 6, bitDepth: 8, sample: (x, y) => ((x - 128) ** 2 + (y - 128) ** 2 < 80 ** 2 ? [255, 255, 255, 255] : [0, 0, 0, 0]) });
    const result = fixImage(white, 'icon');
    assert.ok(result.fixed);
    assert.match(result.changes.join(' '), /alpha kept/);
    assert.equal(checkImage(result.png, 'icon').decoded!.data[(128 * 256 + 128) * 4 + 3], 255);
  });

  it('a flat all-black RGB icon becomes a black RGBA square, not a blank icon that "passes"', () => {
    const result = fixImage(read('icon-rgb-black.png'), 'icon');
    assert.ok(result.fixed);
    const fixed = checkImage(result.png, 'icon').decoded!;
    let visible = 0;
    for (let i = 3; i < fixed.data.length; i += 4) if (fixed.data[i]! > 0) visible++;
    assert.equal(visible, 256 * 256);
    assert.match(result.changes.join(' '), /alpha kept/);
  });

  it('refuses what is not mechanical: non-PNG, broken data; leaves an opaque logo background alone', () => {
    assert.equal(fixImage(read('jpeg-named.png'), 'logo').fixed, false);
    assert.equal(fixImage(read('truncated.png'), 'icon').fixed, false);
    const opaque = fixImage(read('logo-opaque-background.png'), 'logo');
    assert.ok(opaque.fixed);
    assert.match(opaque.changes.join(' '), /not mechanical/);
    assert.deepEqual(codes(checkImage(opaque.png, 'logo').errors), ['logo-opaque-background']);
  });

  it('serverWouldAccept ignores review-only rules', () => {
    assert.equal(serverWouldAccept(checkImage(read('logo-opaque-background.png'), 'logo').errors), true);
    assert.equal(serverWouldAccept(checkImage(read('truncated.png'), 'logo').errors), false);
  });
});
