import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { systemClock, type Clock } from '../clock.ts';
import { decodeRecordFile, encodeRecordFile } from './codec.ts';
import { StoreClosedError, StoreCorruptError, StoreDirError, StoreFileError, StoreKeyError, StoreListError } from './errors.ts';
import { canonicalInstallationId } from './ids.ts';
import { pidAlive } from '../pid.ts';
import { acquireFileLock } from './lock.ts';
import { KeyedMutex } from './mutex.ts';
import type { InstallationRecord, InstallationStore } from './types.ts';

/** Options for `openFileStore`. */
export interface FileStoreOptions {
  /** The directory (`DATA_DIR`). Created 0700 if missing. */
  dir: string;
  /** 32-byte AES-256-GCM key (see `parseStoreKey`); when set, every record is encrypted on disk. */
  key?: Uint8Array;
  /**
   * Time for lock and temp-file ages (default: the system clock). Lock ages are compared with file
   * mtimes and with other processes' clocks, so pass anything but real time only in tests; never an
   * emulator's advanced clock.
   */
  clock?: Clock;
  /**
   * A lock older than this is taken over even if its holder still runs (default 60 s). Locks of dead
   * processes on this host are taken over at once. `withLock` bodies must finish well within it.
   */
  lockStaleMs?: number;
  /**
   * With a key: re-encrypt records found in clear at open (default true). Without it, clear
   * records stay readable until their next `put`.
   */
  encryptExisting?: boolean;
  /** Non-fatal findings (loosened directory mode fixed, foreign files, migrations). Default `console.warn`. */
  onWarning?: (message: string) => void;
}

/** The file store plus what tests and operators need to see where things are. */
export interface FileStore extends InstallationStore {
  readonly dir: string;
  /**
   * Found at open: the store holds records and every one is encrypted under another key than the one
   * given (or none was given): a wrong or forgotten TOKEN_STORE_KEY, which `serve` refuses to start
   * with. Altered or truncated records under the right key are corruption, not this. Checked on every
   * record with a key (unless `encryptExisting` is false: then never); without one, on a single record
   * (a store is encrypted as a whole).
   */
  readonly keyUnusable: boolean;
  /** The file a record lives in (the id is validated first). */
  pathOf(installationId: string): string;
}

const RECORD = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.json$/;
const TEMP = /^\.([0-9a-f-]{36})\.(\d+)\.[0-9a-f]+\.tmp$/;
const LOCK = /^[0-9a-f-]{36}\.lock(\.break)?$/;
/** Record reads `list()` keeps in flight at once. */
const LIST_CONCURRENCY = 16;

/**
 * Opens (creating if needed) a directory of one file per installation: `<uuid>.json`, mode 0600, in
 * a 0700 directory. Writes are atomic (temp file in the same directory, fsync, rename, fsync the
 * directory), so a crash leaves the old or the new record, never a mix. Leftover temp files of dead
 * processes are removed here. A group/world-writable or foreign-owned directory is refused
 * (`StoreDirError`); a merely readable one is tightened to 0700 with a warning.
 *
 * @example
 * const store = await openFileStore({ dir: config.dataDir, key: config.tokenStoreKey });
 * await store.withLock(id, async () => { const r = await store.get(id); ... await store.put(next); });
 */
