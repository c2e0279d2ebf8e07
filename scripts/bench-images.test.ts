import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PNG } from 'pngjs';
import { checkImage } from '../src/images/check.ts';
import { benchImage, runBench } from './bench-images.ts';

const FIX = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../fixtures/images');

describe('bench-images', () => {
  it('the bench\'s check path gives the same findings as checkImage', { timeout: 60_000 }, () => {
    const bytes = benchImage();
    for (const kind of ['logo', 'icon'] as const) {
      const { report, ratio, decodeMs, checkMs } = runBench(bytes, kind, 1);
      const direct = checkImage(bytes, kind);
      assert.deepEqual(report.errors, direct.errors);
      assert.deepEqual(report.warnings, direct.warnings);
      assert.ok(decodeMs > 0 && checkMs > 0 && Number.isFinite(ratio));
    }
  });

  it('the check decodes exactly what pngjs alone decodes (every valid 8-bit fixture)', () => {
    for (const file of ['logo-good.png', 'logo-full-bleed.png', 'logo-palette.png', 'logo-greyscale-alpha.png', 'logo-interlaced.png', 'icon-palette.png', 'icon-rgb-black.png', 'logo-not-square.png', 'benchmark']) {
      const bytes = file === 'benchmark' ? benchImage() : readFileSync(join(FIX, file));
      const ours = checkImage(bytes, 'logo').decoded!;
      assert.ok(Buffer.from(ours.data.buffer, ours.data.byteOffset, ours.data.byteLength).equals(PNG.sync.read(bytes).data), file);
    }
    const sixteen = readFileSync(join(FIX, 'logo-16bit.png'));
    const ours = checkImage(sixteen, 'logo').decoded!;
    assert.deepEqual(Array.from(ours.data.subarray(0, 4096)), Array.from(PNG.sync.read(sixteen, { skipRescale: true }).data.subarray(0, 4096)));
  });
});
