import { createHash } from 'node:crypto';

/** `TOKEN_STORE_KEY` is present but not a 32-byte key. The message never contains the value. */
export class StoreKeyFormatError extends Error {
  override name = 'StoreKeyFormatError';
  constructor(length: number) {
    super(`TOKEN_STORE_KEY must be 32 bytes written as 64 hex characters or base64 (got ${length} characters)`);
  }
}

/**
 * Parses `TOKEN_STORE_KEY`: exactly 32 bytes as 64 hex characters, or standard/URL-safe base64
 * (padding optional). Nothing is derived from a passphrase: a weak value is refused, not stretched.
 *
 * @example
 * const key = parseStoreKey(process.env.TOKEN_STORE_KEY!); // Uint8Array(32)
 * // generate one: node -e "console.log(require('crypto').randomBytes(32).toString('hex'))"
 */
export function parseStoreKey(text: string): Uint8Array {
  const value = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(value)) return new Uint8Array(Buffer.from(value, 'hex'));
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(value)) {
    const normal = value.replace(/-/g, '+').replace(/_/g, '/').replace(/=$/, '');
    const bytes = Buffer.from(normal, 'base64');
    // Canonical check: the 43rd character carries 2 padding bits that must be zero.
    if (bytes.length === 32 && bytes.toString('base64').replace(/=$/, '') === normal) return new Uint8Array(bytes);
  }
  throw new StoreKeyFormatError(value.length);
}

/**
 * A short, non-secret fingerprint of a key, written beside each encrypted record so a wrong key
 * is reported as "written with key X, configured key is Y" rather than as corruption.
 *
 * @example
 * keyId(parseStoreKey(hex)); // '3f9a0c1e2b4d5a6f'
 */
export function keyId(key: Uint8Array): string {
  return createHash('sha256').update('sentry-integration-kit store key id\0').update(key).digest('hex').slice(0, 16);
}
