/**
 * What the integration keeps per Sentry installation. Tokens are secrets: never log a record.
 */
export interface InstallationRecord {
  /** Sentry's installation UUID (36 chars). */
  installationId: string;
  orgSlug: string;
  /** Numeric organization id when Sentry sent it (optional on older payloads). */
  orgId?: number | string;
  /** Access token (8-hour life). */
  token: string;
  /** Single-use refresh token: replaced on every refresh. */
  refreshToken: string;
  /** ISO-8601 expiry of `token`, as Sentry sent it. */
  expiresAt: string;
  scopes: string[];
  /** `needs-reauth` once the refresh chain is broken and no recovery worked. */
  status: 'active' | 'needs-reauth';
  /** True once verify-install (PUT status=installed) succeeded, or when verify is off. */
  verified: boolean;
  /** Region base URL discovered from the organization's `links.regionUrl`, if any. */
  regionUrl?: string;
  createdAt: string;
  updatedAt: string;
}

/**
 * A small store that several backends can implement (file, database…). Every backend must pass
 * the contract suite in `contract.ts`.
 */
export interface InstallationStore {
  /** The record, or `undefined` when the installation is unknown. */
  get(installationId: string): Promise<InstallationRecord | undefined>;
  /** Creates or replaces a record; resolves only once it is durable. */
  put(record: InstallationRecord): Promise<void>;
  /** Removes a record and every byte of its tokens; resolves `true` if it existed. */
  delete(installationId: string): Promise<boolean>;
  /** Every record (order unspecified). */
  list(): Promise<InstallationRecord[]>;
  /**
   * Runs `fn` while holding an exclusive lock for one installation, across processes sharing the
   * store; used so that only one process refreshes an installation's token at a time.
   */
  withLock<T>(installationId: string, fn: () => Promise<T>): Promise<T>;
  /** Flushes and releases resources. */
  close(): Promise<void>;
}
