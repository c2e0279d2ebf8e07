import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { allFixtureFiles } from './gen-image-fixtures.ts';

const ROOT = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');

describe('fixtures are up to date with their generator', () => {
  it('regenerating in memory gives byte-identical files, and nothing extra is checked in', { timeout: 60_000 }, () => {
    const generated = allFixtureFiles();
    const stale: string[] = [];
    for (const [path, bytes] of generated) {
      let onDisk: Buffer | undefined;
      try {
        onDisk = readFileSync(join(ROOT, path));
      } catch {
        onDisk = undefined;
      }
      if (!onDisk || !onDisk.equals(bytes)) stale.push(path);
    }
    assert.deepEqual(stale, [], 'run: node --import tsx scripts/gen-image-fixtures.ts');
    for (const dir of ['fixtures/images', 'fixtures/apps']) {
      const extra = readdirSync(join(ROOT, dir)).map((f) => `${dir}/${f}`).filter((p) => !generated.has(p));
      assert.deepEqual(extra, [], `files not produced by the generator in ${dir}`);
    }
  });
});
