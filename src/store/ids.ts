/**
 * Installation ids become file names (and URL path segments elsewhere), so only the canonical UUID
 * shape is accepted: 8-4-4-4-12 hex digits. Nothing else can ever reach a path.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Thrown for an installation id that is not UUID-shaped. Never carries the raw value beyond 40 chars. */
export class InvalidInstallationIdError extends TypeError {
  override name = 'InvalidInstallationIdError';
  constructor(id: unknown) {
    const shown = typeof id === 'string' ? JSON.stringify(id.slice(0, 40)) : typeof id;
    super(`installation id must be a UUID (8-4-4-4-12 hex), got ${shown}`);
  }
}

/**
 * True when `id` is a UUID (either case).
 *
 * @example
 * isInstallationId('9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d'); // true
 * isInstallationId('../../etc/passwd');                     // false
 */
export function isInstallationId(id: unknown): id is string {
  return typeof id === 'string' && UUID.test(id);
}

/**
 * Returns the canonical (lower-case) form of a valid id, or throws `InvalidInstallationIdError`.
 * Backends key their storage on this form so `ABC…` and `abc…` are one installation.
 *
 * @example
 * const key = canonicalInstallationId(record.installationId);
 */
export function canonicalInstallationId(id: unknown): string {
  if (!isInstallationId(id)) throw new InvalidInstallationIdError(id);
  return id.toLowerCase();
}
