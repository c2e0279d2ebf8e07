import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../testing/runtime.ts';
import { REQUESTS_DIR, ReplayRequestTimeoutError, requestReplay, watchReplayRequests } from './requests.ts';

describe('replay requests (the spool between dead-letters replay and a running server)', () => {
  let dir: { path: string; remove(): Promise<void> };
  before(async () => { dir = await tempDir('sik-replay-requests-'); });
  after(async () => { await dir.remove(); });

  it('a request the server has claimed but not answered in time is reported as claimed, not withdrawn', async () => {
    let release!: (n: number) => void;
    const watcher = watchReplayRequests({ replay: () => new Promise<number>((r) => { release = r; }) }, dir.path, { intervalMs: 10 });
    try {
      await assert.rejects(requestReplay(dir.path, 'all', { timeoutMs: 300, pollMs: 10 }), (e: unknown) =>
        e instanceof ReplayRequestTimeoutError && e.claimed && /took the replay request but did not answer/.test(e.message));
      assert.deepEqual(readdirSync(join(dir.path, REQUESTS_DIR)).filter((n) => n.endsWith('.taken')).length, 1);
      release(2);
    } finally {
      await watcher.stop();
    }
    // It was carried out after all: the answer is left for whoever looks.
    assert.ok(readdirSync(join(dir.path, REQUESTS_DIR)).some((n) => n.endsWith('.answer.json')));
  });

  it('refuses a target that is not all or an id before writing anything', async () => {
    await assert.rejects(requestReplay(dir.path, '../x'), /not a dead letter id/);
  });
});
