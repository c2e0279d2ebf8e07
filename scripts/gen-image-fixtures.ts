/**
 * Generates fixtures/images/ (logos and icons covering every image rule, plus broken files) and
 * fixtures/apps/ (a good app configuration and one bad one per rule), each with an index.json manifest of
 * expected verdicts. Deterministic: the PNGs use the kit's own encoder and deflate, so every runtime writes
 * the same bytes; `gen-image-fixtures.test.ts` checks the checked-in files are up to date.
 *
 *   node --import tsx scripts/gen-image-fixtures.ts     # rewrites fixtures/images and fixtures/apps
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { chunk, encodePng, type RawImage } from '../src/images/encode.ts';
import { IMAGE_CODES } from '../src/images/findings.ts';
import { crc32, PNG_SIGNATURE } from '../src/images/png.ts';
import { appFixtures } from './gen-app-fixtures.ts';

type Verdict = { errors: string[]; warnings?: string[] };

/** One image fixture and what each check must say about it. */
export interface ImageFixture {
  file: string;
  description: string;
  /** Whether `--fix` must produce a file that passes for that kind. */
  fixable?: { logo?: boolean; icon?: boolean };
  logo: Verdict;
  icon: Verdict;
  bytes: Buffer;
}

const S = 256;

/** Anti-aliased coverage of a disc (4×4 supersampling), 0..1. */
function disc(cx: number, cy: number, r: number): (x: number, y: number) => number {
  return (x, y) => {
    let inside = 0;
    for (let sy = 0; sy < 4; sy++) {
      for (let sx = 0; sx < 4; sx++) {
        const dx = x + (sx + 0.5) / 4 - cx;
        const dy = y + (sy + 0.5) / 4 - cy;
        if (dx * dx + dy * dy <= r * r) inside++;
      }
    }
    return inside / 16;
  };
}

function rgba(width: number, height: number, pixel: (x: number, y: number) => readonly number[], extra: Partial<RawImage> = {}): Buffer {
  return encodePng({ width, height, colorType: 6, bitDepth: 8, sample: pixel, ...extra });
}

const circle = disc(S / 2, S / 2, S * 0.4);
/** A coloured disc on a transparent background: the good logo. */
const colouredDisc = (x: number, y: number): number[] => {
  const c = circle(x, y);
  return c === 0 ? [0, 0, 0, 0] : [40 + (x >> 2), 90, 200 - (y >> 2), Math.round(c * 255)];
};
/** A black disc with anti-aliased alpha and R=G=B=0 everywhere: the good icon. */
const blackDisc = (x: number, y: number): number[] => [0, 0, 0, Math.round(circle(x, y) * 255)];

function sized(side: number, height = side): (x: number, y: number) => number[] {
  const d = disc(side / 2, height / 2, Math.min(side, height) * 0.4);
  return (x, y) => {
    const c = d(x, y);
    return c === 0 ? [0, 0, 0, 0] : [30, 120, 60, Math.round(c * 255)];
  };
}

function withChunkInserted(png: Buffer, type: string, data: Uint8Array): Buffer {
  // after the signature (8) and IHDR (25)
  return Buffer.concat([png.subarray(0, 33), chunk(type, data), png.subarray(33)]);
}

function idatOffset(png: Buffer): number {
  return png.indexOf(Buffer.from('IDAT')) - 4;
}

