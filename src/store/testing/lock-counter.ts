/**
 * Child process for the cross-process lock test: `n` times, under `withLock(id)`, reads the record,
 * yields, and writes it back with `token` incremented. Without a working lock, two of these lose
 * increments.
 *
 * Usage: lock-counter.ts <dir> <installationId> <n>
 */
import { openFileStore } from '../file.ts';

const [dir, id, n] = process.argv.slice(2);
if (!dir || !id || !n) throw new Error('usage: lock-counter.ts <dir> <installationId> <n>');
const store = await openFileStore({ dir, onWarning: () => {} });
for (let i = 0; i < Number(n); i++) {
  await store.withLock(id, async () => {
    const record = await store.get(id);
    if (!record) throw new Error('counter record missing');
    await new Promise((resolve) => setTimeout(resolve, 1));
    await store.put({ ...record, token: String(Number(record.token) + 1) });
  });
}
await store.close();
process.stdout.write('done\n');
