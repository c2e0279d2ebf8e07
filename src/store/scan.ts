import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Every file under `dir` (recursively) whose bytes contain `needle`: how tests prove a token never
 * reached the disk in clear, or left no trace after an uninstall. Returns paths, never contents.
 *
 * @example
 * assert.deepEqual(await filesContaining(dataDir, oldToken), []);
 */
export async function filesContaining(dir: string, needle: string | Uint8Array): Promise<string[]> {
  const wanted = Buffer.from(needle);
  if (wanted.length === 0) throw new RangeError('needle must not be empty');
  const hits: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) hits.push(...await filesContaining(path, wanted));
    else if (entry.isFile() && (await readFile(path)).includes(wanted)) hits.push(path);
  }
  return hits;
}