/** Every image fixture, generated in memory. */
export function imageFixtures(): ImageFixture[] {
  const good = rgba(S, S, colouredDisc);
  const goodIcon = rgba(S, S, blackDisc);
  const notRgbaIcon = ['icon-not-rgba'];
  const list: Array<Omit<ImageFixture, 'bytes'> & { bytes: () => Buffer }> = [
    {
      file: 'logo-good.png', description: '256×256 RGBA, coloured anti-aliased disc on a transparent background',
      logo: { errors: [] }, icon: { errors: ['icon-not-black'] }, fixable: { icon: true }, bytes: () => good,
    },
    {
      file: 'logo-full-bleed.png', description: '256×256 RGB, opaque artwork (stripes) reaching every edge',
      logo: { errors: [] }, icon: { errors: ['icon-not-rgba', 'icon-not-black'] }, fixable: { icon: true },
      bytes: () => encodePng({ width: S, height: S, colorType: 2, bitDepth: 8, sample: (x, y) => (((x + y) >> 4) % 3 === 0 ? [230, 60, 40] : ((x + y) >> 4) % 3 === 1 ? [40, 160, 90] : [30, 60, 200]) }),
    },
    {
      file: 'logo-opaque-background.png', description: '256×256 RGB, blue disc on an opaque white background (review rule: background should be transparent)',
      logo: { errors: ['logo-opaque-background'] }, icon: { errors: ['icon-not-rgba', 'icon-not-black'] }, fixable: { icon: true },
      bytes: () => encodePng({ width: S, height: S, colorType: 2, bitDepth: 8, sample: (x, y) => { const c = circle(x, y); return [Math.round(255 - 215 * c), Math.round(255 - 165 * c), Math.round(255 - 55 * c)]; } }),
    },
    {
      file: 'logo-rounded-tile.png', description: '256×256 RGBA, opaque orange tile with large rounded corners (heuristic cannot decide → warning)',
      logo: { errors: [], warnings: ['logo-background-uncertain'] }, icon: { errors: ['icon-not-black'] }, fixable: { icon: true },
      bytes: () => {
        const r = 64;
        return rgba(S, S, (x, y) => {
          const cx = Math.min(Math.max(x + 0.5, r), S - r);
          const cy = Math.min(Math.max(y + 0.5, r), S - r);
          const inside = (x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 <= r * r;
          return inside ? [250, 140, 20, 255] : [0, 0, 0, 0];
        });
      },
    },
    {
      file: 'logo-not-square.png', description: '320×256 RGBA disc (not square; --fix pads it)',
      logo: { errors: ['not-square'] }, icon: { errors: ['not-square', 'icon-not-black'] }, fixable: { logo: true, icon: true },
      bytes: () => rgba(320, 256, sized(320, 256)),
    },
    {
      file: 'logo-too-small.png', description: '255×255 RGBA disc (one pixel under the minimum; --fix scales it up)',
      logo: { errors: ['dimensions-too-small'] }, icon: { errors: ['dimensions-too-small', 'icon-not-black'] }, fixable: { logo: true, icon: true },
      bytes: () => rgba(255, 255, sized(255)),
    },
    {
      file: 'logo-too-large.png', description: '1025×1025 RGBA disc (one pixel over the maximum; --fix scales it down)',
      logo: { errors: ['dimensions-too-large'] }, icon: { errors: ['dimensions-too-large', 'icon-not-black'] }, fixable: { logo: true, icon: true },
      bytes: () => rgba(1025, 1025, sized(1025)),
    },
    {
      file: 'logo-1024.png', description: '1024×1024 RGBA disc (the maximum, inclusive)',
      logo: { errors: [] }, icon: { errors: ['icon-not-black'] }, bytes: () => rgba(1024, 1024, sized(1024)),
    },
    {
      file: 'logo-16bit.png', description: '256×256 RGBA, 16 bits per sample',
      logo: { errors: [] }, icon: { errors: ['icon-not-black'] },
      bytes: () => encodePng({ width: S, height: S, colorType: 6, bitDepth: 16, sample: (x, y) => colouredDisc(x, y).map((v) => v * 257) }),
    },
    {
      file: 'logo-palette.png', description: '256×256 4-bit palette with tRNS (index 0 transparent)',
      logo: { errors: [] }, icon: { errors: notRgbaIcon.concat('icon-not-black') },
      bytes: () => encodePng({
        width: S, height: S, colorType: 3, bitDepth: 4, palette: [[0, 0, 0], [200, 30, 30], [30, 30, 200]],
        transparency: Uint8Array.of(0, 255, 255), sample: (x, y) => [circle(x, y) >= 0.5 ? (x < S / 2 ? 1 : 2) : 0],
      }),
    },
    {
      file: 'logo-greyscale-alpha.png', description: '256×256 greyscale+alpha, grey disc',
      logo: { errors: [] }, icon: { errors: notRgbaIcon.concat('icon-not-black', 'icon-transparent-not-black') },
      bytes: () => encodePng({ width: S, height: S, colorType: 4, bitDepth: 8, sample: (x, y) => [128, Math.round(circle(x, y) * 255)] }),
    },
    {
      file: 'logo-interlaced.png', description: '256×256 RGBA, Adam7 interlaced',
      logo: { errors: [] }, icon: { errors: ['icon-not-black'] },
      bytes: () => encodePng({ width: S, height: S, colorType: 6, bitDepth: 8, interlace: true, sample: colouredDisc }),
    },
    {
      file: 'icon-good.png', description: '256×256 RGBA, black disc: R=G=B=0 everywhere, anti-aliased alpha',
      logo: { errors: [] }, icon: { errors: [] }, bytes: () => goodIcon,
    },
    {
      file: 'icon-cropper-near-black.png', description: 'the web cropper\'s signature: visible pixels re-encoded as near-black (RGB 1–12)',
      logo: { errors: [] }, icon: { errors: ['icon-not-black'] }, fixable: { icon: true },
      bytes: () => rgba(S, S, (x, y) => { const a = Math.round(circle(x, y) * 255); const v = a === 0 ? 0 : 1 + ((x * 7 + y * 13) % 12); return [v, v, a === 0 ? 0 : v >> 1, a]; }),
    },
    {
      file: 'icon-coloured.png', description: 'red disc: clearly coloured icon pixels',
      logo: { errors: [] }, icon: { errors: ['icon-not-black'] }, fixable: { icon: true },
      bytes: () => rgba(S, S, (x, y) => { const a = Math.round(circle(x, y) * 255); return a === 0 ? [0, 0, 0, 0] : [220, 20, 20, a]; }),
    },
    {
      file: 'icon-transparent-white.png', description: 'black disc whose fully transparent pixels are (255,255,255,0): invisible, still rejected by the server',
      logo: { errors: [] }, icon: { errors: ['icon-transparent-not-black'] }, fixable: { icon: true },
      bytes: () => rgba(S, S, (x, y) => { const a = Math.round(circle(x, y) * 255); return a === 0 ? [255, 255, 255, 0] : [0, 0, 0, a]; }),
    },
    {
      file: 'icon-one-red-pixel.png', description: 'black icon with a single (1,0,0,255) pixel (as in Sentry\'s own test)',
      logo: { errors: [] }, icon: { errors: ['icon-not-black'] }, fixable: { icon: true },
      bytes: () => rgba(S, S, (x, y) => (x === 128 && y === 128 ? [1, 0, 0, 255] : blackDisc(x, y))),
    },
    {
      file: 'icon-greyscale-alpha.png', description: 'black disc stored as greyscale+alpha: looks right, rejected (server needs RGBA)',
      logo: { errors: [] }, icon: { errors: notRgbaIcon }, fixable: { icon: true },
      bytes: () => encodePng({ width: S, height: S, colorType: 4, bitDepth: 8, sample: (x, y) => [0, Math.round(circle(x, y) * 255)] }),
    },
    {
      file: 'icon-palette.png', description: 'black disc stored as a 1-bit palette with tRNS: looks right, rejected (server needs RGBA)',
      logo: { errors: [] }, icon: { errors: notRgbaIcon }, fixable: { icon: true },
      bytes: () => encodePng({ width: S, height: S, colorType: 3, bitDepth: 1, palette: [[0, 0, 0], [0, 0, 0]], transparency: Uint8Array.of(0, 255), sample: (x, y) => [circle(x, y) >= 0.5 ? 1 : 0] }),
    },
    {
      file: 'icon-rgb-black.png', description: 'all-black RGB (no alpha): rejected as an icon (Sentry\'s test), an opaque background as a logo',
      logo: { errors: ['logo-opaque-background'] }, icon: { errors: notRgbaIcon }, fixable: { icon: true },
      bytes: () => encodePng({ width: S, height: S, colorType: 2, bitDepth: 8, sample: () => [0, 0, 0] }),
    },
    {
      file: 'icon-16bit.png', description: '16-bit RGBA black disc; some RGB samples are 0x00FF (0 at 8 bits, as Sentry\'s server reads them)',
      logo: { errors: [] }, icon: { errors: [] },
      bytes: () => encodePng({ width: S, height: S, colorType: 6, bitDepth: 16, sample: (x, y) => { const a = Math.round(circle(x, y) * 65535); const v = (x + y) % 2 === 0 ? 0xff : 0; return [v, v, 0, a]; } }),
    },
    {
      file: 'icon-interlaced.png', description: 'RGBA black disc, Adam7 interlaced',
      logo: { errors: [] }, icon: { errors: [] },
      bytes: () => encodePng({ width: S, height: S, colorType: 6, bitDepth: 8, interlace: true, sample: blackDisc }),
    },
    {
      file: 'jpeg-named.png', description: 'a JPEG (JFIF header) named .png',
      logo: { errors: ['not-png'] }, icon: { errors: ['not-png'] },
      bytes: () => Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 0xff, 0xd9]),
    },
    {
      file: 'gif-named.png', description: 'a 1×1 GIF named .png',
      logo: { errors: ['not-png'] }, icon: { errors: ['not-png'] },
      bytes: () => Buffer.from('47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b', 'hex'),
    },
    {
      file: 'webp-named.png', description: 'a WebP (RIFF/WEBP header) named .png',
      logo: { errors: ['not-png'] }, icon: { errors: ['not-png'] },
      bytes: () => Buffer.concat([Buffer.from('RIFF'), Buffer.from([26, 0, 0, 0]), Buffer.from('WEBPVP8L'), Buffer.alloc(18)]),
    },
    {
      file: 'empty.png', description: 'zero bytes',
      logo: { errors: ['not-png'] }, icon: { errors: ['not-png'] }, bytes: () => Buffer.alloc(0),
    },
    {
      file: 'damaged-signature.png', description: 'the good icon after a text-mode transfer turned CRLF into LF in the signature',
      logo: { errors: ['png-bad-signature'] }, icon: { errors: ['png-bad-signature'] },
      bytes: () => Buffer.concat([goodIcon.subarray(0, 4), goodIcon.subarray(5)]),
    },
    {
      file: 'truncated.png', description: 'the good icon cut off inside its IDAT chunk',
      logo: { errors: ['png-truncated'] }, icon: { errors: ['png-truncated'] },
      bytes: () => goodIcon.subarray(0, Math.floor(goodIcon.length * 0.6)),
    },
    {
      file: 'bad-crc.png', description: 'the good icon with one IDAT byte changed (CRC no longer matches)',
      logo: { errors: ['png-bad-crc'] }, icon: { errors: ['png-bad-crc'] },
      bytes: () => { const b = Buffer.from(goodIcon); const i = idatOffset(b) + 8 + 20; b[i] = b[i]! ^ 0x55; return b; },
    },
    {
      file: 'bad-header.png', description: 'IHDR says bit depth 3 (CRC valid): not a legal PNG header',
      logo: { errors: ['png-bad-header'] }, icon: { errors: ['png-bad-header'] },
      bytes: () => { const b = Buffer.from(goodIcon); b[24] = 3; b.writeUInt32BE(crc32(b.subarray(12, 29)), 29); return b; },
    },
    {
      file: 'bad-zlib.png', description: 'structurally sound (every CRC right) but the IDAT payload is not zlib data',
      logo: { errors: ['png-decode-failed'] }, icon: { errors: ['png-decode-failed'] },
      bytes: () => Buffer.concat([goodIcon.subarray(0, 33), chunk('IDAT', Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff)), chunk('IEND', new Uint8Array())]),
    },
    {
      file: 'no-image-data.png', description: 'signature, IHDR and IEND but no IDAT chunk',
      logo: { errors: ['png-corrupt'] }, icon: { errors: ['png-corrupt'] },
      bytes: () => Buffer.concat([goodIcon.subarray(0, 33), chunk('IEND', new Uint8Array())]),
    },
    {
      file: 'trailing-bytes.png', description: 'the good icon followed by bytes after IEND (decoders, Sentry included, ignore them)',
      logo: { errors: [], warnings: ['png-trailing-data'] }, icon: { errors: [], warnings: ['png-trailing-data'] },
      bytes: () => Buffer.concat([goodIcon, Buffer.from('appended by a broken upload\n')]),
    },
  ];
  return list.map((f) => ({ ...f, bytes: f.bytes() }));
}

