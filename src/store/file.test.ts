import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { tempDir } from '../testing/runtime.ts';
import { runStoreContract, sampleRecord } from './contract.ts';
import { StoreCorruptError, StoreDirError, StoreKeyError, StoreListError } from './errors.ts';
import { openFileStore, type FileStore } from './file.ts';
import { keyId } from './key.ts';
import { filesContaining } from './scan.ts';

const quiet = () => {};

for (const encrypted of [false, true]) {
  runStoreContract(encrypted ? 'file (encrypted)' : 'file (clear)', async () => {
    const tmp = await tempDir('sik-store-');
    const key = encrypted ? randomBytes(32) : undefined;
    const open = () => openFileStore({ dir: join(tmp.path, 'data'), key, onWarning: quiet });
    return { store: await open(), cleanup: tmp.remove, reopen: open };
  });
}

describe('file store on disk', { timeout: 60_000 }, () => {
  let tmp: { path: string; remove(): Promise<void> };
  let dir: string;
  const stores: FileStore[] = [];
  const open = async (options: Partial<Parameters<typeof openFileStore>[0]> = {}) => {
    const store = await openFileStore({ dir, onWarning: quiet, ...options });
    stores.push(store);
    return store;
  };
  beforeEach(async () => {
    tmp = await tempDir('sik-store-');
    dir = join(tmp.path, 'data');
  });
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    await tmp.remove();
  });

  it('creates the directory 0700 and record files 0600, one file per installation', async () => {
    const store = await open();
    const a = sampleRecord();
    const b = sampleRecord();
    await store.put(a);
    await store.put(b);
    await store.put({ ...a, token: 'x'.repeat(64) });
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    const names = (await readdir(dir)).sort();
    assert.deepEqual(names, [`${a.installationId}.json`, `${b.installationId}.json`].sort());
    for (const name of names) assert.equal((await stat(join(dir, name))).mode & 0o777, 0o600, name);
    assert.equal(store.pathOf(a.installationId.toUpperCase()), join(dir, `${a.installationId}.json`));
  });

  it('refuses a group/world-writable directory and tightens a merely readable one', async () => {
    await mkdir(dir);
    await chmod(dir, 0o777);
    await assert.rejects(open(), (e: unknown) => e instanceof StoreDirError && e.path === dir && /writable by group or others/.test(e.message));
    await chmod(dir, 0o755);
    const warnings: string[] = [];
    await open({ onWarning: (m) => warnings.push(m) });
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    assert.match(warnings.join('\n'), /tightened to 700/);
  });

  it('refuses a path that is a file', async () => {
    await writeFile(join(tmp.path, 'plain'), 'x');
    const plain = join(tmp.path, 'plain');
    await assert.rejects(openFileStore({ dir: plain, onWarning: quiet }),
      (e: unknown) => e instanceof StoreDirError && e.path === plain && e.message === `${plain}: is not a directory (a file has that name)`);
    await assert.rejects(openFileStore({ dir: join(plain, 'data'), onWarning: quiet }),
      (e: unknown) => e instanceof StoreDirError && /part of its path is a file/.test(e.message));
  });

  it('with a key, no token or refresh token bytes reach the disk in clear', async () => {
    const store = await open({ key: randomBytes(32) });
    const record = sampleRecord();
    await store.put(record);
    await store.put({ ...record, token: 'c'.repeat(64) });
    for (const secret of [record.token, record.refreshToken, 'c'.repeat(64), record.orgSlug]) {
      assert.deepEqual(await filesContaining(tmp.path, secret), [], 'clear bytes on disk');
    }
    const envelope = JSON.parse(await readFile(store.pathOf(record.installationId), 'utf8')) as Record<string, unknown>;
    assert.equal(envelope['enc'], 'aes-256-gcm');
    assert.equal(envelope['record'], undefined);
  });

  it('without a key the token is on disk (the control for the scan above)', async () => {
    const store = await open();
    const record = sampleRecord();
    await store.put(record);
    assert.deepEqual(await filesContaining(tmp.path, record.token), [store.pathOf(record.installationId)]);
  });

  it('delete leaves no token bytes anywhere in the directory', async () => {
    const store = await open();
    const record = sampleRecord();
    for (let i = 0; i < 5; i++) await store.put({ ...record, updatedAt: String(i) });
    assert.equal(await store.delete(record.installationId), true);
    assert.deepEqual(await filesContaining(tmp.path, record.token), []);
    assert.deepEqual(await filesContaining(tmp.path, record.refreshToken), []);
    assert.deepEqual(await readdir(dir), []);
  });

  it('a wrong key or a missing key is a StoreKeyError naming the file; nothing is overwritten', async () => {
    const key = randomBytes(32);
    const record = sampleRecord();
    await (await open({ key })).put(record);
    const path = join(dir, `${record.installationId}.json`);
    const before = await readFile(path);
    const other = randomBytes(32);
    const wrong = await open({ key: other });
    await assert.rejects(wrong.get(record.installationId), (e: unknown) =>
      e instanceof StoreKeyError && e.path === path && e.message.includes(keyId(key)) && e.message.includes(keyId(other)));
    await assert.rejects(wrong.put({ ...record, token: 'n'.repeat(64) }), StoreKeyError);
    await assert.rejects(wrong.list(), StoreKeyError);
    const warnings: string[] = [];
    const none = await open({ onWarning: (m) => warnings.push(m) });
    await assert.rejects(none.get(record.installationId), (e: unknown) => e instanceof StoreKeyError && /no TOKEN_STORE_KEY/.test(e.message));
    assert.deepEqual(await readFile(path), before);
    // Opening without the key says so at once (a forgotten TOKEN_STORE_KEY), not only at the first request.
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, new RegExp(`${record.installationId}\\.json: encrypted .*no TOKEN_STORE_KEY.*set TOKEN_STORE_KEY`));
  });

  it('keyUnusable: set at open when records exist and not one decrypts with the key given (or without one)', async () => {
    const key = randomBytes(32);
    const quiet = { onWarning: () => {} };
    assert.equal((await open({ key, ...quiet })).keyUnusable, false, 'an empty store');
    await (await open({ key, ...quiet })).put(sampleRecord());
    assert.equal((await open({ key, ...quiet })).keyUnusable, false, 'the right key');
    assert.equal((await open({ key: randomBytes(32), ...quiet })).keyUnusable, true, 'another key');
    assert.equal((await open(quiet)).keyUnusable, true, 'no key');
    // One record readable is enough to run (the others are reported, as before).
    await (await open({ key: randomBytes(32), ...quiet })).put(sampleRecord());
    assert.equal((await open({ key, ...quiet })).keyUnusable, false, 'a mixed store');
    // Altered bytes under the right key are corruption, not a wrong key.
    const alone = join(dir, '..', 'alone');
    const single = await openFileStore({ dir: alone, key, onWarning: () => {} });
    const record = sampleRecord();
    await single.put(record);
    await single.close();
    const file = join(alone, `${record.installationId}.json`);
    const envelope = JSON.parse(await readFile(file, 'utf8')) as Record<string, string>;
    await writeFile(file, JSON.stringify({ ...envelope, data: Buffer.from('tampered').toString('base64') }));
    const reopened = await openFileStore({ dir: alone, key, onWarning: () => {} });
    assert.equal(reopened.keyUnusable, false, 'a tampered record under the right key');
    await reopened.close();
  });

  it('tampered ciphertext and a file copied under another id fail authentication', async () => {
    const key = randomBytes(32);
    const store = await open({ key });
    const a = sampleRecord();
    const b = sampleRecord();
    await store.put(a);
    const envelope = JSON.parse(await readFile(store.pathOf(a.installationId), 'utf8')) as Record<string, string>;
    const data = Buffer.from(envelope['data'] ?? '', 'base64');
    data[3] = (data[3] ?? 0) ^ 1;
    await writeFile(store.pathOf(a.installationId), JSON.stringify({ ...envelope, data: data.toString('base64') }));
    await assert.rejects(store.get(a.installationId), /authentication failed/);
    await writeFile(store.pathOf(b.installationId), JSON.stringify({ ...envelope, installationId: b.installationId }));
    await assert.rejects(store.get(b.installationId), StoreKeyError);
  });

  it('a truncated tag or a foreign IV length fails authentication (GCM would accept a prefix of the real tag)', async () => {
    const key = randomBytes(32);
    const store = await open({ key });
    const a = sampleRecord();
    await store.put(a);
    const path = store.pathOf(a.installationId);
    const envelope = JSON.parse(await readFile(path, 'utf8')) as Record<string, string>;
    const tag = Buffer.from(envelope['tag'] ?? '', 'base64');
    const iv = Buffer.from(envelope['iv'] ?? '', 'base64');
    for (const [label, altered] of [
      ['4-byte tag', { ...envelope, tag: tag.subarray(0, 4).toString('base64') }],
      ['12-byte tag', { ...envelope, tag: tag.subarray(0, 12).toString('base64') }],
      ['16-byte IV', { ...envelope, iv: Buffer.concat([iv, Buffer.alloc(4)]).toString('base64') }],
    ] as const) {
      await writeFile(path, JSON.stringify(altered));
      await assert.rejects(store.get(a.installationId), (e: unknown) => e instanceof StoreKeyError && /authentication failed/.test(e.message), label);
    }
    await writeFile(path, JSON.stringify(envelope));
    assert.equal((await store.get(a.installationId))?.token, a.token);
  });

  const corruptions: Array<[string, (good: Buffer, otherId: string) => Buffer | string, RegExp]> = [
    ['truncated', (good) => good.subarray(0, Math.floor(good.length / 2)), /not valid JSON/],
    ['empty', () => '', /empty/],
    ['foreign JSON', () => '{"hello":"world"}', /foreign file/],
    ['binary garbage', () => randomBytes(64), /not valid JSON/],
    ['another installation', (good, otherId) => good.toString().replaceAll(/"installationId":"[^"]+"/g, `"installationId":"${otherId}"`), /holds installation/],
    ['future version', (good) => good.toString().replace('"version":1', '"version":9'), /unsupported version 9/],
  ];
  for (const [label, corrupt, reason] of corruptions) {
    it(`a corrupt file (${label}) is a StoreCorruptError naming it, and is never overwritten`, async () => {
      const store = await open();
      const record = sampleRecord();
      await store.put(record);
      const path = store.pathOf(record.installationId);
      const bad = Buffer.from(corrupt(await readFile(path), sampleRecord().installationId));
      await writeFile(path, bad);
      const named = (e: unknown) => e instanceof StoreCorruptError && e.path === path && reason.test(e.message) && e.message.startsWith(path);
      await assert.rejects(store.get(record.installationId), named);
      await assert.rejects(store.list(), named);
      await assert.rejects(store.put(record), named);
      assert.deepEqual(await readFile(path), bad);
      // Reopening neither fails nor repairs it behind the operator's back.
      const again = await open({ key: randomBytes(32) });
      await assert.rejects(again.get(record.installationId), StoreCorruptError);
      assert.deepEqual(await readFile(path), bad);
      // An uninstall must still be able to purge it.
      assert.equal(await store.delete(record.installationId), true);
    });
  }

  it('list names every unreadable file at once', async () => {
    const store = await open();
    const good = sampleRecord();
    await store.put(good);
    const bad = [sampleRecord().installationId, sampleRecord().installationId].map((id) => join(dir, `${id}.json`));
    for (const path of bad) await writeFile(path, 'nope');
    await assert.rejects(store.list(), (e: unknown) =>
      e instanceof StoreListError && e.errors.map((x) => x.path).sort().join() === bad.sort().join());
  });

  it('ignores (and reports) files that are not store files', async () => {
    await mkdir(dir, { mode: 0o700 });
    await writeFile(join(dir, 'README'), 'hello');
    const warnings: string[] = [];
    const store = await open({ onWarning: (m) => warnings.push(m) });
    assert.deepEqual(await store.list(), []);
    assert.match(warnings.join(), /1 file\(s\) that are not store files/);
  });

  it('says nothing of subdirectories such as the outbox sharing DATA_DIR', async () => {
    await mkdir(join(dir, 'outbox'), { recursive: true, mode: 0o700 });
    const warnings: string[] = [];
    const store = await open({ onWarning: (m) => warnings.push(m) });
    assert.deepEqual(await store.list(), []);
    assert.deepEqual(warnings, []);
  });

  it('removes temp files of dead processes at open and keeps those of live ones', async () => {
    const store = await open();
    const record = sampleRecord();
    await store.put(record);
    const dead = join(dir, `.${record.installationId}.999999999.abcdef.tmp`);
    const live = join(dir, `.${record.installationId}.${process.pid}.abcdef.tmp`);
    await writeFile(dead, JSON.stringify(record));
    await writeFile(live, 'in flight');
    await open();
    assert.deepEqual((await readdir(dir)).sort(), [`${record.installationId}.json`, `.${record.installationId}.${process.pid}.abcdef.tmp`].sort());
    assert.deepEqual(await store.get(record.installationId), record);
  });

  it('with a key, encrypts records it finds in clear at open', async () => {
    const record = sampleRecord();
    await (await open()).put(record);
    const warnings: string[] = [];
    const store = await open({ key: randomBytes(32), onWarning: (m) => warnings.push(m) });
    assert.match(warnings.join(), /encrypted 1 record/);
    assert.deepEqual(await filesContaining(tmp.path, record.token), []);
    assert.deepEqual(await store.get(record.installationId), record);
  });

  it('with a key and encryptExisting: false, clear records stay readable until rewritten', async () => {
    const record = sampleRecord();
    await (await open()).put(record);
    const store = await open({ key: randomBytes(32), encryptExisting: false });
    assert.deepEqual(await store.get(record.installationId), record);
    assert.equal((await filesContaining(tmp.path, record.token)).length, 1);
    await store.put(record);
    assert.deepEqual(await filesContaining(tmp.path, record.token), []);
  });

  it('two stores on one directory see each other\'s writes (no stale cache)', async () => {
    const one = await open();
    const two = await open();
    const record = sampleRecord();
    await one.put(record);
    assert.deepEqual(await two.get(record.installationId), record);
    await two.delete(record.installationId);
    assert.equal(await one.get(record.installationId), undefined);
  });
});
