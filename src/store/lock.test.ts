import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { manualClock } from '../clock.ts';
import { tempDir, tsRunner } from '../testing/runtime.ts';
import { sampleRecord } from './contract.ts';
import { openFileStore, type FileStore } from './file.ts';
import { acquireFileLock, readOwner } from './lock.ts';

const STALE = 30_000;

describe('file store locks', { timeout: 120_000 }, () => {
  let tmp: { path: string; remove(): Promise<void> };
  let store: FileStore;
  const clock = manualClock(Date.now());
  const id = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
  const lockPath = () => join(tmp.path, `${id}.lock`);
  const lockBy = (pid: number, at: number, host = hostname()) =>
    writeFile(lockPath(), JSON.stringify({ pid, host, at, nonce: randomBytes(6).toString('hex') }));
  /** True if `withLock` got in within `ms` of real time (it polls every ≤ 50 ms). */
  const entersWithin = async (ms: number) => {
    let entered = false;
    const run = store.withLock(id, async () => { entered = true; });
    await new Promise((r) => setTimeout(r, ms));
    return { entered, run };
  };

  beforeEach(async () => {
    tmp = await tempDir('sik-lock-');
    clock.set(Date.now());
    store = await openFileStore({ dir: tmp.path, clock, lockStaleMs: STALE, onWarning: () => {} });
  });
  afterEach(async () => {
    await store.close();
    await tmp.remove();
  });

  it('takes over a lock left by a dead process at once', async () => {
    const dead = spawnSync(process.execPath, ['--version']).pid;
    assert.ok(dead && dead > 0);
    await lockBy(dead, clock.now());
    assert.equal(await store.withLock(id, async () => 'got it'), 'got it');
    assert.deepEqual(await readdir(tmp.path), []);
  });

  it('takes over a lock older than lockStaleMs even if its holder lives', async () => {
    await lockBy(process.pid, clock.now() - STALE - 1);
    assert.equal(await store.withLock(id, async () => 'got it'), 'got it');
  });

  it('waits for a fresh lock of a live process until it turns stale by the clock', async () => {
    await lockBy(process.pid, clock.now());
    const { entered, run } = await entersWithin(300);
    assert.equal(entered, false, 'entered while a live holder had the lock');
    clock.advance(STALE + 1);
    await run;
  });

  it('does not judge a pid from another host: only age counts there', async () => {
    const dead = spawnSync(process.execPath, ['--version']).pid ?? 999_999;
    await lockBy(dead, clock.now(), 'some-other-host');
    const { entered, run } = await entersWithin(300);
    assert.equal(entered, false);
    clock.advance(STALE + 1);
    await run;
  });

  it('treats an unreadable lock file by its age', async () => {
    await writeFile(lockPath(), '');
    const { entered, run } = await entersWithin(300);
    assert.equal(entered, false, 'a lock being written must not be broken');
    const old = (clock.now() - STALE - 5_000) / 1000;
    await utimes(lockPath(), old, old);
    await run;
  });

  it('is handed over when the holder releases, and a release never removes a lock it does not own', async () => {
    const release = await acquireFileLock(lockPath(), { clock, staleMs: STALE });
    const { entered, run } = await entersWithin(150);
    assert.equal(entered, false);
    await release();
    await run;
    const mine = await acquireFileLock(lockPath(), { clock, staleMs: STALE });
    await lockBy(process.pid, clock.now()); // someone else took it over meanwhile
    const theirs = await readOwner(lockPath());
    await mine();
    assert.deepEqual(await readOwner(lockPath()), theirs);
  });

  it('warns when a body holds the lock longer than lockStaleMs', async () => {
    const warnings: string[] = [];
    const watched = await openFileStore({ dir: tmp.path, clock, lockStaleMs: STALE, onWarning: (m) => warnings.push(m) });
    await watched.withLock(id, async () => { clock.advance(STALE + 1); });
    await watched.close();
    assert.match(warnings.join(), /longer than lockStaleMs/);
    assert.deepEqual(await readdir(tmp.path), []);
  });

  it('excludes across processes: two children increment one counter 50 times each → 100', async () => {
    const record = sampleRecord({ installationId: id, token: '0' });
    await store.put(record);
    const child = () => new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const [cmd, ...args] = tsRunner(join(import.meta.dirname ?? '.', 'testing', 'lock-counter.ts'));
      const p = spawn(cmd as string, [...args, tmp.path, id, '50'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      p.stdout.on('data', (d) => { out += String(d); });
      p.stderr.on('data', (d) => { err += String(d); });
      p.on('close', (code) => resolve({ code, out, err }));
    });
    const results = await Promise.all([child(), child()]);
    for (const r of results) assert.equal(r.code, 0, r.err);
    assert.equal((await store.get(id))?.token, '100');
    assert.deepEqual(await readdir(tmp.path), [`${id}.json`]);
  });
});