/**
 * A valid PNG over Sentry's 5,000,000-byte limit (a large private ancillary chunk that decoders skip);
 * built at test time instead of checked in.
 * @example checkImage(oversizedPng(), 'icon').errors // [{ code: 'file-too-large', … }]
 */
export function oversizedPng(): Buffer {
  const icon = rgba(S, S, blackDisc);
  return withChunkInserted(icon, 'prVt', new Uint8Array(5_000_001));
}

/**
 * A PNG whose IHDR says width×height RGBA and whose IDAT is `raw` deflated, whatever its length: the
 * decompression bombs and short streams of the image tests, built at test time.
 * @example pngWithIdat(256, 256, new Uint8Array(64 << 20)) // ~64 kB that inflates to 64 MiB
 */
export function pngWithIdat(width: number, height: number, raw: Uint8Array): Buffer {
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, width);
  new DataView(ihdr.buffer).setUint32(4, height);
  ihdr.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', new Uint8Array())]);
}

/** What Sentry's upload endpoint answers for a verdict: 413 when too large, 400 on any server rule, else 200. */
export function expectedServerStatus(verdict: Verdict): number {
  if (verdict.errors.includes('file-too-large')) return 413;
  return verdict.errors.some((c) => IMAGE_CODES[c]?.source === 'server') ? 400 : 200;
}

