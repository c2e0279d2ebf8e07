import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { StoreClosedError } from './errors.ts';
import { InvalidInstallationIdError } from './ids.ts';
import type { InstallationRecord, InstallationStore } from './types.ts';

/** What a backend's factory returns to the contract suite. */
export interface ContractSubject {
  store: InstallationStore;
  /** Removes whatever the store created (temp dir, database schema…). Called after `close`. */
  cleanup(): Promise<void>;
  /** For durable backends: a second store on the same data (checks records survive a reopen). */
  reopen?(): Promise<InstallationStore>;
}

let counter = 0;

/**
 * A record with a fresh UUID and distinct token values; `overrides` win.
 *
 * @example
 * const r = sampleRecord({ orgSlug: 'acme' });
 */
export function sampleRecord(overrides: Partial<InstallationRecord> = {}): InstallationRecord {
  counter++;
  const n = counter.toString(16).padStart(12, '0');
  const rand = Math.floor(Math.random() * 0xffffffff).toString(16).padStart(8, '0');
  return {
    installationId: `${rand}-0000-4000-8000-${n}`,
    orgSlug: 'acme',
    orgId: 17,
    token: `tok${rand}${n}`.padEnd(64, 'a'),
    refreshToken: `ref${rand}${n}`.padEnd(64, 'b'),
    expiresAt: '2026-01-01T08:00:00.000Z',
    scopes: ['event:read', 'org:read'],
    status: 'active',
    verified: true,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

const byId = (a: InstallationRecord, b: InstallationRecord) => a.installationId.localeCompare(b.installationId);

/**
 * The behaviour every `InstallationStore` backend must have, as one `node:test` suite. Call it from
 * the backend's test file with a factory that makes a fresh, empty store per test. A durable backend
 * (the default) must provide `reopen`; pass `{ durable: false }` for an in-memory one.
 *
 * @example
 * runStoreContract('memory', async () => ({ store: createMemoryStore(), cleanup: async () => {} }), { durable: false });
 */
export function runStoreContract(
  name: string,
  makeStore: () => Promise<ContractSubject>,
  options: { durable?: boolean } = {},
): void {
  const durable = options.durable ?? true;
  describe(`InstallationStore contract: ${name}`, { timeout: 60_000 }, () => {
    let subject: ContractSubject;
    let store: InstallationStore;
    beforeEach(async () => {
      subject = await makeStore();
      store = subject.store;
    });
    afterEach(async () => {
      await store.close();
      await subject.cleanup();
    });

    it('returns undefined for an unknown installation', async () => {
      assert.equal(await store.get(sampleRecord().installationId), undefined);
    });

    it('round-trips a record exactly', async () => {
      const record = sampleRecord({ regionUrl: 'https://us.sentry.io', orgSlug: 'ünïcødé-🚀' });
      await store.put(record);
      assert.deepEqual(await store.get(record.installationId), record);
    });

    it('keeps optional fields absent when they were absent', async () => {
      const record = sampleRecord();
      delete record.orgId;
      await store.put(record);
      const got = await store.get(record.installationId);
      assert.ok(got && !('orgId' in got) && !('regionUrl' in got));
    });

    it('overwrites on a second put', async () => {
      const record = sampleRecord();
      await store.put(record);
      const next = { ...record, token: 'f'.repeat(64), status: 'needs-reauth' as const };
      await store.put(next);
      assert.deepEqual(await store.get(record.installationId), next);
      assert.equal((await store.list()).length, 1);
    });

    it('applies puts for one installation in call order', async () => {
      const record = sampleRecord();
      const versions = Array.from({ length: 8 }, (_, i) => ({ ...record, token: `v${i}`.padEnd(64, '0') }));
      await Promise.all(versions.map((v) => store.put(v)));
      assert.equal((await store.get(record.installationId))?.token, versions[7]?.token);
    });

    it('delete returns true once, then false, and the record is gone', async () => {
      const record = sampleRecord();
      await store.put(record);
      assert.equal(await store.delete(record.installationId), true);
      assert.equal(await store.get(record.installationId), undefined);
      assert.equal(await store.delete(record.installationId), false);
      assert.deepEqual(await store.list(), []);
    });

    it('lists every record', async () => {
      const records = [sampleRecord(), sampleRecord(), sampleRecord()];
      for (const r of records) await store.put(r);
      assert.deepEqual((await store.list()).sort(byId), [...records].sort(byId));
    });

    it('treats an id case-insensitively (one installation per UUID)', async () => {
      const record = sampleRecord();
      await store.put(record);
      assert.deepEqual(await store.get(record.installationId.toUpperCase()), record);
    });

    it('hands out copies, never shared references', async () => {
      const record = sampleRecord();
      await store.put(record);
      record.token = 'mutated-after-put';
      record.scopes.push('mutated');
      const first = await store.get(record.installationId);
      assert.ok(first);
      assert.notEqual(first.token, 'mutated-after-put');
      assert.deepEqual(first.scopes, ['event:read', 'org:read']);
      first.token = 'mutated-after-get';
      first.scopes.length = 0;
      const second = await store.get(record.installationId);
      assert.notEqual(second?.token, 'mutated-after-get');
      assert.equal(second?.scopes.length, 2);
      const listed = await store.list();
      (listed[0] as InstallationRecord).token = 'mutated-after-list';
      assert.notEqual((await store.get(record.installationId))?.token, 'mutated-after-list');
    });

    it('rejects ids that are not UUIDs, so an id can never become a path', async () => {
      const bad = ['', 'abc', '../../etc/passwd', '..', '/', 'a/b', `${sampleRecord().installationId}/..`,
        `../${sampleRecord().installationId}`, '9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d\0', ' 9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d',
        '9b1deb4d3b7d4bad9bdd2b0d7b3dcb6d', '9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6g'];
      for (const id of bad) {
        await assert.rejects(store.get(id), InvalidInstallationIdError, `get ${JSON.stringify(id)}`);
        await assert.rejects(store.delete(id), InvalidInstallationIdError, `delete ${JSON.stringify(id)}`);
        await assert.rejects(store.withLock(id, async () => 1), InvalidInstallationIdError, `withLock ${JSON.stringify(id)}`);
        await assert.rejects(store.put(sampleRecord({ installationId: id })), InvalidInstallationIdError, `put ${JSON.stringify(id)}`);
      }
      await assert.rejects(store.get(42 as unknown as string), InvalidInstallationIdError);
      assert.deepEqual(await store.list(), []);
    });

    it('withLock runs one holder at a time per installation and returns its value', async () => {
      const id = sampleRecord().installationId;
      let inside = 0;
      let most = 0;
      const order: number[] = [];
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => store.withLock(id, async () => {
        inside++;
        most = Math.max(most, inside);
        for (let k = 0; k < 3; k++) await new Promise((r) => setImmediate(r));
        order.push(i);
        inside--;
        return i * 10;
      })));
      assert.equal(most, 1);
      assert.deepEqual(results, [0, 10, 20, 30, 40, 50]);
      assert.equal(order.length, 6);
    });

    it('withLock serializes read-modify-write so no increment is lost', async () => {
      const record = sampleRecord({ token: '0' });
      await store.put(record);
      await Promise.all(Array.from({ length: 10 }, () => store.withLock(record.installationId, async () => {
        const current = await store.get(record.installationId);
        await new Promise((r) => setImmediate(r));
        await store.put({ ...record, token: String(Number(current?.token) + 1) });
      })));
      assert.equal((await store.get(record.installationId))?.token, '10');
    });

    it('withLock releases after a rejection and propagates it', async () => {
      const id = sampleRecord().installationId;
      await assert.rejects(store.withLock(id, async () => { throw new Error('boom'); }), /boom/);
      assert.equal(await store.withLock(id, async () => 'next'), 'next');
    });

    it('withLock does not block other installations', async () => {
      const a = sampleRecord().installationId;
      const b = sampleRecord().installationId;
      let release!: () => void;
      const held = store.withLock(a, () => new Promise<void>((r) => { release = r; }));
      assert.equal(await store.withLock(b, async () => 'b ran'), 'b ran');
      release();
      await held;
    });

    it('allows put/get/delete inside withLock for the same installation', async () => {
      const record = sampleRecord();
      await store.withLock(record.installationId, async () => {
        await store.put(record);
        assert.deepEqual(await store.get(record.installationId), record);
        assert.equal(await store.delete(record.installationId), true);
      });
    });

    it('refuses work after close, and close is idempotent', async () => {
      const record = sampleRecord();
      await store.put(record);
      await store.close();
      await store.close();
      await assert.rejects(store.get(record.installationId), StoreClosedError);
      await assert.rejects(store.put(record), StoreClosedError);
      await assert.rejects(store.list(), StoreClosedError);
      await assert.rejects(store.delete(record.installationId), StoreClosedError);
      await assert.rejects(store.withLock(record.installationId, async () => 1), StoreClosedError);
    });

    it('close lets a running withLock finish, writes included, and refuses new ones', async () => {
      const record = sampleRecord();
      let open!: () => void;
      const gate = new Promise<void>((r) => { open = r; });
      let entered!: () => void;
      const inside = new Promise<void>((r) => { entered = r; });
      const held = store.withLock(record.installationId, async () => {
        entered();
        await gate;
        await store.put(record);
        return store.get(record.installationId);
      });
      await inside;
      const closing = store.close();
      await assert.rejects(store.withLock(record.installationId, async () => 1), StoreClosedError);
      open();
      await closing;
      assert.deepEqual(await held, record);
      if (subject.reopen) {
        store = await subject.reopen();
        assert.deepEqual(await store.get(record.installationId), record);
      }
    });

    if (durable) it('keeps records across a reopen', async () => {
      assert.ok(subject.reopen, 'a durable backend must provide reopen()');
      const kept = sampleRecord();
      const gone = sampleRecord();
      await store.put(kept);
      await store.put(gone);
      await store.delete(gone.installationId);
      await store.close();
      store = await subject.reopen!();
      assert.deepEqual(await store.list(), [kept]);
    });
  });
}
