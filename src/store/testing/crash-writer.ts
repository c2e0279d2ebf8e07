/**
 * Child process for the crash test: puts records round-robin over CRASH_IDS forever, printing
 * `<seq>\n` only after the put resolved AND the line was handed to the pipe, so at most one
 * unacknowledged put is ever in flight. The parent SIGKILLs it at random points.
 *
 * Usage: crash-writer.ts <dir> <firstSeq>   (TOKEN_STORE_KEY in the environment, optional)
 */
import { openFileStore } from '../file.ts';
import { parseStoreKey } from '../key.ts';
import { crashRecord } from './crash-records.ts';

const [dir, first] = process.argv.slice(2);
if (!dir || !first) throw new Error('usage: crash-writer.ts <dir> <firstSeq>');
const keyText = process.env['TOKEN_STORE_KEY'];
const store = await openFileStore({ dir, key: keyText ? parseStoreKey(keyText) : undefined, onWarning: () => {} });
for (let seq = Number(first); ; seq++) {
  await store.put(crashRecord(seq));
  await new Promise<void>((resolve, reject) => process.stdout.write(`${seq}\n`, (e) => (e ? reject(e) : resolve())));
}

