/**
 * Put/get medians of the file store at 10 and at 10 000 installations, and their ratio. The point is
 * the ratio: one file per installation means a write costs the same however many there are.
 *
 * Usage: node --import tsx scripts/bench-store.ts [--key] [--samples N]
 * Seeding writes files directly (no fsync) so the run stays short; measured puts are real (fsync).
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeRecordFile } from '../src/store/codec.ts';
import { sampleRecord } from '../src/store/contract.ts';
import { openFileStore } from '../src/store/file.ts';
import { tempDir } from '../src/testing/runtime.ts';
import type { InstallationRecord } from '../src/store/types.ts';

const args = process.argv.slice(2);
const key = args.includes('--key') ? randomBytes(32) : undefined;
const samples = Number(args[args.indexOf('--samples') + 1] ?? 0) || 300;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

interface Subject {
  store: Awaited<ReturnType<typeof openFileStore>>;
  records: InstallationRecord[];
  puts: number[];
  gets: number[];
  remove(): Promise<void>;
}

async function prepare(count: number): Promise<Subject> {
  const tmp = await tempDir('sik-bench-');
  const dir = join(tmp.path, 'data');
  const store = await openFileStore({ dir, key, onWarning: () => {} });
  const records: InstallationRecord[] = Array.from({ length: count }, () => sampleRecord());
  for (const r of records) writeFileSync(join(dir, `${r.installationId}.json`), encodeRecordFile(r, key), { mode: 0o600 });
  return { store, records, puts: [], gets: [], remove: async () => { await store.close(); await tmp.remove(); } };
}

async function sample(s: Subject, i: number, keep: boolean): Promise<void> {
  const pick = () => s.records[Math.floor(Math.random() * s.records.length)] as InstallationRecord;
  let t = performance.now();
  await s.store.put({ ...pick(), updatedAt: String(i) });
  if (keep) s.puts.push(performance.now() - t);
  t = performance.now();
  await s.store.get(pick().installationId);
  if (keep) s.gets.push(performance.now() - t);
}

const started = performance.now();
const small = await prepare(10);
const large = await prepare(10_000);
// Interleaved, so load from other processes on the machine hits both sides alike.
for (let i = 0; i < samples + 20; i++) {
  await sample(small, i, i >= 20);
  await sample(large, i, i >= 20);
}
await small.remove();
await large.remove();
const ms = (v: number) => `${v.toFixed(3)} ms`;
console.log(`file store ${key ? '(AES-256-GCM)' : '(clear)'}, ${samples} samples each, medians:`);
console.log(`  put    10 installations: ${ms(median(small.puts))}   10 000: ${ms(median(large.puts))}   ratio ${(median(large.puts) / median(small.puts)).toFixed(2)}`);
console.log(`  get    10 installations: ${ms(median(small.gets))}   10 000: ${ms(median(large.gets))}   ratio ${(median(large.gets) / median(small.gets)).toFixed(2)}`);
console.log(`  (ratio 1.00 = independent of the number of installations; total ${((performance.now() - started) / 1000).toFixed(1)} s)`);