/** The manifest written to fixtures/images/index.json. */
export function imageManifest(fixtures: ImageFixture[]): unknown {
  const side = (v: Verdict, fixable?: boolean) => ({
    ok: v.errors.length === 0, errors: v.errors, warnings: v.warnings ?? [], server: expectedServerStatus(v), ...(fixable ? { fixable: true } : {}),
  });
  return {
    description: 'Generated by scripts/gen-image-fixtures.ts. For each file: the expected check-images verdict as a logo and as an icon (ok, error and warning codes), the status Sentry\'s avatar upload answers (server), and whether --fix must produce a passing file. The >5 MB case is generated at test time (oversizedPng).',
    files: fixtures.map((f) => ({ file: f.file, description: f.description, logo: side(f.logo, f.fixable?.logo), icon: side(f.icon, f.fixable?.icon) })),
  };
}

/** Every file the generator writes, as repository-relative path → bytes. */
export function allFixtureFiles(): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const images = imageFixtures();
  for (const f of images) files.set(`fixtures/images/${f.file}`, f.bytes);
  files.set('fixtures/images/index.json', Buffer.from(`${JSON.stringify(imageManifest(images), null, 2)}\n`));
  for (const [name, content] of appFixtures()) files.set(`fixtures/apps/${name}`, Buffer.from(`${JSON.stringify(content, null, 2)}\n`));
  return files;
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

function main(): void {
  for (const [path, bytes] of allFixtureFiles()) {
    mkdirSync(dirname(join(ROOT, path)), { recursive: true });
    writeFileSync(join(ROOT, path), bytes);
  }
  console.log(`wrote ${allFixtureFiles().size} files under fixtures/images and fixtures/apps`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