export async function openFileStore(options: FileStoreOptions): Promise<FileStore> {
  const dir = resolve(options.dir);
  const clock = options.clock ?? systemClock;
  const staleMs = options.lockStaleMs ?? 60_000;
  const warn = options.onWarning ?? ((message: string) => console.warn(`[store] ${message}`));
  const key = options.key;
  if (key && key.length !== 32) throw new TypeError('store key must be 32 bytes');
  await prepareDir(dir, warn);

  const writes = new KeyedMutex();
  const locks = new KeyedMutex();
  let closed = false;
  let closing = false;
  const pathOf = (id: string) => join(dir, `${canonicalInstallationId(id)}.json`);
  const live = () => { if (closed) throw new StoreClosedError(); };

  async function read(id: string): Promise<{ record: InstallationRecord; encrypted: boolean } | undefined> {
    const path = join(dir, `${id}.json`);
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      if (code === 'EISDIR') throw new StoreCorruptError(path, 'is a directory, not a record file');
      throw error;
    }
    return decodeRecordFile(bytes, path, id, key);
  }

  async function writeAtomic(id: string, bytes: Uint8Array): Promise<void> {
    const target = join(dir, `${id}.json`);
    const temp = join(dir, `.${id}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } catch (error) {
      await handle.close();
      await unlink(temp).catch(() => {});
      throw error;
    }
    await handle.close();
    try {
      await rename(temp, target);
    } catch (error) {
      await unlink(temp).catch(() => {});
      throw error;
    }
    await syncDir(dir);
  }

  const store: Omit<FileStore, 'keyUnusable'> = {
    dir,
    pathOf,
    async get(installationId) {
      live();
      return (await read(canonicalInstallationId(installationId)))?.record;
    },
    put(record) {
      try {
        live();
        const id = canonicalInstallationId(record?.installationId);
        // Encoded now: later changes by the caller to `record` cannot leak into the write.
        const bytes = encodeRecordFile(record, key);
        return writes.run(id, async () => {
          // Refuses to replace a file it cannot read (corrupt, foreign, other key): that file may be
          // the only copy of a valid refresh token. Operators remove it deliberately (or `delete`).
          await read(id);
          await writeAtomic(id, bytes);
        });
      } catch (error) {
        return Promise.reject(error);
      }
    },
    async delete(installationId) {
      live();
      const id = canonicalInstallationId(installationId);
      return writes.run(id, async () => {
        try {
          await unlink(join(dir, `${id}.json`));
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
          throw error;
        }
        await syncDir(dir);
        return true;
      });
    },
    async list() {
      live();
      const ids = await recordIds(dir);
      const found: Array<InstallationRecord | undefined> = new Array(ids.length);
      const failed: Array<StoreFileError | undefined> = new Array(ids.length);
      // Several reads in flight: each readFile is four thread-pool round trips (open, stat, read, close),
      // so one at a time made /healthz take ~0.9 s at 5 000 installations.
      let next = 0;
      const reader = async (): Promise<void> => {
        for (let i = next++; i < ids.length; i = next++) {
          try {
            found[i] = (await read(ids[i]!))?.record;
          } catch (error) {
            if (error instanceof StoreFileError) failed[i] = error;
            else throw error;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(LIST_CONCURRENCY, ids.length) }, reader));
      const records = found.filter((r): r is InstallationRecord => r !== undefined);
      const errors = failed.filter((e): e is StoreFileError => e !== undefined);
      if (errors.length === 1 && errors[0]) throw errors[0];
      if (errors.length > 1) throw new StoreListError(errors);
      return records;
    },
    async withLock(installationId, fn) {
      live();
      if (closing) throw new StoreClosedError();
      const id = canonicalInstallationId(installationId);
      // In-process queue first (cheap hand-off), then the lock file for other processes.
      return locks.run(id, async () => {
        const release = await acquireFileLock(join(dir, `${id}.lock`), { clock, staleMs });
        const started = clock.now();
        try {
          return await fn();
        } finally {
          await release();
          if (clock.now() - started > staleMs) {
            warn(`lock for ${id} was held ${clock.now() - started} ms, longer than lockStaleMs (${staleMs}); another process may have taken it over`);
          }
        }
      });
    },
    /** Graceful: refuses new `withLock`, lets running ones finish (their puts included), then flushes. */
    async close() {
      closing = true;
      await locks.idle();
      closed = true;
      await writes.idle();
    },
  };

  await cleanLeftovers(dir, clock, staleMs, warn);
  let keyUnusable = false;
  if (key && options.encryptExisting !== false) keyUnusable = await encryptClearRecords(dir, read, (r) => store.put(r), warn);
  else if (!key) keyUnusable = await warnIfEncrypted(dir, read, warn);
  return Object.assign(store, { keyUnusable });
}

/**
 * Without a key, one record is read: a forgotten TOKEN_STORE_KEY makes every record unreadable (a store
 * is encrypted as a whole once opened with a key), and that deserves a warning at start rather than
 * only at the first request. One file keeps open's cost independent of the number of installations.
 */
async function warnIfEncrypted(
  dir: string,
  read: (id: string) => Promise<unknown>,
  warn: (m: string) => void,
): Promise<boolean> {
  const [id] = await recordIds(dir);
  if (!id) return false;
  try {
    await read(id);
  } catch (error) {
    if (!(error instanceof StoreKeyError)) return false;
    warn(`${error.message}; set TOKEN_STORE_KEY to read the installations stored here`);
    return error.wrongKey;
  }
  return false;
}

/** The installation ids of the record files in `dir` (RECORD only matches canonical UUIDs). */
async function recordIds(dir: string): Promise<string[]> {
  return (await readdir(dir)).flatMap((name) => RECORD.exec(name)?.[1] ?? []);
}

async function prepareDir(dir: string, warn: (m: string) => void): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    // mkdir's own EEXIST/ENOTDIR ("file already exists, mkdir …") does not say what is wrong with DATA_DIR.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new StoreDirError(dir, 'is not a directory (a file has that name)');
    if (code === 'ENOTDIR') throw new StoreDirError(dir, 'cannot be created: part of its path is a file, not a directory');
    throw error;
  }
  const info = await stat(dir);
  if (!info.isDirectory()) throw new StoreDirError(dir, 'is not a directory');
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid) {
    throw new StoreDirError(dir, `is owned by uid ${info.uid}, not by this process (uid ${uid})`);
  }
  const mode = info.mode & 0o777;
  if (mode & 0o022) {
    // Others could already have planted or swapped record files: refuse rather than trust them.
    throw new StoreDirError(dir, `is writable by group or others (mode ${mode.toString(8)}); chmod 700 it after checking its contents`);
  }
  if (mode !== 0o700) {
    await chmod(dir, 0o700);
    warn(`${dir} had mode ${mode.toString(8)}; tightened to 700`);
  }
}

async function cleanLeftovers(dir: string, clock: Clock, staleMs: number, warn: (m: string) => void): Promise<void> {
  let foreign = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    // Subdirectories (e.g. the outbox sharing DATA_DIR) are not ours to judge.
    if (entry.isDirectory()) continue;
    const name = entry.name;
    const temp = TEMP.exec(name);
    if (temp) {
      const pid = Number(temp[2]);
      const path = join(dir, name);
      // A live process (maybe us, maybe a sibling on the same DATA_DIR) may be mid-write.
      const old = await stat(path).then((s) => clock.now() - s.mtimeMs > staleMs, () => false);
      if (!pidAlive(pid) || old) await unlink(path).catch(() => {});
      continue;
    }
    if (!RECORD.test(name) && !LOCK.test(name)) foreign++;
  }
  if (foreign > 0) warn(`${dir} holds ${foreign} file(s) that are not store files; they are ignored`);
}

async function encryptClearRecords(
  dir: string,
  read: (id: string) => Promise<{ record: InstallationRecord; encrypted: boolean } | undefined>,
  rewrite: (record: InstallationRecord) => Promise<void>,
  warn: (m: string) => void,
): Promise<boolean> {
  let migrated = 0;
  let keyErrors = 0;
  const ids = await recordIds(dir);
  for (const id of ids) {
    let found;
    try {
      found = await read(id);
    } catch (error) {
      // Reported, left in place: open must not fail (or overwrite) because of one bad file.
      if (error instanceof StoreKeyError && error.wrongKey) keyErrors++;
      if (error instanceof StoreFileError) { warn(error.message); continue; }
      throw error;
    }
    if (found && !found.encrypted) {
      await rewrite(found.record);
      migrated++;
    }
  }
  if (migrated > 0) warn(`encrypted ${migrated} record(s) that were stored in clear`);
  return ids.length > 0 && keyErrors === ids.length;
}

/** Makes a rename or unlink in `dir` durable: without it a power cut can undo the directory entry. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
