import { StoreClosedError } from './errors.ts';
import { canonicalInstallationId } from './ids.ts';
import { KeyedMutex } from './mutex.ts';
import type { InstallationRecord, InstallationStore } from './types.ts';

/**
 * An in-memory store: for tests, and the reference a new backend can be compared with. Records are
 * kept serialized, so callers always get copies; `withLock` excludes within this process only.
 *
 * @example
 * const store = createMemoryStore();
 * await store.put(record); (await store.get(record.installationId))?.token;
 */
export function createMemoryStore(): InstallationStore {
  const records = new Map<string, string>();
  const locks = new KeyedMutex();
  let closed = false;
  let closing = false;
  const live = () => { if (closed) throw new StoreClosedError(); };
  return {
    async get(installationId) {
      live();
      const json = records.get(canonicalInstallationId(installationId));
      return json === undefined ? undefined : JSON.parse(json) as InstallationRecord;
    },
    async put(record) {
      live();
      records.set(canonicalInstallationId(record?.installationId), JSON.stringify(record));
    },
    async delete(installationId) {
      live();
      return records.delete(canonicalInstallationId(installationId));
    },
    async list() {
      live();
      return [...records.values()].map((json) => JSON.parse(json) as InstallationRecord);
    },
    async withLock(installationId, fn) {
      live();
      if (closing) throw new StoreClosedError();
      return locks.run(canonicalInstallationId(installationId), fn);
    },
    async close() {
      closing = true;
      await locks.idle();
      closed = true;
    },
  };
}
