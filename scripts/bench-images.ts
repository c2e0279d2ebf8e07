/**
 * Benchmark: checking a 1024×1024 RGBA PNG against decoding it with pngjs alone (the baseline, measured in
 * the same run). Target: check ≤ 1.3 × decode. Prints both medians and the ratio.
 *
 *   node --import tsx scripts/bench-images.ts [--rounds N]
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PNG } from 'pngjs';
import { checkImage, type ImageReport } from '../src/images/check.ts';
import type { ImageKind } from '../src/images/findings.ts';

/**
 * A realistic 1024×1024 RGBA logo: anti-aliased shapes, gradients and some noise on transparency (so the
 * compressed data is not trivially small), encoded with pngjs.
 */
export function benchImage(): Buffer {
  const side = 1024;
  const png = new PNG({ width: side, height: side });
  let seed = 12345;
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const i = (y * side + x) * 4;
      const dx = x - side / 2;
      const dy = y - side / 2;
      const d = Math.sqrt(dx * dx + dy * dy);
      const coverage = Math.max(0, Math.min(1, side * 0.42 - d));
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      png.data[i] = (x >> 2) & 0xff;
      png.data[i + 1] = (y >> 2) & 0xff;
      png.data[i + 2] = (seed >> 16) & 0x3f;
      png.data[i + 3] = Math.round(coverage * 255);
    }
  }
  return PNG.sync.write(png);
}

/** One measured run. */
export interface BenchResult {
  decodeMs: number;
  checkMs: number;
  ratio: number;
  /** The check's findings for the last round (the test compares them with checkImage's). */
  report: ImageReport;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/**
 * Alternates baseline and check rounds (so CPU load from other processes hits both alike) and compares medians.
 * @example const { ratio } = runBench(benchImage(), 'logo', 7);
 */
export function runBench(bytes: Buffer, kind: ImageKind, rounds: number): BenchResult {
  const decode: number[] = [];
  const check: number[] = [];
  let report = checkImage(bytes, kind); // warm-up (JIT) for both paths
  PNG.sync.read(bytes);
  for (let r = 0; r < rounds; r++) {
    let t = performance.now();
    PNG.sync.read(bytes);
    decode.push(performance.now() - t);
    t = performance.now();
    report = checkImage(bytes, kind);
    check.push(performance.now() - t);
  }
  const decodeMs = median(decode);
  const checkMs = median(check);
  return { decodeMs, checkMs, ratio: checkMs / decodeMs, report };
}

function main(): void {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '9' } } });
  const rounds = Math.max(1, Number(values.rounds) || 9);
  const bytes = benchImage();
  console.log(`1024×1024 RGBA PNG, ${bytes.length} bytes, ${rounds} rounds (median)`);
  for (const kind of ['logo', 'icon'] as const) {
    const r = runBench(bytes, kind, rounds);
    console.log(`${kind}: pngjs decode ${r.decodeMs.toFixed(1)} ms, check ${r.checkMs.toFixed(1)} ms, ratio ${r.ratio.toFixed(2)} (target ≤ 1.30)`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
