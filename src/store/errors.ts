/**
 * Typed store errors. Messages name the file and the reason; they never include record contents
 * (records hold tokens).
 */

/** A problem with one file of the store; `path` is the file. */
export class StoreFileError extends Error {
  override name = 'StoreFileError';
  readonly path: string;
  readonly reason: string;
  constructor(path: string, reason: string, options?: { cause?: unknown }) {
    super(`${path}: ${reason}`, options);
    this.path = path;
    this.reason = reason;
  }
}

/**
 * A record file that is truncated, not JSON, not ours (foreign), of an unknown version, or holding
 * another installation than its name says. The file is left in place for an operator to inspect.
 *
 * @example
 * try { await store.get(id); } catch (e) { if (e instanceof StoreCorruptError) log.error(e.message); }
 */
export class StoreCorruptError extends StoreFileError {
  override name = 'StoreCorruptError';
}

/**
 * A record that cannot be decrypted with the configured key (wrong key, no key, or tampered bytes).
 *
 * @example
 * if (e instanceof StoreKeyError) console.error(`check TOKEN_STORE_KEY: ${e.message}`);
 */
export class StoreKeyError extends StoreFileError {
  override name = 'StoreKeyError';
  /** The configured key is not the record's (none given, or another key id); false for altered bytes under the right key. */
  readonly wrongKey: boolean;
  constructor(path: string, reason: string, options?: { cause?: unknown; wrongKey?: boolean }) {
    super(path, reason, options);
    this.wrongKey = options?.wrongKey ?? false;
  }
}

/**
 * `list()` found several unreadable files: every one is named in `errors`.
 *
 * @example
 * if (e instanceof StoreListError) for (const f of e.errors) console.error(f.path);
 */
export class StoreListError extends Error {
  override name = 'StoreListError';
  readonly errors: StoreFileError[];
  constructor(errors: StoreFileError[]) {
    super(`${errors.length} unreadable record file(s): ${errors.map((e) => e.message).join('; ')}`);
    this.errors = errors;
  }
}

/**
 * The store directory is unsafe (writable by group/others, owned by someone else, not a directory).
 *
 * @example
 * await openFileStore({ dir: '/tmp' }); // throws StoreDirError: /tmp is writable by group or others
 */
export class StoreDirError extends Error {
  override name = 'StoreDirError';
  readonly path: string;
  constructor(path: string, reason: string) {
    super(`${path}: ${reason}`);
    this.path = path;
  }
}

/**
 * An operation on a store after `close()`.
 *
 * @example
 * await store.close(); await store.get(id); // rejects with StoreClosedError
 */
export class StoreClosedError extends Error {
  override name = 'StoreClosedError';
  constructor() {
    super('the installation store is closed');
  }
}
